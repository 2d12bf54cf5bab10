"""Events: feed sync progress and vulnerability updates, listed as Anchore lists them."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from sqlalchemy import select

from chalicelib.store.base import StorePart, require_aware
from chalicelib.store.models import EventRow
from chalicelib.store.records import EventRecord

logger = logging.getLogger(__name__)


class EventStorePart(StorePart):
    """Store methods for events."""

    def add_event(self, event: EventRecord) -> None:
        """Store one event of the account."""
        created_at = require_aware(event.created_at, "created_at")
        with self._db.transaction(f"add event {event.event_type}", write=True) as session:
            session.add(
                EventRow(
                    generated_uuid=event.generated_uuid,
                    account=self._account,
                    event_type=event.event_type,
                    level=event.level,
                    message=event.message,
                    details=event.details,
                    resource_type=event.resource_type,
                    resource_id=event.resource_id,
                    created_at=created_at,
                )
            )

    def list_events(
        self,
        *,
        event_type: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        level: str | None = None,
        since: datetime.datetime | None = None,
        before: datetime.datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[EventRecord]:
        """Return the account's events that pass every given filter, newest first.

        `event_type` may contain `*`, which matches any run of characters, as in Anchore's
        `GET /events`. `since` is inclusive and `before` exclusive. `offset` and `limit` select
        a page of the result.
        """
        statement = select(EventRow).where(EventRow.account == self._account)
        if event_type is not None:
            if "*" in event_type:
                pattern = _escape_like(event_type).replace("*", "%")
                statement = statement.where(EventRow.event_type.like(pattern, escape="\\"))
            else:
                statement = statement.where(EventRow.event_type == event_type)
        filters: dict[str, Any] = {
            "resource_type": resource_type,
            "resource_id": resource_id,
            "level": level,
        }
        for column, value in filters.items():
            if value is not None:
                statement = statement.where(getattr(EventRow, column) == value)
        if since is not None:
            statement = statement.where(EventRow.created_at >= require_aware(since, "since"))
        if before is not None:
            statement = statement.where(EventRow.created_at < require_aware(before, "before"))
        statement = (
            statement.order_by(EventRow.created_at.desc(), EventRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self._db.transaction("list events", write=False) as session:
            return [_event_record(row) for row in session.scalars(statement)]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _event_record(row: EventRow) -> EventRecord:
    return EventRecord(
        generated_uuid=row.generated_uuid,
        event_type=row.event_type,
        level=row.level,
        message=row.message,
        details=dict(row.details),
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        created_at=row.created_at,
    )
