"""Use cases of vulnerability data: feed sync and matching stored images."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections import defaultdict

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.service.context import Services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.vulns.interface import FeedError, VulnRecord
from chalicelib.vulns.matcher import match_packages
from chalicelib.vulns.sources import iter_records, parse_feed_sources

logger = logging.getLogger(__name__)

FEED_NAME = "vulnerabilities"
"""One feed, as Anchore's Grype provider has; its groups are the record namespaces."""


@dataclasses.dataclass(frozen=True)
class GroupSyncResult:
    """Outcome of importing one feed group."""

    group: str
    status: str
    record_count: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class FeedSyncResult:
    """Outcome of one sync over every configured source."""

    groups: list[GroupSyncResult]
    errors: list[str]
    seconds: float
    rematched_images: int = 0


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def sync_feeds(services: Services) -> FeedSyncResult:
    """Import every source of `FEED_SOURCES`, then match the stored images again.

    A source that fails contributes nothing, so the groups it feeds keep their previous data;
    the error is kept in the result and logged.
    """
    text = services.settings.feed_sources.strip()
    if not text:
        raise InvalidRequestError(
            "no feed source is configured; set FEED_SOURCES, for example "
            "FEED_SOURCES=osv=/path/to/osv-records,alpine-secdb=/path/to/alpine-secdb"
        )
    try:
        sources = parse_feed_sources(text)
    except FeedError as exc:
        raise InvalidRequestError(str(exc)) from exc

    started = time.monotonic()
    with services.feed_sync_lock:
        grouped: dict[str, list[VulnRecord]] = defaultdict(list)
        errors: list[str] = []
        for source in sources:
            try:
                records = list(iter_records(source))
            except FeedError as exc:
                logger.error("feed source failed: source=%s error=%s", source, exc)
                errors.append(str(exc))
                continue
            for record in records:
                grouped[record.namespace].append(record)

        results = [_replace_group(services, group, records) for group, records in grouped.items()]
        rematched = rematch_all(services) if grouped else 0
    return FeedSyncResult(
        groups=sorted(results, key=lambda r: r.group),
        errors=errors,
        seconds=time.monotonic() - started,
        rematched_images=rematched,
    )


def _replace_group(services: Services, group: str, records: list[VulnRecord]) -> GroupSyncResult:
    started = time.monotonic()
    try:
        count = services.store.replace_feed_group(FEED_NAME, group, records, synced_at=utcnow())
    except Exception as exc:  # noqa: BLE001 - the store rolled back; keep going with other groups
        logger.exception("feed group import failed: group=%s", group)
        services.store.record_feed_error(FEED_NAME, group, f"import failed: {exc}")
        return GroupSyncResult(group, "failure", 0, time.monotonic() - started)
    logger.info("feed group imported: group=%s records=%d", group, count)
    return GroupSyncResult(group, "success", count, time.monotonic() - started)


def match_image(services: Services, digest: str, report: AnalysisReport | None = None) -> int:
    """Match one analyzed image against the stored records and store the matches."""
    if report is None:
        document = services.store.get_analysis(digest)
        if document is None:
            return 0
        report = AnalysisReport.model_validate(document)
    matches = match_packages(report.packages, report.distro, services.store.find_vuln_records)
    services.store.save_matches(digest, matches, now=utcnow())
    logger.info("matched image: image_digest=%s matches=%d", digest, len(matches))
    return len(matches)


def rematch_all(services: Services) -> int:
    """Match every analyzed image again, as after a feed sync; return the image count."""
    images = services.store.list_images(analysis_status="analyzed")
    for image in images:
        match_image(services, image.digest)
    return len(images)
