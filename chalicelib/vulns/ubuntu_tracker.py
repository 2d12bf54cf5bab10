"""Import of the Ubuntu CVE tracker: one text file per CVE id, under `active/` and `retired/`.

A file has `Key: value` fields (`Candidate:`, `Priority:`, `CVSS:`, with indented continuation
lines), then one block per source package: a `Patches_<src>:` line and status lines
`<release>_<src>: <status> (<detail>)`. The import yields one `VulnRecord` per CVE id, source
package and release, in namespace `ubuntu:YY.MM`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from chalicelib.vulns.cvss import parse_cvss_vector, severity_from_cvss
from chalicelib.vulns.interface import (
    AffectedRange,
    CvssScore,
    FeedError,
    RangeEvent,
    Severity,
    VulnRecord,
)

logger = logging.getLogger(__name__)

UBUNTU_RELEASES: dict[str, str] = {
    "dapper": "6.06",
    "edgy": "6.10",
    "feisty": "7.04",
    "gutsy": "7.10",
    "hardy": "8.04",
    "intrepid": "8.10",
    "jaunty": "9.04",
    "karmic": "9.10",
    "lucid": "10.04",
    "maverick": "10.10",
    "natty": "11.04",
    "oneiric": "11.10",
    "precise": "12.04",
    "quantal": "12.10",
    "raring": "13.04",
    "saucy": "13.10",
    "trusty": "14.04",
    "utopic": "14.10",
    "vivid": "15.04",
    "wily": "15.10",
    "xenial": "16.04",
    "yakkety": "16.10",
    "zesty": "17.04",
    "artful": "17.10",
    "bionic": "18.04",
    "cosmic": "18.10",
    "disco": "19.04",
    "eoan": "19.10",
    "focal": "20.04",
    "groovy": "20.10",
    "hirsute": "21.04",
    "impish": "21.10",
    "jammy": "22.04",
    "kinetic": "22.10",
    "lunar": "23.04",
    "mantic": "23.10",
    "noble": "24.04",
    "oracular": "24.10",
    "plucky": "25.04",
    "questing": "25.10",
}
"""Release codenames and their version. Status lines of other releases are skipped: `upstream`,
`devel` (no version yet), and ESM or overlay variants such as `trusty/esm` or `esm-apps/bionic`,
whose fixes need Ubuntu Pro and so do not apply to a standard image of the release."""

PRIORITY_SEVERITIES: dict[str, Severity] = {
    "negligible": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
"""Tracker priorities. `untriaged` and missing priorities map to Unknown."""

AFFECTED_STATUSES = frozenset({"needed", "needs-triage", "active", "pending"})
"""Statuses of a release that is affected and has no released fix. `pending` names the version
of a fix that is prepared but not yet published, so it is not reported as fixed."""

WILL_NOT_FIX_STATUSES = frozenset({"ignored", "deferred"})
"""Statuses of a release that is affected and will not get a fix soon."""

NOT_AFFECTED_STATUSES = frozenset({"not-affected", "dne"})
"""Statuses of a release that is not affected, or does not contain the package."""

TRACKER_LINK = "https://ubuntu.com/security/{id}"

_FIELD = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_-]*):\s*(?P<value>.*)$")
_STATUS = re.compile(
    r"^(?P<release>[a-z0-9./-]+)_(?P<package>[^:\s]+):\s*(?P<status>[A-Za-z-]+)"
    r"(?:\s*\((?P<detail>[^)]*)\))?"
)
_CVSS_VECTOR = re.compile(r"(CVSS:[34]\.\d/\S+|AV:[LAN]/\S+)")


@dataclass
class _Status:
    release: str
    package: str
    status: str
    detail: str


@dataclass
class _CveFile:
    """The fields and status lines of one tracker file."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    statuses: list[_Status] = field(default_factory=list)
    package_priorities: dict[str, str] = field(default_factory=dict)


def parse_ubuntu_tracker(name: str, data: bytes) -> list[VulnRecord]:
    """Convert one tracker file into one record per CVE id, source package and release.

    A release that is `released (<version>)` gets the range `introduced 0, fixed <version>`;
    `needed`, `needs-triage` and `pending` give an open range, and `ignored` and `deferred` give
    an open range marked `will_not_fix`. `not-affected`, `DNE` and `released` without a version
    give no record. Severity is the package's `Priority_<src>` when set, else the file's
    `Priority`. Raises `FeedError` naming the file when it has no `Candidate:` field.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Old files carry Latin-1 names in their notes, which nothing here reads.
        text = data.decode("latin-1")
    parsed = _read_fields(text)
    candidate = " ".join(parsed.fields.get("Candidate", [])).strip()
    if not candidate:
        raise FeedError(
            f"Ubuntu CVE tracker file {name} has no `Candidate:` field; expected a file such "
            "as active/CVE-2020-1234 of the ubuntu-cve-tracker repository"
        )
    return list(_records(candidate, parsed))


def _read_fields(text: str) -> _CveFile:
    parsed = _CveFile()
    current_key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            current_key = None
            continue
        if line[0].isspace():
            if current_key is not None:
                parsed.fields[current_key].append(line.strip())
            continue
        status = _STATUS.match(line)
        if status is not None and not line.startswith(("Patches_", "Priority_", "Tags_")):
            parsed.statuses.append(
                _Status(
                    release=status["release"],
                    package=status["package"],
                    status=status["status"].lower(),
                    detail=(status["detail"] or "").strip(),
                )
            )
            current_key = None
            continue
        field_match = _FIELD.match(line)
        if field_match is None:
            current_key = None
            continue
        key, value = field_match["key"], field_match["value"].strip()
        if key.startswith("Priority_"):
            # `Priority_<src>` overrides the file's priority for that package; a per-release
            # form `Priority_<src>_<release>` exists too and is read as the package's.
            package = key.removeprefix("Priority_").split("_")[0]
            parsed.package_priorities[package] = value
        current_key = key
        parsed.fields[key] = [value] if value else []
    return parsed


def _records(candidate: str, parsed: _CveFile) -> Iterator[VulnRecord]:
    description = " ".join(parsed.fields.get("Description", [])).strip() or None
    scores = _cvss_scores(parsed.fields.get("CVSS", []))
    file_priority = " ".join(parsed.fields.get("Priority", [])).strip()
    for status in parsed.statuses:
        version = UBUNTU_RELEASES.get(status.release)
        if version is None or status.status in NOT_AFFECTED_STATUSES:
            continue
        fixed: str | None = None
        if status.status == "released":
            if not status.detail:
                logger.debug("skipped %s %s: released without a version", candidate, status)
                continue
            fixed = status.detail
        elif status.status not in AFFECTED_STATUSES | WILL_NOT_FIX_STATUSES:
            logger.debug("skipped %s for %s: unknown status", candidate, status)
            continue

        priority = parsed.package_priorities.get(status.package, file_priority)
        severity = PRIORITY_SEVERITIES.get(priority.lower(), Severity.UNKNOWN)
        from_vendor = severity is not Severity.UNKNOWN
        if not from_vendor:
            severity = severity_from_cvss(scores)
        events = [RangeEvent(introduced="0")]
        if fixed is not None:
            events.append(RangeEvent(fixed=fixed))
        yield VulnRecord(
            id=candidate,
            namespace=f"ubuntu:{version}",
            package=status.package,
            summary=description,
            severity=severity,
            severity_from_vendor=from_vendor,
            cvss=scores,
            link=TRACKER_LINK.format(id=candidate),
            ranges=[AffectedRange(type="ECOSYSTEM", events=events)],
            will_not_fix=status.status in WILL_NOT_FIX_STATUSES,
            source="ubuntu-cve-tracker",
        )


def _cvss_scores(lines: list[str]) -> list[CvssScore]:
    """Parse the `CVSS:` field's lines, such as `nvd: CVSS:3.1/AV:N/...`, one score per vector."""
    scores: dict[str, CvssScore] = {}
    for line in lines:
        for vector in _CVSS_VECTOR.findall(line):
            score = parse_cvss_vector(vector)
            if score is not None:
                scores.setdefault(vector, score)
    return list(scores.values())
