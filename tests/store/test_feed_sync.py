"""Tests of staged feed sync, package lists, vulnerability updates and events in the store."""

from __future__ import annotations

import datetime

import pytest

from chalicelib.store import EventRecord, NotFoundError, Store
from chalicelib.vulns.interface import VulnRecord
from tests.store.conftest import START_TIME, FakeClock
from tests.store.factories import DIGEST, OTHER_DIGEST, new_image, summary, vuln_match, vuln_record

SYNCED = datetime.datetime(2024, 4, 30, 6, 0, tzinfo=datetime.UTC)
FEED = "vulnerabilities"
PACKAGES = [
    {
        "name": "libssl3",
        "version": "3.0.11-1~deb12u2",
        "type": "dpkg",
        "location": "/var/lib/dpkg/status",
        "source_name": "openssl",
        "source_version": "3.0.11-1~deb12u2",
        "files": ["/usr/lib/x86_64-linux-gnu/libssl.so.3"],
    },
    {"name": "requests", "version": "2.19.0", "type": "python", "location": "/app/x.dist-info"},
]


def _sync(store: Store, sync_id: str, records: list[VulnRecord], group: str = "debian:12") -> None:
    store.stage_feed_records(sync_id, FEED, records)
    store.swap_feed_group(
        sync_id, FEED, group, content_hash=sync_id, sources=["osv=/feeds"], synced_at=SYNCED
    )


def _staged_documents(store: Store) -> list[object]:
    from sqlalchemy import select

    from chalicelib.store.models import VulnRecordStaging

    with store._db.engine.connect() as connection:
        return list(connection.execute(select(VulnRecordStaging.record)).scalars())


def test_stage_feed_records_skips_unchanged(store: Store) -> None:
    first = vuln_record("CVE-2024-1", "openssl")
    _sync(store, "sync-1", [first])

    changed = first.model_copy(update={"summary": "now with a summary"})
    store.stage_feed_records("sync-2", FEED, [first, vuln_record("CVE-2024-2", "zlib")])
    unchanged_staged = _staged_documents(store)
    store.discard_staged_records("sync-2", FEED)
    store.stage_feed_records("sync-3", FEED, [changed])

    assert sorted(document is None for document in unchanged_staged) == [False, True]
    assert _staged_documents(store)[0]["summary"] == "now with a summary"


def test_stage_feed_records_returns_stable_hashes(store: Store) -> None:
    record = vuln_record("CVE-2024-1", "openssl")

    first = store.stage_feed_records("sync-1", FEED, [record])
    second = store.stage_feed_records("sync-2", FEED, [record.model_copy()])
    other = store.stage_feed_records("sync-3", FEED, [vuln_record("CVE-2024-2", "openssl")])

    assert first == second
    assert len(first[0]) == 64
    assert first != other


def test_swap_feed_group_adds_updates_and_removes(store: Store) -> None:
    kept = vuln_record("CVE-2024-1", "openssl")
    dropped = vuln_record("CVE-2024-2", "openssl")
    _sync(store, "sync-1", [kept, dropped])
    changed = kept.model_copy(update={"summary": "changed"})
    added = vuln_record("CVE-2024-3", "zlib")

    store.stage_feed_records("sync-2", FEED, [changed, added])
    swap = store.swap_feed_group(
        "sync-2", FEED, "debian:12", content_hash="h2", sources=["osv=/a"], synced_at=SYNCED
    )

    assert (swap.record_count, swap.added, swap.updated, swap.removed) == (2, 1, 1, 1)
    assert store.find_vuln_records("debian:12", ["openssl", "zlib"]) == [changed, added]
    group = store.get_feed_group(FEED, "debian:12")
    assert group is not None
    assert group.record_count == 2
    assert group.content_hash == "h2"
    assert group.sources == ("osv=/a",)
    assert _staged_documents(store) == []


def test_swap_feed_group_names_changed_packages(store: Store) -> None:
    unchanged = vuln_record("CVE-2024-1", "bash")
    changed = vuln_record("CVE-2024-2", "openssl")
    dropped = vuln_record("CVE-2024-3", "curl")
    _sync(store, "sync-1", [unchanged, changed, dropped])

    updated = changed.model_copy(update={"summary": "changed"})
    added = vuln_record("CVE-2024-4", "zlib")

    store.stage_feed_records("sync-2", FEED, [unchanged, updated, added])
    swap = store.swap_feed_group(
        "sync-2", FEED, "debian:12", content_hash="h2", sources=[], synced_at=SYNCED
    )

    assert swap.changed_packages == frozenset({"openssl", "curl", "zlib"})


def test_swap_feed_group_unchanged_records_stay(store: Store) -> None:
    record = vuln_record("CVE-2024-1", "openssl")
    _sync(store, "sync-1", [record])

    store.stage_feed_records("sync-2", FEED, [record])
    swap = store.swap_feed_group(
        "sync-2", FEED, "debian:12", content_hash="h", sources=[], synced_at=SYNCED
    )

    assert not swap.changed
    assert swap.changed_packages == frozenset()
    assert swap.record_count == 1
    assert store.find_vuln_records("debian:12", ["openssl"]) == [record]


def test_stage_feed_records_later_duplicate_wins(store: Store) -> None:
    first = vuln_record("CVE-2024-1", "openssl")
    second = first.model_copy(update={"summary": "from the second source"})

    store.stage_feed_records("sync-1", FEED, [first])
    store.stage_feed_records("sync-1", FEED, [second])
    swap = store.swap_feed_group(
        "sync-1", FEED, "debian:12", content_hash="h", sources=[], synced_at=SYNCED
    )

    assert swap.record_count == 1
    assert store.find_vuln_records("debian:12", ["openssl"]) == [second]


def test_stage_feed_records_splits_groups(store: Store) -> None:
    records = [
        vuln_record("CVE-2024-1", "openssl", "debian:12"),
        vuln_record("CVE-2024-1", "openssl", "debian:11"),
    ]

    store.stage_feed_records("sync-1", FEED, records)
    swap = store.swap_feed_group(
        "sync-1", FEED, "debian:11", content_hash="h", sources=[], synced_at=SYNCED
    )

    assert swap.record_count == 1
    assert store.find_vuln_records("debian:11", ["openssl"]) == [records[1]]
    assert store.find_vuln_records("debian:12", ["openssl"]) == []


def test_discard_staged_records_keeps_stored(store: Store) -> None:
    record = vuln_record("CVE-2024-1", "openssl")
    _sync(store, "sync-1", [record])

    store.stage_feed_records("sync-2", FEED, [vuln_record("CVE-2024-9", "openssl")])
    discarded = store.discard_staged_records("sync-2", FEED)

    assert discarded == 1
    assert store.find_vuln_records("debian:12", ["openssl"]) == [record]


def test_mark_feed_group_synced_clears_error(store: Store, clock: FakeClock) -> None:
    _sync(store, "sync-1", [vuln_record("CVE-2024-1", "openssl")])
    store.record_feed_error(FEED, "debian:12", "download failed")
    later = SYNCED + datetime.timedelta(days=1)

    store.mark_feed_group_synced(FEED, "debian:12", synced_at=later, sources=["osv=/b"])

    group = store.get_feed_group(FEED, "debian:12")
    assert group is not None
    assert group.last_error is None
    assert group.last_sync == later
    assert group.record_count == 1
    assert group.sources == ("osv=/b",)


def test_find_vuln_records_by_id_filters(store: Store) -> None:
    records = [
        vuln_record("CVE-2024-1", "openssl", "debian:12"),
        vuln_record("CVE-2024-1", "openssl", "debian:11"),
        vuln_record("CVE-2024-2", "zlib", "debian:12"),
    ]
    store.replace_feed_group(FEED, "debian:12", [records[0], records[2]], synced_at=SYNCED)
    store.replace_feed_group(FEED, "debian:11", [records[1]], synced_at=SYNCED)

    by_id = store.find_vuln_records_by_id(["CVE-2024-1"])
    both = ["CVE-2024-1", "CVE-2024-2"]
    in_namespace = store.find_vuln_records_by_id(both, namespaces=["debian:12"])
    by_package = store.find_vuln_records_by_id(both, package="zlib")

    assert [record.namespace for record in by_id] == ["debian:11", "debian:12"]
    assert [record.id for record in in_namespace] == ["CVE-2024-1", "CVE-2024-2"]
    assert by_package == [records[2]]


def test_finish_analysis_stores_package_list(store: Store) -> None:
    store.upsert_image(new_image())

    store.finish_analysis(DIGEST, {"packages": PACKAGES}, summary())

    packages = store.get_image_packages(DIGEST)
    assert packages is not None
    assert [package.name for package in packages] == ["libssl3", "requests"]
    assert packages[0].source_name == "openssl"
    assert packages[0].files == []


def test_get_image_packages_none_without_list(store: Store) -> None:
    store.upsert_image(new_image())
    assert store.get_image_packages(DIGEST) is None

    store.finish_analysis(DIGEST, {"packages": PACKAGES}, summary())
    from sqlalchemy import update

    from chalicelib.store.models import ImageAnalysis

    with store._db.engine.begin() as connection:
        connection.execute(update(ImageAnalysis).values(package_count=None))

    assert store.get_image_packages(DIGEST) is None
    store.save_image_packages(DIGEST, PACKAGES[:1])
    assert [package.name for package in store.get_image_packages(DIGEST) or []] == ["libssl3"]


def test_save_image_packages_unknown_image(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no stored analysis"):
        store.save_image_packages(DIGEST, PACKAGES)


def test_find_images_by_package(store: Store) -> None:
    for digest in (DIGEST, OTHER_DIGEST):
        store.upsert_image(new_image(digest))
        store.finish_analysis(digest, {"packages": PACKAGES}, summary())

    found = store.find_images_by_package("requests")
    typed = store.find_images_by_package("libssl3", package_type="python")
    versioned = store.find_images_by_package("requests", version="2.19.0")
    other_version = store.find_images_by_package("requests", version="2.31.0")

    assert [image.digest for image, _ in found] == [DIGEST, OTHER_DIGEST]
    assert found[0][1][0].location == "/app/x.dist-info"
    assert typed == []
    assert len(versioned) == 2
    assert other_version == []


def test_find_images_by_vulnerability(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image(DIGEST))
    store.upsert_image(new_image(OTHER_DIGEST))
    matches = [vuln_match("CVE-2024-1"), vuln_match("CVE-2024-2")]
    store.save_matches(DIGEST, matches, now=START_TIME)
    store.save_matches(OTHER_DIGEST, [vuln_match("CVE-2024-2")], now=START_TIME)

    found = store.find_images_by_vulnerability("CVE-2024-1")

    assert [image.digest for image, _ in found] == [DIGEST]
    assert [match.vuln_id for match in found[0][1]] == ["CVE-2024-1"]
    assert len(store.find_images_by_vulnerability("CVE-2024-2")) == 2


def test_vuln_updates_recorded_in_order(store: Store) -> None:
    store.upsert_image(new_image())
    later = START_TIME + datetime.timedelta(hours=1)

    store.add_vuln_update(
        DIGEST, added=[vuln_match("CVE-2024-1")], updated=[], removed=[], created_at=START_TIME
    )
    store.add_vuln_update(
        DIGEST, added=[], updated=[], removed=[vuln_match("CVE-2024-1")], created_at=later
    )

    first, second = store.list_vuln_updates(DIGEST)
    assert first.added[0]["vuln_id"] == "CVE-2024-1"
    assert first.removed == []
    assert second.removed[0]["vuln_id"] == "CVE-2024-1"
    assert second.created_at == later


def test_add_vuln_update_unknown_image(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.add_vuln_update(DIGEST, added=[], updated=[], removed=[], created_at=START_TIME)


def _event(uuid: str, event_type: str, minutes: int, level: str = "info") -> EventRecord:
    return EventRecord(
        generated_uuid=uuid,
        event_type=event_type,
        level=level,
        message="message",
        details={"group": "debian:12"},
        resource_type="feed_groups",
        resource_id="vulnerabilities/debian:12",
        created_at=START_TIME + datetime.timedelta(minutes=minutes),
    )


def test_list_events_newest_first_and_filtered(store: Store) -> None:
    store.add_event(_event("e1", "system.feeds.sync.started", 0))
    store.add_event(_event("e2", "system.feeds.sync.group_completed", 1))
    store.add_event(_event("e3", "system.feeds.sync.group_failed", 2, level="error"))
    store.add_event(_event("e4", "user.checks.tag.vulnerabilities.update", 3))

    every = store.list_events()
    groups = store.list_events(event_type="system.feeds.sync.group_*")
    errors = store.list_events(level="error")
    window = store.list_events(
        since=START_TIME + datetime.timedelta(minutes=1),
        before=START_TIME + datetime.timedelta(minutes=3),
    )
    page = store.list_events(offset=1, limit=2)

    assert [event.generated_uuid for event in every] == ["e4", "e3", "e2", "e1"]
    assert [event.generated_uuid for event in groups] == ["e3", "e2"]
    assert [event.generated_uuid for event in errors] == ["e3"]
    assert [event.generated_uuid for event in window] == ["e3", "e2"]
    assert [event.generated_uuid for event in page] == ["e3", "e2"]
    assert every[0].details == {"group": "debian:12"}


def test_list_events_wildcard_escapes_like(store: Store) -> None:
    store.add_event(_event("e1", "system.feeds.sync_x", 0))
    store.add_event(_event("e2", "system.feeds.syncax", 1))

    found = store.list_events(event_type="system.feeds.sync_*")

    assert [event.generated_uuid for event in found] == ["e1"]


def _upgrade(store: Store, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from chalicelib.store.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with store._db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_migration_0002_fills_keys_of_old_rows(empty_store: Store) -> None:
    from sqlalchemy import text

    _upgrade(empty_store, "0001")
    with empty_store._db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO feed_groups (feed, group_name, record_count, created_at, updated_at)"
                " VALUES ('vulnerabilities', 'pypi', 1, :now, :now)"
            ),
            {"now": START_TIME},
        )
        connection.execute(
            text(
                "INSERT INTO vuln_records (feed, group_name, vuln_id, namespace, package, record)"
                " VALUES ('vulnerabilities', 'pypi', 'PYSEC-1', 'pypi', 'requests', '{}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO images (account, digest, analysis_status, image_status, annotations,"
                " manifest, created_at, last_updated) VALUES ('admin', :digest, 'analyzed',"
                " 'active', '{}', '{}', :now, :now)"
            ),
            {"digest": DIGEST, "now": START_TIME},
        )
        connection.execute(
            text(
                "INSERT INTO vuln_matches (account, digest, match_key, vuln_match, first_seen)"
                " VALUES ('admin', :digest, 'PYSEC-1+requests+/app', '{}', :now)"
            ),
            {"digest": DIGEST, "now": START_TIME},
        )

    empty_store.migrate()

    with empty_store._db.engine.connect() as connection:
        record_key, record_hash = connection.execute(
            text("SELECT record_key, record_hash FROM vuln_records")
        ).one()
        vuln_id = connection.execute(text("SELECT vuln_id FROM vuln_matches")).scalar()
    assert record_key == "PYSEC-1|requests"
    assert record_hash is None
    assert vuln_id == "PYSEC-1"
