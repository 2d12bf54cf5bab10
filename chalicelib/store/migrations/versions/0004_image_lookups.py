"""Add the record lookups of each image's last match, so a feed sync re-matches fewer images.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_lookups",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account", "digest"],
            ["images.account", "images.digest"],
            name="fk_image_lookups_account_digest_images",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "account", "digest", "namespace", "package", name="pk_image_lookups"
        ),
    )
    op.create_index(
        "ix_image_lookups_namespace_package", "image_lookups", ["namespace", "package"]
    )
    # Analyses stored before this revision have no lookups yet, so the next feed sync that
    # changes any record matches them again and stores their lookups.
    with op.batch_alter_table("image_analyses") as batch:
        batch.add_column(
            sa.Column("lookups_stored", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("image_analyses") as batch:
        batch.drop_column("lookups_stored")
    op.drop_index("ix_image_lookups_namespace_package", table_name="image_lookups")
    op.drop_table("image_lookups")
