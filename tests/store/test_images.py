"""Tests of image records, tags, analysis state, analysis documents and matches."""

from __future__ import annotations

import datetime
import threading

import pytest
from sqlalchemy import update

from chalicelib.store import (
    AnalysisStatus,
    ImageStatus,
    NotFoundError,
    Store,
    StoreError,
    match_key,
)
from chalicelib.store.models import ImageAnalysis
from tests.store.conftest import START_TIME, FakeClock
from tests.store.factories import (
    DIGEST,
    IMAGE_ID,
    MANIFEST,
    OTHER_DIGEST,
    evaluation,
    new_image,
    summary,
    vuln_match,
)

JOIN_TIMEOUT_SECONDS = 120


def _analysis_report(file_count: int) -> dict[str, object]:
    return {
        "image": {"digest": DIGEST, "config": {"architecture": "amd64"}},
        "packages": [{"name": "openssl", "version": "3.0.11-1", "type": "dpkg"}],
        "files": [
            {
                "path": f"/usr/share/doc/pkg{index // 100}/file{index}.txt",
                "type": "file",
                "mode": 0o644,
                "uid": 0,
                "gid": 0,
                "size": index * 7,
                "sha256": f"{index:064x}",
                "layer_digest": "sha256:" + "d" * 64,
            }
            for index in range(file_count)
        ],
        "problems": [],
    }


def test_upsert_image_creates_record(store: Store) -> None:
    record, created = store.upsert_image(
        new_image(parent_digest="sha256:" + "e" * 64, annotations={"team": "web"})
    )

    assert created is True
    assert record.digest == DIGEST
    assert record.parent_digest == "sha256:" + "e" * 64
    assert record.image_id == IMAGE_ID
    assert record.analysis_status == AnalysisStatus.NOT_ANALYZED
    assert record.image_status == ImageStatus.ACTIVE
    assert record.annotations == {"team": "web"}
    assert record.manifest == MANIFEST
    assert record.created_at == START_TIME
    assert record.last_updated == START_TIME
    assert record.analyzed_at is None
    assert [tag.fulltag for tag in record.tags] == ["docker.io/library/debian:latest"]
    assert record.tags[0].tag_detected_at == START_TIME
    assert store.get_image(DIGEST) == record


def test_upsert_image_adds_new_tag(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image(tag="latest"))
    later = clock.advance(60)

    record, created = store.upsert_image(new_image(tag="bookworm"))

    assert created is False
    assert [tag.tag for tag in record.tags] == ["latest", "bookworm"]
    assert record.tags[0].tag_detected_at == START_TIME
    assert record.tags[1].tag_detected_at == later
    assert record.tags[1].fulltag == "docker.io/library/debian:bookworm"
    assert record.last_updated == later


def test_upsert_image_same_tag_keeps_detection_time(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image())
    later = clock.advance(60)

    record, _ = store.upsert_image(new_image())

    assert len(record.tags) == 1
    assert record.tags[0].tag_detected_at == START_TIME
    assert record.tags[0].last_updated == later


def test_upsert_image_merges_annotations(store: Store) -> None:
    store.upsert_image(new_image(annotations={"team": "web", "stage": "dev"}))

    record, _ = store.upsert_image(new_image(annotations={"stage": "prod", "owner": "ann"}))

    assert record.annotations == {"team": "web", "stage": "prod", "owner": "ann"}


def test_upsert_image_replaces_dockerfile_only_when_given(store: Store) -> None:
    store.upsert_image(new_image(dockerfile="FROM debian:12\n"))

    unchanged, _ = store.upsert_image(new_image(dockerfile=None))
    replaced, _ = store.upsert_image(new_image(dockerfile="FROM debian:12-slim\n"))

    assert unchanged.dockerfile == "FROM debian:12\n"
    assert replaced.dockerfile == "FROM debian:12-slim\n"


def test_upsert_image_fills_missing_ids(store: Store) -> None:
    store.upsert_image(new_image(image_id=None, parent_digest=None))

    record, _ = store.upsert_image(new_image(parent_digest="sha256:" + "e" * 64))

    assert record.image_id == IMAGE_ID
    assert record.parent_digest == "sha256:" + "e" * 64


def test_upsert_image_keeps_analysis(store: Store) -> None:
    store.upsert_image(new_image())
    store.claim_analysis(DIGEST)
    store.finish_analysis(DIGEST, {"files": []}, summary())

    record, created = store.upsert_image(new_image(tag="bookworm"))

    assert created is False
    assert record.analysis_status == AnalysisStatus.ANALYZED
    assert record.distro == "debian"
    assert store.get_analysis(DIGEST) == {"files": []}


def test_upsert_image_uses_created_at_override(store: Store) -> None:
    pushed = datetime.datetime(2023, 6, 10, 8, 0, tzinfo=datetime.UTC)

    record, _ = store.upsert_image(new_image(created_at=pushed))

    assert record.created_at == pushed
    assert record.tags[0].created_at == pushed
    assert record.tags[0].tag_detected_at == START_TIME


def test_upsert_image_converts_offset_to_utc(store: Store) -> None:
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    pushed = datetime.datetime(2023, 6, 10, 10, 0, tzinfo=plus_two)

    store.upsert_image(new_image(created_at=pushed))
    record = store.get_image(DIGEST)

    assert record is not None
    assert record.created_at == pushed
    assert record.created_at.tzinfo == datetime.UTC
    assert record.created_at.hour == 8


def test_upsert_image_rejects_naive_created_at(store: Store) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.upsert_image(new_image(created_at=datetime.datetime(2023, 6, 10)))


def test_upsert_image_without_tag_stores_no_tag(store: Store) -> None:
    record, _ = store.upsert_image(new_image(tag=None))

    assert record.tags == ()


def test_upsert_image_concurrent_creates_once(store: Store) -> None:
    tags = [f"v{index}" for index in range(6)]
    barrier = threading.Barrier(len(tags))
    created_flags: list[bool] = []
    errors: list[BaseException] = []

    def add(tag: str) -> None:
        barrier.wait()
        try:
            created_flags.append(store.upsert_image(new_image(tag=tag))[1])
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(tag,)) for tag in tags]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)

    assert errors == []
    assert sorted(created_flags) == [False] * (len(tags) - 1) + [True]
    record = store.get_image(DIGEST)
    assert record is not None
    assert sorted(tag.tag for tag in record.tags) == tags


def test_get_image_unknown_returns_none(store: Store) -> None:
    assert store.get_image(DIGEST) is None


def test_get_image_datetimes_are_utc(store: Store) -> None:
    store.upsert_image(new_image())
    store.finish_analysis(DIGEST, {}, summary())

    record = store.get_image(DIGEST)

    assert record is not None
    for value in (record.created_at, record.last_updated, record.analyzed_at):
        assert value is not None
        assert value.tzinfo == datetime.UTC
    assert record.tags[0].tag_detected_at.tzinfo == datetime.UTC


def test_list_images_filters_by_fulltag(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image(DIGEST, tag="latest"))
    clock.advance(1)
    store.upsert_image(new_image(OTHER_DIGEST, tag="bookworm"))
    clock.advance(1)
    # The tag moved to the second digest; both digests keep it in their tag history.
    store.upsert_image(new_image(OTHER_DIGEST, tag="latest"))

    latest = store.list_images(fulltag="docker.io/library/debian:latest")
    bookworm = store.list_images(fulltag="docker.io/library/debian:bookworm")
    unknown = store.list_images(fulltag="docker.io/library/debian:sid")

    assert [record.digest for record in latest] == [DIGEST, OTHER_DIGEST]
    assert [record.digest for record in bookworm] == [OTHER_DIGEST]
    assert unknown == []


def test_list_images_filters_by_analysis_status(store: Store) -> None:
    store.upsert_image(new_image(DIGEST))
    store.upsert_image(new_image(OTHER_DIGEST))
    store.fail_analysis(OTHER_DIGEST, "layer download failed")

    failed = store.list_images(analysis_status="analysis_failed")
    waiting = store.list_images(analysis_status=AnalysisStatus.NOT_ANALYZED)

    assert [record.digest for record in failed] == [OTHER_DIGEST]
    assert [record.digest for record in waiting] == [DIGEST]


def test_list_images_unknown_analysis_status_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="analysis status 'done' is unknown"):
        store.list_images(analysis_status="done")


def test_list_images_filters_by_image_status(store: Store) -> None:
    store.upsert_image(new_image())

    assert [record.digest for record in store.list_images(image_status=None)] == [DIGEST]
    assert store.list_images(image_status="deleting") == []


def test_list_images_ordered_oldest_first(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image(OTHER_DIGEST))
    clock.advance(1)
    store.upsert_image(new_image(DIGEST))

    assert [record.digest for record in store.list_images()] == [OTHER_DIGEST, DIGEST]


def test_find_images_by_id_matches_config_digest(store: Store) -> None:
    store.upsert_image(new_image(DIGEST))
    store.upsert_image(new_image(OTHER_DIGEST, image_id="f" * 64))

    found = store.find_images_by_id(IMAGE_ID)

    assert [record.digest for record in found] == [DIGEST]
    assert store.find_images_by_id("0" * 64) == []


def test_claim_analysis_only_from_not_analyzed(store: Store) -> None:
    store.upsert_image(new_image())

    assert store.claim_analysis(DIGEST) is True
    assert store.claim_analysis(DIGEST) is False
    record = store.get_image(DIGEST)
    assert record is not None
    assert record.analysis_status == AnalysisStatus.ANALYZING


def test_claim_analysis_unknown_digest_returns_false(store: Store) -> None:
    assert store.claim_analysis(DIGEST) is False


def test_claim_analysis_concurrent_one_wins(store: Store) -> None:
    store.upsert_image(new_image())
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def claim() -> None:
        barrier.wait()
        try:
            results.append(store.claim_analysis(DIGEST))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=claim) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)

    assert errors == []
    assert results.count(True) == 1
    assert results.count(False) == workers - 1


def test_reset_analysis_after_failure(store: Store) -> None:
    store.upsert_image(new_image())
    store.claim_analysis(DIGEST)
    store.fail_analysis(DIGEST, "manifest not found")

    store.reset_analysis(DIGEST)

    record = store.get_image(DIGEST)
    assert record is not None
    assert record.analysis_status == AnalysisStatus.NOT_ANALYZED
    assert record.failure_reason is None
    assert store.claim_analysis(DIGEST) is True


def test_reset_analysis_keeps_stored_document(store: Store) -> None:
    store.upsert_image(new_image())
    store.finish_analysis(DIGEST, {"files": [1]}, summary())

    store.reset_analysis(DIGEST)

    assert store.get_analysis(DIGEST) == {"files": [1]}


def test_reset_analysis_unknown_digest_raises(store: Store) -> None:
    with pytest.raises(NotFoundError, match=DIGEST):
        store.reset_analysis(DIGEST)


def test_finish_analysis_sets_summary(store: Store, clock: FakeClock) -> None:
    store.upsert_image(new_image(image_id=None))
    store.claim_analysis(DIGEST)
    finished = clock.advance(30)

    store.finish_analysis(DIGEST, {"files": []}, summary(layer_count=3))

    record = store.get_image(DIGEST)
    assert record is not None
    assert record.analysis_status == AnalysisStatus.ANALYZED
    assert record.analyzed_at == finished
    assert record.image_id == IMAGE_ID
    assert record.arch == "amd64"
    assert record.distro == "debian"
    assert record.distro_version == "12"
    assert record.image_size == 29_123_456
    assert record.layer_count == 3
    assert record.dockerfile_mode == "Guessed"
    assert record.failure_reason is None


def test_finish_analysis_replaces_document(store: Store) -> None:
    store.upsert_image(new_image())
    store.finish_analysis(DIGEST, {"files": [1]}, summary())

    store.finish_analysis(DIGEST, {"files": [2]}, summary())

    assert store.get_analysis(DIGEST) == {"files": [2]}


def test_finish_analysis_unknown_digest_raises(store: Store) -> None:
    with pytest.raises(NotFoundError, match=DIGEST):
        store.finish_analysis(DIGEST, {}, summary())


def test_finish_analysis_rejects_non_json(store: Store) -> None:
    store.upsert_image(new_image())

    with pytest.raises(StoreError, match="not JSON data"):
        store.finish_analysis(DIGEST, {"when": datetime.datetime.now()}, summary())


def test_analysis_document_round_trips_100000_files(store: Store) -> None:
    report = _analysis_report(100_000)
    store.upsert_image(new_image())

    store.finish_analysis(DIGEST, report, summary())

    assert store.get_analysis(DIGEST) == report
    with store._db.transaction("read stored size", write=False) as session:
        stored = session.get(ImageAnalysis, ("admin", DIGEST))
        assert stored is not None
        assert stored.document[:2] == b"\x1f\x8b"
        assert len(stored.document) < stored.document_size / 5


def test_get_analysis_before_analysis_returns_none(store: Store) -> None:
    store.upsert_image(new_image())

    assert store.get_analysis(DIGEST) is None


def test_get_analysis_corrupt_document_raises(store: Store) -> None:
    store.upsert_image(new_image())
    store.finish_analysis(DIGEST, {"files": []}, summary())
    with store._db.transaction("corrupt the document", write=True) as session:
        session.execute(update(ImageAnalysis).values(document=b"not gzip"))

    with pytest.raises(StoreError, match=r"stored analysis of .* is corrupt"):
        store.get_analysis(DIGEST)


def test_fail_analysis_records_reason(store: Store) -> None:
    store.upsert_image(new_image())
    store.claim_analysis(DIGEST)

    store.fail_analysis(DIGEST, "layer sha256:dd is not a tar archive")

    record = store.get_image(DIGEST)
    assert record is not None
    assert record.analysis_status == AnalysisStatus.ANALYSIS_FAILED
    assert record.failure_reason == "layer sha256:dd is not a tar archive"


def test_fail_analysis_unknown_digest_raises(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.fail_analysis(DIGEST, "reason")


def test_delete_image_removes_dependents(store: Store) -> None:
    store.upsert_image(new_image())
    store.finish_analysis(DIGEST, {"files": []}, summary())
    store.save_matches(DIGEST, [vuln_match("CVE-2024-1")], now=START_TIME)
    store.add_evaluation(evaluation("e1", START_TIME))

    assert store.delete_image(DIGEST) is True

    assert store.get_image(DIGEST) is None
    assert store.get_analysis(DIGEST) is None
    assert store.get_matches(DIGEST) == ([], {})
    assert store.list_images(fulltag="docker.io/library/debian:latest") == []
    assert [record.eval_id for record in store.list_evaluations(DIGEST)] == ["e1"]


def test_delete_image_then_add_starts_fresh(store: Store) -> None:
    store.upsert_image(new_image(tag="old"))
    store.delete_image(DIGEST)

    record, created = store.upsert_image(new_image(tag="new"))

    assert created is True
    assert [tag.tag for tag in record.tags] == ["new"]


def test_delete_image_unknown_returns_false(store: Store) -> None:
    assert store.delete_image(DIGEST) is False


def test_save_matches_keeps_first_seen(store: Store) -> None:
    store.upsert_image(new_image())
    first = START_TIME
    second = START_TIME + datetime.timedelta(days=1)
    store.save_matches(DIGEST, [vuln_match("CVE-2024-1"), vuln_match("CVE-2024-2")], now=first)

    store.save_matches(DIGEST, [vuln_match("CVE-2024-2"), vuln_match("CVE-2024-3")], now=second)

    matches, first_seen = store.get_matches(DIGEST)
    assert [match.vuln_id for match in matches] == ["CVE-2024-2", "CVE-2024-3"]
    assert first_seen == {
        "CVE-2024-2+openssl+/var/lib/dpkg/status": first,
        "CVE-2024-3+openssl+/var/lib/dpkg/status": second,
    }


def test_save_matches_key_includes_package_path(store: Store) -> None:
    store.upsert_image(new_image())
    in_app = vuln_match("GHSA-1", package="lodash", path="/app/node_modules/lodash/package.json")
    in_tool = vuln_match(
        "GHSA-1", package="lodash", path="/opt/tool/node_modules/lodash/package.json"
    )

    store.save_matches(DIGEST, [in_app, in_tool], now=START_TIME)

    matches, first_seen = store.get_matches(DIGEST)
    assert matches == [in_app, in_tool]
    assert set(first_seen) == {match_key(in_app), match_key(in_tool)}


def test_save_matches_duplicate_key_keeps_first(store: Store) -> None:
    store.upsert_image(new_image())
    first = vuln_match("CVE-2024-1")
    duplicate = first.model_copy(update={"fixed_in": ["9.9"]})

    store.save_matches(DIGEST, [first, duplicate], now=START_TIME)

    matches, _ = store.get_matches(DIGEST)
    assert matches == [first]


def test_save_matches_round_trips_fields(store: Store) -> None:
    store.upsert_image(new_image())
    match = vuln_match("CVE-2024-1").model_copy(
        update={"aliases": ["DSA-5000-1"], "will_not_fix": True, "url": "https://example.test/1"}
    )

    store.save_matches(DIGEST, [match], now=START_TIME)

    assert store.get_matches(DIGEST)[0] == [match]


def test_save_matches_empty_clears(store: Store) -> None:
    store.upsert_image(new_image())
    store.save_matches(DIGEST, [vuln_match("CVE-2024-1")], now=START_TIME)

    store.save_matches(DIGEST, [], now=START_TIME)

    assert store.get_matches(DIGEST) == ([], {})


def test_save_matches_many_rows(store: Store) -> None:
    store.upsert_image(new_image())
    matches = [vuln_match(f"CVE-2024-{index:05d}") for index in range(1_234)]

    store.save_matches(DIGEST, matches, now=START_TIME)

    stored, first_seen = store.get_matches(DIGEST)
    assert stored == matches
    assert len(first_seen) == 1_234


def test_save_matches_unknown_digest_raises(store: Store) -> None:
    with pytest.raises(NotFoundError, match=DIGEST):
        store.save_matches(DIGEST, [vuln_match("CVE-2024-1")], now=START_TIME)


def test_save_matches_rejects_naive_now(store: Store) -> None:
    store.upsert_image(new_image())

    with pytest.raises(ValueError, match="naive datetime"):
        store.save_matches(DIGEST, [], now=datetime.datetime(2024, 1, 1))
