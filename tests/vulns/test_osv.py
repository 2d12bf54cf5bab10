"""Tests of the OSV importer on real records: PyPA, Go, RustSec, GitHub, Ubuntu and Debian."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.vulns.interface import AffectedRange, FeedError, RangeEvent, Severity, VulnRecord
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records

PYPA_FILES = 2661
PYPA_WITHDRAWN = 10


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CBaseLoader)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def by_id(records: list[VulnRecord]) -> dict[str, VulnRecord]:
    return {record.id: record for record in records}


@pytest.fixture(scope="module")
def pypa_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "pypi" / "pypa-advisory-database" / "vulns"


@pytest.fixture(scope="module")
def pypa_read(pypa_dir: Path) -> tuple[list[VulnRecord], FeedReadStats]:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("osv", str(pypa_dir)), stats))
    return records, stats


def test_osv_pypa_database_parses_every_file(
    pypa_read: tuple[list[VulnRecord], FeedReadStats],
) -> None:
    _, stats = pypa_read
    assert stats.files_read == PYPA_FILES
    assert stats.files_failed == 0
    assert stats.failures == []


def test_osv_pypa_database_drops_withdrawn_records(
    pypa_read: tuple[list[VulnRecord], FeedReadStats],
) -> None:
    records, _ = pypa_read
    ids = [record.id for record in records]
    # Every PyPA record names one package, so each live file gives exactly one record.
    assert len(records) == PYPA_FILES - PYPA_WITHDRAWN
    assert len(set(ids)) == len(ids)
    assert "PYSEC-2023-73" not in ids  # withdrawn redis record
    assert {record.namespace for record in records} == {"pypi"}


def test_osv_pypa_record_keeps_ecosystem_ranges_and_aliases(pypa_dir: Path) -> None:
    [record] = parse_osv(load_yaml(pypa_dir / "urllib3" / "PYSEC-2023-192.yaml"))

    assert record.id == "PYSEC-2023-192"
    assert record.namespace == "pypi"
    assert record.package == "urllib3"
    assert record.aliases == ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"]
    # The GIT range (commit hashes) is dropped; the two-interval ECOSYSTEM range is kept.
    assert record.ranges == [
        AffectedRange(
            type="ECOSYSTEM",
            events=[
                RangeEvent(introduced="2.0.0"),
                RangeEvent(fixed="2.0.6"),
                RangeEvent(introduced="0"),
                RangeEvent(fixed="1.26.17"),
            ],
        )
    ]
    assert "1.26.16" in record.versions
    assert "1.10" in record.versions
    assert record.link == (
        "https://github.com/urllib3/urllib3/security/advisories/GHSA-v845-jxx5-vc9f"
    )
    assert record.modified == "2023-10-10T14:28:19.389317Z"
    assert record.source == "osv"


def test_osv_pypa_severity_from_cvss_vector(pypa_dir: Path) -> None:
    [record] = parse_osv(load_yaml(pypa_dir / "urllib3" / "PYSEC-2023-192.yaml"))

    [score] = record.cvss
    assert score.version == "3.1"
    assert score.vector == "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"
    assert score.base_score == 8.1
    assert score.exploitability_score == 2.8
    assert score.impact_score == 5.2
    assert record.severity is Severity.HIGH
    assert not record.severity_from_vendor


def test_osv_pypa_record_without_severity_is_unknown(pypa_dir: Path) -> None:
    [record] = parse_osv(load_yaml(pypa_dir / "urllib3" / "PYSEC-2018-32.yaml"))

    assert record.cvss == []
    assert record.severity is Severity.UNKNOWN
    # The first ADVISORY reference wins over earlier WEB ones.
    assert record.link == "https://access.redhat.com/errata/RHSA-2019:2272"


def test_osv_pypa_last_affected_event_kept(pypa_dir: Path) -> None:
    [record] = parse_osv(load_yaml(pypa_dir / "py" / "PYSEC-2022-42969.yaml"))

    assert record.ranges[0].events == [
        RangeEvent(introduced="0"),
        RangeEvent(last_affected="1.11.0"),
    ]


def test_osv_pypi_name_normalized(pypa_dir: Path) -> None:
    [record] = parse_osv(load_yaml(pypa_dir / "jw.util" / "PYSEC-2020-341.yaml"))

    assert record.package == "jw-util"


def test_osv_withdrawn_record_returns_nothing(pypa_dir: Path) -> None:
    assert parse_osv(load_yaml(pypa_dir / "redis" / "PYSEC-2023-73.yaml")) == []


@pytest.mark.parametrize(
    ("folder", "files", "withdrawn", "namespace"),
    [
        (("go", "golang-vulndb", "data", "osv"), 4291, 17, "go"),
        (("crates", "rustsec-osv", "crates"), 1206, 13, "crates.io"),
    ],
)
def test_osv_semver_databases_parse_every_record(
    feeds_dir: Path, folder: tuple[str, ...], files: int, withdrawn: int, namespace: str
) -> None:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("osv", str(feeds_dir.joinpath(*folder))), stats))

    assert stats.files_read == files
    assert stats.files_failed == 0
    assert len({record.id for record in records}) == files - withdrawn
    assert {record.namespace for record in records} == {namespace}
    assert {r.type for record in records for r in record.ranges} == {"SEMVER"}


def test_osv_rustsec_severity_from_cvss_v4(feeds_dir: Path) -> None:
    path = feeds_dir / "crates" / "rustsec-osv" / "crates"
    [record] = parse_osv(load_json(path / "RUSTSEC-2024-0445.json"))

    [score] = record.cvss
    assert score.version == "4.0"
    assert score.base_score == 2.3
    assert record.severity is Severity.LOW
    assert record.namespace == "crates.io"
    assert record.package == "cap-primitives"


def test_osv_ghsa_lodash_one_record_per_package(feeds_dir: Path) -> None:
    records = parse_osv(load_json(feeds_dir / "npm" / "ghsa" / "GHSA-jf85-cpcp-j695.json"))

    fixed = {record.package: record.ranges[0].events[-1].fixed for record in records}
    assert fixed == {
        "lodash": "4.17.12",
        "lodash-es": "4.17.14",
        "lodash-amd": "4.17.13",
        "lodash.defaultsdeep": "4.6.1",
    }
    lodash = records[0]
    assert lodash.namespace == "npm"
    assert lodash.aliases == ["CVE-2019-10744"]
    assert lodash.summary == "Prototype Pollution in lodash"
    assert lodash.link == "https://nvd.nist.gov/vuln/detail/CVE-2019-10744"
    # GitHub's own label decides the severity; the vector scores 9.1, also Critical.
    assert lodash.severity is Severity.CRITICAL
    assert lodash.severity_from_vendor
    assert lodash.cvss[0].base_score == 9.1
    assert lodash.cvss[0].exploitability_score == 3.9
    assert lodash.cvss[0].impact_score == 5.2


def test_osv_ghsa_moderate_maps_to_medium(feeds_dir: Path) -> None:
    [record] = parse_osv(load_json(feeds_dir / "npm" / "ghsa" / "GHSA-vh95-rmgr-6w4m.json"))

    assert record.severity is Severity.MEDIUM


def test_osv_ghsa_minimist_affected_entries_merged(feeds_dir: Path) -> None:
    records = parse_osv(load_json(feeds_dir / "npm" / "ghsa" / "GHSA-vh95-rmgr-6w4m.json"))

    assert len(records) == 1
    assert records[0].package == "minimist"
    assert [r.events for r in records[0].ranges] == [
        [RangeEvent(introduced="0"), RangeEvent(fixed="0.2.1")],
        [RangeEvent(introduced="1.0.0"), RangeEvent(fixed="1.2.3")],
    ]


def test_osv_ubuntu_releases_and_vendor_severity(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "ubuntu" / "vunnel-osv" / "UBUNTU-CVE-2014-9913.json"
    records = parse_osv(load_json(path))

    namespaces = {record.namespace: record for record in records}
    assert sorted(namespaces) == ["ubuntu:14.04", "ubuntu:16.04"]
    assert namespaces["ubuntu:16.04"].package == "unzip"
    assert namespaces["ubuntu:16.04"].ranges[0].events[-1].fixed == "6.0-20ubuntu1.1"
    assert namespaces["ubuntu:16.04"].versions == [
        "6.0-17ubuntu1",
        "6.0-19ubuntu1",
        "6.0-19ubuntu2",
        "6.0-20ubuntu1",
    ]
    # Ubuntu's priority (negligible) wins over the CVSS 3.0 score of 4.0 (Medium).
    assert namespaces["ubuntu:14.04"].severity is Severity.NEGLIGIBLE
    assert namespaces["ubuntu:14.04"].severity_from_vendor
    assert namespaces["ubuntu:14.04"].cvss[0].base_score == 4.0


def test_osv_ubuntu_withdrawn_sample_dropped(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "ubuntu" / "vunnel-osv" / "UBUNTU-CVE-2013-2208.json"

    assert parse_osv(load_json(path)) == []


def test_osv_debian_advisory(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "debian" / "osvdev-osv" / "DSA-3029-1.json"
    [record] = parse_osv(load_json(path))

    assert record.namespace == "debian:7"
    assert record.package == "nginx"
    assert record.aliases == ["CVE-2014-3616"]
    assert record.ranges[0].events[-1].fixed == "1.2.1-2.2+wheezy3"
    assert record.link == "https://www.debian.org/security/2014/dsa-3029"


def test_osv_record_without_affected_packages(feeds_dir: Path) -> None:
    # osv.dev's DLA-3623-1 sample lists no affected package at all.
    path = feeds_dir / "samples" / "debian" / "osvdev-osv" / "DLA-3623-1.json"

    assert parse_osv(load_json(path)) == []


def test_osv_document_without_id_raises(feeds_dir: Path) -> None:
    # An OpenVEX document is JSON but not an OSV record.
    path = feeds_dir / "samples" / "ubuntu" / "vunnel-vex-CVE-2023-38545.json"

    with pytest.raises(FeedError, match="no `id`"):
        parse_osv(load_json(path))


def test_osv_event_without_kind_raises() -> None:
    # Hand-made: no real record has a range event without a kind.
    data = {
        "id": "TEST-0001",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "example"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"note": "x"}]}],
            }
        ],
    }

    with pytest.raises(FeedError, match="TEST-0001"):
        parse_osv(data)


def test_osv_id_not_repeated_in_aliases() -> None:
    # Hand-made: a record that lists its own id among its aliases, which the schema allows.
    data = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "aliases": ["GHSA-aaaa-bbbb-cccc", "CVE-2020-0001", "CVE-2020-0001"],
        "affected": [
            {
                "package": {"ecosystem": "npm", "name": "example"},
                "versions": ["1.0.0"],
            }
        ],
    }

    [record] = parse_osv(data)
    assert record.aliases == ["CVE-2020-0001"]
    assert record.versions == ["1.0.0"]
    assert record.ranges == []


def test_osv_unsupported_ecosystem_skipped() -> None:
    # Hand-made: the feeds here hold no record of an ecosystem the importer does not map.
    data = {
        "id": "TEST-0002",
        "affected": [
            {
                "package": {"ecosystem": "Bitnami", "name": "redis"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }

    assert parse_osv(data) == []
