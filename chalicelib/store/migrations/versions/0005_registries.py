"""Add registry credentials, for `/v1/registries` and pulls from private registries.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Column types are spelled out here instead of imported from the models, so this revision keeps
# creating the same schema when the models change later.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "registries",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("registry", sa.String(1024), nullable=False),
        sa.Column("registry_name", sa.String(1024), nullable=False),
        sa.Column("registry_type", sa.String(32), nullable=False),
        sa.Column("registry_user", sa.Text(), nullable=False),
        sa.Column("registry_pass", sa.Text(), nullable=False),
        sa.Column("registry_verify", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "registry", name="pk_registries"),
    )


def downgrade() -> None:
    op.drop_table("registries")
