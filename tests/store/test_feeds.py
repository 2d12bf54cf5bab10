"""Tests of vulnerability records by feed group and of feed sync state."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest

from chalicelib.store import Store
from chalicelib.vulns.interface import VulnRecord
from tests.store.conftest import START_TIME, FakeClock
from tests.store.factories import vuln_record

SYNCED = datetime.datetime(2024, 4, 30, 6, 0, tzinfo=datetime.UTC)


class FeedReadError(Exception):
    """An importer error raised halfway through a feed."""


def _failing_records(good: int) -> Iterator[VulnRecord]:
    for index in range(good):
        yield vuln_record(f"CVE-2024-{index:05d}", "openssl")
    raise FeedReadError(f"feed truncated after {good} records")


def test_replace_feed_group_stores_records(store: Store, clock: FakeClock) -> None:
    records = [vuln_record("CVE-2024-1", "openssl"), vuln_record("CVE-2024-2", "zlib")]

    count = store.replace_feed_group("osv", "debian:12", records, synced_at=SYNCED)

    assert count == 2
    assert store.find_vuln_records("debian:12", ["openssl", "zlib"]) == records
    [group] = store.list_feed_groups()
    assert group.feed == "osv"
    assert group.group == "debian:12"
    assert group.record_count == 2
    assert group.last_sync == SYNCED
    assert group.last_error is None
    assert group.created_at == START_TIME
    assert group.updated_at == START_TIME


def test_replace_feed_group_replaces_old_records(store: Store, clock: FakeClock) -> None:
    store.replace_feed_group(
        "osv", "debian:12", [vuln_record("CVE-2024-1", "openssl")], synced_at=SYNCED
    )
    later = clock.advance(3600)
    next_sync = SYNCED + datetime.timedelta(days=1)

    store.replace_feed_group(
        "osv", "debian:12", [vuln_record("CVE-2024-2", "openssl")], synced_at=next_sync
    )

    found = store.find_vuln_records("debian:12", ["openssl"])
    assert [record.id for record in found] == ["CVE-2024-2"]
    [group] = store.list_feed_groups()
    assert group.record_count == 1
    assert group.last_sync == next_sync
    assert group.created_at == START_TIME
    assert group.updated_at == later


def test_replace_feed_group_keeps_other_groups(store: Store) -> None:
    store.replace_feed_group("osv", "debian:12", [vuln_record("CVE-1", "a")], synced_at=SYNCED)
    store.replace_feed_group(
        "osv", "alpine:3.19", [vuln_record("CVE-2", "a", "alpine:3.19")], synced_at=SYNCED
    )

    store.replace_feed_group("osv", "debian:12", [], synced_at=SYNCED)

    assert store.find_vuln_records("debian:12", ["a"]) == []
    assert [record.id for record in store.find_vuln_records("alpine:3.19", ["a"])] == ["CVE-2"]
    counts = {group.group: group.record_count for group in store.list_feed_groups()}
    assert counts == {"alpine:3.19": 1, "debian:12": 0}


def test_replace_feed_group_rollback_keeps_old_data(store: Store, clock: FakeClock) -> None:
    old = [vuln_record("CVE-2023-1", "openssl"), vuln_record("CVE-2023-2", "openssl")]
    store.replace_feed_group("osv", "debian:12", old, synced_at=SYNCED)
    clock.advance(60)

    # More good records than one insert batch, so some were written before the failure.
    with pytest.raises(FeedReadError, match="truncated after 1200"):
        store.replace_feed_group(
            "osv", "debian:12", _failing_records(1_200), synced_at=SYNCED + datetime.timedelta(1)
        )

    assert store.find_vuln_records("debian:12", ["openssl"]) == old
    [group] = store.list_feed_groups()
    assert group.record_count == 2
    assert group.last_sync == SYNCED
    assert group.updated_at == START_TIME


def test_replace_feed_group_rollback_new_group_leaves_nothing(store: Store) -> None:
    with pytest.raises(FeedReadError):
        store.replace_feed_group("osv", "debian:12", _failing_records(10), synced_at=SYNCED)

    assert store.list_feed_groups() == []
    assert store.find_vuln_records("debian:12", ["openssl"]) == []


def test_replace_feed_group_thousands_of_records(store: Store) -> None:
    records = (vuln_record(f"CVE-2024-{index:05d}", f"pkg{index % 700}") for index in range(7_000))

    count = store.replace_feed_group("osv", "debian:12", records, synced_at=SYNCED)

    assert count == 7_000
    found = store.find_vuln_records("debian:12", ["pkg3", "pkg699"])
    assert len(found) == 20
    assert {record.package for record in found} == {"pkg3", "pkg699"}


def test_replace_feed_group_clears_last_error(store: Store) -> None:
    store.record_feed_error("osv", "debian:12", "HTTP 503 from the feed source")

    store.replace_feed_group("osv", "debian:12", [], synced_at=SYNCED)

    [group] = store.list_feed_groups()
    assert group.last_error is None


def test_replace_feed_group_rejects_naive_synced_at(store: Store) -> None:
    with pytest.raises(ValueError, match="synced_at"):
        store.replace_feed_group("osv", "debian:12", [], synced_at=datetime.datetime(2024, 1, 1))


def test_record_feed_error_new_group(store: Store) -> None:
    store.record_feed_error("osv", "debian:12", "HTTP 503 from the feed source")

    [group] = store.list_feed_groups()
    assert group.record_count == 0
    assert group.last_sync is None
    assert group.last_error == "HTTP 503 from the feed source"


def test_record_feed_error_keeps_records(store: Store, clock: FakeClock) -> None:
    store.replace_feed_group("osv", "debian:12", [vuln_record("CVE-1", "a")], synced_at=SYNCED)
    later = clock.advance(60)

    store.record_feed_error("osv", "debian:12", "connection reset")

    [group] = store.list_feed_groups()
    assert group.record_count == 1
    assert group.last_sync == SYNCED
    assert group.last_error == "connection reset"
    assert group.updated_at == later
    assert len(store.find_vuln_records("debian:12", ["a"])) == 1


def test_list_feed_groups_ordered(store: Store) -> None:
    for feed, group in [("osv", "pypi"), ("alpine-secdb", "alpine:3.19"), ("osv", "debian:12")]:
        store.replace_feed_group(feed, group, [], synced_at=SYNCED)

    listed = [(group.feed, group.group) for group in store.list_feed_groups()]

    assert listed == [("alpine-secdb", "alpine:3.19"), ("osv", "debian:12"), ("osv", "pypi")]


def test_find_vuln_records_round_trips_fields(store: Store) -> None:
    record = vuln_record("CVE-2024-1", "openssl").model_copy(
        update={"summary": "buffer overflow", "will_not_fix": True, "versions": ["1.0-1"]}
    )
    store.replace_feed_group("osv", "debian:12", [record], synced_at=SYNCED)

    assert store.find_vuln_records("debian:12", ["openssl"]) == [record]


def test_find_vuln_records_matches_namespace_exactly(store: Store) -> None:
    store.replace_feed_group("osv", "debian:12", [vuln_record("CVE-1", "a")], synced_at=SYNCED)

    assert store.find_vuln_records("debian:11", ["a"]) == []
    assert store.find_vuln_records("debian:12", ["A"]) == []


def test_find_vuln_records_same_namespace_two_feeds(store: Store) -> None:
    store.replace_feed_group("osv", "debian:12", [vuln_record("CVE-1", "a")], synced_at=SYNCED)
    store.replace_feed_group("nvd", "debian:12", [vuln_record("CVE-2", "a")], synced_at=SYNCED)

    found = store.find_vuln_records("debian:12", ["a"])

    assert [record.id for record in found] == ["CVE-1", "CVE-2"]


def test_find_vuln_records_empty_package_list(store: Store) -> None:
    store.replace_feed_group("osv", "debian:12", [vuln_record("CVE-1", "a")], synced_at=SYNCED)

    assert store.find_vuln_records("debian:12", []) == []


def test_find_vuln_records_many_packages(store: Store) -> None:
    records = [vuln_record(f"CVE-{index}", f"pkg{index:04d}") for index in range(1_100)]
    store.replace_feed_group("osv", "debian:12", records, synced_at=SYNCED)
    # More names than one lookup batch, with duplicates and names that have no records.
    requested = [f"pkg{index:04d}" for index in range(0, 1_100, 2)] * 2 + ["absent"] * 3

    found = store.find_vuln_records("debian:12", requested)

    assert [record.package for record in found] == sorted(set(requested) - {"absent"})
