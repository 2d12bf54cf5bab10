"""SQLAlchemy table models of the store.

The Alembic migrations in `migrations/versions` create the schema. These models must describe
the same tables, which `tests/store/test_database.py` checks on both backends. Every table of
account data carries an `account` column (always `admin` for now), so accounts can be added
later without moving rows. Vulnerability data and feed state are shared by all accounts.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Constraint names that are the same on SQLite and PostgreSQL, so later migrations (SQLite
batch mode included) can name the constraint they alter."""

BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
"""Surrogate key type; SQLite autoincrements only a column declared `INTEGER PRIMARY KEY`."""


class UtcDateTime(TypeDecorator[datetime.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL stores `timestamp with time zone`; SQLite has no time zone type, so the value is
    stored as naive UTC text and given back its UTC zone on load. Naive datetimes are rejected
    because their zone is unknown.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} has no time zone; pass an aware UTC datetime"
            )
        value = value.astimezone(datetime.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: datetime.datetime | None, dialect: Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.UTC)
        return value.astimezone(datetime.UTC)


class Base(DeclarativeBase):
    """Declarative base that owns the store's metadata and naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Image(Base):
    """One image (platform manifest digest) of an account."""

    __tablename__ = "images"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    parent_digest: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(255))
    analysis_status: Mapped[str] = mapped_column(String(32))
    image_status: Mapped[str] = mapped_column(String(32))
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    dockerfile: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    analyzed_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    arch: Mapped[str | None] = mapped_column(String(64))
    distro: Mapped[str | None] = mapped_column(String(64))
    distro_version: Mapped[str | None] = mapped_column(String(64))
    image_size: Mapped[int | None] = mapped_column(BigInteger)
    layer_count: Mapped[int | None] = mapped_column(Integer)
    dockerfile_mode: Mapped[str | None] = mapped_column(String(32))

    tags: Mapped[list[ImageTag]] = relationship(
        back_populates="image",
        order_by="[ImageTag.created_at, ImageTag.fulltag]",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )

    __table_args__ = (
        Index(None, "account", "image_id"),
        Index(None, "account", "analysis_status"),
    )


class ImageTag(Base):
    """One tag seen pointing at an image; a tag can point at many digests over time."""

    __tablename__ = "image_tags"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    # The attribute cannot be named `registry`: declarative classes reserve that name.
    registry_name: Mapped[str] = mapped_column("registry", String(255), primary_key=True)
    repository: Mapped[str] = mapped_column(String(255), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), primary_key=True)
    fulltag: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    tag_detected_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    image: Mapped[Image] = relationship(back_populates="tags")

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
        Index(None, "account", "fulltag"),
    )


class ImageAnalysis(Base):
    """The analysis document of an image, gzip-compressed JSON."""

    __tablename__ = "image_analyses"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    document: Mapped[bytes] = mapped_column(LargeBinary)
    document_size: Mapped[int] = mapped_column(BigInteger)
    """Size of the uncompressed JSON, in bytes."""
    package_count: Mapped[int | None] = mapped_column(Integer)
    """Rows stored in `image_packages`; None for an analysis stored before that table existed."""
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    lookups_stored: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    """Whether `image_lookups` contains the record lookups of this analysis's last match."""

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
    )


class VulnMatchRow(Base):
    """One vulnerability match of an image, keyed by vulnerability, package and path."""

    __tablename__ = "vuln_matches"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    match_key: Mapped[str] = mapped_column(Text, primary_key=True)
    """`<vuln_id>+<package_name>+<package_path>`."""
    vuln_match: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The `VulnMatch` as JSON."""
    first_seen: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    vuln_id: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
        Index(None, "account", "vuln_id"),
    )


class ImagePackage(Base):
    """One package of an image's analysis, with the fields matching and queries read."""

    __tablename__ = "image_packages"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """Position of the package in the analysis document."""
    name: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(Text)
    package_type: Mapped[str] = mapped_column(String(32))
    location: Mapped[str] = mapped_column(Text)
    source_name: Mapped[str | None] = mapped_column(Text)
    source_version: Mapped[str | None] = mapped_column(Text)
    purl: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
        Index(None, "account", "name"),
    )


class ImageLookup(Base):
    """One (namespace, package name) pair under which matching looked up records for an image.

    A feed sync that changes the records of a pair re-matches only the images that have it.
    """

    __tablename__ = "image_lookups"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    namespace: Mapped[str] = mapped_column(String(128), primary_key=True)
    package: Mapped[str] = mapped_column(Text, primary_key=True)

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
        Index(None, "namespace", "package"),
    )


class VulnUpdate(Base):
    """One change of an image's matches after a feed sync, in Anchore's `vuln_update` terms."""

    __tablename__ = "vuln_updates"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(255))
    added: Mapped[list[Any]] = mapped_column(JSON)
    """`VulnMatch` objects as JSON, in each of the three lists."""
    updated: Mapped[list[Any]] = mapped_column(JSON)
    removed: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        ForeignKeyConstraint(
            ["account", "digest"], ["images.account", "images.digest"], ondelete="CASCADE"
        ),
        Index(None, "account", "digest", "created_at"),
    )


class EventRow(Base):
    """One event in Anchore's shape: feed sync progress and vulnerability updates."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    generated_uuid: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(255))
    level: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(None, "generated_uuid", unique=True),
        Index(None, "account", "created_at"),
    )


class FeedGroup(Base):
    """Sync state of one group (namespace) of one feed."""

    __tablename__ = "feed_groups"

    feed: Mapped[str] = mapped_column(String(128), primary_key=True)
    group_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    record_count: Mapped[int] = mapped_column(Integer)
    last_sync: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 over the record hashes of the last successful sync, in the order read."""
    sources: Mapped[list[str] | None] = mapped_column(JSON)
    """`FEED_SOURCES` entries that fed the group in its last successful sync."""


class VulnRecordRow(Base):
    """One `VulnRecord` of a feed group, with the columns the matcher looks it up by."""

    __tablename__ = "vuln_records"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(128))
    vuln_id: Mapped[str] = mapped_column(String(255))
    namespace: Mapped[str] = mapped_column(String(128))
    package: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The `VulnRecord` as JSON."""
    record_key: Mapped[str | None] = mapped_column(Text)
    """`<vuln_id>|<package>`, unique within a group after a sync."""
    record_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the record's canonical JSON; None for rows stored before hashes existed."""

    __table_args__ = (
        ForeignKeyConstraint(
            ["feed", "group_name"],
            ["feed_groups.feed", "feed_groups.group_name"],
            ondelete="CASCADE",
        ),
        Index(None, "namespace", "package"),
        Index(None, "feed", "group_name"),
        Index(None, "feed", "group_name", "record_key"),
        Index(None, "vuln_id"),
    )


class VulnRecordStaging(Base):
    """A record read by a running sync, kept apart until its group is swapped in."""

    __tablename__ = "vuln_record_staging"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    sync_id: Mapped[str] = mapped_column(String(64))
    feed: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(128))
    record_key: Mapped[str] = mapped_column(Text)
    record_hash: Mapped[str] = mapped_column(String(64))
    vuln_id: Mapped[str] = mapped_column(String(255))
    namespace: Mapped[str] = mapped_column(String(128))
    package: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The `VulnRecord` as JSON when it differs from the stored row; None when unchanged."""

    __table_args__ = (Index(None, "sync_id", "feed", "group_name", "record_key"),)


class Policy(Base):
    """One policy bundle of an account; at most one per account is active."""

    __tablename__ = "policies"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    bundle: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        # A partial unique index makes a second active bundle a constraint violation, whatever
        # the code that writes it.
        Index(
            "uq_policies_one_active",
            "account",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )


class Evaluation(Base):
    """One stored policy evaluation; evaluations outlive the image they describe."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    eval_id: Mapped[str] = mapped_column(String(255))
    policy_id: Mapped[str] = mapped_column(String(255))
    image_digest: Mapped[str] = mapped_column(String(255))
    tag: Mapped[str] = mapped_column(Text)
    final_action: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(None, "account", "image_digest", "created_at"),
        Index(None, "eval_id"),
    )


class LayerCacheRow(Base):
    """Layer reader results of one layer on its lower layers, as `layercache.encode_layer`
    writes them; shared by every image with the same layers."""

    __tablename__ = "layer_cache"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    """`layercache.chain_key` of the layer, its lower layers and the cataloger selection."""
    layer_digest: Mapped[str] = mapped_column(String(255))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "layer_digest"),)


class RegistryCredential(Base):
    """Credentials of one registry, or of the repositories under one path of a registry."""

    __tablename__ = "registries"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Declarative reserves the attribute name `registry`, so the column has another one here.
    pattern: Mapped[str] = mapped_column("registry", String(1024), primary_key=True)
    """`host[:port]`, optionally followed by `/repository` and a trailing `*` wildcard."""
    registry_name: Mapped[str] = mapped_column(String(1024))
    registry_type: Mapped[str] = mapped_column(String(32))
    registry_user: Mapped[str] = mapped_column(Text)
    registry_pass: Mapped[str] = mapped_column(Text)
    # NOTE: the password is stored as given, as Anchore Engine does without its optional
    # encryption, so access to the database grants the registry credentials.
    registry_verify: Mapped[bool] = mapped_column(Boolean)
    """Whether TLS certificates of the registry are verified."""
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime.datetime] = mapped_column(UtcDateTime)


class SubscriptionRow(Base):
    """One subscription in Anchore's terms: a watched tag or repository and what to watch."""

    __tablename__ = "subscriptions"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """md5 hex of `<account>+<subscription_key>+<subscription_type>`, as Anchore derives it."""
    subscription_key: Mapped[str] = mapped_column(Text)
    """Full tag `registry/repository:tag`, or `registry/repository` for `repo_update`."""
    subscription_type: Mapped[str] = mapped_column(String(32))
    subscription_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean)
    watch_state: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    """The state the watcher of this subscription recorded last; not part of the API."""
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_updated: Mapped[datetime.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index(None, "account", "subscription_type"),)


class NotificationRow(Base):
    """A webhook notification queued by a watcher and not delivered yet."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    notification_id: Mapped[str] = mapped_column(String(64))
    notification_type: Mapped[str] = mapped_column(String(32))
    subscription_key: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The `notification_payload` of Anchore's webhook body."""
    tries: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(UtcDateTime)
    last_tried_at: Mapped[datetime.datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (
        Index(None, "notification_id", unique=True),
        Index(None, "account", "created_at"),
    )
