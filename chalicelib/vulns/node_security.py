"""Import of the legacy Node.js security working group advisories (`vuln/npm/<id>.json`).

Each advisory names one npm module and gives its affected and patched versions as npm range
strings (`>=1.2.3 <2.0.0 || >=2.1.0`). The import yields one `VulnRecord` with id
`NSWG-ECO-<id>` in namespace `npm`. Its range has type `NPM_RANGE`: the affected range text,
which the matcher evaluates with npm's `satisfies`, and one `fixed` event per patched interval.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from chalicelib.vulns.cvss import parse_cvss_vector, severity_from_cvss, severity_from_score
from chalicelib.vulns.interface import (
    AffectedRange,
    CvssScore,
    FeedError,
    NPM_RANGE,
    InvalidVersionError,
    RangeEvent,
    Severity,
    VulnRecord,
)
from chalicelib.vulns.versions.npm import format_version, parse_range
from chalicelib.vulns.versions.semver import compare_parsed

logger = logging.getLogger(__name__)

ID_PREFIX = "NSWG-ECO-"
"""Prefix of the working group's ids for ecosystem (npm module) advisories."""

ADVISORY_LINK = "https://github.com/nodejs/security-wg/blob/main/vuln/npm/{number}.json"

INDEX_FILE = "index.json"
"""The folder's index of every advisory, which repeats the advisory files and is not read."""


def parse_node_security(name: str, data: bytes) -> list[VulnRecord]:
    """Convert one advisory file into a list of one record.

    Raises `FeedError` naming the file when it is not JSON, has no `module_name`, or has an
    affected range that npm cannot parse.
    """
    try:
        document = json.loads(data)
    except ValueError as error:
        raise FeedError(f"Node security advisory {name} is invalid JSON: {error}") from error
    return [parse_node_advisory(document, name)]


def parse_node_advisory(advisory: Any, location: str = "") -> VulnRecord:
    """Convert one decoded advisory into a record.

    An advisory without `vulnerable_versions` affects every version (`*`). Ranges are parsed
    with node-semver's loose rules, because advisories contain versions such as `v2.0.0-alpha7`
    and ranges such as `>= 1.x`. Raises `FeedError` naming the location when the advisory has no
    `module_name` or its affected range is invalid.
    """
    if not isinstance(advisory, dict) or not advisory.get("module_name"):
        raise FeedError(
            f"Node security advisory {location or '(unnamed)'} has no `module_name`; expected "
            "a file of the security-wg vuln/npm folder"
        )
    number = advisory.get("id")
    vuln_id = f"{ID_PREFIX}{number}"
    affected = str(advisory.get("vulnerable_versions") or "*").strip() or "*"
    try:
        parse_range(affected, loose=True)
    except InvalidVersionError as error:
        raise FeedError(
            f"Node security advisory {vuln_id} has an invalid range: {error}"
        ) from error

    scores = _cvss_scores(advisory)
    severity = severity_from_cvss(scores)
    raw_score = advisory.get("cvss_score")
    if severity is Severity.UNKNOWN and isinstance(raw_score, int | float) and not scores:
        severity = severity_from_score(float(raw_score))
    cves = [str(cve) for cve in advisory.get("cves") or [] if cve]
    return VulnRecord(
        id=vuln_id,
        namespace="npm",
        package=str(advisory["module_name"]),
        aliases=list(dict.fromkeys(cves)),
        summary=_text(advisory.get("title")) or _text(advisory.get("overview")),
        severity=severity,
        cvss=scores,
        link=ADVISORY_LINK.format(number=number),
        ranges=[
            AffectedRange(
                type=NPM_RANGE,
                expression=affected,
                events=[
                    RangeEvent(fixed=version)
                    for version in patched_lower_bounds(advisory.get("patched_versions"))
                ],
            )
        ],
        source="node-security",
        modified=_text(advisory.get("updated_at")),
    )


def patched_lower_bounds(patched: Any) -> list[str]:
    """Return the lowest version of each interval of a patched range, lowest first.

    `>=4.3.6 || >=3.8.39 <4.0.0` gives `3.8.39` and `4.3.6`, and `=3.10.1` gives `3.10.1`.
    A range that admits no version (`<0.0.0`), an invalid one, or an interval without an
    inclusive lower bound (`> 0.9.6`, `<2.0.0`) gives no version for it.
    """
    text = str(patched or "").strip()
    if not text:
        return []
    try:
        parsed = parse_range(text, loose=True)
    except InvalidVersionError as error:
        logger.debug("kept no fixed version for patched range %r: %s", text, error)
        return []
    bounds = []
    for comparators in parsed.comparator_sets:
        for comparator in comparators:
            if comparator.version is None or comparator.operator not in ("", ">="):
                continue
            if comparator.operator == ">=" and comparator.text.endswith("-0"):
                # `>=1.0.0-0` is how node-semver spells "any 1.0.0 prerelease": no real version.
                continue
            bounds.append(comparator.version)
    bounds.sort(key=functools.cmp_to_key(compare_parsed))
    return list(dict.fromkeys(format_version(version) for version in bounds))


def _cvss_scores(advisory: dict[str, Any]) -> list[CvssScore]:
    vector = _text(advisory.get("cvss_vector"))
    if vector is None:
        return []
    score = parse_cvss_vector(vector)
    return [score] if score is not None else []


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
