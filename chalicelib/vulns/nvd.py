"""Import of NVD API 2.0 pages, kept as CVSS and CWE enrichment of other records.

A page (`https://services.nvd.nist.gov/rest/json/cves/2.0`) lists `vulnerabilities[].cve`. NVD
names products by CPE, which the matcher never uses, so the import keeps no package data. Each
CVE becomes one `VulnRecord` in the reserved namespace `nvd` whose `package` is the CVE id
itself, so the store's lookup by namespace and package name finds the scores of a list of CVE
ids in one query: `nvd_scores(cve_ids, lookup)`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

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
    requested = sorted({cve_id for cve_id in cve_ids if cve_id.startswith("CVE-")})
    if not requested:
        return {}
    return {record.id: record.cvss for record in lookup(NVD_NAMESPACE, requested)}


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
