"""Add subscriptions and pending webhook notifications, for watch mode.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Column types are spelled out here instead of imported from the models, so this revision keeps
# creating the same schema when the models change later.
TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("subscription_id", sa.String(32), nullable=False),
        sa.Column("subscription_key", sa.Text(), nullable=False),
        sa.Column("subscription_type", sa.String(32), nullable=False),
        sa.Column("subscription_value", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("watch_state", sa.JSON(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "subscription_id", name="pk_subscriptions"),
    )
    op.create_index(
        "ix_subscriptions_account_subscription_type",
        "subscriptions",
        ["account", "subscription_type"],
    )
    op.create_table(
        "notifications",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("notification_id", sa.String(64), nullable=False),
        sa.Column("notification_type", sa.String(32), nullable=False),
        sa.Column("subscription_key", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_tried_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
    )
    op.create_index(
        "ix_notifications_notification_id", "notifications", ["notification_id"], unique=True
    )
    op.create_index(
        "ix_notifications_account_created_at", "notifications", ["account", "created_at"]
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("subscriptions")
