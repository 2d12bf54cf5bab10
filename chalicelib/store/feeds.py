"""Vulnerability records by feed group, and the sync state of each group."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chalicelib.store.base import INSERT_BATCH_SIZE, StorePart, batches, insert_rows, require_aware
from chalicelib.store.models import FeedGroup, VulnRecordRow
from chalicelib.store.records import FeedGroupRecord
from chalicelib.vulns.interface import VulnRecord

logger = logging.getLogger(__name__)

LOOKUP_BATCH_SIZE = 500
"""Package names per `IN (...)` lookup, well below the bound parameter limits of both backends."""


class FeedStorePart(StorePart):
    """Store methods for vulnerability data and feed sync state."""

    def replace_feed_group(
        self,
        feed: str,
        group: str,
        records: Iterable[VulnRecord],
        *,
        synced_at: datetime.datetime,
    ) -> int:
        """Replace every record of the feed group with `records`; return how many were stored.

        The deletion, the inserts and the group's new state (`record_count`, `last_sync`,
        `last_error` cleared) are one transaction. If anything fails, including the `records`
        iterator raising midway, the transaction is rolled back, the old records stay, and the
        exception propagates.

        NOTE: `records` is consumed inside the transaction. On SQLite that holds the write lock,
        so other writers wait; an iterator that blocks on the network should be read out first.
        """
        synced_at = require_aware(synced_at, "synced_at")
        now = self._now()
        count = 0
        with self._db.transaction(f"replace feed group {feed}/{group}", write=True) as session:
            row = _get_or_add_group(session, feed, group, now)
            session.execute(
                delete(VulnRecordRow)
                .where(VulnRecordRow.feed == feed, VulnRecordRow.group_name == group)
                .execution_options(synchronize_session=False)
            )
            for batch in batches(records, INSERT_BATCH_SIZE):
                insert_rows(
                    session,
                    VulnRecordRow,
                    [
                        {
                            "feed": feed,
                            "group_name": group,
                            "vuln_id": record.id,
                            "namespace": record.namespace,
                            "package": record.package,
                            "record": record.model_dump(mode="json"),
                        }
                        for record in batch
                    ],
                )
                count += len(batch)
            row.record_count = count
            row.last_sync = synced_at
            row.last_error = None
            row.updated_at = now
        logger.info("feed group replaced: feed=%s group=%s records=%d", feed, group, count)
        return count

    def record_feed_error(self, feed: str, group: str, error: str) -> None:
        """Store `error` as the group's last error, keeping its records and `last_sync`."""
        now = self._now()
        operation = f"record error of feed group {feed}/{group}"
        with self._db.transaction(operation, write=True) as session:
            row = _get_or_add_group(session, feed, group, now)
            row.last_error = error
            row.updated_at = now

    def list_feed_groups(self) -> list[FeedGroupRecord]:
        """Return every feed group, ordered by feed and group."""
        statement = select(FeedGroup).order_by(FeedGroup.feed, FeedGroup.group_name)
        with self._db.transaction("list feed groups", write=False) as session:
            return [
                FeedGroupRecord(
                    feed=row.feed,
                    group=row.group_name,
                    record_count=row.record_count,
                    last_sync=row.last_sync,
                    last_error=row.last_error,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
                for row in session.scalars(statement)
            ]

    def find_vuln_records(self, namespace: str, packages: list[str]) -> list[VulnRecord]:
        """Return the records of `namespace` that affect any of `packages`.

        Results are ordered by package and vulnerability id. Names are compared exactly, so
        callers pass them normalized as the importers store them (source package names for
        distro namespaces, PEP 503 names for `pypi`).
        """
        names = sorted(set(packages))
        found: list[VulnRecord] = []
        with self._db.transaction(f"find records in {namespace}", write=False) as session:
            for batch in batches(names, LOOKUP_BATCH_SIZE):
                statement = select(VulnRecordRow.record).where(
                    VulnRecordRow.namespace == namespace, VulnRecordRow.package.in_(batch)
                )
                rows = session.scalars(statement)
                found.extend(VulnRecord.model_validate(record) for record in rows)
        found.sort(key=lambda record: (record.package, record.id))
        return found


def _get_or_add_group(session: Session, feed: str, group: str, now: datetime.datetime) -> FeedGroup:
    row = session.get(FeedGroup, (feed, group))
    if row is None:
        row = FeedGroup(
            feed=feed,
            group_name=group,
            record_count=0,
            last_sync=None,
            last_error=None,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        # The group row must exist before its records reference it.
        session.flush()
    return row
