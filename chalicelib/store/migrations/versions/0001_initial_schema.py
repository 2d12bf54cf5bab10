"""Create the initial schema: images, analyses, matches, feeds, policies and evaluations.

Revision ID: 0001
Revises:
Create Date: 2025-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Column types are spelled out here instead of imported from the models, so this revision keeps
# creating the same schema when the models change later.
TIMESTAMP = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _image_key_columns() -> list[sa.Column[str]]:
    return [
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
    ]


def _image_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["account", "digest"],
        ["images.account", "images.digest"],
        name=f"fk_{table}_account_digest_images",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "images",
        *_image_key_columns(),
        sa.Column("parent_digest", sa.String(255), nullable=True),
        sa.Column("image_id", sa.String(255), nullable=True),
        sa.Column("analysis_status", sa.String(32), nullable=False),
        sa.Column("image_status", sa.String(32), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("dockerfile", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.Column("analyzed_at", TIMESTAMP, nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("arch", sa.String(64), nullable=True),
        sa.Column("distro", sa.String(64), nullable=True),
        sa.Column("distro_version", sa.String(64), nullable=True),
        sa.Column("image_size", sa.BigInteger(), nullable=True),
        sa.Column("layer_count", sa.Integer(), nullable=True),
        sa.Column("dockerfile_mode", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("account", "digest", name="pk_images"),
    )
    op.create_index("ix_images_account_image_id", "images", ["account", "image_id"])
    op.create_index("ix_images_account_analysis_status", "images", ["account", "analysis_status"])

    op.create_table(
        "image_tags",
        *_image_key_columns(),
        sa.Column("registry", sa.String(255), nullable=False),
        sa.Column("repository", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(128), nullable=False),
        sa.Column("fulltag", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("tag_detected_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint(
            "account", "digest", "registry", "repository", "tag", name="pk_image_tags"
        ),
        _image_foreign_key("image_tags"),
    )
    op.create_index("ix_image_tags_account_fulltag", "image_tags", ["account", "fulltag"])

    op.create_table(
        "image_analyses",
        *_image_key_columns(),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("document_size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "digest", name="pk_image_analyses"),
        _image_foreign_key("image_analyses"),
    )

    op.create_table(
        "vuln_matches",
        *_image_key_columns(),
        sa.Column("match_key", sa.Text(), nullable=False),
        sa.Column("vuln_match", sa.JSON(), nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "digest", "match_key", name="pk_vuln_matches"),
        _image_foreign_key("vuln_matches"),
    )

    op.create_table(
        "feed_groups",
        sa.Column("feed", sa.String(128), nullable=False),
        sa.Column("group_name", sa.String(128), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("last_sync", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("feed", "group_name", name="pk_feed_groups"),
    )

    op.create_table(
        "vuln_records",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("feed", sa.String(128), nullable=False),
        sa.Column("group_name", sa.String(128), nullable=False),
        sa.Column("vuln_id", sa.String(255), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("package", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vuln_records"),
        sa.ForeignKeyConstraint(
            ["feed", "group_name"],
            ["feed_groups.feed", "feed_groups.group_name"],
            name="fk_vuln_records_feed_group_name_feed_groups",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_vuln_records_namespace_package", "vuln_records", ["namespace", "package"])
    op.create_index("ix_vuln_records_feed_group_name", "vuln_records", ["feed", "group_name"])

    op.create_table(
        "policies",
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("policy_id", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("account", "policy_id", name="pk_policies"),
    )
    op.create_index(
        "uq_policies_one_active",
        "policies",
        ["account"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )

    op.create_table(
        "evaluations",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("eval_id", sa.String(255), nullable=False),
        sa.Column("policy_id", sa.String(255), nullable=False),
        sa.Column("image_digest", sa.String(255), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("final_action", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evaluations"),
    )
    op.create_index(
        "ix_evaluations_account_image_digest_created_at",
        "evaluations",
        ["account", "image_digest", "created_at"],
    )
    op.create_index("ix_evaluations_eval_id", "evaluations", ["eval_id"])


def downgrade() -> None:
    for table in (
        "evaluations",
        "policies",
        "vuln_records",
        "feed_groups",
        "vuln_matches",
        "image_analyses",
        "image_tags",
        "images",
    ):
        op.drop_table(table)
