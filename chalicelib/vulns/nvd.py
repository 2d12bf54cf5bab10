"""Import of NVD API 2.0 pages, kept as CVSS and CWE enrichment of other records.

A page (`https://services.nvd.nist.gov/rest/json/cves/2.0`) lists `vulnerabilities[].cve`. NVD
names products by CPE, which the matcher never uses, so the import keeps no package data. Each
CVE becomes one `VulnRecord` in the reserved namespace `nvd` whose `package` is the CVE id
itself, so the store's lookup by namespace and package name finds the scores of a list of CVE
ids in one query: `nvd_scores(cve_ids, lookup)`.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from chalicelib.config import get_settings
from chalicelib.registry.transport import describe_request_error
from chalicelib.vulns.cvss import parse_cvss_vector, severity_from_cvss
from chalicelib.vulns.interface import CvssScore, FeedError, Severity, VulnMatch, VulnRecord
from chalicelib.vulns.matcher import RecordLookup

logger = logging.getLogger(__name__)

NVD_NAMESPACE = "nvd"
"""Namespace of the enrichment records; no image package is ever looked up in it."""

METRIC_KEYS = (
    ("cvssMetricV40", "4.0"),
    ("cvssMetricV31", "3.1"),
    ("cvssMetricV30", "3.0"),
    ("cvssMetricV2", "2.0"),
)
"""Metric lists of a CVE and the CVSS version of their scores."""

NVD_LINK = "https://nvd.nist.gov/vuln/detail/{id}"


def parse_nvd(name: str, data: bytes) -> list[VulnRecord]:
    """Convert one NVD API 2.0 page into one record per CVE.

    Raises `FeedError` naming the page when it is not JSON or has no `vulnerabilities` list.
    """
    try:
        page = json.loads(data)
    except ValueError as error:
        raise FeedError(f"NVD page {name} is invalid JSON: {error}") from error
    return parse_nvd_page(page, name)


def parse_nvd_page(page: Any, location: str = "") -> list[VulnRecord]:
    """Convert a decoded NVD API 2.0 page into one record per CVE, with its CVSS and CWE ids.

    Each CVSS score keeps its base, exploitability and impact scores as NVD gives them.
    Primary scores (NVD's own) come before secondary ones (from the CVE's publisher). CVEs that
    NVD rejected are skipped. Raises `FeedError` naming the location when the page has no
    `vulnerabilities` list.
    """
    items = page.get("vulnerabilities") if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise FeedError(
            f"NVD page {location or '(unnamed)'} has no `vulnerabilities` list; expected a "
            "response of the NVD CVE API 2.0"
        )
    records = []
    for item in items:
        cve = item.get("cve") if isinstance(item, dict) else None
        if not isinstance(cve, dict) or not cve.get("id"):
            logger.warning("skipped an NVD entry without a CVE id in %s", location)
            continue
        if str(cve.get("vulnStatus", "")).lower() == "rejected":
            continue
        records.append(_record(cve))
    return records


def _record(cve: dict[str, Any]) -> VulnRecord:
    cve_id = str(cve["id"])
    scores = _scores(cve.get("metrics") or {})
    return VulnRecord(
        id=cve_id,
        namespace=NVD_NAMESPACE,
        package=cve_id,
        summary=_english_description(cve.get("descriptions") or []),
        severity=severity_from_cvss(scores),
        cvss=scores,
        link=NVD_LINK.format(id=cve_id),
        cwes=_cwes(cve.get("weaknesses") or []),
        source="nvd",
        modified=cve.get("lastModified"),
    )


def _scores(metrics: dict[str, Any]) -> list[CvssScore]:
    primary: list[CvssScore] = []
    secondary: list[CvssScore] = []
    for key, version in METRIC_KEYS:
        for metric in metrics.get(key) or []:
            data = metric.get("cvssData") or {}
            vector = data.get("vectorString")
            base = data.get("baseScore")
            if vector is None and base is None:
                continue
            score = CvssScore(
                version=str(data.get("version") or version),
                vector=vector,
                base_score=_number(base),
                exploitability_score=_number(metric.get("exploitabilityScore")),
                impact_score=_number(metric.get("impactScore")),
            )
            if score.base_score is None and vector:
                computed = parse_cvss_vector(vector)
                score.base_score = computed.base_score if computed else None
            (primary if metric.get("type") == "Primary" else secondary).append(score)
    return primary + secondary


def _cwes(weaknesses: list[dict[str, Any]]) -> list[str]:
    found = []
    for weakness in weaknesses:
        for description in weakness.get("description") or []:
            value = str(description.get("value") or "")
            # NVD writes `NVD-CWE-Other` and `NVD-CWE-noinfo` when no CWE applies.
            if value.startswith("CWE-"):
                found.append(value)
    return list(dict.fromkeys(found))


def _english_description(descriptions: list[dict[str, Any]]) -> str | None:
    for description in descriptions:
        if description.get("lang") == "en" and description.get("value"):
            return str(description["value"]).strip()
    return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def nvd_scores(cve_ids: Iterable[str], lookup: RecordLookup) -> dict[str, list[CvssScore]]:
    """Return the NVD CVSS scores of each CVE id that has an NVD record, primary scores first.

    Ids that are not CVE ids, and CVEs without NVD data, are absent from the result.
    """
    return {record.id: record.cvss for record in nvd_records(cve_ids, lookup)}


def nvd_records(cve_ids: Iterable[str], lookup: RecordLookup) -> list[VulnRecord]:
    """Return the stored NVD records of the CVE ids among `cve_ids`, in one lookup."""
    requested = sorted({cve_id for cve_id in cve_ids if cve_id.startswith("CVE-")})
    if not requested:
        return []
    return lookup(NVD_NAMESPACE, requested)


def cve_ids(vuln_id: str, aliases: Iterable[str]) -> list[str]:
    """Return the CVE ids among a vulnerability id and its aliases, in order, without repeats."""
    return list(dict.fromkeys(i for i in (vuln_id, *aliases) if i.startswith("CVE-")))


def matches_cve_ids(matches: Iterable[VulnMatch]) -> set[str]:
    """Return the CVE ids of every match and its aliases, for one batched `nvd_scores` call."""
    return {cve for match in matches for cve in cve_ids(match.vuln_id, match.aliases)}


def nvd_severity(scores: list[CvssScore]) -> Severity:
    """Return the severity band of NVD scores: CVSS 3.x first, then 4.0, then 2.0.

    CVSS 2.0 scores use NVD's 2.0 bands, which have no Critical: 0.0-3.9 Low, 4.0-6.9 Medium
    and 7.0-10.0 High.
    """
    severity = severity_from_cvss(scores)
    if severity is not Severity.UNKNOWN:
        return severity
    for score in scores:
        if score.version.startswith("2") and score.base_score is not None:
            if score.base_score >= 7.0:
                return Severity.HIGH
            return Severity.MEDIUM if score.base_score >= 4.0 else Severity.LOW
    return Severity.UNKNOWN


def fallback_severity(
    severity: Severity, ids: Iterable[str], nvd: dict[str, list[CvssScore]]
) -> Severity:
    """Return `severity`, or when it is Unknown, the NVD severity of the first CVE id in `ids`
    that has NVD scores.

    A vendor's severity and one derived from the record's own CVSS always win: NVD only fills
    records that carry neither, such as most PyPA advisories.

    This runs when matches are read (API rows, policy facts), not when they are stored. After a
    sync, images are matched again only when records of their packages changed, so a severity
    taken from NVD at match time would stay stale when only NVD data changed.
    """
    if severity is not Severity.UNKNOWN:
        return severity
    for cve_id in ids:
        found = nvd_severity(nvd.get(cve_id, []))
        if found is not Severity.UNKNOWN:
            return found
    return severity


def with_nvd_severity(
    matches: list[VulnMatch], nvd: dict[str, list[CvssScore]]
) -> list[VulnMatch]:
    """Return the matches with `fallback_severity` applied; changed matches are copies."""
    result = []
    for match in matches:
        severity = fallback_severity(
            match.severity, cve_ids(match.vuln_id, match.aliases), nvd
        )
        result.append(
            match if severity is match.severity else match.model_copy(update={"severity": severity})
        )
    return result


# The NVD CVE API 2.0: paging, incremental updates and the local mirror of its records.

NVD_API_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
NVD_API_PAGE_SIZE = 2000
"""`resultsPerPage` of each request, the API's maximum for the CVE endpoint."""
NVD_API_MAX_WINDOW = datetime.timedelta(days=120)
"""Longest `lastModStartDate`..`lastModEndDate` range the API accepts in one request."""
NVD_API_INTERVAL_WITHOUT_KEY = 6.0
"""Seconds between requests without an API key. https://nvd.nist.gov/developers/start-here
allows 10 requests in a rolling 60-second window without a key, and 100 with one."""
NVD_API_INTERVAL_WITH_KEY = 0.6
"""Seconds between requests with an API key, within the same page's limit of 100 in 60 s."""
NVD_API_RETRIES = 4
"""Further attempts of a request that fails with a rate limit or server error status."""
NVD_API_RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
"""NVD returns 403 when a client exceeds the rate limit, and 503 under load."""
NVD_API_TIMEOUT = (30.0, 180.0)
"""Connect and read timeouts in seconds of one API request."""

_NVD_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.000+00:00"
"""Format of `lastModStartDate` and `lastModEndDate`: ISO 8601 with milliseconds and offset."""


def is_nvd_api_url(url: str) -> bool:
    """Return whether `url` is the CVE API 2.0 endpoint (a path ending in `/cves/2.0`), which
    is read page by page, rather than a file of one saved page."""
    path = urlsplit(url).path.rstrip("/")
    return path.endswith("/cves/2.0")


Sleep = Callable[[float], None]


class NvdApiClient:
    """A client of the NVD CVE API 2.0 that pages through every result of a query.

    `url` is the endpoint. `api_key`, when set, is sent as the `apiKey` header and shortens the
    pause between requests. `interval` overrides that pause in seconds, `page_size` the
    `resultsPerPage`, and `sleep` the function that pauses.
    """

    def __init__(
        self,
        url: str = NVD_API_URL,
        *,
        api_key: str | None = None,
        page_size: int = NVD_API_PAGE_SIZE,
        interval: float | None = None,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.api_key = api_key or None
        self.page_size = page_size
        if interval is None:
            interval = NVD_API_INTERVAL_WITH_KEY if self.api_key else NVD_API_INTERVAL_WITHOUT_KEY
        self.interval = interval
        self._sleep = sleep
        self._session = session or requests.Session()
        self._requested = False

    def pages(self, params: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Yield every page of the query `params`, following `totalResults` with `startIndex`.

        Raises `FeedError` when a request fails after its retries, a page is not an API 2.0
        response, or a page before the end is empty.
        """
        start = 0
        while True:
            request = {"startIndex": str(start), "resultsPerPage": str(self.page_size)}
            page = self._get({**(params or {}), **request})
            items = page["vulnerabilities"]
            total = page.get("totalResults")
            if not isinstance(total, int):
                raise FeedError(
                    f"NVD API page at startIndex={start} of {self.url} has no integer "
                    "`totalResults`; expected a CVE API 2.0 response"
                )
            yield page
            start += len(items)
            if start >= total:
                return
            if not items:
                raise FeedError(
                    f"NVD API page at startIndex={start} of {self.url} is empty although "
                    f"totalResults is {total}; sync again later"
                )

    def _get(self, params: dict[str, str]) -> dict[str, Any]:
        headers = {"apiKey": self.api_key} if self.api_key else {}
        for attempt in range(NVD_API_RETRIES + 1):
            if self._requested:
                self._sleep(self.interval * (2**attempt))
            self._requested = True
            try:
                response = self._session.get(
                    self.url, params=params, headers=headers, timeout=NVD_API_TIMEOUT
                )
            except requests.Timeout as error:
                problem = str(error)
            except requests.ConnectionError as error:
                # A host that does not resolve or refuses connections is unlikely to respond a few
                # seconds later. Retrying would only delay the other sources, by minutes offline.
                problem = f"cannot connect: {describe_request_error(error)}"
                break
            except requests.RequestException as error:
                problem = str(error)
            else:
                if response.status_code == 200:
                    return self._decode(response, params)
                problem = f"HTTP {response.status_code} {response.reason}"
                if response.status_code not in NVD_API_RETRY_STATUSES:
                    break
            logger.warning(
                "NVD API request failed, attempt %d of %d: url=%s startIndex=%s error=%s",
                attempt + 1,
                NVD_API_RETRIES + 1,
                self.url,
                params.get("startIndex"),
                problem,
            )
        raise FeedError(
            f"NVD API request to {self.url} at startIndex={params.get('startIndex')} failed: "
            f"{problem}; check the URL and NVD_API_KEY, or sync again later"
        )

    def _decode(self, response: requests.Response, params: dict[str, str]) -> dict[str, Any]:
        try:
            page = response.json()
        except ValueError as error:
            raise FeedError(
                f"NVD API page at startIndex={params.get('startIndex')} of {self.url} is "
                f"invalid JSON: {error}"
            ) from error
        if not isinstance(page, dict) or not isinstance(page.get("vulnerabilities"), list):
            raise FeedError(
                f"NVD API page at startIndex={params.get('startIndex')} of {self.url} has no "
                "`vulnerabilities` list; expected a CVE API 2.0 response"
            )
        return page


class NvdMirror:
    """A local SQLite copy of the NVD records of one API endpoint, updated incrementally.

    The first sync pages through every CVE. Later syncs ask only for CVEs modified since the
    previous sync started, in windows of at most 120 days, and replace those rows. CVEs that
    NVD rejected since are deleted. A sync writes in one transaction, so a failed one leaves
    the previous copy and its start time as they were.
    """

    def __init__(self, path: Path, client: NvdApiClient) -> None:
        self.path = path
        self.client = client

    def sync(self, now: datetime.datetime | None = None) -> int:
        """Bring the copy up to date and return the number of CVE entries read from the API."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path)
        try:
            with connection:
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS cves (id TEXT PRIMARY KEY, record TEXT NOT NULL)"
                )
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
                )
                since = self._last_sync(connection)
                if since is None:
                    logger.info("NVD mirror full sync: url=%s path=%s", self.client.url, self.path)
                    connection.execute("DELETE FROM cves")
                    read = self._store_pages(connection, {})
                else:
                    read = 0
                    for start, end in _windows(since, now):
                        logger.info(
                            "NVD mirror update: url=%s lastModStartDate=%s lastModEndDate=%s",
                            self.client.url,
                            start.isoformat(),
                            end.isoformat(),
                        )
                        params = {
                            "lastModStartDate": start.strftime(_NVD_TIMESTAMP),
                            "lastModEndDate": end.strftime(_NVD_TIMESTAMP),
                        }
                        read += self._store_pages(connection, params)
                connection.executemany(
                    "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                    [("url", self.client.url), ("last_sync", now.isoformat())],
                )
        finally:
            connection.close()
        return read

    def records(self) -> Iterator[VulnRecord]:
        """Yield the stored records, ordered by CVE id, reading one row at a time."""
        connection = sqlite3.connect(self.path)
        try:
            for (text,) in connection.execute("SELECT record FROM cves ORDER BY id"):
                yield VulnRecord.model_validate_json(text)
        finally:
            connection.close()

    def _last_sync(self, connection: sqlite3.Connection) -> datetime.datetime | None:
        state = dict(connection.execute("SELECT key, value FROM state").fetchall())
        if state.get("url") != self.client.url or "last_sync" not in state:
            return None
        return datetime.datetime.fromisoformat(state["last_sync"])

    def _store_pages(self, connection: sqlite3.Connection, params: dict[str, str]) -> int:
        read = 0
        for page in self.client.pages(params):
            location = f"{self.client.url} startIndex={page.get('startIndex')}"
            rejected = [
                (item["cve"]["id"],)
                for item in page["vulnerabilities"]
                if isinstance(item, dict)
                and isinstance(item.get("cve"), dict)
                and str(item["cve"].get("vulnStatus", "")).lower() == "rejected"
            ]
            records = parse_nvd_page(page, location)
            connection.executemany("DELETE FROM cves WHERE id = ?", rejected)
            connection.executemany(
                "INSERT OR REPLACE INTO cves (id, record) VALUES (?, ?)",
                [(record.id, record.model_dump_json()) for record in records],
            )
            read += len(page["vulnerabilities"])
        return read


def _windows(
    since: datetime.datetime, until: datetime.datetime
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    """Split `since`..`until` into consecutive ranges of at most `NVD_API_MAX_WINDOW`.

    Nothing is yielded when `until` is not after `since`, as when the clock went back.
    """
    start = since
    while start < until:
        end = min(start + NVD_API_MAX_WINDOW, until)
        yield start, end
        start = end


def iter_nvd_api_records(
    url: str,
    *,
    mirror_dir: Path | None = None,
    api_key: str | None = None,
    client: NvdApiClient | None = None,
) -> Iterator[VulnRecord]:
    """Update the local mirror of the NVD API endpoint `url`, then yield all its records.

    The mirror is a SQLite file in `mirror_dir` (default: `feeds/` under the `DATA_DIR`
    setting) named after the URL. `api_key` defaults to the `NVD_API_KEY` setting. Raises
    `FeedError` when the API cannot be read. Because this is a generator, the update runs at the
    first `next()`.
    """
    if mirror_dir is None or api_key is None:
        settings = get_settings()
        mirror_dir = mirror_dir or settings.data_dir / "feeds"
        api_key = settings.nvd_api_key if api_key is None else api_key
    # NOTE: where DATA_DIR does not persist between syncs (a Lambda function's /tmp), every sync
    # is a full one: an estimated 150 pages of 2,000 CVEs, about 15 minutes without a key.
    name = hashlib.sha256(url.encode()).hexdigest()[:16]
    mirror = NvdMirror(
        mirror_dir / f"nvd-{name}.sqlite", client or NvdApiClient(url, api_key=api_key)
    )
    try:
        read = mirror.sync()
    except sqlite3.Error as error:
        raise FeedError(f"NVD mirror {mirror.path} could not be updated: {error}") from error
    logger.info("NVD mirror synced: url=%s entries_read=%d path=%s", url, read, mirror.path)
    yield from mirror.records()
