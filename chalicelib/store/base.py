"""State and helpers shared by the parts of `Store` (images, feeds, policies)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, insert
from sqlalchemy.orm import Session

from chalicelib.store.database import Database
from chalicelib.store.models import Base

DEFAULT_ACCOUNT = "admin"
"""The only account for now. Rows of account data carry it, so accounts can be added later."""

INSERT_BATCH_SIZE = 500
"""Rows per multi-row INSERT statement.

pg8000 sends an executemany as one statement per row, so rows are sent as multi-row VALUES
instead. 500 rows of at most 7 columns stay far below the bound parameter limits of SQLite
(32766) and of the PostgreSQL protocol (65535).
"""

_T = TypeVar("_T")


class StorePart:
    """Base of the parts of `Store`; `Store.__init__` sets these attributes."""

    _db: Database
    _account: str
    _clock: Callable[[], datetime.datetime]

    def _now(self) -> datetime.datetime:
        return require_aware(self._clock(), "clock value")


def utc_now() -> datetime.datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.UTC)


def require_aware(value: datetime.datetime, name: str) -> datetime.datetime:
    """Return `value` converted to UTC; raise ValueError when it is naive."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{name} {value.isoformat()} is a naive datetime; pass a timezone-aware UTC datetime"
        )
    return value.astimezone(datetime.UTC)


def batches(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    """Yield lists of up to `size` consecutive items."""
    batch: list[_T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (column values by attribute name) in multi-row INSERT statements."""
    for batch in batches(rows, INSERT_BATCH_SIZE):
        session.execute(insert(model).values(batch))


def affected_rows(result: Result[Any]) -> int:
    """Return how many rows an UPDATE or DELETE result changed."""
    # Session.execute is typed as returning Result, but DML statements return a CursorResult.
    return cast(CursorResult[Any], result).rowcount
