"""Import of records in the OSV schema, as decoded from their JSON or YAML files.

One OSV record lists every affected package; the import turns it into one `VulnRecord` per
namespace and package, keeping the `ECOSYSTEM` and `SEMVER` ranges and the explicit version list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from chalicelib.vulns.cvss import OSV_CVSS_TYPES, parse_cvss_vector, severity_from_cvss
from chalicelib.vulns.interface import (
    AffectedRange,
    CvssScore,
    FeedError,
    RangeEvent,
    Severity,
    VulnRecord,
)
from chalicelib.vulns.namespaces import (
    APK_DISTRO_FAMILIES,
    DEB_DISTRO_FAMILIES,
    UNSUPPORTED_OSV_ECOSYSTEMS,
    normalize_package_name,
    osv_namespace,
)

logger = logging.getLogger(__name__)

KEPT_RANGE_TYPES = ("ECOSYSTEM", "SEMVER")
"""Range types the matcher can evaluate; `GIT` ranges name commits, not installed versions."""

VENDOR_SEVERITIES: dict[str, Severity] = {
    "negligible": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "moderate": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
"""Severity labels of GitHub (`database_specific.severity`) and Ubuntu (`severity[].type`
`Ubuntu`), in lower case."""

LINKED_ID_FAMILIES = frozenset({"rhel", "rocky", "almalinux"})
"""Namespace families whose records also take the CVE ids of `upstream` and `related` as aliases.

Red Hat, Rocky Linux and AlmaLinux advisories name the CVEs they fix in `upstream` or `related`
rather than in `aliases`. The matcher needs those ids to tell which RHEL records a Rocky or Alma
record replaces (`matcher._applicable_records`). Advisory ids there, such as the RHSA that a
rebuild copies, are left out because one RHSA covers several CVEs. Other namespaces ignore
`related`, because the matcher compares their records within one namespace and `related` ids
there name different issues (see `DISTRO_FAMILIES` for their use of `upstream`)."""

DISTRO_FAMILIES = DEB_DISTRO_FAMILIES | APK_DISTRO_FAMILIES
"""Namespace families whose records take the CVE ids of `upstream` as aliases.

Distro exports carry one issue under several ids: Ubuntu's `UBUNTU-CVE-2021-3782` names
`CVE-2021-3782` in `upstream`, its USN names `UBUNTU-CVE-2021-3782` there, and Debian's DLAs list
the CVEs they fix. The Debian and Ubuntu trackers and the Alpine secdb, also read by default,
store the same issues under the plain CVE id. With the CVE ids as aliases the matcher reports
each issue once. `related` is left out here, because Ubuntu lists USNs there that cover other
CVEs too."""

_DISTRO_CVE = re.compile(r"[A-Z][A-Z0-9]*-(CVE-\d{4}-\d{4,})")
"""A distro's id for one CVE, such as `UBUNTU-CVE-2021-3782` or `DEBIAN-CVE-2024-1234`."""

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


def parse_osv(data: dict[str, Any]) -> list[VulnRecord]:
    """Convert one OSV record into one `VulnRecord` per affected namespace and package.

    A withdrawn record returns no records, and so does one whose packages are all in unsupported
    ecosystems or have neither a usable range nor a version list. Affected entries that name the
    same package twice (GitHub does this for separate version lines) are merged into one record.
    Raises `FeedError` naming the record when its structure is invalid.
    """
    if not isinstance(data, dict):
        raise FeedError(f"OSV record is a {type(data).__name__}, not a JSON object")
    vuln_id = data.get("id")
    if not isinstance(vuln_id, str) or not vuln_id:
        raise FeedError("OSV record has no `id`; expected an OSV schema document")
    if data.get("withdrawn"):
        logger.debug("dropped withdrawn OSV record %s", vuln_id)
        return []

    try:
        return _convert_record(vuln_id, data)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise FeedError(f"OSV record {vuln_id} is invalid: {error!r}") from error


def _convert_record(vuln_id: str, data: dict[str, Any]) -> list[VulnRecord]:
    aliases = _unique(str(alias) for alias in data.get("aliases") or [] if alias != vuln_id)
    linked_ids = [str(i) for i in [*(data.get("upstream") or []), *(data.get("related") or [])]]
    linked_cves = [i for i in linked_ids if i.startswith("CVE-") and i != vuln_id]
    linked_aliases = _unique([*aliases, *linked_cves])
    distro_cves = [
        cve
        for identifier in [vuln_id, *(data.get("upstream") or [])]
        if (cve := _cve_id(str(identifier))) is not None and cve != vuln_id
    ]
    distro_aliases = _unique([*aliases, *distro_cves])
    record_cvss = _cvss_scores(data.get("severity") or [])
    record_vendor_severity = _vendor_severity(data)
    summary = _text(data.get("summary")) or _text(data.get("details"))
    link = _advisory_link(data.get("references") or [])
    modified = _text(data.get("modified"))

    records: dict[tuple[str, str], VulnRecord] = {}
    for affected in data.get("affected") or []:
        package = affected.get("package")
        if not package or not package.get("name") or not package.get("ecosystem"):
            continue
        ecosystem = str(package["ecosystem"])
        namespace = osv_namespace(ecosystem)
        if namespace is None:
            family = ecosystem.partition(":")[0].lower()
            reason = UNSUPPORTED_OSV_ECOSYSTEMS.get(family, "release or product not supported")
            logger.debug("skipped %s: ecosystem %r is unsupported: %s", vuln_id, ecosystem, reason)
            continue
        name = normalize_package_name(namespace, str(package["name"]))
        ranges = _ranges(affected.get("ranges") or [])
        versions = [str(version) for version in affected.get("versions") or []]
        if not ranges and not versions:
            logger.debug("skipped %s for %s: no ecosystem range or version list", vuln_id, name)
            continue

        existing = records.get((namespace, name))
        if existing is not None:
            existing.ranges.extend(ranges)
            existing.versions.extend(v for v in versions if v not in existing.versions)
            continue

        scores = _cvss_scores(affected.get("severity") or []) + record_cvss
        family = namespace.partition(":")[0]
        if family in LINKED_ID_FAMILIES:
            record_aliases = linked_aliases
        elif family in DISTRO_FAMILIES:
            record_aliases = distro_aliases
        else:
            record_aliases = aliases
        severity = record_vendor_severity
        if severity is Severity.UNKNOWN:
            severity = severity_from_cvss(scores)
        records[(namespace, name)] = VulnRecord(
            id=vuln_id,
            namespace=namespace,
            package=name,
            aliases=record_aliases,
            summary=summary,
            severity=severity,
            severity_from_vendor=record_vendor_severity is not Severity.UNKNOWN,
            cvss=_unique_scores(scores),
            link=link,
            ranges=ranges,
            versions=_unique(versions),
            source="osv",
            modified=modified,
        )
    return list(records.values())


def _ranges(raw_ranges: list[dict[str, Any]]) -> list[AffectedRange]:
    ranges = []
    for raw in raw_ranges:
        range_type = str(raw.get("type", "")).upper()
        if range_type not in KEPT_RANGE_TYPES:
            continue
        events = []
        for raw_event in raw.get("events") or []:
            kind = next((k for k in _EVENT_KINDS if raw_event.get(k) not in (None, "")), None)
            if kind is None:
                raise ValueError(f"range event {raw_event!r} has none of {', '.join(_EVENT_KINDS)}")
            events.append(RangeEvent(**{kind: str(raw_event[kind])}))
        if events:
            ranges.append(AffectedRange(type=range_type, events=events))
    return ranges


def _cvss_scores(raw_severities: list[dict[str, Any]]) -> list[CvssScore]:
    scores = []
    for raw in raw_severities:
        if raw.get("type") in OSV_CVSS_TYPES and raw.get("score"):
            score = parse_cvss_vector(str(raw["score"]))
            if score is not None:
                scores.append(score)
    return scores


def _vendor_severity(data: dict[str, Any]) -> Severity:
    """Return the severity label the publisher assigned, or Unknown when there is none."""
    database_specific = data.get("database_specific") or {}
    label = database_specific.get("severity") if isinstance(database_specific, dict) else None
    if isinstance(label, str) and label.lower() in VENDOR_SEVERITIES:
        return VENDOR_SEVERITIES[label.lower()]

    # Ubuntu puts its priority next to the CVSS vectors, as a severity of type "Ubuntu".
    for raw in data.get("severity") or []:
        if raw.get("type") == "Ubuntu" and str(raw.get("score", "")).lower() in VENDOR_SEVERITIES:
            return VENDOR_SEVERITIES[str(raw["score"]).lower()]
    return Severity.UNKNOWN


def _advisory_link(references: list[dict[str, Any]]) -> str | None:
    """Return the first `ADVISORY` reference URL, else the first `WEB` one, else None."""
    for reference_type in ("ADVISORY", "WEB"):
        for reference in references:
            if reference.get("type") == reference_type and reference.get("url"):
                return str(reference["url"])
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _unique_scores(scores: list[CvssScore]) -> list[CvssScore]:
    unique: dict[tuple[str, str | None], CvssScore] = {}
    for score in scores:
        unique.setdefault((score.version, score.vector), score)
    return list(unique.values())


def _cve_id(identifier: str) -> str | None:
    """Return the CVE id that `identifier` is or embeds (`UBUNTU-CVE-...`), else None."""
    if identifier.startswith("CVE-"):
        return identifier
    match = _DISTRO_CVE.fullmatch(identifier)
    return match[1] if match else None
