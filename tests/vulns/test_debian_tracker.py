"""Tests of the Debian security tracker importer on the real advisory lists and JSON samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.debian_tracker import (
    parse_advisory_list,
    parse_debian_tracker,
    parse_tracker_json,
    urgency_severity,
)
from chalicelib.vulns.interface import (
    AffectedRange,
    FeedError,
    RangeEvent,
    Severity,
    VulnRecord,
)
from chalicelib.vulns.matcher import RecordLookup, match_packages
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records


def find(records: list[VulnRecord], vuln_id: str, namespace: str, package: str) -> VulnRecord:
    [record] = [
        r for r in records if (r.id, r.namespace, r.package) == (vuln_id, namespace, package)
    ]
    return record


def fixed_version(record: VulnRecord) -> str | None:
    [affected_range] = record.ranges
    assert affected_range.events[0] == RangeEvent(introduced="0")
    return affected_range.events[1].fixed if len(affected_range.events) > 1 else None


@pytest.fixture(scope="module")
def tracker_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "debian" / "security-tracker" / "data"


@pytest.fixture(scope="module")
def dsa_records(tracker_dir: Path) -> list[VulnRecord]:
    path = tracker_dir / "DSA" / "list"
    return list(parse_debian_tracker(path.as_posix(), path.read_bytes()))


@pytest.fixture(scope="module")
def json_records(feeds_dir: Path) -> list[VulnRecord]:
    path = feeds_dir / "samples" / "debian" / "vunnel-tracker-debian.json"
    return list(parse_debian_tracker(path.as_posix(), path.read_bytes()))


def test_dsa_list_counts(dsa_records: list[VulnRecord]) -> None:
    assert len(dsa_records) == 5420
    assert len({record.id for record in dsa_records}) == 4225
    assert {record.source for record in dsa_records} == {"debian-tracker"}


def test_dsa_record_per_release(dsa_records: list[VulnRecord]) -> None:
    stretch = find(dsa_records, "DSA-4480-1", "debian:9", "redis")
    buster = find(dsa_records, "DSA-4480-1", "debian:10", "redis")

    assert stretch.aliases == ["CVE-2019-10192", "CVE-2019-10193"]
    assert fixed_version(stretch) == "3:3.2.6-3+deb9u3"
    assert fixed_version(buster) == "5:5.0.3-4+deb10u1"
    assert buster.summary == "security update"
    assert buster.link == "https://security-tracker.debian.org/tracker/DSA-4480-1"


def test_dsa_end_of_life_will_not_fix(dsa_records: list[VulnRecord]) -> None:
    record = find(dsa_records, "DSA-3699-1", "debian:8", "virtualbox")

    assert record.will_not_fix
    assert fixed_version(record) is None


def test_dsa_old_codename_skipped(dsa_records: list[VulnRecord]) -> None:
    # DSA-141 only lists woody (3.0), which has no namespace.
    assert not [record for record in dsa_records if record.id == "DSA-141"]


def test_dla_list_counts(tracker_dir: Path) -> None:
    path = tracker_dir / "DLA" / "list"
    records = list(parse_debian_tracker(path.as_posix(), path.read_bytes()))

    assert len(records) == 3535
    record = find(records, "DLA-3380-1", "debian:10", "firmware-nonfree")
    assert len(record.aliases) == 11
    assert record.aliases[0] == "CVE-2020-12362"
    assert fixed_version(record) == "20190114+really20220913-0+deb10u1"


def test_advisory_list_states() -> None:
    text = (
        "[10 Jan 2023] DSA-9999-1 foo - security update\n"
        "\t{CVE-2023-0001}\n"
        "\t[bookworm] - foo <unfixed>\n"
        "\t[bullseye] - foo <no-dsa> (Minor issue)\n"
        "\t[buster] - foo <not-affected> (Vulnerable code not present)\n"
        "\t[trixie] - foo 1.2-3\n"
    )
    # Hand-made: no real list has every state under one advisory.
    records = parse_advisory_list(text, "hand-made")

    assert [r.namespace for r in records] == ["debian:12", "debian:11", "debian:13"]
    unfixed, no_dsa, fixed = records
    assert fixed_version(unfixed) is None
    assert not unfixed.will_not_fix
    assert no_dsa.will_not_fix
    assert fixed_version(fixed) == "1.2-3"


def test_advisory_list_malformed_header_skipped(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "debian" / "vuln-list-update-tracker-DLA-list"
    records = parse_advisory_list(path.read_text(), path.name)

    assert [(r.id, r.namespace, r.package) for r in records] == [
        ("DLA-2711-1", "debian:9", "thunderbird")
    ]
    assert len(records[0].aliases) == 4


def test_advisory_list_without_advisory_rejected() -> None:
    with pytest.raises(FeedError, match="contains no advisory"):
        parse_advisory_list("[19 Jul 2021] MALFORMED HEADER\n", "bad-list")


def test_tracker_json_counts(json_records: list[VulnRecord]) -> None:
    assert len(json_records) == 21
    assert {record.source for record in json_records} == {"debian-tracker"}


def test_tracker_json_fixed_record(json_records: list[VulnRecord]) -> None:
    record = find(json_records, "CVE-2008-7220", "debian:10", "prototypejs")

    assert fixed_version(record) == "1.6.0.2-1"
    assert record.severity is Severity.HIGH
    assert record.severity_from_vendor
    assert record.summary is not None
    assert record.summary.startswith("Unspecified vulnerability in Prototype")


def test_tracker_json_sid_namespace(json_records: list[VulnRecord]) -> None:
    assert find(json_records, "CVE-2008-7220", "debian:unstable", "prototypejs")


def test_tracker_json_not_affected_and_open(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "debian" / "osvdev-tracker-json-mock.json"
    records = list(parse_debian_tracker(path.as_posix(), path.read_bytes()))

    # `fixed_version: "0"` in every release: never affected.
    assert not [r for r in records if r.id == "CVE-2014-1424"]
    open_record = find(records, "CVE-2016-1585", "debian:12", "apparmor")
    assert fixed_version(open_record) is None
    assert open_record.severity is Severity.NEGLIGIBLE
    fixed = find(records, "CVE-2016-1585", "debian:13", "apparmor")
    assert fixed_version(fixed) == "3.0.12-1"


def test_tracker_json_nodsa_will_not_fix() -> None:
    # Hand-made: the samples carry no `nodsa` fields, which the live export has.
    document = {
        "foo": {
            "CVE-2023-0002": {
                "releases": {
                    "bookworm": {
                        "status": "open",
                        "urgency": "low",
                        "nodsa": "Minor issue",
                        "nodsa_reason": "ignored",
                    },
                    "bullseye": {"status": "open", "urgency": "low", "nodsa": "Minor issue"},
                    "buster": {"status": "open", "urgency": "low"},
                    "trixie": {"status": "undetermined", "urgency": "low"},
                }
            },
            "TEMP-0000000-1A2B3C": {"releases": {"bookworm": {"status": "open"}}},
        }
    }
    records = parse_tracker_json(document, "hand-made")

    assert [r.namespace for r in records] == ["debian:12", "debian:11", "debian:10"]
    assert find(records, "CVE-2023-0002", "debian:12", "foo").will_not_fix
    assert find(records, "CVE-2023-0002", "debian:11", "foo").will_not_fix
    assert not find(records, "CVE-2023-0002", "debian:10", "foo").will_not_fix


def test_tracker_json_empty_releases_skipped(json_records: list[VulnRecord]) -> None:
    # chromium-browser's CVE-2022-0358 is exported with `"releases": []`.
    assert not [r for r in json_records if r.package == "chromium-browser"]


def test_tracker_json_not_object_rejected() -> None:
    with pytest.raises(FeedError, match="expected an object keyed by source package"):
        parse_tracker_json([], "list.json")


@pytest.mark.parametrize(
    ("urgency", "severity"),
    [
        ("unimportant", Severity.NEGLIGIBLE),
        ("low**", Severity.LOW),
        ("medium", Severity.MEDIUM),
        ("high*", Severity.HIGH),
        ("not yet assigned", Severity.UNKNOWN),
        ("end-of-life", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
    ],
)
def test_urgency_severity(urgency: str | None, severity: Severity) -> None:
    assert urgency_severity(urgency) is severity


def test_debian_tracker_source_reads_lists(tracker_dir: Path) -> None:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("debian-tracker", str(tracker_dir)), stats))

    assert stats.files_read == 3
    assert stats.files_failed == 0
    assert len(records) == 5420 + 3535 + 208


def redis_package(version: str) -> Package:
    return Package(
        name="redis-server",
        version=version,
        type=PackageType.DPKG,
        location="/var/lib/dpkg/status",
        source_name="redis",
        source_version=version,
    )


def lookup_in(records: list[VulnRecord]) -> RecordLookup:
    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        return [r for r in records if r.namespace == namespace and r.package in names]

    return lookup


def test_match_dsa_by_source_package(dsa_records: list[VulnRecord]) -> None:
    stretch = Distro(id="debian", version_id="9")
    lookup = lookup_in(dsa_records)

    [match] = match_packages([redis_package("3:3.2.6-3+deb9u2")], stretch, lookup)
    assert match.vuln_id == "DSA-4480-1"
    assert match.fixed_in == ["3:3.2.6-3+deb9u3"]
    assert match.namespace == "debian:9"
    assert match.package_name == "redis-server"
    assert match_packages([redis_package("3:3.2.6-3+deb9u3")], stretch, lookup) == []


def test_match_dsa_reported_once_with_cves(dsa_records: list[VulnRecord]) -> None:
    # Hand-made tracker records of the DSA's two CVEs: the tracker JSON sample has no redis.
    cve_records = [
        VulnRecord(
            id=cve_id,
            namespace="debian:9",
            package="redis",
            severity=Severity.HIGH,
            severity_from_vendor=True,
            ranges=[
                AffectedRange(
                    type="ECOSYSTEM",
                    events=[RangeEvent(introduced="0"), RangeEvent(fixed="3:3.2.6-3+deb9u3")],
                )
            ],
            source="debian-tracker",
        )
        for cve_id in ("CVE-2019-10192", "CVE-2019-10193")
    ]
    stretch = Distro(id="debian", version_id="9")
    lookup = lookup_in(dsa_records + cve_records)

    matches = match_packages([redis_package("3:3.2.6-3+deb9u2")], stretch, lookup)

    assert [match.vuln_id for match in matches] == ["CVE-2019-10192", "CVE-2019-10193"]


def test_tracker_json_url_name_without_suffix(feeds_dir: Path, tmp_path: Path) -> None:
    # The export's URL ends in `/tracker/data/json`, so the name has no `.json` suffix.
    sample = feeds_dir / "samples" / "debian" / "vunnel-tracker-debian.json"
    export = tmp_path / "json"
    export.write_bytes(sample.read_bytes())

    records = list(iter_records(FeedSource("debian-tracker", str(export))))

    assert len(records) == 21


def test_tracker_json_parsed_lazily() -> None:
    # Hand-made: a truncated export, as an interrupted download leaves it.
    data = (
        b'{"foo": {"CVE-2023-0003": {"releases": {"bookworm": '
        b'{"status": "open", "urgency": "low"}}}}, "bar": {"CVE-'
    )
    records = parse_debian_tracker("json", data)

    first = next(records)
    assert (first.id, first.package) == ("CVE-2023-0003", "foo")
    with pytest.raises(FeedError, match="Debian tracker JSON json is invalid"):
        next(records)


def test_truncated_export_fails_source(tmp_path: Path) -> None:
    export = tmp_path / "data.json"
    export.write_bytes(
        b'{"foo": {"CVE-2023-0003": {"releases": {"bookworm": {"status": "open"}}}}, "bar": '
    )

    with pytest.raises(FeedError, match="failed to parse after 1 records"):
        list(iter_records(FeedSource("debian-tracker", str(export))))


def test_tracker_json_not_object_name_rejected() -> None:
    with pytest.raises(FeedError, match="is not a JSON object"):
        parse_debian_tracker("data.json", b"[]")
