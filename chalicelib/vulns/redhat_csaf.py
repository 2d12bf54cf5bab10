"""Import of Red Hat CSAF documents: security advisories (RHSA) and per-CVE VEX files.

The product tree names each product (`AppStream-9.4.0.Z.MAIN.EUS`, with a CPE such as
`cpe:/a:redhat:enterprise_linux:9::appstream`) and each component (an RPM NEVRA such as
`python3.9-0:3.9.18-3.el9_4.5.src`). Relationships join the two into product ids. Each
vulnerability lists product ids under `fixed`, `known_affected` and `known_not_affected`. The
import yields one `VulnRecord` per CVE id, `rhel:<major>` namespace and source RPM name.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from chalicelib.vulns.cvss import parse_cvss_vector, severity_from_cvss
from chalicelib.vulns.interface import (
    AffectedRange,
    CvssScore,
    FeedError,
    InvalidVersionError,
    RangeEvent,
    Severity,
    VulnRecord,
)
from chalicelib.vulns.versions import get_scheme

logger = logging.getLogger(__name__)

IMPACT_SEVERITIES: dict[str, Severity] = {
    "low": Severity.LOW,
    "moderate": Severity.MEDIUM,
    "important": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
"""Red Hat's impact ratings (`threats[]` of category `impact`)."""

WILL_NOT_FIX_REMEDIATIONS = frozenset({"no_fix_planned", "none_available"})
"""Remediation categories under which Red Hat ships no fix for the product."""

EXTENDED_STREAM_MARKS = ("EUS", "AUS", "TUS", "E4S")
"""Marks of extended-support product streams (`BaseOS-9.4.0.Z.EUS`). Their fixes apply only to
hosts subscribed to that minor release, so they are skipped and a record's fix is the main
stream's."""

CVE_LINK = "https://access.redhat.com/security/cve/{id}"

VEX_ARCHIVE_POINTER = "https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt"
"""Red Hat's file naming the newest dated archive of every VEX file, such as
`csaf_vex_2024-12-01.tar.zst`, relative to the pointer's folder."""
ARCHIVE_POINTER_NAME = "archive_latest.txt"
POINTER_TIMEOUT = (30.0, 60.0)
"""Connect and read timeouts in seconds for reading the archive pointer."""

_RHEL_CPE = re.compile(r"^cpe:/[aoh]:redhat:(?:enterprise_linux|rhel_[a-z0-9_]+):(\d+)")
# name-[epoch:]version-release.arch, where the name may contain dashes.
_NEVRA = re.compile(
    r"^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-:]+)\.(?P<arch>[^.]+)$"
)
_STREAM_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass
class _Component:
    """One RPM component of the product tree, and the namespace of the product it belongs to."""

    namespace: str
    name: str
    fixed_version: str | None
    arch: str | None


@dataclass
class _Affected:
    """The state of one source package in one namespace, gathered over product ids."""

    fixed: set[str] = field(default_factory=set)
    affected: bool = False
    will_not_fix: bool = False


def parse_redhat_csaf(name: str, data: bytes) -> list[VulnRecord]:
    """Convert one CSAF document into records. Raises `FeedError` naming it when it is invalid."""
    try:
        document = json.loads(data)
    except ValueError as error:
        raise FeedError(f"Red Hat CSAF document {name} is invalid JSON: {error}") from error
    return parse_csaf_document(document, name)


def parse_csaf_document(document: Any, location: str = "") -> list[VulnRecord]:
    """Convert a decoded CSAF advisory or VEX document into one record per CVE, namespace and
    source package.

    A `fixed` product gives the range `introduced 0, fixed <epoch:version-release>` of its
    component. A `known_affected` product gives an open range, marked `will_not_fix` when its
    remediation is `no_fix_planned` or `none_available`. `known_not_affected` products, products
    that are not RHEL, and extended-support streams give no record. Severity is Red Hat's
    impact rating. Raises `FeedError` naming the location when the document has no product tree
    or no vulnerabilities.
    """
    if not isinstance(document, dict) or "product_tree" not in document:
        raise FeedError(
            f"Red Hat CSAF document {location or '(unnamed)'} has no `product_tree`; expected "
            "a CSAF 2.0 advisory or VEX file"
        )
    vulnerabilities = document.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):
        raise FeedError(f"Red Hat CSAF document {location} has no `vulnerabilities` list")
    tracking = (document.get("document") or {}).get("tracking") or {}
    advisory_id = str(tracking.get("id") or "")
    components = _components(document["product_tree"])
    records = []
    for vulnerability in vulnerabilities:
        records.extend(_vulnerability_records(vulnerability, components, advisory_id))
    return records


def _components(tree: dict[str, Any]) -> dict[str, _Component]:
    """Map each product id of a relationship to its RHEL namespace and RPM component."""
    namespaces: dict[str, str] = {}
    versions: dict[str, dict[str, Any]] = {}
    for branch in _branches(tree):
        product = branch.get("product") or {}
        product_id = product.get("product_id")
        if not product_id:
            continue
        helper = product.get("product_identification_helper") or {}
        if branch.get("category") == "product_name":
            match = _RHEL_CPE.match(str(helper.get("cpe") or ""))
            if match and not _is_extended_stream(str(product_id)):
                namespaces[product_id] = f"rhel:{match.group(1)}"
        elif branch.get("category") == "product_version":
            versions[product_id] = {"name": branch.get("name"), "purl": helper.get("purl")}

    components: dict[str, _Component] = {}
    for relationship in tree.get("relationships") or []:
        product_id = (relationship.get("full_product_name") or {}).get("product_id")
        namespace = namespaces.get(relationship.get("relates_to_product_reference"))
        reference = str(relationship.get("product_reference") or "")
        if not product_id or namespace is None or not reference:
            continue
        component = _component(namespace, reference, versions.get(reference, {}))
        if component is not None:
            components[product_id] = component
    _use_source_names(components)
    return components


def _branches(tree: dict[str, Any]) -> Iterator[dict[str, Any]]:
    pending = list(tree.get("branches") or [])
    while pending:
        branch = pending.pop()
        yield branch
        pending.extend(branch.get("branches") or [])


def _is_extended_stream(product_id: str) -> bool:
    return any(word in EXTENDED_STREAM_MARKS for word in _STREAM_WORD.findall(product_id))


def _component(namespace: str, reference: str, version: dict[str, Any]) -> _Component | None:
    """Read a component reference: a NEVRA for fixed builds, a bare name in VEX files."""
    match = _NEVRA.match(reference)
    if match is not None:
        epoch = match["epoch"] or "0"
        return _Component(
            namespace=namespace,
            name=match["name"],
            fixed_version=f"{epoch}:{match['version']}-{match['release']}",
            arch=match["arch"],
        )
    # VEX files name unfixed components without a version, as `rhel-9:python3.9` or `python3.9`.
    name = reference.rpartition(":")[2] or str(version.get("name") or "")
    if not name:
        return None
    return _Component(namespace=namespace, name=name, fixed_version=None, arch=None)


def _use_source_names(components: dict[str, _Component]) -> None:
    """Key binary RPMs by the source RPM of the same build, when the tree contains it."""
    sources: dict[tuple[str, str | None], str] = {}
    for component in components.values():
        if component.arch == "src":
            sources.setdefault((component.namespace, component.fixed_version), component.name)
    for component in components.values():
        if component.arch not in (None, "src"):
            source = sources.get((component.namespace, component.fixed_version))
            if source is not None:
                component.name = source


def _vulnerability_records(
    vulnerability: dict[str, Any], components: dict[str, _Component], advisory_id: str
) -> Iterator[VulnRecord]:
    cve_id = vulnerability.get("cve")
    if not cve_id:
        return
    status = vulnerability.get("product_status") or {}
    will_not_fix_ids = {
        product_id
        for remediation in vulnerability.get("remediations") or []
        if remediation.get("category") in WILL_NOT_FIX_REMEDIATIONS
        for product_id in remediation.get("product_ids") or []
    }
    states: dict[tuple[str, str], _Affected] = {}
    for product_id in status.get("fixed") or []:
        component = components.get(product_id)
        if component is not None and component.fixed_version is not None:
            state = states.setdefault((component.namespace, component.name), _Affected())
            state.fixed.add(component.fixed_version)
    for product_id in status.get("known_affected") or []:
        component = components.get(product_id)
        if component is not None:
            state = states.setdefault((component.namespace, component.name), _Affected())
            state.affected = True
            state.will_not_fix = state.will_not_fix or product_id in will_not_fix_ids

    scores = _scores(vulnerability.get("scores") or [])
    severity = _impact(vulnerability.get("threats") or [])
    from_vendor = severity is not Severity.UNKNOWN
    if not from_vendor:
        severity = severity_from_cvss(scores)
    cwe = (vulnerability.get("cwe") or {}).get("id")
    for (namespace, package), state in sorted(states.items()):
        # A fix in one product stream wins over an unfixed entry in another of the same release.
        fixed = _lowest_version(state.fixed)
        events = [RangeEvent(introduced="0")]
        if fixed is not None:
            events.append(RangeEvent(fixed=fixed))
        yield VulnRecord(
            id=str(cve_id),
            namespace=namespace,
            package=package,
            aliases=[advisory_id] if advisory_id.startswith("RH") else [],
            summary=_text(vulnerability.get("title")),
            severity=severity,
            severity_from_vendor=from_vendor,
            cvss=scores,
            link=CVE_LINK.format(id=cve_id),
            ranges=[AffectedRange(type="ECOSYSTEM", events=events)],
            will_not_fix=fixed is None and state.will_not_fix,
            cwes=[str(cwe)] if cwe else [],
            source="redhat-csaf",
        )


def _lowest_version(versions: set[str]) -> str | None:
    """Return the lowest of the fixed versions in rpm order, or None when there is none.

    The builds of one source RPM in one release normally share one version, but an advisory for
    several minor releases can list more than one.
    """
    ordered = sorted(versions)
    if len(ordered) < 2:
        return ordered[0] if ordered else None
    try:
        return min(ordered, key=functools.cmp_to_key(get_scheme("rpm").compare))
    except InvalidVersionError as error:
        logger.warning("kept fixed version %s of %s: %s", ordered[0], ordered, error)
        return ordered[0]


def _scores(raw_scores: list[dict[str, Any]]) -> list[CvssScore]:
    scores: dict[str, CvssScore] = {}
    for raw in raw_scores:
        for key in ("cvss_v3", "cvss_v2"):
            vector = (raw.get(key) or {}).get("vectorString")
            if vector and vector not in scores:
                score = parse_cvss_vector(str(vector))
                if score is not None:
                    scores[vector] = score
    return list(scores.values())


def _impact(threats: list[dict[str, Any]]) -> Severity:
    for threat in threats:
        if threat.get("category") == "impact":
            label = str(threat.get("details") or "").strip().lower()
            return IMPACT_SEVERITIES.get(label, Severity.UNKNOWN)
    return Severity.UNKNOWN


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def is_archive_pointer(url: str) -> bool:
    """Return whether `url` is an `archive_latest.txt` pointer, or a folder URL (ending in `/`)
    that contains one, rather than the URL of an archive or document."""
    path = urlsplit(url).path
    return path.endswith("/") or path.rsplit("/", 1)[-1] == ARCHIVE_POINTER_NAME


def resolve_archive_pointer(url: str) -> str:
    """Return the URL of the archive that the `archive_latest.txt` at `url` names.

    A folder URL reads the pointer inside it. The pointer's first line is a file name, or a
    path, relative to the pointer. Raises `FeedError` when the pointer cannot be read or names
    no `.tar` archive.
    """
    if urlsplit(url).path.endswith("/"):
        url = urljoin(url, ARCHIVE_POINTER_NAME)
    try:
        response = requests.get(url, timeout=POINTER_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as error:
        raise FeedError(
            f"Red Hat archive pointer {url} could not be read ({error}); check the URL in "
            "FEED_SOURCES and that this host can reach it"
        ) from error
    lines = response.text.strip().splitlines()
    name = lines[0].strip() if lines else ""
    if ".tar" not in name:
        raise FeedError(
            f"Red Hat archive pointer {url} names no tar archive: {name[:200]!r}; expected a "
            "file name such as csaf_vex_2024-12-01.tar.zst"
        )
    archive = urljoin(url, name)
    logger.info("Red Hat archive pointer %s names %s", url, archive)
    return archive
