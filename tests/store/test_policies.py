"""Tests of policy bundles, the active bundle and stored evaluations."""

from __future__ import annotations

import datetime
import threading

import pytest

from chalicelib.store import ConflictError, NotFoundError, Store
from tests.store.conftest import START_TIME, FakeClock
from tests.store.factories import DIGEST, OTHER_DIGEST, bundle, evaluation

JOIN_TIMEOUT_SECONDS = 120


def _active_ids(store: Store) -> list[str]:
    return [record.policy_id for record in store.list_policies() if record.active]


def test_add_policy_stores_bundle(store: Store) -> None:
    document = bundle("default")

    record = store.add_policy(document)

    assert record.policy_id == "default"
    assert record.active is False
    assert record.bundle == document
    assert record.created_at == START_TIME
    assert record.last_updated == START_TIME
    assert store.get_policy("default") == record


def test_add_policy_duplicate_id_raises(store: Store) -> None:
    store.add_policy(bundle("default"))

    with pytest.raises(ConflictError, match="policy default already exists"):
        store.add_policy(bundle("default", name="Other"))
    stored = store.get_policy("default")
    assert stored is not None
    assert stored.bundle["name"] == "Default bundle"


@pytest.mark.parametrize("document", [{"name": "no id"}, {"id": ""}, {"id": 7}])
def test_add_policy_without_string_id_rejected(store: Store, document: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="bundle id"):
        store.add_policy(document)


def test_add_policy_active_deactivates_others(store: Store) -> None:
    store.add_policy(bundle("first"), active=True)

    record = store.add_policy(bundle("second"), active=True)

    assert record.active is True
    assert _active_ids(store) == ["second"]


def test_get_policy_unknown_returns_none(store: Store) -> None:
    assert store.get_policy("absent") is None


def test_list_policies_oldest_first(store: Store, clock: FakeClock) -> None:
    store.add_policy(bundle("zeta"))
    clock.advance(1)
    store.add_policy(bundle("alpha"))

    assert [record.policy_id for record in store.list_policies()] == ["zeta", "alpha"]


def test_update_policy_replaces_bundle(store: Store, clock: FakeClock) -> None:
    store.add_policy(bundle("default"), active=True)
    later = clock.advance(60)

    record = store.update_policy("default", bundle("default", name="Renamed"))

    assert record.bundle["name"] == "Renamed"
    assert record.active is True
    assert record.created_at == START_TIME
    assert record.last_updated == later
    assert store.get_policy("default") == record


def test_update_policy_unknown_raises(store: Store) -> None:
    with pytest.raises(NotFoundError, match="absent"):
        store.update_policy("absent", bundle("absent"))


def test_update_policy_changed_id_rejected(store: Store) -> None:
    store.add_policy(bundle("default"))

    with pytest.raises(ValueError, match="differs from policy id"):
        store.update_policy("default", bundle("other"))


def test_activate_policy_exclusive(store: Store) -> None:
    for policy_id in ("a", "b", "c"):
        store.add_policy(bundle(policy_id))

    store.activate_policy("a")
    record = store.activate_policy("c")

    assert record.active is True
    assert _active_ids(store) == ["c"]
    active = store.active_policy()
    assert active is not None
    assert active.policy_id == "c"


def test_activate_policy_already_active(store: Store) -> None:
    store.add_policy(bundle("a"), active=True)

    record = store.activate_policy("a")

    assert record.active is True
    assert _active_ids(store) == ["a"]


def test_activate_policy_unknown_keeps_active(store: Store) -> None:
    store.add_policy(bundle("a"), active=True)

    with pytest.raises(NotFoundError, match="absent"):
        store.activate_policy("absent")
    assert _active_ids(store) == ["a"]


def test_activate_policy_concurrent_one_active(store: Store) -> None:
    policy_ids = ["a", "b", "c", "d"]
    for policy_id in policy_ids:
        store.add_policy(bundle(policy_id))
    barrier = threading.Barrier(len(policy_ids))
    errors: list[BaseException] = []

    def activate(policy_id: str) -> None:
        barrier.wait()
        try:
            for _ in range(5):
                store.activate_policy(policy_id)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=activate, args=(policy_id,)) for policy_id in policy_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)

    assert errors == []
    assert len(_active_ids(store)) == 1


def test_active_policy_none_before_activation(store: Store) -> None:
    store.add_policy(bundle("a"))

    assert store.active_policy() is None


def test_delete_policy_active_refused(store: Store) -> None:
    store.add_policy(bundle("a"), active=True)

    with pytest.raises(ConflictError, match="policy a is active"):
        store.delete_policy("a")
    assert store.get_policy("a") is not None


def test_delete_policy_inactive(store: Store) -> None:
    store.add_policy(bundle("a"), active=True)
    store.add_policy(bundle("b"))

    store.delete_policy("b")

    assert store.get_policy("b") is None
    assert [record.policy_id for record in store.list_policies()] == ["a"]


def test_delete_policy_unknown_raises(store: Store) -> None:
    with pytest.raises(NotFoundError, match="absent"):
        store.delete_policy("absent")


def test_delete_policy_keeps_evaluations(store: Store) -> None:
    store.add_policy(bundle("default"))
    store.add_evaluation(evaluation("e1", START_TIME))

    store.delete_policy("default")

    assert len(store.list_evaluations(DIGEST)) == 1


def test_add_evaluation_round_trips(store: Store) -> None:
    record = evaluation("e1", START_TIME, final_action="stop")

    store.add_evaluation(record)

    assert store.list_evaluations(DIGEST) == [record]


def test_list_evaluations_newest_first(store: Store) -> None:
    for hours, eval_id in [(1, "middle"), (0, "oldest"), (2, "newest")]:
        store.add_evaluation(evaluation(eval_id, START_TIME + datetime.timedelta(hours=hours)))

    listed = [record.eval_id for record in store.list_evaluations(DIGEST)]

    assert listed == ["newest", "middle", "oldest"]


def test_list_evaluations_same_time_latest_added_first(store: Store) -> None:
    store.add_evaluation(evaluation("first", START_TIME))
    store.add_evaluation(evaluation("second", START_TIME))

    assert [record.eval_id for record in store.list_evaluations(DIGEST)] == ["second", "first"]


def test_list_evaluations_filters_tag_and_digest(store: Store) -> None:
    store.add_evaluation(evaluation("latest", START_TIME))
    store.add_evaluation(evaluation("bookworm", START_TIME, tag="docker.io/library/debian:12"))
    store.add_evaluation(evaluation("other", START_TIME, digest=OTHER_DIGEST))

    by_tag = store.list_evaluations(DIGEST, tag="docker.io/library/debian:12")
    by_digest = store.list_evaluations(DIGEST)

    assert [record.eval_id for record in by_tag] == ["bookworm"]
    assert sorted(record.eval_id for record in by_digest) == ["bookworm", "latest"]


def test_add_evaluation_repeated_eval_id_kept(store: Store) -> None:
    store.add_evaluation(evaluation("same", START_TIME))
    store.add_evaluation(evaluation("same", START_TIME + datetime.timedelta(minutes=5)))

    assert len(store.list_evaluations(DIGEST)) == 2


def test_add_evaluation_rejects_naive_created_at(store: Store) -> None:
    with pytest.raises(ValueError, match="created_at"):
        store.add_evaluation(evaluation("e1", datetime.datetime(2024, 1, 1)))
