"""Persistence: SQLAlchemy models, Alembic migrations and the `Store` facade."""

from chalicelib.store.images import match_key
from chalicelib.store.records import (
    AnalysisStatus,
    ConflictError,
    EvaluationRecord,
    EventRecord,
    FeedGroupRecord,
    GroupSwap,
    ImageRecord,
    ImageStatus,
    ImageSummary,
    NewImage,
    NotFoundError,
    PackageRow,
    PolicyRecord,
    RegistryRecord,
    StoreError,
    TagRecord,
    VulnUpdateRecord,
)
from chalicelib.store.store import Store

__all__ = [
    "AnalysisStatus",
    "ConflictError",
    "EvaluationRecord",
    "EventRecord",
    "FeedGroupRecord",
    "GroupSwap",
    "ImageRecord",
    "ImageStatus",
    "ImageSummary",
    "NewImage",
    "NotFoundError",
    "PackageRow",
    "PolicyRecord",
    "RegistryRecord",
    "Store",
    "StoreError",
    "TagRecord",
    "VulnUpdateRecord",
    "match_key",
]
