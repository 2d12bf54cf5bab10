"""Import of the Debian security tracker: its JSON export and its DSA, DLA and DTSA lists.

The JSON export (`https://security-tracker.debian.org/tracker/data/json`) maps each source
package to its CVE ids, and each CVE id to a state per release codename. It yields one
`VulnRecord` per CVE id, source package and release, in namespace `debian:<major>`.

The advisory lists (`data/DSA/list`, `data/DLA/list`, `data/DTSA/list` in the tracker's
repository) are text. Each advisory starts with a header line `[date] DSA-NNNN-N srcpkg - title`,
followed by an optional line `{CVE-... CVE-...}` and lines `[codename] - srcpkg version`. They
yield one record per advisory id, package and release, with the advisory's CVE ids as aliases.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import ijson

from chalicelib.vulns.interface import (
    AffectedRange,
    FeedError,
    RangeEvent,
    Severity,
    VulnRecord,
)

logger = logging.getLogger(__name__)

DEBIAN_RELEASES: dict[str, str] = {
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "sid": "unstable",
    "unstable": "unstable",
}
"""Release codenames and the version in their namespace (`debian:12`, `debian:unstable`).
Older codenames (woody, sarge) have no namespace and their entries are skipped."""

URGENCY_SEVERITIES: dict[str, Severity] = {
    "unimportant": Severity.NEGLIGIBLE,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "high": Severity.HIGH,
}
"""Tracker urgencies, without the `*`/`**` marks of an unconfirmed urgency. Every other value
(`not yet assigned`, `end-of-life`) maps to Unknown."""

NOT_AFFECTED_VERSION = "0"
"""A JSON `fixed_version` that means the release was never affected."""

WILL_NOT_FIX_NOTES = frozenset({"no-dsa", "ignored", "postponed", "end-of-life"})
"""Advisory list states that mean Debian will not ship a security fix for the release. The record
is kept, with no fixed version and `will_not_fix` set. In the JSON export, an unfixed release
with a `nodsa` field means the same."""

TRACKER_LINK = "https://security-tracker.debian.org/tracker/{id}"

_HEADER = re.compile(
    r"^\[(?P<date>[^\]]+)\]\s+(?P<id>(?:DSA|DLA|DTSA)-\d+(?:-\d+)?)(?:\s+(?P<rest>.*))?$"
)
_CVE_LINE = re.compile(r"^\{(?P<ids>[^}]*)\}")
_RELEASE_LINE = re.compile(
    r"^\[(?P<release>[a-z-]+)\]\s+-\s+(?P<package>\S+)\s+(?P<state>\S+)(?:\s+\((?P<note>[^)]*)\))?"
)


def parse_debian_tracker(name: str, data: bytes) -> Iterator[VulnRecord]:
    """Convert one tracker document into records: the JSON export, or a DSA/DLA/DTSA list.

    A name ending in `.json`, or data that starts with `{` (the export's URL has no suffix), is
    read as the JSON export, anything else as an advisory list. The export is parsed one source
    package at a time while the records are consumed, because the whole export as Python objects
    takes several times its size. So a JSON syntax error part way raises `FeedError` from the
    iterator, after the records before it. Raises `FeedError` naming the document when it is in
    neither format.
    """
    first_byte = data.lstrip()[:1]
    if PurePosixPath(name).suffix.lower() == ".json" or first_byte == b"{":
        if first_byte != b"{":
            raise FeedError(
                f"Debian tracker JSON {name} is not a JSON object; expected the export of "
                "https://security-tracker.debian.org/tracker/data/json"
            )
        return iter_tracker_json(data, name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FeedError(f"Debian advisory list {name} is not UTF-8 text: {error}") from error
    return iter(parse_advisory_list(text, name))


def iter_tracker_json(data: bytes, location: str = "") -> Iterator[VulnRecord]:
    """Yield the records of the JSON export in `data`, reading one source package at a time.

    The records are those of `parse_tracker_json`. Raises `FeedError` naming the location when
    the JSON is invalid.
    """
    try:
        for package, issues in ijson.kvitems(io.BytesIO(data), "", use_float=True):
            yield from _package_records(str(package), issues, location)
    except ijson.JSONError as error:
        raise FeedError(f"Debian tracker JSON {location} is invalid: {error}") from error


def parse_tracker_json(document: Any, location: str = "") -> list[VulnRecord]:
    """Convert the tracker's JSON export into one record per CVE id, source package and release.

    A release with `fixed_version` `0` is not affected and gives no record. A release with
    status `open` is affected with no fix: the record has only `introduced: 0`, and it is marked
    `will_not_fix` when it has a `nodsa` field (no security update planned). Releases with
    status `undetermined` or an unknown codename are skipped, and so are ids that are not CVE
    ids (`TEMP-...` placeholders for issues without one). Raises `FeedError` naming the location
    when the document is not a JSON object of source packages.
    """
    if not isinstance(document, dict):
        raise FeedError(
            f"Debian tracker JSON {location or '(unnamed)'} is a {type(document).__name__}; "
            "expected an object keyed by source package"
        )
    records = []
    for package, issues in document.items():
        records.extend(_package_records(str(package), issues, location))
    return records


def _package_records(package: str, issues: Any, location: str) -> Iterator[VulnRecord]:
    if not isinstance(issues, dict):
        logger.warning("skipped Debian package %s in %s: not an object", package, location)
        return
    for vuln_id, issue in issues.items():
        if str(vuln_id).startswith("CVE-"):
            yield from _issue_records(package, str(vuln_id), issue)


def _issue_records(package: str, vuln_id: str, issue: Any) -> Iterator[VulnRecord]:
    releases = issue.get("releases") if isinstance(issue, dict) else None
    # NOTE: an issue with no release data is exported as `"releases": []`, not an object.
    if not isinstance(releases, dict):
        return
    summary = _text(issue.get("description"))
    for codename, state in releases.items():
        namespace = _namespace(str(codename))
        if namespace is None or not isinstance(state, dict):
            continue
        fixed = _text(state.get("fixed_version"))
        if fixed == NOT_AFFECTED_VERSION:
            continue
        status = str(state.get("status") or "")
        if status == "undetermined":
            # The tracker has not yet decided whether the release is affected.
            continue
        if status == "resolved" and fixed is None:
            # A resolved release without a fixed version has no version to compare with.
            continue
        will_not_fix = fixed is None and "nodsa" in state
        severity = urgency_severity(state.get("urgency"))
        yield VulnRecord(
            id=vuln_id,
            namespace=namespace,
            package=package,
            summary=summary,
            severity=severity,
            severity_from_vendor=severity is not Severity.UNKNOWN,
            link=TRACKER_LINK.format(id=vuln_id),
            ranges=[_range(fixed)],
            will_not_fix=will_not_fix,
            source="debian-tracker",
        )


def urgency_severity(urgency: Any) -> Severity:
    """Map a tracker urgency such as `medium` or `high**` to a severity, else Unknown."""
    label = str(urgency or "").strip().rstrip("*").strip().lower()
    return URGENCY_SEVERITIES.get(label, Severity.UNKNOWN)


@dataclass
class _Advisory:
    """One advisory of a list, while its lines are read."""

    id: str
    title: str
    cve_ids: list[str] = field(default_factory=list)
    # (codename, package, state, note) per release line.
    releases: list[tuple[str, str, str, str]] = field(default_factory=list)


def parse_advisory_list(text: str, location: str = "") -> list[VulnRecord]:
    """Convert a DSA, DLA or DTSA list into one record per advisory id, package and release.

    A release line with a version gives the range `introduced 0, fixed <version>`, and
    `<unfixed>` gives an open range. `<no-dsa>`, `<ignored>`, `<postponed>` and `<end-of-life>`
    give an open range marked `will_not_fix`. `<not-affected>` gives no record. Header lines
    that name no advisory id are logged and skipped with the lines under them. Raises `FeedError`
    naming the location when the text contains no advisory at all.
    """
    advisories: list[_Advisory] = []
    current: _Advisory | None = None
    skipped_headers = 0
    for line_number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        if not raw_line[:1].isspace() and line.startswith("["):
            match = _HEADER.match(line)
            if match is None:
                skipped_headers += 1
                logger.warning("skipped advisory header at %s:%d: %r", location, line_number, line)
                current = None
                continue
            # The rest of the header is `srcpkg - title`, or only a title for notices.
            rest = match["rest"] or ""
            title = rest.partition(" - ")[2] if " - " in rest else rest
            current = _Advisory(id=match["id"], title=title.strip())
            advisories.append(current)
            continue
        if current is None:
            continue
        cve_match = _CVE_LINE.match(line)
        if cve_match is not None:
            current.cve_ids.extend(cve_match["ids"].split())
            continue
        release_match = _RELEASE_LINE.match(line)
        if release_match is not None:
            current.releases.append(
                (
                    release_match["release"],
                    release_match["package"],
                    release_match["state"],
                    release_match["note"] or "",
                )
            )
    if not advisories and (text.strip() or skipped_headers):
        raise FeedError(
            f"Debian advisory list {location or '(unnamed)'} contains no advisory; expected "
            "lines such as `[01 Aug 2002] DSA-141 mpack - buffer overflow`"
        )
    return [record for advisory in advisories for record in _advisory_records(advisory)]


def _advisory_records(advisory: _Advisory) -> Iterator[VulnRecord]:
    aliases = list(dict.fromkeys(advisory.cve_ids))
    seen: set[tuple[str, str]] = set()
    for codename, package, state, _note in advisory.releases:
        namespace = _namespace(codename)
        if namespace is None or (namespace, package) in seen:
            continue
        fixed: str | None = state
        will_not_fix = False
        if state.startswith("<"):
            label = state.strip("<>").lower()
            if label == "not-affected":
                continue
            fixed = None
            will_not_fix = label in WILL_NOT_FIX_NOTES
        seen.add((namespace, package))
        yield VulnRecord(
            id=advisory.id,
            namespace=namespace,
            package=package,
            aliases=aliases,
            summary=advisory.title or None,
            link=TRACKER_LINK.format(id=advisory.id),
            ranges=[_range(fixed)],
            will_not_fix=will_not_fix,
            source="debian-tracker",
        )


def _namespace(codename: str) -> str | None:
    version = DEBIAN_RELEASES.get(codename.strip().lower())
    if version is None:
        logger.debug("skipped Debian release %r without a namespace", codename)
        return None
    return f"debian:{version}"


def _range(fixed: str | None) -> AffectedRange:
    events = [RangeEvent(introduced="0")]
    if fixed is not None:
        events.append(RangeEvent(fixed=fixed))
    return AffectedRange(type="ECOSYSTEM", events=events)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
