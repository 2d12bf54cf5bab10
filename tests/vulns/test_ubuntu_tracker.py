"""Tests of the Ubuntu CVE tracker importer on the real tracker files and samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.interface import FeedError, RangeEvent, Severity, VulnRecord
from chalicelib.vulns.matcher import match_packages
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records
from chalicelib.vulns.ubuntu_tracker import parse_ubuntu_tracker


def parse_file(path: Path) -> list[VulnRecord]:
    return parse_ubuntu_tracker(path.as_posix(), path.read_bytes())


def find(records: list[VulnRecord], namespace: str, package: str) -> VulnRecord:
    [record] = [r for r in records if (r.namespace, r.package) == (namespace, package)]
    return record


def fixed_version(record: VulnRecord) -> str | None:
    [affected_range] = record.ranges
    assert affected_range.events[0] == RangeEvent(introduced="0")
    return affected_range.events[1].fixed if len(affected_range.events) > 1 else None


@pytest.fixture(scope="module")
def tracker_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "ubuntu" / "ubuntu-cve-tracker"


@pytest.fixture(scope="module")
def samples_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "samples" / "ubuntu" / "vuln-list-update-uct"


def test_ubuntu_tracker_source_counts(tracker_dir: Path) -> None:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("ubuntu-cve-tracker", str(tracker_dir)), stats))

    assert stats.files_read == 336
    assert stats.files_failed == 0
    assert len(records) == 5289
    assert len({record.id for record in records}) == 331


def test_ubuntu_released_fixed_version(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2009-3560")
    record = find(records, "ubuntu:18.04", "expat")

    assert record.id == "CVE-2009-3560"
    assert fixed_version(record) == "2.0.1-7ubuntu1"
    assert record.severity is Severity.MEDIUM
    assert record.severity_from_vendor
    assert record.source == "ubuntu-cve-tracker"
    assert fixed_version(find(records, "ubuntu:6.06", "expat")) == "1.95.8-3ubuntu0.1"


def test_ubuntu_not_affected_and_dne_skipped(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2009-3560")

    # apache2 is `not-affected (code-not-compiled)` or DNE in every release.
    assert not [r for r in records if r.package == "apache2"]


def test_ubuntu_ignored_will_not_fix(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2009-3560")
    record = find(records, "ubuntu:8.04", "python-xml")

    assert record.will_not_fix
    assert fixed_version(record) is None


def test_ubuntu_deferred_will_not_fix(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2016-10228")
    record = find(records, "ubuntu:18.04", "glibc")

    assert record.will_not_fix
    assert record.severity is Severity.NEGLIGIBLE


def test_ubuntu_package_priority_overrides(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2009-3720")

    assert {r.severity for r in records if r.package == "expat"} == {Severity.MEDIUM}
    assert {r.severity for r in records if r.package == "cmake"} == {Severity.LOW}


def test_ubuntu_esm_and_devel_skipped(samples_dir: Path) -> None:
    records = parse_file(samples_dir / "no_space_before_status")

    # trusty/esm_vnc4:needed has no space and is an ESM line, and devel has no release number.
    assert [(r.namespace, r.will_not_fix) for r in records] == [
        ("ubuntu:14.04", True),
        ("ubuntu:16.04", False),
        ("ubuntu:18.04", False),
    ]


def test_ubuntu_pending_is_unfixed(samples_dir: Path) -> None:
    records = parse_file(samples_dir / "include_pending")

    assert fixed_version(find(records, "ubuntu:18.04", "linux-oem")) == "4.15.0-1080.90"
    pending = find(records, "ubuntu:19.10", "linux-oem")
    assert fixed_version(pending) is None
    assert not pending.will_not_fix
    assert pending.severity is Severity.LOW


def test_ubuntu_cvss_parsed(samples_dir: Path) -> None:
    records = parse_file(samples_dir / "include_pending")

    [score] = records[0].cvss
    assert score.vector == "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:H/A:N"
    assert score.base_score == 5.5


def test_ubuntu_several_packages(samples_dir: Path) -> None:
    records = parse_file(samples_dir / "more_than_one_package_patches")

    assert fixed_version(find(records, "ubuntu:18.04", "libonig")) == "6.3.0-1"
    assert fixed_version(find(records, "ubuntu:17.04", "php7.0")) == "7.0.22-0ubuntu0.17.04.1"


def test_ubuntu_without_priority_unknown(samples_dir: Path) -> None:
    records = parse_file(samples_dir / "empty_status_upstream")

    assert records
    assert {record.severity for record in records} == {Severity.UNKNOWN}


def test_ubuntu_file_without_candidate_rejected() -> None:
    with pytest.raises(FeedError, match="has no `Candidate:` field"):
        parse_ubuntu_tracker("CVE-2020-0001", b"Priority: low\n\nbionic_foo: needed\n")


def test_match_ubuntu_tracker_records(tracker_dir: Path) -> None:
    records = parse_file(tracker_dir / "active" / "CVE-2009-3560")

    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        return [r for r in records if r.namespace == namespace and r.package in names]

    bionic = Distro(id="ubuntu", version_id="18.04")

    def libexpat(version: str) -> Package:
        return Package(
            name="libexpat1",
            version=version,
            type=PackageType.DPKG,
            location="/var/lib/dpkg/status",
            source_name="expat",
        )

    [match] = match_packages([libexpat("2.0.1-7")], bionic, lookup)
    assert match.vuln_id == "CVE-2009-3560"
    assert match.fixed_in == ["2.0.1-7ubuntu1"]
    assert match.namespace == "ubuntu:18.04"
    assert match_packages([libexpat("2.2.5-3ubuntu0.2")], bionic, lookup) == []
