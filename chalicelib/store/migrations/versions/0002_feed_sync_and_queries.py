"""Add incremental feed sync, image package lists, vulnerability updates and events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Column types are spelled out here instead of imported from the models, so this revision keeps
# creating the same schema when the models change later.
TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _image_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account", "digest"],
        ["images.account", "images.digest"],
        name=f"fk_{table}_account_digest_images",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    _upgrade_feeds()
    _upgrade_images()

    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("generated_uuid", sa.String(64), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_generated_uuid", "events", ["generated_uuid"], unique=True)
    op.create_index("ix_events_account_created_at", "events", ["account", "created_at"])


def _upgrade_feeds() -> None:
    op.add_column("feed_groups", sa.Column("content_hash", sa.String(64), nullable=True))
    op.add_column("feed_groups", sa.Column("sources", sa.JSON(), nullable=True))

    op.add_column("vuln_records", sa.Column("record_key", sa.Text(), nullable=True))
    op.add_column("vuln_records", sa.Column("record_hash", sa.String(64), nullable=True))
    # Rows of revision 0001 get the key the sync computes; their hash stays NULL, so the next
    # sync rewrites them once.
    op.execute("UPDATE vuln_records SET record_key = vuln_id || '|' || package")
    op.create_index(
        "ix_vuln_records_feed_group_name_record_key",
        "vuln_records",
        ["feed", "group_name", "record_key"],
    )
    op.create_index("ix_vuln_records_vuln_id", "vuln_records", ["vuln_id"])

    op.create_table(
        "vuln_record_staging",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("sync_id", sa.String(64), nullable=False),
        sa.Column("feed", sa.String(128), nullable=False),
        sa.Column("group_name", sa.String(128), nullable=False),
        sa.Column("record_key", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("vuln_id", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vuln_record_staging"),
    )
    op.create_index(
        "ix_vuln_record_staging_sync_id_feed_group_name_record_key",
        "vuln_record_staging",
        ["sync_id", "feed", "group_name", "record_key"],
    )


def _upgrade_images() -> None:
    op.add_column("image_analyses", sa.Column("package_count", sa.Integer(), nullable=True))

    op.add_column("vuln_matches", sa.Column("vuln_id", sa.String(255), nullable=True))
    # Vulnerability ids contain no `+`, so the match key's first part is the id.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE vuln_matches SET vuln_id = split_part(match_key, '+', 1)")
    else:
        op.execute(
            "UPDATE vuln_matches SET vuln_id = substr(match_key, 1, instr(match_key, '+') - 1)"
        )
    op.create_index("ix_vuln_matches_account_vuln_id", "vuln_matches", ["account", "vuln_id"])

    op.create_table(
        "image_packages",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column("package_type", sa.String(32), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("source_name", sa.Text(), nullable=True),
        sa.Column("source_version", sa.Text(), nullable=True),
        sa.Column("purl", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account", "digest", "seq", name="pk_image_packages"),
        _image_foreign_key("image_packages"),
    )
    op.create_index("ix_image_packages_account_name", "image_packages", ["account", "name"])

    op.create_table(
        "vuln_updates",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("added", sa.JSON(), nullable=False),
        sa.Column("updated", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vuln_updates"),
        _image_foreign_key("vuln_updates"),
    )
    op.create_index(
        "ix_vuln_updates_account_digest_created_at",
        "vuln_updates",
        ["account", "digest", "created_at"],
    )


def downgrade() -> None:
    for table in ("events", "vuln_updates", "image_packages", "vuln_record_staging"):
        op.drop_table(table)
    op.drop_index("ix_vuln_matches_account_vuln_id", "vuln_matches")
    op.drop_index("ix_vuln_records_vuln_id", "vuln_records")
    op.drop_index("ix_vuln_records_feed_group_name_record_key", "vuln_records")
    with op.batch_alter_table("vuln_matches") as batch:
        batch.drop_column("vuln_id")
    with op.batch_alter_table("image_analyses") as batch:
        batch.drop_column("package_count")
    with op.batch_alter_table("vuln_records") as batch:
        batch.drop_column("record_hash")
        batch.drop_column("record_key")
    with op.batch_alter_table("feed_groups") as batch:
        batch.drop_column("sources")
        batch.drop_column("content_hash")
