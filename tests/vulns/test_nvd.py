"""Tests of the NVD API 2.0 importer and the CVSS lookup by CVE id."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.vulns.interface import CvssScore, FeedError, Severity, VulnMatch, VulnRecord
from chalicelib.vulns.nvd import (
    NVD_NAMESPACE,
    nvd_scores,
    nvd_severity,
    parse_nvd,
    parse_nvd_page,
    with_nvd_severity,
)


@pytest.fixture(scope="module")
def nvd_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "samples" / "nvd"


def parse_file(path: Path) -> list[VulnRecord]:
    return parse_nvd(path.as_posix(), path.read_bytes())


def test_nvd_single_entry(nvd_dir: Path) -> None:
    [record] = parse_file(nvd_dir / "vunnel-nvd-api2-single-entry.json")

    assert record.id == "CVE-2022-1576"
    assert record.namespace == NVD_NAMESPACE
    assert record.package == "CVE-2022-1576"
    assert record.cwes == ["CWE-352"]
    assert record.severity is Severity.MEDIUM
    assert record.source == "nvd"
    assert record.summary is not None
    assert record.summary.startswith("The WP Maintenance Mode")
    v31, v2 = record.cvss
    assert (v31.version, v31.base_score) == ("3.1", 6.5)
    assert (v31.exploitability_score, v31.impact_score) == (2.8, 3.6)
    assert v31.vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N"
    assert (v2.version, v2.base_score, v2.exploitability_score) == ("2.0", 4.3, 8.6)


def test_nvd_full_page(nvd_dir: Path) -> None:
    records = parse_file(nvd_dir / "vunnel-nvd-api2-full-page.json")

    assert len(records) == 38
    first = records[0]
    assert first.id == "CVE-2023-27314"
    assert first.severity is Severity.HIGH
    assert first.cwes == ["CWE-400"]
    assert all(record.package == record.id for record in records)


def test_nvd_rejected_and_placeholder_cwe_skipped() -> None:
    # Hand-made: the samples contain no rejected CVE and no NVD-CWE-* placeholder.
    page = {
        "vulnerabilities": [
            {"cve": {"id": "CVE-2020-0001", "vulnStatus": "Rejected"}},
            {
                "cve": {
                    "id": "CVE-2020-0002",
                    "weaknesses": [{"description": [{"lang": "en", "value": "NVD-CWE-noinfo"}]}],
                }
            },
        ]
    }
    [record] = parse_nvd_page(page, "hand-made")

    assert record.id == "CVE-2020-0002"
    assert record.cwes == []
    assert record.severity is Severity.UNKNOWN


def test_nvd_page_without_list_rejected() -> None:
    with pytest.raises(FeedError, match="has no `vulnerabilities` list"):
        parse_nvd_page({"totalResults": 0}, "page.json")


def test_nvd_scores_by_cve_id(nvd_dir: Path) -> None:
    records = parse_file(nvd_dir / "vunnel-nvd-api2-single-entry.json")
    calls: list[tuple[str, list[str]]] = []

    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        calls.append((namespace, names))
        return [r for r in records if r.namespace == namespace and r.package in names]

    scores = nvd_scores(["GHSA-xxxx-yyyy-zzzz", "CVE-2022-1576", "CVE-1999-0001"], lookup)

    assert list(scores) == ["CVE-2022-1576"]
    assert scores["CVE-2022-1576"][0].base_score == 6.5
    assert calls == [("nvd", ["CVE-1999-0001", "CVE-2022-1576"])]
    assert nvd_scores(["GHSA-xxxx-yyyy-zzzz"], lookup) == {}


def test_nvd_severity_v3_before_v2() -> None:
    scores = [
        CvssScore(version="2.0", base_score=9.3),
        CvssScore(version="3.1", base_score=5.0),
    ]

    assert nvd_severity(scores) is Severity.MEDIUM


@pytest.mark.parametrize(
    ("base_score", "expected"),
    [(10.0, Severity.HIGH), (7.0, Severity.HIGH), (6.9, Severity.MEDIUM), (3.9, Severity.LOW)],
)
def test_nvd_severity_v2_bands(base_score: float, expected: Severity) -> None:
    assert nvd_severity([CvssScore(version="2.0", base_score=base_score)]) is expected


def test_nvd_severity_without_scores_is_unknown() -> None:
    assert nvd_severity([CvssScore(version="3.1", vector="CVSS:3.1/AV:N")]) is Severity.UNKNOWN


def unknown_match(vuln_id: str, aliases: list[str], severity: Severity) -> VulnMatch:
    return VulnMatch(
        vuln_id=vuln_id,
        severity=severity,
        package_name="requests",
        package_version="2.19.0",
        package_type="python",
        package_path="/usr/lib/python3/dist-packages",
        namespace="pypi",
        aliases=aliases,
    )


def test_with_nvd_severity_fills_only_unknown() -> None:
    nvd = {"CVE-2018-18074": [CvssScore(version="3.1", base_score=9.8)]}
    unknown = unknown_match("PYSEC-2018-28", ["CVE-2018-18074"], Severity.UNKNOWN)
    vendor = unknown_match("GHSA-x", ["CVE-2018-18074"], Severity.LOW)
    missing = unknown_match("PYSEC-2000-1", ["CVE-2000-0001"], Severity.UNKNOWN)

    filled, kept, still_unknown = with_nvd_severity([unknown, vendor, missing], nvd)

    assert filled.severity is Severity.CRITICAL
    assert unknown.severity is Severity.UNKNOWN
    assert kept is vendor
    assert still_unknown.severity is Severity.UNKNOWN
