"""Matching of installed packages against stored vulnerability records.

Each package is looked up in the namespaces that apply to it: its image's distro release for OS
packages, its language ecosystem otherwise. A record matches when the installed version is in the
record's version list or inside one of its ranges, evaluated with OSV's rules.
"""

from __future__ import annotations

import functools
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.interface import (
    NPM_RANGE,
    AffectedRange,
    InvalidVersionError,
    RangeEvent,
    VulnMatch,
    VulnRecord,
)
from chalicelib.vulns.namespaces import (
    RHEL_REBUILD_DISTROS,
    fallback_namespaces,
    normalize_package_name,
    version_scheme_name,
    vuln_namespace,
)
from chalicelib.vulns.versions import get_scheme, parse_range
from chalicelib.vulns.versions.npm import compare as npm_compare
from chalicelib.vulns.versions.npm import parse_version as parse_npm_version

logger = logging.getLogger(__name__)

__all__ = ["affected_fixes", "match_packages", "package_namespaces", "vuln_namespace"]

RecordLookup = Callable[[str, list[str]], list[VulnRecord]]
"""`lookup(namespace, names)` returns the stored records of `namespace` for those package names."""

DISTRO_PACKAGE_TYPES = (PackageType.DPKG, PackageType.APK, PackageType.RPM)
"""OS package types matched against distro records."""

DISTRO_PACKAGE_SCHEMES: dict[PackageType, str] = {
    PackageType.DPKG: "deb",
    PackageType.APK: "apk",
    PackageType.RPM: "rpm",
}
"""The version scheme of the distro namespaces that each OS package type is looked up in."""

ECOSYSTEM_NAMESPACES: dict[PackageType, str] = {
    PackageType.PYTHON: "pypi",
    PackageType.NPM: "npm",
    PackageType.JAVA: "maven",
    PackageType.GO: "go",
    PackageType.RUST: "crates.io",
    PackageType.GEM: "rubygems",
    PackageType.COMPOSER: "packagist",
    PackageType.NUGET: "nuget",
}
"""Language package types and the one namespace whose records apply to each."""

GO_DEVEL_VERSION = "(devel)"
"""Version that Go stamps on a main module built from a work tree, which no record can name."""

# Go toolchain versions: `go1.21`, `go1.21.5`, `go1.21rc2`, `go1.19beta1`.
_GO_RELEASE = re.compile(
    r"^go(?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?"
    r"(?:(?P<pre>beta|rc)(?P<number>\d+))?$"
)


def package_namespaces(package: Package, distro_namespace: str | None) -> list[tuple[str, str]]:
    """Return the (namespace, package name) pairs under which records for `package` are stored.

    OS packages use the distro namespace and their source package (dpkg `Source:`, apk origin,
    the name in an rpm's `SOURCERPM`), or their own name when they have none. Each OS package
    type is looked up only in namespaces of its version scheme (`DISTRO_PACKAGE_SCHEMES`), first
    in the distro namespace and then in its `fallback_namespaces`. An rpm package of Rocky Linux
    or AlmaLinux is also looked up by its own name in the distro namespace. Language packages
    use their ecosystem's namespace (`ECOSYSTEM_NAMESPACES`) and their name as
    `normalize_package_name` stores it. Java packages are looked up as `groupId:artifactId` and
    only when their `pom.properties` states the groupId. A Go main module at `(devel)` has no
    lookup. Binary packages, other types, and OS packages of an image without a known distro
    namespace, return an empty list.
    """
    if package.type in DISTRO_PACKAGE_TYPES:
        if distro_namespace is None:
            return []
        if version_scheme_name(distro_namespace) != DISTRO_PACKAGE_SCHEMES[package.type]:
            return []
        name = package.source_name or package.name
        pairs = [(distro_namespace, name)]
        # NOTE: AlmaLinux records list each binary package of an advisory (`apr-util-devel`),
        # so rebuilds also look up the binary name. Whether every Rocky Linux record does the
        # same is not checked, and a record under the source name is found either way.
        is_rebuild = distro_namespace.partition(":")[0] in RHEL_REBUILD_DISTROS
        if is_rebuild and package.name != name:
            pairs.append((distro_namespace, package.name))
        pairs.extend((namespace, name) for namespace in fallback_namespaces(distro_namespace))
        return pairs

    # NOTE: binary packages, the runtimes that a classifier finds by file content (a python or
    # node executable), are left unmatched. No stored feed has a namespace for them, and
    # matching them by name alone would report another ecosystem's records.
    namespace = ECOSYSTEM_NAMESPACES.get(package.type)
    if namespace is None:
        return []
    name = _ecosystem_name(package)
    if name is None:
        return []
    return [(namespace, normalize_package_name(namespace, name))]


def _ecosystem_name(package: Package) -> str | None:
    """Return the name that records of the package's ecosystem use, or None when it has none."""
    if package.type is PackageType.JAVA:
        pom_properties = package.metadata.get("pom_properties") or {}
        group_id = str(pom_properties.get("groupId") or "").strip()
        if not group_id:
            logger.debug("no groupId for Java package %s at %s", package.name, package.location)
            return None
        return f"{group_id}:{package.name}"
    if package.type is PackageType.GO and package.version in (GO_DEVEL_VERSION, ""):
        return None
    return package.name


def match_packages(
    packages: list[Package], distro: Distro | None, lookup: RecordLookup
) -> list[VulnMatch]:
    """Match `packages` of an image with `distro` against the records that `lookup` returns.

    `lookup` is called once per namespace with every package name needed in it. A record whose
    versions cannot be compared (an invalid installed or record version, or a namespace without a
    version scheme) is logged and skipped. Records of one package that are aliases of each other
    are reported once; see `_deduplicate`. Matches are sorted by severity, highest first, then by
    vulnerability id, package name and location.
    """
    distro_namespace = vuln_namespace(distro)
    targets = [(package, package_namespaces(package, distro_namespace)) for package in packages]

    names_by_namespace: dict[str, set[str]] = defaultdict(set)
    for _, pairs in targets:
        for namespace, name in pairs:
            names_by_namespace[namespace].add(name)
    records_by_key: dict[tuple[str, str], list[VulnRecord]] = defaultdict(list)
    for namespace, names in sorted(names_by_namespace.items()):
        for record in lookup(namespace, sorted(names)):
            records_by_key[(record.namespace, record.package)].append(record)

    matches: list[VulnMatch] = []
    for package, pairs in targets:
        found: list[tuple[VulnRecord, list[str]]] = []
        for record in _applicable_records(pairs, records_by_key):
            fixed_in = affected_fixes(record, _compared_version(package))
            if fixed_in is not None:
                found.append((record, fixed_in))
        matches.extend(_to_match(package, record, fixed) for record, fixed in _deduplicate(found))

    matches.sort(
        key=lambda m: (-m.severity.rank, m.vuln_id, m.package_name, m.package_path)
    )
    return matches


def _applicable_records(
    pairs: list[tuple[str, str]], records_by_key: dict[tuple[str, str], list[VulnRecord]]
) -> list[VulnRecord]:
    """Return the records of `pairs` in order, without the fallback records already named.

    A record of a later (fallback) namespace is dropped when an earlier record names it. A
    record with a CVE id is named by that id, and any other record by its id or an alias. The
    earlier record need not affect the installed version, because the distro's own record of a
    vulnerability replaces RHEL's. A CVE record whose advisory alias alone is named is kept,
    because one RHSA fixes several CVEs and a rebuild's advisory may not name them all.
    """
    records: list[VulnRecord] = []
    named: set[str] = set()
    for key in pairs:
        namespace_records = []
        for record in records_by_key.get(key, []):
            identifiers = {record.id}
            if not record.id.startswith("CVE-"):
                identifiers.update(record.aliases)
            if identifiers & named:
                logger.debug(
                    "dropped %s of %s for %s: an earlier namespace names it", record.id, *key
                )
                continue
            namespace_records.append(record)
        records.extend(namespace_records)
        for record in namespace_records:
            named.update((record.id, *record.aliases))
    return records


def affected_fixes(record: VulnRecord, version: str) -> list[str] | None:
    """Return the fixed versions of the ranges that contain `version`, or None if not affected.

    An empty list means affected with no fix known. The version is affected when it is one of
    the record's `versions` (compared as exact strings) or inside any range. A range that cannot
    be evaluated, because a version is invalid in its scheme or the namespace has none, is
    logged. The record then returns None unless `versions` lists the version.
    """
    listed = version in record.versions
    affected = listed
    fixed_in: list[str] = []
    for affected_range in record.ranges:
        scheme_name = version_scheme_name(record.namespace, affected_range.type)
        problem = None
        in_range, fixed = False, None
        if affected_range.type == NPM_RANGE:
            try:
                in_range, fixed = _evaluate_npm_range(affected_range, version)
            except InvalidVersionError as error:
                problem = str(error)
        elif scheme_name is None:
            problem = f"namespace {record.namespace} has no version scheme"
        else:
            try:
                in_range, fixed = _evaluate_range(affected_range, version, scheme_name)
            except InvalidVersionError as error:
                problem = str(error)

        if problem is not None:
            logger.warning(
                "skipped %s of record %s for %s %s: %s",
                "a range" if listed else "the record",
                record.id,
                record.package,
                version,
                problem,
            )
            if listed:
                continue
            return None
        if in_range:
            affected = True
            if fixed is not None and fixed not in fixed_in:
                fixed_in.append(fixed)
    return fixed_in if affected else None


def _evaluate_range(
    affected_range: AffectedRange, version: str, scheme_name: str
) -> tuple[bool, str | None]:
    """Evaluate one OSV range for `version`: whether it is inside, and the fix that closes it.

    Events are sorted by version, `introduced: "0"` first. Walking them in order, `introduced`
    opens an interval at or below the version, `fixed` and `limit` close it when the version is
    at or above them, and `last_affected` closes it when the version is above it.
    """
    compare = get_scheme(scheme_name).compare

    def event_version(event: RangeEvent) -> str:
        values = (event.introduced, event.fixed, event.last_affected, event.limit)
        return next(value for value in values if value)

    def order(first: RangeEvent, second: RangeEvent) -> int:
        if first.introduced == "0" or second.introduced == "0":
            return (second.introduced == "0") - (first.introduced == "0")
        return compare(event_version(first), event_version(second))

    events = sorted(affected_range.events, key=functools.cmp_to_key(order))
    inside = False
    for event in events:
        if event.introduced is not None:
            if event.introduced == "0" or compare(version, event.introduced) >= 0:
                inside = True
        elif event.fixed is not None or event.limit is not None:
            if compare(version, event_version(event)) >= 0:
                inside = False
        elif event.last_affected is not None:
            if compare(version, event.last_affected) > 0:
                inside = False
    if not inside:
        return False, None

    # The fix of the interval that contains the version is the first `fixed` event above it.
    for event in events:
        if event.fixed is not None and compare(version, event.fixed) < 0:
            return True, event.fixed
    return True, None


def _evaluate_npm_range(affected_range: AffectedRange, version: str) -> tuple[bool, str | None]:
    """Evaluate an `NPM_RANGE` with npm's `satisfies` rules in loose mode.

    Loose mode accepts what the legacy Node advisories contain, such as `<=v2.0.0-alpha7`.

    The fix is the lowest `fixed` event above the version. Raises `InvalidVersionError` when the
    range text or the version is invalid.
    """
    expression = affected_range.expression or "*"
    if not parse_range(expression, loose=True).contains(parse_npm_version(version, loose=True)):
        return False, None
    fixes = [event.fixed for event in affected_range.events if event.fixed is not None]
    above = [fixed for fixed in fixes if npm_compare(version, fixed, loose=True) < 0]
    if not above:
        return True, None
    return True, min(above, key=functools.cmp_to_key(lambda a, b: npm_compare(a, b, loose=True)))


def _compared_version(package: Package) -> str:
    """Return the version compared with records.

    OS packages use their source version where it is set. An rpm package's version gets the
    epoch from `metadata["epoch"]` in front (`1:3.0.7-24.el9`). Go's `stdlib` turns its
    toolchain version into the SemVer that the Go vulnerability database uses: `go1.21.5` is
    `1.21.5`, `go1.21` is `1.21.0` and `go1.21rc2` is `1.21.0-rc.2`.
    """
    version = package.version
    if package.type in DISTRO_PACKAGE_TYPES and package.source_version:
        version = package.source_version
    if package.type is PackageType.RPM:
        # NOTE: the source RPM's file name has no epoch, so the binary package's epoch is used
        # for the source's. A missing epoch stays missing, which the rpm scheme compares as 0.
        epoch = package.metadata.get("epoch")
        if epoch is not None and ":" not in version:
            version = f"{epoch}:{version}"
    if package.type is PackageType.GO and package.name == "stdlib":
        version = _go_release_semver(version)
    return version


def _go_release_semver(version: str) -> str:
    """Return the SemVer form of a Go toolchain version, or `version` when it is not one."""
    match = _GO_RELEASE.match(version)
    if match is None:
        return version
    semver = f"{match['major']}.{match['minor']}.{match['patch'] or 0}"
    if match["pre"]:
        semver += f"-{match['pre']}.{match['number']}"
    return semver


def _deduplicate(
    found: Sequence[tuple[VulnRecord, list[str]]],
) -> list[tuple[VulnRecord, list[str]]]:
    """Keep one of each group of records that name the same issue for one package.

    Records with the same id are merged, their fixed versions combined. Records whose ids and
    aliases overlap (a PYSEC and a GHSA record of one issue) are reported once, except records
    with two different CVE ids. Preferred is the record whose severity is the publisher's own
    label, then one whose id is a CVE id, then the first found.
    """
    merged: dict[str, tuple[VulnRecord, list[str]]] = {}
    for record, fixed_in in found:
        if record.id in merged:
            kept_fixes = merged[record.id][1]
            kept_fixes.extend(v for v in fixed_in if v not in kept_fixes)
        else:
            merged[record.id] = (record, list(fixed_in))

    candidates = list(merged.values())
    ranked = sorted(
        range(len(candidates)),
        key=lambda i: (
            not candidates[i][0].severity_from_vendor,
            not candidates[i][0].id.startswith("CVE-"),
            i,
        ),
    )
    reported: list[tuple[VulnRecord, list[str]]] = []
    claimed: set[str] = set()
    claimed_by_other_ids: set[str] = set()
    for index in ranked:
        record, fixed_in = candidates[index]
        identifiers = {record.id, *record.aliases}
        # A CVE id names exactly one issue, so two records with different CVE ids stay apart
        # even when they share an advisory alias, as CVEs fixed by one RHSA do.
        if record.id.startswith("CVE-"):
            duplicate = record.id in claimed or bool(identifiers & claimed_by_other_ids)
        else:
            duplicate = bool(identifiers & claimed)
        if duplicate:
            logger.debug("reported %s once under an alias for %s", record.id, record.package)
            continue
        claimed |= identifiers
        if not record.id.startswith("CVE-"):
            claimed_by_other_ids |= identifiers
        reported.append((record, fixed_in))
    return reported


def _to_match(package: Package, record: VulnRecord, fixed_in: list[str]) -> VulnMatch:
    return VulnMatch(
        vuln_id=record.id,
        severity=record.severity,
        package_name=package.name,
        package_version=package.version,
        package_type=package.type.value,
        package_path=package.location,
        fixed_in=fixed_in,
        url=record.link,
        namespace=record.namespace,
        will_not_fix=record.will_not_fix,
        aliases=record.aliases,
        cvss=record.cvss,
    )
