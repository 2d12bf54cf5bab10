"""Persistence: SQLAlchemy models, Alembic migrations and the `Store` facade."""

from chalicelib.store.images import match_key
from chalicelib.store.records import (
    AnalysisStatus,
    ConflictError,
    EvaluationRecord,
    FeedGroupRecord,
    ImageRecord,
    ImageStatus,
    ImageSummary,
    NewImage,
    NotFoundError,
    PolicyRecord,
    StoreError,
    TagRecord,
)
from chalicelib.store.store import Store

__all__ = [
    "AnalysisStatus",
    "ConflictError",
    "EvaluationRecord",
    "FeedGroupRecord",
    "ImageRecord",
    "ImageStatus",
    "ImageSummary",
    "NewImage",
    "NotFoundError",
    "PolicyRecord",
    "Store",
    "StoreError",
    "TagRecord",
    "match_key",
]
