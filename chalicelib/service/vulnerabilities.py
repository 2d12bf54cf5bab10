"""Use cases of vulnerability data: feed sync, matching stored images, and their events.

A sync streams the records of every `FEED_SOURCES` entry into a staging area in batches, skipping
records whose content hash is unchanged, and then swaps each group (namespace) in, one transaction
per group. A group that any failed source fed, in this sync or the last successful one, keeps its
previous records. When a group changed, every analyzed image is matched again from its stored
package list, and the difference to its previous matches is recorded as a `vuln_update`.
Re-matching reads only the images that looked up a package whose records changed, a page at a
time, and keeps a bounded number of records in memory.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from chalicelib.analysis.interface import AnalysisReport, Distro, Package, PackageType
from chalicelib.service.context import Services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.store import EventRecord, FeedGroupRecord, ImageRecord, StoreError, match_key
from chalicelib.store.base import batches
from chalicelib.store.rematch import RematchWrite, StoredMatchState
from chalicelib.vulns.interface import FeedError, VulnMatch, VulnRecord
from chalicelib.vulns.matcher import (
    RecordLookup,
    match_packages,
    package_namespaces,
    vuln_namespace,
)
from chalicelib.vulns.sources import FeedSource, iter_records, parse_feed_sources

logger = logging.getLogger(__name__)

FEED_NAME = "vulnerabilities"
"""One feed, as Anchore's Grype provider has; its groups are the record namespaces."""

STAGE_BATCH_SIZE = 500
"""Records read from a source before they are staged in one transaction, so a sync keeps at
most this many records in memory."""

REMATCH_PAGE_SIZE = 200
"""Images read, matched and written per transaction when images are matched again."""
# NOTE: the peak RSS of a sync still grows with the number of images re-matched on PostgreSQL:
# 216 MiB at 2,000 and 412 MiB at 10,000 in `benchmarks.vulns_rematch_bulk`. Live Python
# allocations stay flat between pages, and the cause was not found.

LOOKUP_CACHE_RECORDS = 20_000
"""Records that re-matching keeps for reuse by the next images; older lookups are dropped."""

MATCH_CACHE_MATCHES = 20_000
"""Matches of single packages that re-matching keeps for reuse by the next images."""

EVENT_SYNC_STARTED = "system.feeds.sync.started"
EVENT_SYNC_COMPLETED = "system.feeds.sync.completed"
EVENT_SYNC_FAILED = "system.feeds.sync.failed"
EVENT_GROUP_STARTED = "system.feeds.sync.group_started"
EVENT_GROUP_COMPLETED = "system.feeds.sync.group_completed"
EVENT_GROUP_FAILED = "system.feeds.sync.group_failed"
EVENT_VULN_UPDATE = "user.checks.tag.vulnerabilities.update"


@dataclasses.dataclass(frozen=True)
class GroupSyncResult:
    """Outcome of importing one feed group."""

    group: str
    status: str
    """`success` or `failure`."""
    record_count: int
    seconds: float
    updated_record_count: int = 0
    """Records added, changed or removed; 0 when the group was unchanged."""
    error: str | None = None
    changed_packages: frozenset[str] | None = None
    """Package names whose records changed; None when not known, as after a flush."""


@dataclasses.dataclass(frozen=True)
class FeedSyncResult:
    """Outcome of one sync over every configured source."""

    groups: list[GroupSyncResult]
    errors: list[str]
    seconds: float
    rematched_images: int = 0
    """Images matched again because a group changed."""
    updated_images: int = 0
    """Images whose matches changed."""


@dataclasses.dataclass(frozen=True)
class MatchDiff:
    """Changes of an image's matches, in the terms of Anchore's `diff_vulnerability_result`."""

    added: list[VulnMatch]
    updated: list[VulnMatch]
    """Matches with the same key whose other fields changed, as they are now."""
    removed: list[VulnMatch]

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclasses.dataclass
class _GroupProgress:
    """Progress of a running sync in one group: a running hash, a count and the sources."""

    started: float
    read_until: float = 0.0
    """When the last batch with a record of the group was staged."""
    digest: Any = dataclasses.field(default_factory=hashlib.sha256)
    records: int = 0
    sources: set[str] = dataclasses.field(default_factory=set)


def utcnow() -> datetime.datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.datetime.now(datetime.timezone.utc)


def sync_feeds(services: Services, *, flush: bool = False) -> FeedSyncResult:
    """Import what changed in every source of `FEED_SOURCES`, then match stored images again.

    `flush` writes every record again, whatever its stored hash. A source that fails leaves
    the groups it fed with their previous records and its error in the groups' `last_error`.
    Progress is stored as `system.feeds.sync.*` events. Raises `InvalidRequestError` when
    `FEED_SOURCES` is empty or invalid.
    """
    sources = _configured_sources(services)
    sync_id = uuid.uuid4().hex
    started = time.monotonic()
    with services.feed_sync_lock:
        logger.info("feed sync started: sync_id=%s sources=%d", sync_id, len(sources))
        _emit(
            services,
            EVENT_SYNC_STARTED,
            "info",
            "Feed sync started",
            "feeds",
            FEED_NAME,
            {"sync_id": sync_id, "sources": [str(source) for source in sources]},
        )
        try:
            result = _sync(services, sources, sync_id, flush=flush, started=started)
        except Exception as error:
            logger.exception("feed sync failed: sync_id=%s", sync_id)
            services.store.discard_staged_records(sync_id, FEED_NAME)
            _emit(
                services,
                EVENT_SYNC_FAILED,
                "error",
                "Feed sync failed",
                "feeds",
                FEED_NAME,
                {"sync_id": sync_id, "cause": str(error)},
            )
            raise

    failed = bool(result.errors) or any(group.status != "success" for group in result.groups)
    _emit(
        services,
        EVENT_SYNC_FAILED if failed else EVENT_SYNC_COMPLETED,
        "error" if failed else "info",
        "Feed sync failed" if failed else "Feed sync completed",
        "feeds",
        FEED_NAME,
        {
            "sync_id": sync_id,
            "errors": result.errors,
            "groups": len(result.groups),
            "updated_images": result.updated_images,
            "total_time_seconds": round(result.seconds, 3),
        },
    )
    logger.info(
        "feed sync finished: sync_id=%s groups=%d errors=%d rematched=%d updated_images=%d "
        "seconds=%.1f",
        sync_id,
        len(result.groups),
        len(result.errors),
        result.rematched_images,
        result.updated_images,
        result.seconds,
    )
    return result


def _configured_sources(services: Services) -> list[FeedSource]:
    text = services.settings.feed_sources.strip()
    if not text:
        raise InvalidRequestError(
            "no feed source is configured; set FEED_SOURCES, for example "
            "FEED_SOURCES=osv=/path/to/osv-records,alpine-secdb=/path/to/alpine-secdb"
        )
    try:
        return parse_feed_sources(text)
    except FeedError as exc:
        raise InvalidRequestError(str(exc)) from exc


def _sync(
    services: Services, sources: list[FeedSource], sync_id: str, *, flush: bool, started: float
) -> FeedSyncResult:
    progress: dict[str, _GroupProgress] = {}
    failed_sources: dict[str, str] = {}
    for source in sources:
        try:
            _stage_source(services, source, sync_id, progress, flush=flush)
        except (FeedError, StoreError) as error:
            logger.error(
                "feed source failed: sync_id=%s source=%s error=%s", sync_id, source, error
            )
            failed_sources[str(source)] = f"{source}: {error}"

    stored = {group.group: group for group in services.store.list_feed_groups()}
    read_whole = {str(source) for source in sources} - failed_sources.keys()
    results = []
    for group in sorted(progress.keys() | {name for name, row in stored.items() if row.sources}):
        result = _finish_group(
            services,
            sync_id,
            group,
            progress.get(group),
            stored.get(group),
            failed_sources,
            read_whole,
            flush=flush,
        )
        if result is not None:
            results.append(result)
    # A failed group discarded its own staged rows. This call drops what is left.
    services.store.discard_staged_records(sync_id, FEED_NAME)

    rematched = updated = 0
    changed = {
        result.group: result.changed_packages
        for result in results
        if result.updated_record_count
    }
    if changed:
        rematched, updated = rematch_all(services, changed)
    return FeedSyncResult(
        groups=results,
        errors=list(failed_sources.values()),
        seconds=time.monotonic() - started,
        rematched_images=rematched,
        updated_images=updated,
    )


def _stage_source(
    services: Services,
    source: FeedSource,
    sync_id: str,
    progress: dict[str, _GroupProgress],
    *,
    flush: bool,
) -> None:
    """Stream the source's records into the staging area, one batch per transaction."""
    for batch in batches(iter_records(source), STAGE_BATCH_SIZE):
        digests = services.store.stage_feed_records(sync_id, FEED_NAME, batch, force=flush)
        for record, digest in zip(batch, digests, strict=True):
            group = progress.get(record.namespace)
            if group is None:
                group = progress[record.namespace] = _GroupProgress(started=time.monotonic())
                _emit(
                    services,
                    EVENT_GROUP_STARTED,
                    "info",
                    "Feed group sync started",
                    "feed_groups",
                    f"{FEED_NAME}/{record.namespace}",
                    {"sync_id": sync_id, "feed": FEED_NAME, "group": record.namespace},
                )
            group.digest.update(digest.encode())
            group.records += 1
            group.sources.add(str(source))
        staged_at = time.monotonic()
        for namespace in {record.namespace for record in batch}:
            progress[namespace].read_until = staged_at


def _finish_group(
    services: Services,
    sync_id: str,
    group: str,
    progress: _GroupProgress | None,
    stored: FeedGroupRecord | None,
    failed_sources: dict[str, str],
    read_whole: set[str],
    *,
    flush: bool,
) -> GroupSyncResult | None:
    """Swap one group in, keep it as it is, or record why it failed.

    A group that a failed source fed, now or in its last successful sync, keeps its records.
    A stored group that this sync read no record for is emptied only when every source that
    fed it last time was read whole now, because then upstream dropped it. Otherwise a source
    was removed from `FEED_SOURCES`, so the group is left alone and None is returned.
    """
    swap_started = time.monotonic()
    # Groups are read together from one stream and swapped in one by one at the end, so a
    # group's time is its reading span plus its own swap, not the time since its first record.
    read_seconds = progress.read_until - progress.started if progress else 0.0
    started = swap_started - read_seconds
    read_from = progress.sources if progress else set()
    fed_by = read_from | set(stored.sources if stored else ())
    failed = sorted(fed_by & failed_sources.keys())
    details: dict[str, Any] = {"sync_id": sync_id, "feed": FEED_NAME, "group": group}
    resource_id = f"{FEED_NAME}/{group}"

    if progress is None and not failed and not fed_by <= read_whole:
        return None
    if failed:
        error = "; ".join(failed_sources[source] for source in failed)
        return _fail_group(services, sync_id, group, stored, started, error)

    content_hash = (progress.digest if progress else hashlib.sha256()).hexdigest()
    record_count = progress.records if progress else 0
    changed_packages: frozenset[str] | None = None
    try:
        if stored is not None and stored.content_hash == content_hash and not flush:
            services.store.mark_feed_group_synced(
                FEED_NAME, group, synced_at=utcnow(), sources=sorted(read_from)
            )
            services.store.discard_staged_records(sync_id, FEED_NAME, group)
            updated = 0
            record_count = stored.record_count
        else:
            swap = services.store.swap_feed_group(
                sync_id,
                FEED_NAME,
                group,
                content_hash=content_hash,
                sources=sorted(read_from),
                synced_at=utcnow(),
            )
            updated = swap.added + swap.updated + swap.removed
            record_count = swap.record_count
            # A flush writes every record whatever its hash, so it cannot tell what changed.
            changed_packages = None if flush else swap.changed_packages
    except StoreError as error:
        logger.error("feed group import failed: group=%s error=%s", group, error)
        return _fail_group(services, sync_id, group, stored, started, f"import failed: {error}")

    seconds = time.monotonic() - started
    details.update(
        record_count=record_count,
        updated_record_count=updated,
        total_time_seconds=round(seconds, 3),
    )
    _emit(
        services,
        EVENT_GROUP_COMPLETED,
        "info",
        "Feed group sync completed",
        "feed_groups",
        resource_id,
        details,
    )
    logger.info("feed group synced: group=%s records=%d updated=%d", group, record_count, updated)
    return GroupSyncResult(
        group, "success", record_count, seconds, updated, changed_packages=changed_packages
    )


def _fail_group(
    services: Services,
    sync_id: str,
    group: str,
    stored: FeedGroupRecord | None,
    started: float,
    error: str,
) -> GroupSyncResult:
    services.store.discard_staged_records(sync_id, FEED_NAME, group)
    services.store.record_feed_error(FEED_NAME, group, error)
    _emit(
        services,
        EVENT_GROUP_FAILED,
        "error",
        "Feed group sync failed",
        "feed_groups",
        f"{FEED_NAME}/{group}",
        {"sync_id": sync_id, "feed": FEED_NAME, "group": group, "cause": error},
    )
    logger.warning("feed group kept its previous records: group=%s error=%s", group, error)
    record_count = stored.record_count if stored else 0
    return GroupSyncResult(
        group, "failure", record_count, time.monotonic() - started, 0, error=error
    )


def match_image(services: Services, digest: str, report: AnalysisReport | None = None) -> int:
    """Match one analyzed image against the stored records and store the matches."""
    if report is None:
        document = services.store.get_analysis(digest)
        if document is None:
            return 0
        report = AnalysisReport.model_validate(document)
    matches = match_packages(report.packages, report.distro, services.store.find_vuln_records)
    lookups = image_lookups(report.packages, report.distro)
    services.store.save_matches(digest, matches, now=utcnow(), lookups=lookups)
    logger.info("matched image: image_digest=%s matches=%d", digest, len(matches))
    return len(matches)


RematchChanges = Mapping[str, Collection[str] | None] | Collection[str]
"""Package names whose records changed, by namespace (None: any package of the namespace), or
a collection of namespaces in which any record may have changed."""


def rematch_all(services: Services, changes: RematchChanges | None = None) -> tuple[int, int]:
    """Match analyzed images again from their stored packages, as after a feed sync.

    With `changes`, only images whose last match looked up a changed (namespace, package) pair
    are matched again, because the matches of the others cannot have changed. Images whose
    lookups are not stored yet (analyses stored before lookups were kept) are read too, and
    their lookups are stored. Without `changes`, every analyzed image is matched again and
    its lookups stored anew. Each image whose matches changed gets a recorded `vuln_update`
    and a `user.checks.tag.vulnerabilities.update` event per tag. Images are read, matched
    and written in pages of `REMATCH_PAGE_SIZE`, and a page that fails to load or save is
    logged and skipped. Returns the number of images matched again and the number whose
    matches changed.
    """
    by_namespace = _changes_by_namespace(changes)
    lookup = CachedLookup(services.store.find_vuln_records, max_records=LOOKUP_CACHE_RECORDS)
    matcher = PackageMatchCache(lookup, max_matches=MATCH_CACHE_MATCHES)
    rematched = updated = candidates = 0
    after: str | None = None
    while True:
        digests = services.store.find_rematch_candidates(
            by_namespace, after=after, limit=REMATCH_PAGE_SIZE
        )
        if not digests:
            break
        after = digests[-1]
        candidates += len(digests)
        try:
            page_rematched, page_updated = _rematch_page(services, digests, matcher, by_namespace)
        except StoreError as error:
            logger.error(
                "re-matching a page failed: images=%d first_digest=%s error=%s",
                len(digests),
                digests[0],
                error,
            )
            continue
        rematched += page_rematched
        updated += page_updated
    logger.info(
        "re-matched images: candidates=%d rematched=%d updated=%d",
        candidates,
        rematched,
        updated,
    )
    return rematched, updated


def _changes_by_namespace(
    changes: RematchChanges | None,
) -> dict[str, frozenset[str] | None] | None:
    if changes is None:
        return None
    if isinstance(changes, Mapping):
        return {
            namespace: None if names is None else frozenset(names)
            for namespace, names in changes.items()
        }
    return {namespace: None for namespace in changes}


def _rematch_page(
    services: Services,
    digests: list[str],
    matcher: PackageMatchCache,
    changes: dict[str, frozenset[str] | None] | None,
) -> tuple[int, int]:
    """Match one page of images again and store what changed in one transaction."""
    states = services.store.load_match_states(digests)
    now = utcnow()
    writes: list[RematchWrite] = []
    rematched = updated = 0
    for state in states:
        write, diff = _rematch_state(services, state, matcher, changes, now)
        if write is not None:
            writes.append(write)
        if diff is not None:
            rematched += 1
            updated += bool(diff)
    first_seen = {state.image.digest: state.first_seen for state in states}
    services.store.save_rematches(writes, first_seen, now=now)
    return rematched, updated


def _rematch_state(
    services: Services,
    state: StoredMatchState,
    matcher: PackageMatchCache,
    changes: dict[str, frozenset[str] | None] | None,
    now: datetime.datetime,
) -> tuple[RematchWrite | None, MatchDiff | None]:
    """Match one image again; return what to write (None: nothing) and the diff (None: skipped).

    An image is skipped when none of its lookups changed, which only happens to images whose
    lookups were not stored, since the others were selected by their stored lookups.
    """
    image = state.image
    packages = state.packages
    if packages is None or _needs_metadata(packages):
        packages = _stored_packages(services, image.digest)
    distro = _image_distro(image)
    lookups = image_lookups(packages, distro)
    # Lookups are a function of the packages and distro, which a new analysis replaces
    # together with the stored flag, so stored lookups are only rewritten by a full re-match.
    new_lookups = lookups if changes is None or not state.lookups_stored else None
    # An image without lookups still gets its empty list stored, so it is not read again.
    lookups_only = None
    if new_lookups is not None:
        lookups_only = RematchWrite(image.digest, lookups=new_lookups)
    if changes is not None and not any(
        namespace in changes and (changes[namespace] is None or name in changes[namespace])
        for namespace, name in lookups
    ):
        return lookups_only, None

    matches = matcher.match(packages, distro)
    diff = diff_matches(state.matches, matches)
    if not diff:
        return lookups_only, diff
    logger.info(
        "image matches changed: image_digest=%s added=%d updated=%d removed=%d",
        image.digest,
        len(diff.added),
        len(diff.updated),
        len(diff.removed),
    )
    write = RematchWrite(
        image.digest,
        matches=matches,
        update=(diff.added, diff.updated, diff.removed),
        events=vuln_update_events(image, diff),
        lookups=new_lookups,
    )
    return write, diff


def image_lookups(packages: Sequence[Package], distro: Distro | None) -> list[tuple[str, str]]:
    """Return the distinct (namespace, package name) pairs that matching `packages` looks up."""
    distro_namespace = vuln_namespace(distro)
    pairs = {
        pair for package in packages for pair in package_namespaces(package, distro_namespace)
    }
    return sorted(pairs)


def _image_distro(image: ImageRecord) -> Distro | None:
    return Distro(id=image.distro, version_id=image.distro_version) if image.distro else None


def rematch_image(
    services: Services,
    image: ImageRecord,
    lookup: RecordLookup,
    namespaces: set[str] | None = None,
) -> MatchDiff | None:
    """Match one analyzed image again and record how its matches changed.

    Returns None, without matching, when `namespaces` is given and no package of the image is
    looked up in any of them.
    """
    packages = _stored_packages(services, image.digest)
    distro = _image_distro(image)
    lookups = image_lookups(packages, distro)
    if namespaces is not None and not {namespace for namespace, _ in lookups} & namespaces:
        return None
    matches = match_packages(packages, distro, lookup)
    previous, _ = services.store.get_matches(image.digest)
    now = utcnow()
    services.store.save_matches(image.digest, matches, now=now, lookups=lookups)

    diff = diff_matches(previous, matches)
    if diff:
        services.store.add_vuln_update(
            image.digest,
            added=diff.added,
            updated=diff.updated,
            removed=diff.removed,
            created_at=now,
        )
        for event in vuln_update_events(image, diff):
            _store_event(services, event)
        logger.info(
            "image matches changed: image_digest=%s added=%d updated=%d removed=%d",
            image.digest,
            len(diff.added),
            len(diff.updated),
            len(diff.removed),
        )
    return diff


def _stored_packages(services: Services, digest: str) -> list[Package]:
    """Return the packages of the image's analysis, with `metadata` where matching needs it.

    The package table keeps no `metadata`, and a Java package is looked up by the groupId of its
    pom.properties, so an image with Java packages is matched from its analysis document.
    """
    packages = services.store.get_image_packages(digest)
    if packages is not None and not _needs_metadata(packages):
        return packages
    document = services.store.get_analysis(digest) or {}
    if packages is None:
        # An analysis stored before package lists were kept apart: keep its list now.
        services.store.save_image_packages(digest, document.get("packages") or [])
        packages = services.store.get_image_packages(digest) or []
        if not _needs_metadata(packages):
            return packages
    return [Package.model_validate(package) for package in document.get("packages") or []]


def _needs_metadata(packages: Sequence[Package]) -> bool:
    return any(package.type is PackageType.JAVA for package in packages)


def diff_matches(previous: Sequence[VulnMatch], current: Sequence[VulnMatch]) -> MatchDiff:
    """Compare two match lists of one image by match key (vulnerability, package, path)."""
    before = {match_key(match): match for match in previous}
    after = {match_key(match): match for match in current}
    return MatchDiff(
        added=[match for key, match in after.items() if key not in before],
        updated=[match for key, match in after.items() if key in before and before[key] != match],
        removed=[match for key, match in before.items() if key not in after],
    )


class CachedLookup:
    """A record lookup that remembers the records of each (namespace, package name) pair.

    With `max_records`, the pairs used least recently are dropped once the cache contains more
    records than that, so memory stays bounded however many packages are looked up.
    """

    def __init__(self, lookup: RecordLookup, *, max_records: int | None = None) -> None:
        """Wrap `lookup`, the store's `find_vuln_records`; `max_records` None keeps every record."""
        self._lookup = lookup
        self._max_records = max_records
        self._cache: OrderedDict[tuple[str, str], list[VulnRecord]] = OrderedDict()
        self._records = 0

    def __call__(self, namespace: str, names: list[str]) -> list[VulnRecord]:
        """Return the records of `namespace` for `names`, asking the store only for new names."""
        found: dict[str, list[VulnRecord]] = {}
        missing = []
        for name in names:
            cached = self._cache.get((namespace, name))
            if cached is None:
                missing.append(name)
                found[name] = []
            else:
                self._cache.move_to_end((namespace, name))
                found[name] = cached
        if missing:
            for record in self._lookup(namespace, missing):
                found[record.package].append(record)
            for name in missing:
                self._cache[(namespace, name)] = found[name]
                self._records += len(found[name])
            self._evict()
        return [record for name in names for record in found[name]]

    def _evict(self) -> None:
        if self._max_records is None:
            return
        while self._records > self._max_records and self._cache:
            _, records = self._cache.popitem(last=False)
            self._records -= len(records)


class PackageMatchCache:
    """Matching of stored package lists that reuses the matches of packages seen before.

    Images share most of their packages, and comparing versions dominates the cost of matching,
    so each distinct package of a distro is matched once. `match_packages` matches every
    package on its own, so an image's matches are those of its packages, sorted as
    `match_packages` sorts them. The cache key is made of the fields that `image_packages`
    stores, so a package with `metadata` (from an analysis report) must not be passed. With
    `max_matches`, the packages used least recently are dropped once the cache contains more
    matches than that, counting a package without matches as one.
    """

    def __init__(self, lookup: RecordLookup, *, max_matches: int) -> None:
        """Match against the records of `lookup`, keeping about `max_matches` matches."""
        self._lookup = lookup
        self._max_matches = max_matches
        self._cache: OrderedDict[tuple[Any, ...], list[VulnMatch]] = OrderedDict()
        self._size = 0

    def match(self, packages: Sequence[Package], distro: Distro | None) -> list[VulnMatch]:
        """Return what `match_packages(packages, distro, lookup)` returns."""
        distro_key = (distro.id, distro.version_id) if distro else None
        keys = [(*_package_key(package), distro_key) for package in packages]
        missing = [package for key, package in zip(keys, packages) if key not in self._cache]
        if missing:
            self._look_up(missing, distro)

        matches: list[VulnMatch] = []
        for key, package in zip(keys, packages):
            cached = self._cache.get(key)
            if cached is None:
                cached = self._cache[key] = match_packages([package], distro, self._lookup)
                self._size += max(len(cached), 1)
            else:
                self._cache.move_to_end(key)
            matches.extend(cached)
        self._evict()
        matches.sort(key=lambda m: (-m.severity.rank, m.vuln_id, m.package_name, m.package_path))
        return matches

    def _look_up(self, packages: list[Package], distro: Distro | None) -> None:
        """Fetch the records of `packages` with one lookup per namespace, as a batch."""
        names: dict[str, set[str]] = {}
        for namespace, name in image_lookups(packages, distro):
            names.setdefault(namespace, set()).add(name)
        for namespace, namespace_names in sorted(names.items()):
            self._lookup(namespace, sorted(namespace_names))

    def _evict(self) -> None:
        while self._size > self._max_matches and self._cache:
            _, matches = self._cache.popitem(last=False)
            self._size -= max(len(matches), 1)


def _package_key(package: Package) -> tuple[Any, ...]:
    """Return the fields of a stored package that matching reads."""
    return (
        package.name,
        package.version,
        package.type,
        package.location,
        package.source_name,
        package.source_version,
        package.purl,
    )


def vulnerability_row(match: VulnMatch) -> dict[str, Any]:
    """Return the match as a row of Anchore's vulnerability report, for update events."""
    return {
        "vuln": match.vuln_id,
        "severity": match.severity.value,
        "package": f"{match.package_name}-{match.package_version}",
        "package_name": match.package_name,
        "package_version": match.package_version,
        "package_type": match.package_type,
        "package_path": match.package_path,
        "fix": ",".join(match.fixed_in) if match.fixed_in else "None",
        "url": match.url or "None",
        "feed": FEED_NAME,
        "feed_group": match.namespace,
        "will_not_fix": match.will_not_fix,
    }


def vuln_update_events(image: ImageRecord, diff: MatchDiff) -> list[EventRecord]:
    """Return the `user.checks.tag.vulnerabilities.update` events of a diff, one per tag."""
    result = {
        "added": [vulnerability_row(match) for match in diff.added],
        "updated": [vulnerability_row(match) for match in diff.updated],
        "removed": [vulnerability_row(match) for match in diff.removed],
    }
    fulltags = [tag.fulltag for tag in image.tags] or [image.digest]
    return [
        _event(
            EVENT_VULN_UPDATE,
            "info",
            "Vulnerability update detected for the image",
            "tag" if image.tags else "image_digest",
            fulltag,
            {
                "subscription_type": "vuln_update",
                "imageDigest": image.digest,
                "annotations": image.annotations,
                "diff_vulnerability_result": result,
            },
        )
        for fulltag in fulltags
    ]


def _event(
    event_type: str,
    level: str,
    message: str,
    resource_type: str,
    resource_id: str,
    details: dict[str, Any],
) -> EventRecord:
    return EventRecord(
        generated_uuid=uuid.uuid4().hex,
        event_type=event_type,
        level=level,
        message=message,
        details=details,
        resource_type=resource_type,
        resource_id=resource_id,
        created_at=utcnow(),
    )


def _emit(
    services: Services,
    event_type: str,
    level: str,
    message: str,
    resource_type: str,
    resource_id: str,
    details: dict[str, Any],
) -> None:
    """Store one event; a store failure is logged, because events must not stop a sync."""
    _store_event(
        services, _event(event_type, level, message, resource_type, resource_id, details)
    )


def _store_event(services: Services, event: EventRecord) -> None:
    try:
        services.store.add_event(event)
    except StoreError as error:
        logger.error(
            "event not stored: type=%s resource=%s error=%s",
            event.event_type,
            event.resource_id,
            error,
        )
