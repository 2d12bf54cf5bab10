"""Import of the Alpine security database (secdb), one document per release and repository.

A document such as `v3.18/main.yaml` lists origin packages, each with `secfixes` that map the
first fixed `pkgver-rN` to the ids it fixes. The import yields one `VulnRecord` per id and
package in namespace `alpine:3.18`, with the range `introduced 0, fixed <version>`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from chalicelib.vulns.interface import (
    AffectedRange,
    FeedError,
    InvalidVersionError,
    RangeEvent,
    VulnRecord,
)
from chalicelib.vulns.versions import get_scheme

logger = logging.getLogger(__name__)

NOT_AFFECTED_VERSION = "0"
"""A `secfixes` key that means the package was never affected by the ids listed under it."""

_CVE_ID = re.compile(r"CVE[-_ ]?(\d{4})-(\d{4,})", re.IGNORECASE)
# Other advisory ids seen in secdb: XSA-254 (Xen), ZBX-11023 (Zabbix), TALOS-2017-0394,
# wnpa-sec-2017-18 (Wireshark). Words such as `(IKEv1)` or `XPTI` have no number and no match.
_OTHER_ID = re.compile(r"\b[A-Za-z]+(?:-[A-Za-z]+)*-\d+(?:-\d+)?\b")
_RELEASE_DIR = re.compile(r"^v(\d+\.\d+)$")


def extract_ids(entry: str) -> list[str]:
    """Return the advisory ids in one secdb `secfixes` entry, CVE ids first.

    Entries carry notes and typos: `CVE-2019-5060 TALOS-2019-0844` gives both ids,
    `CVE_2019-2426` and `CVE 2018-16859` give the CVE id written the standard way,
    `CVE-2017-17434-1` gives `CVE-2017-17434`, and `CVE-????-?????  XSA-284` gives `XSA-284`.
    """
    cve_ids = [f"CVE-{year}-{number}" for year, number in _CVE_ID.findall(entry)]
    remainder = _CVE_ID.sub(" ", entry)
    other_ids = [match.group(0) for match in _OTHER_ID.finditer(remainder)]
    return list(dict.fromkeys(cve_ids + other_ids))


def secdb_namespace(data: dict[str, Any], location: str = "") -> str:
    """Return the namespace of a secdb document: `alpine:3.18`, or `alpine:edge`.

    The release comes from the document's `distroversion` (`v3.18`, `edge`), else from a `vX.Y`
    folder in `location`. Raises `FeedError` naming the location when neither gives one.
    """
    release = str(data.get("distroversion") or "").strip()
    if release == "edge":
        return "alpine:edge"
    match = _RELEASE_DIR.match(release)
    if match:
        return f"alpine:{match.group(1)}"
    for part in reversed(PurePosixPath(location.replace("\\", "/")).parts[:-1]):
        match = _RELEASE_DIR.match(part)
        if match:
            return f"alpine:{match.group(1)}"
    raise FeedError(
        f"Alpine secdb document {location or '(unnamed)'} has no release: expected "
        "`distroversion: vX.Y` in the document or a vX.Y folder in its path"
    )


@dataclass
class _Fix:
    """The fixed version of one id in one package, and the ids reported with it."""

    version: str
    aliases: list[str] = field(default_factory=list)


def parse_alpine_secdb(data: dict[str, Any], location: str = "") -> list[VulnRecord]:
    """Convert one secdb document into one `VulnRecord` per (id, origin package).

    `location` is the document's path or URL, used for the release when the document lacks
    `distroversion` and for messages. Ids listed under the key `0` are skipped (not affected).
    When an entry names one CVE, its other ids become that record's aliases. Otherwise, each
    id is a record of its own, and a non-CVE id lists the entry's CVE ids as aliases. When one id
    is listed under several fixed versions, the record uses the lowest. Raises `FeedError`
    naming the location when the document is not a secdb document.
    """
    if not isinstance(data, dict) or "packages" not in data:
        raise FeedError(
            f"{location or 'document'} is not an Alpine secdb document: expected a `packages` list"
        )
    namespace = secdb_namespace(data, location)
    # A release without advisories has an empty `packages:`, which YAML reads as null or "".
    packages = data["packages"] or []
    if not isinstance(packages, list):
        raise FeedError(
            f"Alpine secdb document {location or '(unnamed)'} has `packages` of type "
            f"{type(packages).__name__}; expected a list"
        )
    records = []
    for entry in packages:
        package = entry.get("pkg") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or not package.get("name"):
            logger.warning("skipped a package without a name in %s: %r", location, entry)
            continue
        name = str(package["name"])
        secfixes = package.get("secfixes")
        fixes = _collect_fixes(secfixes if isinstance(secfixes, dict) else {})
        for vuln_id, fix in fixes.items():
            records.append(
                VulnRecord(
                    id=vuln_id,
                    namespace=namespace,
                    package=name,
                    aliases=fix.aliases,
                    ranges=[
                        AffectedRange(
                            type="ECOSYSTEM",
                            events=[RangeEvent(introduced="0"), RangeEvent(fixed=fix.version)],
                        )
                    ],
                    source="alpine-secdb",
                )
            )
    return records


def _collect_fixes(secfixes: dict[Any, Any]) -> dict[str, _Fix]:
    """Map each id in a package's `secfixes` to its lowest fixed version and its aliases."""
    scheme = get_scheme("apk")
    fixes: dict[str, _Fix] = {}
    for raw_version, entries in secfixes.items():
        version = str(raw_version).strip()
        if version == NOT_AFFECTED_VERSION or not isinstance(entries, list):
            continue
        for entry in entries:
            for vuln_id, aliases in _entry_ids(str(entry)).items():
                current = fixes.get(vuln_id)
                if current is None:
                    fixes[vuln_id] = _Fix(version, aliases)
                    continue
                current.aliases.extend(a for a in aliases if a not in current.aliases)
                try:
                    if scheme.compare(version, current.version) < 0:
                        current.version = version
                except InvalidVersionError as error:
                    logger.warning(
                        "kept fixed version %s for %s: %s", current.version, vuln_id, error
                    )
    return fixes


def _entry_ids(entry: str) -> dict[str, list[str]]:
    """Map each id of one `secfixes` entry to the aliases its record gets."""
    ids = extract_ids(entry)
    cve_ids = [vuln_id for vuln_id in ids if vuln_id.startswith("CVE-")]
    other_ids = [vuln_id for vuln_id in ids if not vuln_id.startswith("CVE-")]
    if len(cve_ids) == 1:
        return {cve_ids[0]: other_ids}
    # With several CVE ids, a shared alias such as XSA-254 would make the matcher report the
    # CVEs as one issue. So each CVE is a record of its own, and the other ids alias all of them.
    result: dict[str, list[str]] = {cve_id: [] for cve_id in cve_ids}
    result.update({other_id: list(cve_ids) for other_id in other_ids})
    return result
