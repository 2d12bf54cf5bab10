"""Vulnerability records by feed group, and the sync state of each group."""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, null, select
from sqlalchemy.orm import Session

from chalicelib.store.base import (
    INSERT_BATCH_SIZE,
    StorePart,
    affected_rows,
    batches,
    insert_rows,
    require_aware,
)
from chalicelib.store.models import FeedGroup, VulnRecordRow, VulnRecordStaging
from chalicelib.store.records import FeedGroupRecord, GroupSwap
from chalicelib.vulns.interface import VulnRecord

logger = logging.getLogger(__name__)

LOOKUP_BATCH_SIZE = 500
"""Package names per `IN (...)` lookup, well below the bound parameter limits of both backends."""

_STAGING_COLUMNS = ("feed", "group_name", "vuln_id", "namespace", "package", "record")
"""Columns copied from `vuln_record_staging` into `vuln_records` when a group is swapped in."""


def record_key(record: VulnRecord) -> str:
    """Return the key of a record within its group: `<vuln_id>|<package>`."""
    return f"{record.id}|{record.package}"


def record_document(record: VulnRecord) -> tuple[dict[str, Any], str]:
    """Return the record as JSON data and the SHA-256 of its canonical JSON text."""
    document = record.model_dump(mode="json")
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return document, hashlib.sha256(text.encode()).hexdigest()


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
                            "record": document,
                            "record_key": record_key(record),
                            "record_hash": digest,
                        }
                        for record in batch
                        for document, digest in [record_document(record)]
                    ],
                )
                count += len(batch)
            row.record_count = count
            row.last_sync = synced_at
            row.last_error = None
            row.updated_at = now
        logger.info("feed group replaced: feed=%s group=%s records=%d", feed, group, count)
        return count

    def stage_feed_records(
        self, sync_id: str, feed: str, records: Sequence[VulnRecord], *, force: bool = False
    ) -> list[str]:
        """Stage `records` of a running sync; return the SHA-256 of each, in order.

        Each record's group is its namespace. A record whose hash equals the stored row's is
        staged by key and hash only, so an unchanged record is never written again. `force`
        stages every record in full. A key staged earlier in the same sync is replaced, so the
        last source that delivers a record wins. Nothing is visible to matching until
        `swap_feed_group` swaps the group in.
        """
        documents = [record_document(record) for record in records]
        by_group: dict[str, list[int]] = defaultdict(list)
        for index, record in enumerate(records):
            by_group[record.namespace].append(index)

        with self._db.transaction(f"stage records of feed {feed}", write=True) as session:
            for group, indexes in by_group.items():
                keys = [record_key(records[i]) for i in indexes]
                stored = {} if force else _stored_hashes(session, feed, group, keys)
                session.execute(
                    delete(VulnRecordStaging)
                    .where(
                        VulnRecordStaging.sync_id == sync_id,
                        VulnRecordStaging.feed == feed,
                        VulnRecordStaging.group_name == group,
                        VulnRecordStaging.record_key.in_(keys),
                    )
                    .execution_options(synchronize_session=False)
                )
                rows: dict[str, dict[str, Any]] = {}
                for index, key in zip(indexes, keys, strict=True):
                    record = records[index]
                    document, digest = documents[index]
                    rows[key] = {
                        "sync_id": sync_id,
                        "feed": feed,
                        "group_name": group,
                        "record_key": key,
                        "record_hash": digest,
                        "vuln_id": record.id,
                        "namespace": record.namespace,
                        "package": record.package,
                        # SQL NULL, not the JSON `null` that None would be stored as.
                        "record": null() if stored.get(key) == {digest} else document,
                    }
                insert_rows(session, VulnRecordStaging, list(rows.values()))
        return [digest for _, digest in documents]

    def swap_feed_group(
        self,
        sync_id: str,
        feed: str,
        group: str,
        *,
        content_hash: str,
        sources: Sequence[str],
        synced_at: datetime.datetime,
    ) -> GroupSwap:
        """Make the records staged for the group by sync `sync_id` its stored records.

        Stored records whose key was not staged are removed, changed ones replaced and new ones
        added, all in one transaction with the group's new state (`record_count`, `last_sync`,
        `content_hash`, `sources`, `last_error` cleared). The staged rows are then dropped. On
        failure the transaction is rolled back and the group keeps its records. The result
        names the packages whose records changed, so only images with them need matching again.
        """
        synced_at = require_aware(synced_at, "synced_at")
        now = self._now()
        staged = and_(
            VulnRecordStaging.sync_id == sync_id,
            VulnRecordStaging.feed == feed,
            VulnRecordStaging.group_name == group,
        )
        same_key = and_(staged, VulnRecordStaging.record_key == VulnRecordRow.record_key)
        in_group = and_(VulnRecordRow.feed == feed, VulnRecordRow.group_name == group)
        has_record = VulnRecordStaging.record.is_not(None)
        no_sync = {"synchronize_session": False}

        with self._db.transaction(f"swap in feed group {feed}/{group}", write=True) as session:
            row = _get_or_add_group(session, feed, group, now)
            # Read before the rows change: packages of dropped records and of staged documents,
            # which are the records added or changed.
            dropped = select(VulnRecordRow.package).where(in_group, ~exists().where(same_key))
            written_packages = select(VulnRecordStaging.package).where(staged, has_record)
            changed_packages = frozenset(session.scalars(dropped.union(written_packages)))
            removed = affected_rows(
                session.execute(
                    delete(VulnRecordRow)
                    .where(in_group, ~exists().where(same_key))
                    .execution_options(**no_sync)
                )
            )
            replaced = affected_rows(
                session.execute(
                    delete(VulnRecordRow)
                    .where(in_group, exists().where(same_key, has_record))
                    .execution_options(**no_sync)
                )
            )
            changed = select(
                *(getattr(VulnRecordStaging, column) for column in _STAGING_COLUMNS),
                VulnRecordStaging.record_key,
                VulnRecordStaging.record_hash,
            ).where(staged, has_record)
            written = affected_rows(
                session.execute(
                    insert(VulnRecordRow).from_select(
                        [*_STAGING_COLUMNS, "record_key", "record_hash"], changed
                    )
                )
            )
            count_staged = select(func.count()).select_from(VulnRecordStaging).where(staged)
            count = session.scalar(count_staged)
            session.execute(delete(VulnRecordStaging).where(staged).execution_options(**no_sync))
            row.record_count = count or 0
            row.last_sync = synced_at
            row.last_error = None
            row.content_hash = content_hash
            row.sources = list(sources)
            row.updated_at = now
        swap = GroupSwap(
            record_count=count or 0,
            added=max(written - replaced, 0),
            updated=min(replaced, written),
            removed=removed,
            changed_packages=changed_packages,
        )
        logger.info(
            "feed group swapped in: feed=%s group=%s records=%d added=%d updated=%d removed=%d",
            feed,
            group,
            swap.record_count,
            swap.added,
            swap.updated,
            swap.removed,
        )
        return swap

    def mark_feed_group_synced(
        self, feed: str, group: str, *, synced_at: datetime.datetime, sources: Sequence[str]
    ) -> None:
        """Record a sync that found the group unchanged: set `last_sync`, clear `last_error`."""
        synced_at = require_aware(synced_at, "synced_at")
        now = self._now()
        with self._db.transaction(f"mark feed group {feed}/{group} synced", write=True) as session:
            row = _get_or_add_group(session, feed, group, now)
            row.last_sync = synced_at
            row.last_error = None
            row.sources = list(sources)
            row.updated_at = now

    def discard_staged_records(self, sync_id: str, feed: str, group: str | None = None) -> int:
        """Delete what sync `sync_id` staged, for one group or all; return the row count."""
        statement = delete(VulnRecordStaging).where(
            VulnRecordStaging.sync_id == sync_id, VulnRecordStaging.feed == feed
        )
        if group is not None:
            statement = statement.where(VulnRecordStaging.group_name == group)
        operation = f"discard staged records of sync {sync_id}"
        with self._db.transaction(operation, write=True) as session:
            return affected_rows(
                session.execute(statement.execution_options(synchronize_session=False))
            )

    def get_feed_group(self, feed: str, group: str) -> FeedGroupRecord | None:
        """Return the sync state of one feed group, or None if it was never synced."""
        with self._db.transaction(f"get feed group {feed}/{group}", write=False) as session:
            row = session.get(FeedGroup, (feed, group))
            return _group_record(row) if row is not None else None

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
            return [_group_record(row) for row in session.scalars(statement)]

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

    def find_vuln_records_by_id(
        self,
        vuln_ids: Sequence[str],
        *,
        namespaces: Sequence[str] = (),
        package: str | None = None,
    ) -> list[VulnRecord]:
        """Return the records with any of `vuln_ids`, ordered by id, namespace and package.

        `namespaces` (any of them) and `package` (an exact name) narrow the result when given.
        """
        statement = select(VulnRecordRow.record).where(VulnRecordRow.vuln_id.in_(set(vuln_ids)))
        if namespaces:
            statement = statement.where(VulnRecordRow.namespace.in_(set(namespaces)))
        if package is not None:
            statement = statement.where(VulnRecordRow.package == package)
        with self._db.transaction("find records by id", write=False) as session:
            found = [VulnRecord.model_validate(record) for record in session.scalars(statement)]
        found.sort(key=lambda record: (record.id, record.namespace, record.package))
        return found


def _stored_hashes(
    session: Session, feed: str, group: str, keys: list[str]
) -> dict[str, set[str | None]]:
    statement = select(VulnRecordRow.record_key, VulnRecordRow.record_hash).where(
        VulnRecordRow.feed == feed,
        VulnRecordRow.group_name == group,
        VulnRecordRow.record_key.in_(keys),
    )
    stored: dict[str, set[str | None]] = defaultdict(set)
    for key, digest in session.execute(statement):
        stored[key].add(digest)
    return stored


def _group_record(row: FeedGroup) -> FeedGroupRecord:
    return FeedGroupRecord(
        feed=row.feed,
        group=row.group_name,
        record_count=row.record_count,
        last_sync=row.last_sync,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        content_hash=row.content_hash,
        sources=tuple(row.sources or ()),
    )


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
