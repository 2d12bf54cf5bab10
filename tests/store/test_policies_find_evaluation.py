"""Tests of finding the newest stored evaluation by its check key."""

from __future__ import annotations

import dataclasses
import datetime

from chalicelib.store import EvaluationRecord, Store
from tests.store.conftest import START_TIME
from tests.store.factories import DIGEST, OTHER_DIGEST, evaluation

TAG = "docker.io/library/debian:latest"


def keyed(
    eval_id: str, key: str, hours: int = 0, *, policy_id: str = "default", **fields: str
) -> EvaluationRecord:
    record = evaluation(eval_id, START_TIME + datetime.timedelta(hours=hours), **fields)
    return dataclasses.replace(
        record, policy_id=policy_id, result={**record.result, "check_key": key}
    )


def test_find_evaluation_returns_newest_with_key(store: Store) -> None:
    store.add_evaluation(keyed("old", "k1", 0))
    store.add_evaluation(keyed("new", "k1", 2))
    store.add_evaluation(keyed("other-key", "k2", 3))

    found = store.find_evaluation(DIGEST, TAG, "default", "k1")

    assert found is not None
    assert found.eval_id == "new"
    assert found.result["check_key"] == "k1"
    assert found.created_at == START_TIME + datetime.timedelta(hours=2)


def test_find_evaluation_same_time_latest_added(store: Store) -> None:
    store.add_evaluation(keyed("first", "k1"))
    store.add_evaluation(keyed("second", "k1"))

    found = store.find_evaluation(DIGEST, TAG, "default", "k1")

    assert found is not None
    assert found.eval_id == "second"


def test_find_evaluation_unknown_key_returns_none(store: Store) -> None:
    store.add_evaluation(keyed("e1", "k1"))

    assert store.find_evaluation(DIGEST, TAG, "default", "k2") is None


def test_find_evaluation_without_key_returns_none(store: Store) -> None:
    store.add_evaluation(evaluation("no-key", START_TIME))

    assert store.find_evaluation(DIGEST, TAG, "default", "k1") is None


def test_find_evaluation_filters_digest_tag_policy(store: Store) -> None:
    store.add_evaluation(keyed("other-digest", "k1", digest=OTHER_DIGEST))
    store.add_evaluation(keyed("other-tag", "k1", tag="docker.io/library/debian:12"))
    store.add_evaluation(keyed("other-policy", "k1", policy_id="strict"))

    assert store.find_evaluation(DIGEST, TAG, "default", "k1") is None
    found = store.find_evaluation(DIGEST, TAG, "strict", "k1")
    assert found is not None
    assert found.eval_id == "other-policy"
