"""Reads and writes of re-matching after a feed sync, a page of images at a time.

Re-matching reads the images that a sync can affect in pages ordered by digest. A page costs a
few statements to read the tags, packages and matches of its images, and one transaction to
write their changed matches, `vuln_update` rows and events.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, or_, select, update
from sqlalchemy.orm import Session, selectinload

from chalicelib.analysis.interface import Package
from chalicelib.store.base import StorePart, insert_rows, require_aware
from chalicelib.store.images import _image_record, match_key
from chalicelib.store.models import (
    EventRow,
    Image,
    ImageAnalysis,
    ImageLookup,
    ImagePackage,
    VulnMatchRow,
    VulnUpdate,
)
from chalicelib.store.records import (
    AnalysisStatus,
    EventRecord,
    ImageRecord,
    ImageStatus,
)
from chalicelib.vulns.interface import VulnMatch

logger = logging.getLogger(__name__)

MAX_NAMES_PER_QUERY = 2000
"""Changed package names sent in one candidate query. A namespace whose names do not fit is
selected whole, which selects more images but never misses one."""

LookupKey = tuple[str, str]
"""(namespace, package name) under which the matcher looked up records."""


@dataclasses.dataclass(frozen=True)
class StoredMatchState:
    """Image, packages and stored matches that re-matching one image reads."""

    image: ImageRecord
    packages: list[Package] | None
    """None when the analysis was stored before package lists were kept apart."""
    matches: list[VulnMatch]
    """Stored matches, ordered by key."""
    first_seen: dict[str, datetime.datetime]
    """`first_seen` of the stored matches, by match key."""
    lookups_stored: bool
    """Whether `image_lookups` contains the lookups of the image's last match."""


@dataclasses.dataclass(frozen=True)
class RematchWrite:
    """Changes that re-matching one image stores. `matches` None keeps the stored matches."""

    digest: str
    matches: list[VulnMatch] | None = None
    update: tuple[list[VulnMatch], list[VulnMatch], list[VulnMatch]] | None = None
    """Added, updated and removed matches, recorded as one `vuln_update` row."""
    events: list[EventRecord] = dataclasses.field(default_factory=list)
    lookups: list[LookupKey] | None = None
    """Lookups of this match, replacing the stored ones; None keeps them."""


class RematchStorePart(StorePart):
    """Store methods that re-match stored images in pages."""

    def find_rematch_candidates(
        self,
        changes: Mapping[str, frozenset[str] | None] | None,
        *,
        after: str | None,
        limit: int,
    ) -> list[str]:
        """Return up to `limit` digests of analyzed, active images after `after`, in order.

        `changes` maps a namespace to the package names whose records changed, or to None when
        any record of the namespace may have changed. An image is selected when its last match
        looked up one of those pairs, or when its lookups are not stored. `changes` None selects
        every analyzed image.
        """
        statement = (
            select(Image.digest)
            .outerjoin(
                ImageAnalysis,
                and_(ImageAnalysis.account == Image.account, ImageAnalysis.digest == Image.digest),
            )
            .where(
                Image.account == self._account,
                Image.analysis_status == AnalysisStatus.ANALYZED,
                Image.image_status == ImageStatus.ACTIVE,
            )
            .order_by(Image.digest)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(Image.digest > after)
        if changes is not None:
            looked_up = exists().where(
                ImageLookup.account == Image.account,
                ImageLookup.digest == Image.digest,
                or_(false(), *_changed_pairs(changes)),
            )
            # NULL is an analyzed image without an analysis row, whose lookups are not known.
            unknown = ImageAnalysis.lookups_stored.is_not(True)
            statement = statement.where(or_(unknown, looked_up))
        with self._db.transaction("find images to match again", write=False) as session:
            return list(session.scalars(statement))

    def load_match_states(self, digests: Sequence[str]) -> list[StoredMatchState]:
        """Return what re-matching reads for each of `digests` that is still stored, in order."""
        in_account = (Image.account == self._account, Image.digest.in_(digests))
        with self._db.transaction("load images to match again", write=False) as session:
            images = {
                row.digest: _image_record(row)
                for row in session.scalars(
                    select(Image).where(*in_account).options(selectinload(Image.tags))
                )
            }
            analyses = {
                digest: (package_count, bool(stored))
                for digest, package_count, stored in session.execute(
                    select(
                        ImageAnalysis.digest,
                        ImageAnalysis.package_count,
                        ImageAnalysis.lookups_stored,
                    ).where(
                        ImageAnalysis.account == self._account, ImageAnalysis.digest.in_(digests)
                    )
                )
            }
            packages: dict[str, list[Package]] = defaultdict(list)
            package_rows = (
                select(ImagePackage)
                .where(ImagePackage.account == self._account, ImagePackage.digest.in_(digests))
                .order_by(ImagePackage.digest, ImagePackage.seq)
            )
            for row in session.scalars(package_rows):
                packages[row.digest].append(
                    Package(
                        name=row.name,
                        version=row.version,
                        type=row.package_type,
                        location=row.location,
                        source_name=row.source_name,
                        source_version=row.source_version,
                        purl=row.purl,
                    )
                )
            matches: dict[str, list[VulnMatch]] = defaultdict(list)
            first_seen: dict[str, dict[str, datetime.datetime]] = defaultdict(dict)
            match_rows = select(
                VulnMatchRow.digest,
                VulnMatchRow.match_key,
                VulnMatchRow.vuln_match,
                VulnMatchRow.first_seen,
            ).where(VulnMatchRow.account == self._account, VulnMatchRow.digest.in_(digests))
            for digest, key, document, seen in session.execute(
                match_rows.order_by(VulnMatchRow.digest, VulnMatchRow.match_key)
            ):
                matches[digest].append(VulnMatch.model_validate(document))
                first_seen[digest][key] = seen

        states = []
        for digest in digests:
            image = images.get(digest)
            if image is None:
                continue
            package_count, lookups_stored = analyses.get(digest, (None, False))
            states.append(
                StoredMatchState(
                    image=image,
                    packages=packages.get(digest, []) if package_count is not None else None,
                    matches=matches.get(digest, []),
                    first_seen=first_seen.get(digest, {}),
                    lookups_stored=lookups_stored,
                )
            )
        return states

    def save_rematches(
        self,
        writes: Sequence[RematchWrite],
        first_seen: Mapping[str, Mapping[str, datetime.datetime]],
        *,
        now: datetime.datetime,
    ) -> None:
        """Store the results of re-matching a page of images in one transaction.

        New matches keep `first_seen` of the same key in `first_seen[digest]`, and a new key
        gets `now`. Writes of images deleted since they were read are skipped.
        """
        now = require_aware(now, "now")
        digests = [write.digest for write in writes]
        with self._db.transaction("save matches of a page of images", write=True) as session:
            present = set(
                session.scalars(
                    select(Image.digest).where(
                        Image.account == self._account, Image.digest.in_(digests)
                    )
                )
            )
            writes = [write for write in writes if write.digest in present]
            rematched = [write for write in writes if write.matches is not None]
            looked_up = [write for write in writes if write.lookups is not None]

            if rematched:
                session.execute(
                    delete(VulnMatchRow)
                    .where(
                        VulnMatchRow.account == self._account,
                        VulnMatchRow.digest.in_([write.digest for write in rematched]),
                    )
                    .execution_options(synchronize_session=False)
                )
            insert_rows(
                session,
                VulnMatchRow,
                [
                    row
                    for write in rematched
                    for row in _match_rows(
                        self._account, write, first_seen.get(write.digest, {}), now
                    )
                ],
            )
            insert_rows(session, VulnUpdate, _update_rows(self._account, writes, now))
            insert_rows(session, EventRow, _event_rows(self._account, writes))
            if looked_up:
                self._replace_lookups(session, looked_up)

    def _replace_lookups(self, session: Session, writes: list[RematchWrite]) -> None:
        digests = [write.digest for write in writes]
        session.execute(
            delete(ImageLookup)
            .where(ImageLookup.account == self._account, ImageLookup.digest.in_(digests))
            .execution_options(synchronize_session=False)
        )
        rows = [
            {
                "account": self._account,
                "digest": write.digest,
                "namespace": namespace,
                "package": name,
            }
            for write in writes
            for namespace, name in sorted(set(write.lookups or ()))
        ]
        insert_rows(session, ImageLookup, rows)
        session.execute(
            update(ImageAnalysis)
            .where(ImageAnalysis.account == self._account, ImageAnalysis.digest.in_(digests))
            .values(lookups_stored=True)
            .execution_options(synchronize_session=False)
        )


def _changed_pairs(changes: Mapping[str, frozenset[str] | None]) -> list[ColumnElement[bool]]:
    """Return one condition on `image_lookups` per namespace of `changes`."""
    conditions = []
    budget = MAX_NAMES_PER_QUERY
    for namespace, names in sorted(changes.items(), key=lambda item: len(item[1] or ())):
        if names is not None and len(names) <= budget:
            budget -= len(names)
            conditions.append(
                and_(ImageLookup.namespace == namespace, ImageLookup.package.in_(sorted(names)))
            )
        else:
            conditions.append(ImageLookup.namespace == namespace)
    return conditions


def _match_rows(
    account: str,
    write: RematchWrite,
    first_seen: Mapping[str, datetime.datetime],
    now: datetime.datetime,
) -> list[dict[str, Any]]:
    """Return the `vuln_matches` rows of one image; the first match of a repeated key wins."""
    rows: dict[str, dict[str, Any]] = {}
    for match in write.matches or ():
        key = match_key(match)
        if key in rows:
            continue
        rows[key] = {
            "account": account,
            "digest": write.digest,
            "match_key": key,
            "vuln_id": match.vuln_id,
            "vuln_match": match.model_dump(mode="json"),
            "first_seen": first_seen.get(key, now),
        }
    return list(rows.values())


def _update_rows(
    account: str, writes: Sequence[RematchWrite], now: datetime.datetime
) -> list[dict[str, Any]]:
    return [
        {
            "account": account,
            "digest": write.digest,
            "added": [match.model_dump(mode="json") for match in write.update[0]],
            "updated": [match.model_dump(mode="json") for match in write.update[1]],
            "removed": [match.model_dump(mode="json") for match in write.update[2]],
            "created_at": now,
        }
        for write in writes
        if write.update is not None
    ]


def _event_rows(account: str, writes: Sequence[RematchWrite]) -> list[dict[str, Any]]:
    return [
        {
            "generated_uuid": event.generated_uuid,
            "account": account,
            "event_type": event.event_type,
            "level": event.level,
            "message": event.message,
            "details": event.details,
            "resource_type": event.resource_type,
            "resource_id": event.resource_id,
            "created_at": require_aware(event.created_at, "created_at"),
        }
        for write in writes
        for event in write.events
    ]
