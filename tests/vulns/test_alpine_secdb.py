"""Tests of the Alpine secdb importer on the real secdb snapshots and samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.vulns.alpine_secdb import extract_ids, parse_alpine_secdb, secdb_namespace
from chalicelib.vulns.interface import FeedError, RangeEvent, VulnRecord


def load_secdb(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=yaml.CBaseLoader)


def parse_file(path: Path) -> list[VulnRecord]:
    return parse_alpine_secdb(load_secdb(path), path.as_posix())


def find(records: list[VulnRecord], vuln_id: str, package: str) -> VulnRecord:
    [record] = [r for r in records if r.id == vuln_id and r.package == package]
    return record


def fixed_version(record: VulnRecord) -> str | None:
    [affected_range] = record.ranges
    assert affected_range.events[0] == RangeEvent(introduced="0")
    return affected_range.events[1].fixed


@pytest.fixture(scope="module")
def secdb_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "alpine" / "alpine-secdb"


@pytest.mark.parametrize(
    ("entry", "ids"),
    [
        ("CVE-2019-14697", ["CVE-2019-14697"]),
        ("CVE-2019-5060 TALOS-2019-0844", ["CVE-2019-5060", "TALOS-2019-0844"]),
        ("CVE_2019-2426", ["CVE-2019-2426"]),
        ("CVE 2018-16859", ["CVE-2018-16859"]),
        ("CVE-2017-17434-1", ["CVE-2017-17434"]),
        ("CVE-2017-8073.patch", ["CVE-2017-8073"]),
        ("CVE-2018-8897  XSA-260", ["CVE-2018-8897", "XSA-260"]),
        ("CVE-????-?????  XSA-295", ["XSA-295"]),
        ("XSA-207", ["XSA-207"]),
        ("ZBX-11023", ["ZBX-11023"]),
        ("CVE-2016-10134 ZBX-11023", ["CVE-2016-10134", "ZBX-11023"]),
        ("wnpa-sec-2017-18", ["wnpa-sec-2017-18"]),
        ("CVE-2018-14469 (IKEv1)", ["CVE-2018-14469"]),
        ("CVE-2018-16227 (802.11)", ["CVE-2018-16227"]),
        ("CVE-2017-2616 (+ regression fix)", ["CVE-2017-2616"]),
        (
            "CVE-2017-5753 CVE-2017-5715 CVE-2017-5754 XSA-254 XPTI",
            ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754", "XSA-254"],
        ),
    ],
)
def test_extract_ids_from_real_entries(entry: str, ids: list[str]) -> None:
    assert extract_ids(entry) == ids


def test_secdb_v310_musl_records(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.10" / "main.yaml")

    musl = [r for r in records if r.package == "musl"]
    assert {r.id: fixed_version(r) for r in musl} == {
        "CVE-2019-14697": "1.1.22-r3",
        "CVE-2016-8859": "1.1.15-r4",
    }
    assert {r.namespace for r in records} == {"alpine:3.10"}
    assert {r.source for r in records} == {"alpine-secdb"}


def test_secdb_v311_both_repositories(secdb_dir: Path) -> None:
    main = parse_file(secdb_dir / "v3.11" / "main.yaml")
    community = parse_file(secdb_dir / "v3.11" / "community.yaml")

    assert {r.namespace for r in main + community} == {"alpine:3.11"}
    assert fixed_version(find(community, "CVE-2019-2426", "openjdk7")) == "7.211.2.6.17-r0"
    assert len({(r.id, r.package) for r in main}) == len(main)


def test_secdb_talos_suffix_becomes_alias(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.9" / "main.yaml")

    record = find(records, "CVE-2019-5060", "sdl2_image")
    assert record.aliases == ["TALOS-2019-0844"]
    assert fixed_version(record) == "2.0.5-r0"
    assert not [r for r in records if r.id == "TALOS-2019-0844"]


def test_secdb_space_separated_cve_id(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.9" / "main.yaml")

    assert fixed_version(find(records, "CVE-2018-16859", "ansible")) == "2.7.3-r0"


def test_secdb_xen_advisory_without_cve(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.10" / "main.yaml")

    record = find(records, "XSA-207", "xen")
    assert record.aliases == []
    assert fixed_version(record) == "4.7.1-r5"
    assert find(records, "CVE-2017-2615", "xen").aliases == ["XSA-208"]
    assert find(records, "XSA-295", "xen").aliases == []


def test_secdb_several_cves_in_one_entry(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.7" / "main.yaml")

    for cve_id in ("CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"):
        record = find(records, cve_id, "xen")
        assert record.aliases == []
        assert fixed_version(record) == "4.9.1-r3"
    xsa = find(records, "XSA-254", "xen")
    assert xsa.aliases == ["CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"]


def test_secdb_not_affected_key_skipped(secdb_dir: Path) -> None:
    records = parse_file(secdb_dir / "v3.8" / "main.yaml")

    assert not [r for r in records if r.package == "db"]
    assert not [r for r in records if r.id == "CVE-2016-0682"]


def test_secdb_repeated_id_uses_lowest_fix(secdb_dir: Path) -> None:
    # wpa_supplicant lists the KRACK CVEs under both 2.6-r7 (the patch) and 2.7-r0.
    records = parse_file(secdb_dir / "v3.9" / "main.yaml")

    record = find(records, "CVE-2017-13077", "wpa_supplicant")
    assert fixed_version(record) == "2.6-r7"
    # 1.0.28-r7 sorts below 1.0.28-r8 by release number.
    assert fixed_version(find(records, "CVE-2018-19758", "libsndfile")) == "1.0.28-r7"


def test_secdb_empty_release_gives_no_records(secdb_dir: Path) -> None:
    assert parse_file(secdb_dir / "v3.3" / "community.yaml") == []


def test_secdb_every_snapshot_parses(secdb_dir: Path) -> None:
    paths = sorted(secdb_dir.glob("v*/*.yaml"))
    records = [record for path in paths for record in parse_file(path)]

    assert len(paths) == 18
    assert len(records) > 11000
    assert all(r.id.startswith(("CVE-", "XSA-", "ZBX-", "TALOS-", "wnpa-sec-")) for r in records)


def test_secdb_sample_json(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "alpine" / "vuln-list-update-secdb-311-main.json"
    records = parse_file(path)

    assert [(r.id, r.namespace, r.package, fixed_version(r)) for r in records] == [
        ("CVE-2018-1333", "alpine:3.11", "apache2", "2.4.34-r0"),
        ("CVE-2018-8011", "alpine:3.11", "apache2", "2.4.34-r0"),
    ]


def test_secdb_sample_json_empty_fix_entry(feeds_dir: Path) -> None:
    # The 3.12 sample maps 2.8.0-r0 to `{}` instead of a list of ids.
    path = feeds_dir / "samples" / "alpine" / "vuln-list-update-secdb-312-main.json"
    records = parse_file(path)

    assert [(r.id, r.package, fixed_version(r)) for r in records] == [
        ("CVE-2018-16876", "ansible", "2.7.9-r0"),
    ]
    assert records[0].namespace == "alpine:3.12"


def test_secdb_edge_release(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "alpine" / "vuln-list-update-secdb-edge-main.json"
    records = parse_file(path)

    assert {r.namespace for r in records} == {"alpine:edge"}
    assert fixed_version(find(records, "CVE-2021-36159", "apk-tools")) == "2.12.6-r0"


def test_secdb_release_from_folder() -> None:
    # Hand-made: every real document has `distroversion`, so this one drops it.
    data = {"packages": [{"pkg": {"name": "musl", "secfixes": {"1.2.4-r2": ["CVE-2025-26519"]}}}]}

    assert secdb_namespace(data, "mirror/v3.18/main.yaml") == "alpine:3.18"
    [record] = parse_alpine_secdb(data, "mirror/v3.18/main.yaml")
    assert record.namespace == "alpine:3.18"


def test_secdb_without_release_raises() -> None:
    # Hand-made, as above, with no release in the path either.
    data: dict[str, list[str]] = {"packages": []}

    with pytest.raises(FeedError, match="no release"):
        parse_alpine_secdb(data, "main.yaml")


def test_secdb_non_secdb_document_raises(feeds_dir: Path) -> None:
    path = feeds_dir / "npm" / "ghsa" / "GHSA-vh95-rmgr-6w4m.json"

    with pytest.raises(FeedError, match="not an Alpine secdb document"):
        parse_alpine_secdb(json.loads(path.read_text(encoding="utf-8")), str(path))
