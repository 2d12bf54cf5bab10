"""Tests of feed sync as a service: incremental import, failures, events and re-matching.

The feeds are copies of real PyPA advisory records in a temporary folder, so a test can change,
add or remove one record between two syncs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.config import Settings
from chalicelib.registry import RegistryClient
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import Services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.store import Store
from chalicelib.vulns.interface import FeedError, VulnRecord
from chalicelib.vulns.sources import FeedSource
from tests.conftest import SHARED_DIR
from tests.store.factories import DIGEST, OTHER_DIGEST, new_image, summary, vuln_match

PYPA = SHARED_DIR / "feeds" / "pypi" / "pypa-advisory-database" / "vulns"
REQUESTS_RECORDS = ("PYSEC-2014-13", "PYSEC-2014-14", "PYSEC-2015-17", "PYSEC-2018-28")
REQUESTS_2_19 = {
    "name": "requests",
    "version": "2.19.0",
    "type": "python",
    "location": "/usr/lib/python3/dist-packages/requests-2.19.0.dist-info",
}


@pytest.fixture
def feed_dir(shared_dir: Path, tmp_path: Path) -> Path:
    """Return a folder with real PyPA records of `requests` and `jinja2`."""
    folder = tmp_path / "feed"
    for package in ("requests", "jinja2"):
        shutil.copytree(PYPA / package, folder / package)
    return folder


@pytest.fixture
def services(tmp_path: Path, feed_dir: Path) -> Iterator[Services]:
    """Services on a fresh SQLite store whose `FEED_SOURCES` is the copied feed folder."""
    settings = Settings(data_dir=tmp_path / "data", feed_sources=f"osv={feed_dir}")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'plimsoll.db'}")
    store.migrate()
    yield Services(settings=settings, store=store, registry=RegistryClient())
    store.close()


def _add_image(services: Services, digest: str = DIGEST, tag: str = "latest") -> None:
    services.store.upsert_image(new_image(digest, tag=tag))
    services.store.finish_analysis(digest, {"packages": [REQUESTS_2_19]}, summary())


def _event_types(services: Services) -> list[str]:
    return [event.event_type for event in reversed(services.store.list_events(limit=1000))]


def _group(services: Services, name: str = "pypi"):
    group = services.store.get_feed_group(vuln_service.FEED_NAME, name)
    assert group is not None
    return group


def _set_fix(feed_dir: Path, record: str, old: str, new: str) -> None:
    path = feed_dir / "requests" / f"{record}.yaml"
    text = path.read_text()
    assert f"fixed: {old}" in text
    path.write_text(text.replace(f"fixed: {old}", f"fixed: {new}"))


def test_sync_feeds_imports_groups(services: Services) -> None:
    result = vuln_service.sync_feeds(services)

    [group_result] = result.groups
    assert result.errors == []
    assert group_result.group == "pypi"
    assert group_result.status == "success"
    assert group_result.record_count > len(REQUESTS_RECORDS)
    assert group_result.updated_record_count == group_result.record_count
    group = _group(services)
    assert group.record_count == group_result.record_count
    assert group.last_sync is not None
    assert group.content_hash is not None
    found = services.store.find_vuln_records("pypi", ["requests"])
    assert {record.id for record in found} >= set(REQUESTS_RECORDS)


def test_sync_feeds_events_in_order(services: Services) -> None:
    vuln_service.sync_feeds(services)

    assert _event_types(services) == [
        "system.feeds.sync.started",
        "system.feeds.sync.group_started",
        "system.feeds.sync.group_completed",
        "system.feeds.sync.completed",
    ]
    completed = services.store.list_events(event_type="system.feeds.sync.group_completed")
    assert completed[0].resource_id == "vulnerabilities/pypi"
    assert completed[0].details["record_count"] == _group(services).record_count


def test_sync_feeds_unchanged_second_sync(services: Services) -> None:
    first = vuln_service.sync_feeds(services)
    hash_before = _group(services).content_hash
    _add_image(services)

    second = vuln_service.sync_feeds(services)

    assert second.groups[0].updated_record_count == 0
    assert second.groups[0].record_count == first.groups[0].record_count
    assert second.rematched_images == 0
    assert _group(services).content_hash == hash_before


def test_sync_feeds_imports_only_changed_record(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    result = vuln_service.sync_feeds(services)

    assert result.groups[0].updated_record_count == 1
    [record] = [
        r for r in services.store.find_vuln_records("pypi", ["requests"]) if r.id == "PYSEC-2018-28"
    ]
    assert record.ranges[0].events[-1].fixed == "2.21.0"


def test_sync_feeds_removes_dropped_record(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    count = _group(services).record_count
    (feed_dir / "requests" / "PYSEC-2014-13.yaml").unlink()

    result = vuln_service.sync_feeds(services)

    assert result.groups[0].updated_record_count == 1
    assert _group(services).record_count == count - 1
    ids = {r.id for r in services.store.find_vuln_records("pypi", ["requests"])}
    assert "PYSEC-2014-13" not in ids


def test_sync_feeds_flush_rewrites_every_record(services: Services) -> None:
    first = vuln_service.sync_feeds(services)

    flushed = vuln_service.sync_feeds(services, flush=True)

    assert flushed.groups[0].updated_record_count == first.groups[0].record_count
    assert _group(services).record_count == first.groups[0].record_count


def test_sync_feeds_source_failing_midway_keeps_data(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    vuln_service.sync_feeds(services)
    before = services.store.find_vuln_records("pypi", ["requests", "jinja2"])
    real_iter_records = vuln_service.iter_records

    def truncated(source: FeedSource) -> Iterator[VulnRecord]:
        for index, record in enumerate(real_iter_records(source)):
            if index == 3:
                raise FeedError(f"feed location {source.location} was truncated")
            yield record.model_copy(update={"summary": "changed upstream"})

    monkeypatch.setattr(vuln_service, "iter_records", truncated)
    monkeypatch.setattr(vuln_service, "STAGE_BATCH_SIZE", 2)

    result = vuln_service.sync_feeds(services)

    assert len(result.errors) == 1
    assert "truncated" in result.errors[0]
    assert result.groups[0].status == "failure"
    assert services.store.find_vuln_records("pypi", ["requests", "jinja2"]) == before
    group = _group(services)
    assert group.last_error is not None
    assert "truncated" in group.last_error
    assert _event_types(services)[-2:] == [
        "system.feeds.sync.group_failed",
        "system.feeds.sync.failed",
    ]


def test_sync_feeds_group_unread_after_failure_kept(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    vuln_service.sync_feeds(services)
    count = _group(services).record_count

    def failing(source: FeedSource) -> Iterator[VulnRecord]:
        raise FeedError(f"feed location {source.location} could not be downloaded")
        yield  # a generator, as iter_records is

    monkeypatch.setattr(vuln_service, "iter_records", failing)
    result = vuln_service.sync_feeds(services)

    assert [group.status for group in result.groups] == ["failure"]
    assert _group(services).record_count == count
    assert len(services.store.find_vuln_records("pypi", ["requests"])) > 0


def test_sync_feeds_group_dropped_upstream_emptied(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    for path in feed_dir.rglob("*.yaml"):
        path.unlink()

    result = vuln_service.sync_feeds(services)

    assert result.errors == []
    assert result.groups[0].record_count == 0
    assert _group(services).record_count == 0
    assert services.store.find_vuln_records("pypi", ["requests"]) == []


def test_sync_feeds_removed_source_leaves_group(services: Services, tmp_path: Path) -> None:
    vuln_service.sync_feeds(services)
    count = _group(services).record_count
    other = tmp_path / "other-feed"
    shutil.copytree(SHARED_DIR / "feeds" / "npm" / "ghsa", other)
    services.settings = Settings(data_dir=tmp_path / "data", feed_sources=f"osv={other}")

    result = vuln_service.sync_feeds(services)

    assert "pypi" not in [group.group for group in result.groups]
    assert _group(services).record_count == count


def test_sync_feeds_stages_in_batches(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    stage = services.store.stage_feed_records

    def recording_stage(sync_id: str, feed: str, records: list[VulnRecord], **kwargs: bool):
        sizes.append(len(records))
        return stage(sync_id, feed, records, **kwargs)

    monkeypatch.setattr(services.store, "stage_feed_records", recording_stage)
    monkeypatch.setattr(vuln_service, "STAGE_BATCH_SIZE", 3)

    vuln_service.sync_feeds(services)

    assert max(sizes) == 3
    assert sum(sizes) == _group(services).record_count


def test_sync_feeds_without_sources_rejected(services: Services, tmp_path: Path) -> None:
    services.settings = Settings(data_dir=tmp_path, feed_sources=" ")
    with pytest.raises(InvalidRequestError, match="FEED_SOURCES"):
        vuln_service.sync_feeds(services)


def test_rematch_records_added_vulnerabilities(services: Services) -> None:
    _add_image(services)

    result = vuln_service.sync_feeds(services)

    assert result.rematched_images == 1
    assert result.updated_images == 1
    [update] = services.store.list_vuln_updates(DIGEST)
    assert "PYSEC-2018-28" in {match["vuln_id"] for match in update.added}
    assert update.removed == []
    matches, _ = services.store.get_matches(DIGEST)
    assert "PYSEC-2018-28" in {match.vuln_id for match in matches}


def test_rematch_records_updated_and_removed(services: Services, feed_dir: Path) -> None:
    _add_image(services)
    vuln_service.sync_feeds(services)
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")
    (feed_dir / "requests" / "PYSEC-2014-13.yaml").unlink()
    before, _ = services.store.get_matches(DIGEST)

    vuln_service.sync_feeds(services)

    update = services.store.list_vuln_updates(DIGEST)[-1]
    assert [match["vuln_id"] for match in update.updated] == ["PYSEC-2018-28"]
    assert update.updated[0]["fixed_in"] == ["2.21.0"]
    assert update.added == []
    expected_removed = [m.vuln_id for m in before if m.vuln_id == "PYSEC-2014-13"]
    assert [match["vuln_id"] for match in update.removed] == expected_removed


def test_rematch_emits_event_per_tag(services: Services, feed_dir: Path) -> None:
    _add_image(services)
    services.store.upsert_image(new_image(DIGEST, tag="stable"))

    vuln_service.sync_feeds(services)

    events = services.store.list_events(event_type="user.checks.tag.vulnerabilities.update")
    assert sorted(event.resource_id for event in events) == [
        "docker.io/library/debian:latest",
        "docker.io/library/debian:stable",
    ]
    details = events[0].details
    assert details["imageDigest"] == DIGEST
    assert details["subscription_type"] == "vuln_update"
    added = details["diff_vulnerability_result"]["added"]
    assert {"vuln", "package", "fix", "feed_group"} <= added[0].keys()


def test_rematch_unchanged_image_records_nothing(services: Services, feed_dir: Path) -> None:
    _add_image(services)
    services.store.upsert_image(new_image(OTHER_DIGEST))
    services.store.finish_analysis(OTHER_DIGEST, {"packages": []}, summary())
    vuln_service.sync_feeds(services)
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    result = vuln_service.sync_feeds(services)
    rematched, updated = vuln_service.rematch_all(services)

    assert result.rematched_images == 1
    assert result.updated_images == 1
    assert rematched == 2
    assert updated == 0
    assert services.store.list_vuln_updates(OTHER_DIGEST) == []
    # The image without packages has its empty lookups stored, so no sync reads it again.
    changes = {"pypi": frozenset({"requests"})}
    found = services.store.find_rematch_candidates(changes, after=None, limit=10)
    assert found == [DIGEST]


def test_rematch_fills_missing_package_list(services: Services) -> None:
    _add_image(services)
    from sqlalchemy import update

    from chalicelib.store.models import ImageAnalysis, ImagePackage

    with services.store._db.engine.begin() as connection:
        connection.execute(update(ImageAnalysis).values(package_count=None))
        connection.execute(ImagePackage.__table__.delete())

    vuln_service.sync_feeds(services)

    packages = services.store.get_image_packages(DIGEST)
    assert [package.name for package in packages or []] == ["requests"]
    assert services.store.list_vuln_updates(DIGEST) != []


def test_diff_matches_by_key() -> None:
    kept = vuln_match("CVE-2024-1")
    changed_before = vuln_match("CVE-2024-2")
    changed_after = changed_before.model_copy(update={"fixed_in": ["1.0-2"]})
    removed = vuln_match("CVE-2024-3")
    added = vuln_match("CVE-2024-4")

    diff = vuln_service.diff_matches([kept, changed_before, removed], [kept, changed_after, added])

    assert diff.added == [added]
    assert diff.updated == [changed_after]
    assert diff.removed == [removed]
    assert not vuln_service.diff_matches([kept], [kept])


def test_cached_lookup_asks_once_per_name() -> None:
    calls: list[tuple[str, list[str]]] = []
    record = VulnRecord(id="PYSEC-1", namespace="pypi", package="requests")

    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        calls.append((namespace, names))
        return [record] if "requests" in names else []

    cached = vuln_service.CachedLookup(lookup)

    assert cached("pypi", ["requests", "urllib3"]) == [record]
    assert cached("pypi", ["requests", "urllib3"]) == [record]
    assert cached("pypi", ["idna", "requests"]) == [record]
    assert calls == [("pypi", ["requests", "urllib3"]), ("pypi", ["idna"])]


def test_rematch_skips_images_of_other_namespaces(services: Services) -> None:
    _add_image(services)
    services.store.upsert_image(new_image(OTHER_DIGEST))
    npm_package = {"name": "minimist", "version": "0.0.8", "type": "npm", "location": "/app"}
    services.store.finish_analysis(OTHER_DIGEST, {"packages": [npm_package]}, summary())

    result = vuln_service.sync_feeds(services)
    rematched, updated = vuln_service.rematch_all(services, {"npm"})

    assert result.rematched_images == 1
    assert rematched == 1
    assert updated == 0
    assert services.store.list_vuln_updates(OTHER_DIGEST) == []


JINJA2_2_10 = {
    "name": "Jinja2",
    "version": "2.10",
    "type": "python",
    "location": "/usr/lib/python3/dist-packages/Jinja2-2.10.dist-info",
}


def _add_matched_image(services: Services, digest: str, package: dict[str, str]) -> None:
    document = {"image_digest": digest, "image_id": "0" * 64, "packages": [package]}
    services.store.upsert_image(new_image(digest))
    services.store.finish_analysis(digest, document, summary())
    vuln_service.match_image(services, digest)


def _stored_lookups(services: Services, digest: str) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from chalicelib.store.models import ImageLookup

    statement = select(ImageLookup.namespace, ImageLookup.package).where(
        ImageLookup.digest == digest
    )
    with services.store._db.engine.connect() as connection:
        return sorted((namespace, package) for namespace, package in connection.execute(statement))


def test_match_image_stores_lookups(services: Services) -> None:
    vuln_service.sync_feeds(services)

    _add_matched_image(services, DIGEST, JINJA2_2_10)

    assert _stored_lookups(services, DIGEST) == [("pypi", "jinja2")]


def test_rematch_only_images_of_changed_package(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    _add_matched_image(services, DIGEST, REQUESTS_2_19)
    _add_matched_image(services, OTHER_DIGEST, JINJA2_2_10)
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    result = vuln_service.sync_feeds(services)

    assert result.groups[0].changed_packages == frozenset({"requests"})
    assert result.rematched_images == 1
    assert result.updated_images == 1
    assert len(services.store.list_vuln_updates(DIGEST)) == 1
    assert services.store.list_vuln_updates(OTHER_DIGEST) == []


def test_rematch_flush_matches_whole_namespace(services: Services) -> None:
    vuln_service.sync_feeds(services)
    _add_matched_image(services, DIGEST, REQUESTS_2_19)
    _add_matched_image(services, OTHER_DIGEST, JINJA2_2_10)

    result = vuln_service.sync_feeds(services, flush=True)

    assert result.groups[0].changed_packages is None
    assert result.rematched_images == 2
    assert result.updated_images == 0


def test_rematch_stores_missing_lookups(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    # Analyzed but never matched, as an analysis stored before lookups were kept.
    _add_image(services)
    services.store.upsert_image(new_image(OTHER_DIGEST))
    services.store.finish_analysis(OTHER_DIGEST, {"packages": [JINJA2_2_10]}, summary())
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    result = vuln_service.sync_feeds(services)

    assert result.rematched_images == 1
    assert _stored_lookups(services, DIGEST) == [("pypi", "requests")]
    assert _stored_lookups(services, OTHER_DIGEST) == [("pypi", "jinja2")]
    assert services.store.list_vuln_updates(OTHER_DIGEST) == []


def test_rematch_new_analysis_forgets_lookups(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    _add_matched_image(services, DIGEST, JINJA2_2_10)
    # A new analysis of the image finds requests, but matching has not run yet.
    services.store.finish_analysis(DIGEST, {"packages": [REQUESTS_2_19]}, summary())
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    result = vuln_service.sync_feeds(services)

    assert result.rematched_images == 1
    assert _stored_lookups(services, DIGEST) == [("pypi", "requests")]


def test_rematch_all_pages_through_images(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    vuln_service.sync_feeds(services)
    digests = [f"sha256:{index:064x}" for index in range(1, 6)]
    for digest in digests:
        services.store.upsert_image(new_image(digest))
        services.store.finish_analysis(digest, {"packages": [REQUESTS_2_19]}, summary())
    monkeypatch.setattr(vuln_service, "REMATCH_PAGE_SIZE", 2)

    rematched, updated = vuln_service.rematch_all(services)

    assert rematched == 5
    assert updated == 5
    for digest in digests:
        matches, first_seen = services.store.get_matches(digest)
        assert {match.vuln_id for match in matches} >= {"PYSEC-2018-28"}
        assert len(services.store.list_vuln_updates(digest)) == 1
    events = services.store.list_events(event_type=vuln_service.EVENT_VULN_UPDATE)
    assert len(events) == 5


def test_rematch_keeps_first_seen(services: Services, feed_dir: Path) -> None:
    vuln_service.sync_feeds(services)
    _add_matched_image(services, DIGEST, REQUESTS_2_19)
    _, seen_before = services.store.get_matches(DIGEST)
    _set_fix(feed_dir, "PYSEC-2018-28", "2.20.0", "2.21.0")

    vuln_service.sync_feeds(services)

    _, seen_after = services.store.get_matches(DIGEST)
    assert seen_after == seen_before


def test_cached_lookup_drops_oldest_records() -> None:
    calls: list[list[str]] = []

    def lookup(namespace: str, names: list[str]) -> list[VulnRecord]:
        calls.append(names)
        return [VulnRecord(id=f"PYSEC-{name}", namespace=namespace, package=name) for name in names]

    cached = vuln_service.CachedLookup(lookup, max_records=2)

    cached("pypi", ["a"])
    cached("pypi", ["b"])
    cached("pypi", ["a"])
    cached("pypi", ["c"])
    cached("pypi", ["a"])
    cached("pypi", ["b"])

    assert calls == [["a"], ["b"], ["c"], ["b"]]


def test_package_match_cache_equals_matcher(services: Services) -> None:
    from chalicelib.analysis.interface import Package
    from chalicelib.vulns.matcher import match_packages

    vuln_service.sync_feeds(services)
    lookup = services.store.find_vuln_records
    packages = [
        Package.model_validate(REQUESTS_2_19),
        Package.model_validate(JINJA2_2_10),
        Package.model_validate({**REQUESTS_2_19, "location": "/app/requests"}),
        Package.model_validate({**REQUESTS_2_19, "version": "2.31.0"}),
        Package.model_validate(REQUESTS_2_19),
    ]
    expected = match_packages(packages, None, lookup)

    for max_matches in (1, 10_000):
        cache = vuln_service.PackageMatchCache(lookup, max_matches=max_matches)
        first = cache.match(packages, None)
        second = cache.match(packages[::-1], None)

        assert len(expected) >= 8
        assert first == expected
        assert second == match_packages(packages[::-1], None, lookup)


# Hand-made OSV record: the feed copies beside the checkout hold no Maven advisories.
MAVEN_RECORD = """{
  "id": "GHSA-test-jack-son1",
  "modified": "2024-01-01T00:00:00Z",
  "aliases": ["CVE-2099-0001"],
  "affected": [{
    "package": {"ecosystem": "Maven", "name": "com.fasterxml.jackson.core:jackson-databind"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "%s"}]}]
  }]
}"""
JACKSON_2_9 = {
    "name": "jackson-databind",
    "version": "2.9.8",
    "type": "java",
    "location": "/app/lib/jackson-databind-2.9.8.jar",
    "purl": "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.8",
    "metadata": {
        "pom_properties": {
            "groupId": "com.fasterxml.jackson.core",
            "artifactId": "jackson-databind",
            "version": "2.9.8",
        }
    },
}


def test_rematch_keeps_java_matches(tmp_path: Path) -> None:
    maven_dir = tmp_path / "maven"
    maven_dir.mkdir()
    record_path = maven_dir / "GHSA-test-jack-son1.json"
    record_path.write_text(MAVEN_RECORD % "2.9.9")
    settings = Settings(data_dir=tmp_path / "data", feed_sources=f"osv={maven_dir}")
    store = Store(f"sqlite:///{tmp_path / 'data' / 'plimsoll.db'}")
    store.migrate()
    services = Services(settings=settings, store=store, registry=RegistryClient())
    try:
        vuln_service.sync_feeds(services)
        _add_matched_image(services, DIGEST, JACKSON_2_9)
        before, _ = services.store.get_matches(DIGEST)
        record_path.write_text(MAVEN_RECORD % "2.9.10")

        result = vuln_service.sync_feeds(services)

        after, _ = services.store.get_matches(DIGEST)
        assert [match.vuln_id for match in before] == ["GHSA-test-jack-son1"]
        assert result.rematched_images == 1
        assert [(match.vuln_id, match.fixed_in) for match in after] == [
            ("GHSA-test-jack-son1", ["2.9.10"])
        ]
    finally:
        store.close()
