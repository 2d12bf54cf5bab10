"""Tests of the legacy Node security advisories importer, and of matching its npm ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis.interface import Package, PackageType
from chalicelib.vulns.interface import NPM_RANGE, FeedError, Severity, VulnRecord
from chalicelib.vulns.matcher import affected_fixes, match_packages
from chalicelib.vulns.node_security import (
    parse_node_advisory,
    parse_node_security,
    patched_lower_bounds,
)
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records


@pytest.fixture(scope="module")
def advisories_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "npm" / "nodejs-security-wg" / "vuln" / "npm"


def load(advisories_dir: Path, number: int) -> VulnRecord:
    path = advisories_dir / f"{number}.json"
    [record] = parse_node_security(path.as_posix(), path.read_bytes())
    return record


def npm_package(name: str, version: str) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.NPM,
        location=f"/app/node_modules/{name}/package.json",
    )


def test_node_security_source_counts(advisories_dir: Path) -> None:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("node-security", str(advisories_dir)), stats))

    # index.json repeats every advisory and is not read.
    assert stats.files_read == 467
    assert stats.files_failed == 0
    assert len(records) == 467
    assert {record.namespace for record in records} == {"npm"}


def test_node_security_record_fields(advisories_dir: Path) -> None:
    record = load(advisories_dir, 1)

    assert record.id == "NSWG-ECO-1"
    assert record.package == "bassmaster"
    assert record.aliases == ["CVE-2014-7205"]
    assert record.summary == "Arbitrary JavaScript Execution"
    assert record.severity is Severity.MEDIUM
    assert not record.severity_from_vendor
    assert record.cvss[0].base_score == 6.5
    [affected_range] = record.ranges
    assert affected_range.type == NPM_RANGE
    assert affected_range.expression == "<=1.5.1"
    assert [event.fixed for event in affected_range.events] == ["1.5.2"]


def test_node_security_several_patched_intervals(advisories_dir: Path) -> None:
    record = load(advisories_dir, 394)
    [affected_range] = record.ranges

    assert affected_range.expression == ">=3.5.5 <=3.8.38 || >=4.0.0 <=4.3.5"
    assert [event.fixed for event in affected_range.events] == ["3.8.39", "4.3.6"]


@pytest.mark.parametrize(
    ("patched", "bounds"),
    [
        (">=4.3.6 || >=3.8.39 <4.0.0", ["3.8.39", "4.3.6"]),
        ("=3.10.1 || >=3.10.3", ["3.10.1", "3.10.3"]),
        (">=v2.0.0-alpha8", ["2.0.0-alpha8"]),
        ("<0.0.0", []),
        ("> 0.9.6", []),
        (None, []),
        ("not a range", []),
    ],
)
def test_patched_lower_bounds(patched: str | None, bounds: list[str]) -> None:
    assert patched_lower_bounds(patched) == bounds


def test_node_advisory_without_module_rejected() -> None:
    with pytest.raises(FeedError, match="has no `module_name`"):
        parse_node_advisory({"id": 7, "vulnerable_versions": "<1.0.0"}, "7.json")


def test_node_advisory_invalid_range_rejected() -> None:
    # Hand-made: every real advisory has a range that loose npm parsing accepts.
    with pytest.raises(FeedError, match="NSWG-ECO-8 has an invalid range"):
        parse_node_advisory({"id": 8, "module_name": "x", "vulnerable_versions": ">=a.b"}, "")


def test_npm_range_match_in_gap(advisories_dir: Path) -> None:
    record = load(advisories_dir, 394)

    assert affected_fixes(record, "3.6.0") == ["3.8.39"]
    assert affected_fixes(record, "4.2.0") == ["4.3.6"]
    # Between the two affected intervals, and above both.
    assert affected_fixes(record, "3.9.0") is None
    assert affected_fixes(record, "4.3.6") is None


def test_npm_range_without_fix(advisories_dir: Path) -> None:
    record = load(advisories_dir, 223)

    assert record.ranges[0].events == []
    assert affected_fixes(record, "1.0.0") == []


def test_npm_range_invalid_installed_version(advisories_dir: Path) -> None:
    record = load(advisories_dir, 1)

    assert affected_fixes(record, "not-a-version") is None


def test_match_lodash_node_advisories(advisories_dir: Path) -> None:
    records = [load(advisories_dir, number) for number in (368, 493, 516)]

    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        return [r for r in records if r.namespace == namespace and r.package in names]

    old = match_packages([npm_package("lodash", "4.17.4")], None, lookup)
    assert sorted((m.vuln_id, tuple(m.fixed_in)) for m in old) == [
        ("NSWG-ECO-368", ("4.17.5",)),
        ("NSWG-ECO-493", ("4.17.11",)),
    ]
    [recent] = match_packages([npm_package("lodash", "4.17.15")], None, lookup)
    assert recent.vuln_id == "NSWG-ECO-516"
    assert recent.fixed_in == ["4.17.19"]
    assert match_packages([npm_package("lodash", "4.17.19")], None, lookup) == []
