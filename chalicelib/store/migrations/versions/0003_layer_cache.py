"""Add the layer cache: layer reader results reused by every image that shares a layer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Column types are spelled out here instead of imported from the models, so this revision keeps
# creating the same schema when the models change later.
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "layer_cache",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("cache_key", sa.String(80), nullable=False),
        sa.Column("layer_digest", sa.String(255), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("payload_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "cache_key", name="pk_layer_cache"),
    )
    op.create_index("ix_layer_cache_layer_digest", "layer_cache", ["layer_digest"])


def downgrade() -> None:
    op.drop_index("ix_layer_cache_layer_digest", table_name="layer_cache")
    op.drop_table("layer_cache")
