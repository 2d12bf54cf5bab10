"""Record types and errors of the store.

Records are frozen dataclasses that the store returns and the service layer reads. They carry no
database session, so they stay valid after the transaction that loaded them has ended. Every
datetime in a record is timezone-aware UTC.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from typing import Any


class StoreError(Exception):
    """A store operation failed; the message names the operation and the value involved."""


class NotFoundError(StoreError):
    """The image, policy or other record named in the call does not exist."""


class ConflictError(StoreError):
    """The call conflicts with stored state: a duplicate id or the active policy."""


class AnalysisStatus(enum.StrEnum):
    """Analysis state of an image, with Anchore's values."""

    NOT_ANALYZED = "not_analyzed"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    ANALYSIS_FAILED = "analysis_failed"


class ImageStatus(enum.StrEnum):
    """Lifecycle state of an image record, with Anchore's values."""

    ACTIVE = "active"


@dataclasses.dataclass(frozen=True)
class NewImage:
    """An image and one of its tags as the service layer resolved them from a registry."""

    digest: str
    """Manifest digest (`sha256:...`) of the platform manifest; the image's identity."""
    parent_digest: str | None
    """Digest of the manifest list or image index the tag resolved to, if any."""
    image_id: str | None
    """Digest of the image config blob, without the `sha256:` prefix."""
    manifest: dict[str, Any]
    registry: str
    repository: str
    tag: str | None = None
    """Tag to record for the image; None stores no tag row."""
    dockerfile: str | None = None
    """Dockerfile text the user supplied; None keeps a stored one."""
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    created_at: datetime.datetime | None = None
    """Creation time to record (Anchore's `creation_timestamp_override`); None means now."""


@dataclasses.dataclass(frozen=True)
class TagRecord:
    """One registry tag that pointed at an image."""

    registry: str
    repository: str
    tag: str
    fulltag: str
    """`registry/repository:tag`."""
    created_at: datetime.datetime
    tag_detected_at: datetime.datetime
    """When the store first saw this tag point at this digest."""
    last_updated: datetime.datetime


@dataclasses.dataclass(frozen=True)
class ImageSummary:
    """Summary fields that an analysis sets on the image record."""

    image_id: str
    arch: str | None
    distro: str | None
    distro_version: str | None
    image_size: int | None
    """Image size in bytes, as the analysis computed it."""
    layer_count: int | None
    dockerfile_mode: str | None
    """`Actual` when the user supplied the Dockerfile, `Guessed` when it was built from history."""


@dataclasses.dataclass(frozen=True)
class ImageRecord:
    """One image of the account, with its tags ordered by creation time."""

    digest: str
    parent_digest: str | None
    image_id: str | None
    analysis_status: AnalysisStatus
    image_status: ImageStatus
    annotations: dict[str, str]
    created_at: datetime.datetime
    last_updated: datetime.datetime
    analyzed_at: datetime.datetime | None
    failure_reason: str | None
    """Reason the last analysis failed; None unless `analysis_status` is `analysis_failed`."""
    manifest: dict[str, Any]
    dockerfile: str | None
    arch: str | None
    distro: str | None
    distro_version: str | None
    image_size: int | None
    layer_count: int | None
    dockerfile_mode: str | None
    tags: tuple[TagRecord, ...]


@dataclasses.dataclass(frozen=True)
class FeedGroupRecord:
    """Sync state of one group (namespace) of one vulnerability feed."""

    feed: str
    group: str
    record_count: int
    last_sync: datetime.datetime | None
    """When the group was last replaced successfully; None if it never was."""
    last_error: str | None
    """Error of the last failed sync; None after a successful one."""
    created_at: datetime.datetime
    updated_at: datetime.datetime
    content_hash: str | None = None
    """SHA-256 over the record hashes of the last successful sync; None before the first."""
    sources: tuple[str, ...] = ()
    """`FEED_SOURCES` entries that fed the group in its last successful sync."""


@dataclasses.dataclass(frozen=True)
class GroupSwap:
    """Changes that swapping a synced feed group in made to its stored records."""

    record_count: int
    added: int
    updated: int
    removed: int
    changed_packages: frozenset[str] = frozenset()
    """Package names of the records added, updated or removed, in the group's namespace."""

    @property
    def changed(self) -> bool:
        """Whether any record was added, updated or removed."""
        return bool(self.added or self.updated or self.removed)


@dataclasses.dataclass(frozen=True)
class VulnUpdateRecord:
    """One change of an image's matches after a feed sync."""

    digest: str
    added: list[dict[str, Any]]
    """Matches (`VulnMatch` as JSON) found for the first time."""
    updated: list[dict[str, Any]]
    """Matches whose severity, fixed versions or other fields changed, as they are now."""
    removed: list[dict[str, Any]]
    """Matches no longer found."""
    created_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class EventRecord:
    """One event in Anchore's terms: a fully qualified type, a level and a resource."""

    generated_uuid: str
    event_type: str
    """`category.subcategory.event`, for example `system.feeds.sync.group_completed`."""
    level: str
    """`info` or `error`."""
    message: str
    details: dict[str, Any]
    resource_type: str
    """`feeds`, `feed_groups` or `image_digest`."""
    resource_id: str
    created_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class PackageRow:
    """One stored package of an image, as package queries return it."""

    name: str
    version: str
    package_type: str
    location: str


@dataclasses.dataclass(frozen=True)
class PolicyRecord:
    """One stored policy bundle."""

    policy_id: str
    active: bool
    bundle: dict[str, Any]
    created_at: datetime.datetime
    last_updated: datetime.datetime


@dataclasses.dataclass(frozen=True)
class EvaluationRecord:
    """One stored policy evaluation of an image and tag."""

    eval_id: str
    policy_id: str
    image_digest: str
    tag: str
    """Full tag the bundle's mappings were evaluated against."""
    final_action: str
    """Final action the policy engine returned for the bundle."""
    status: str
    """`pass` or `fail`."""
    result: dict[str, Any]
    """Evaluation document in Anchore's shape."""
    created_at: datetime.datetime


@dataclasses.dataclass(frozen=True)
class RegistryRecord:
    """Stored credentials of a registry, as `/v1/registries` reads and writes them."""

    registry: str
    """`host[:port]`, optionally with `/repository` and a trailing `*` wildcard."""
    registry_name: str
    registry_type: str
    registry_user: str
    registry_pass: str
    registry_verify: bool
    created_at: datetime.datetime | None = None
    last_updated: datetime.datetime | None = None
