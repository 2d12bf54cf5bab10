"""Tests of recorded evaluation inputs, replay and the validity time of a result."""

from __future__ import annotations

import copy
import datetime
import json
from typing import Any

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.policy.replay import (
    AnalysisChangedError,
    ReplayError,
    bundle_digest,
    canonical_digest,
    evaluate_recorded,
    replay_evaluation,
)
from tests.policy.factories import NOW, make_bundle, make_facts, make_match, make_rule

TAG = "docker.io/library/app:1"
UTC = datetime.timezone.utc
SYNCED = datetime.datetime(2024, 5, 30, 8, 0, tzinfo=UTC)
MATCH = make_match(namespace="debian:12", fixed_in=["1.1.1n-0+deb10u1"])
FIRST_SEEN = {f"{MATCH.vuln_id}+{MATCH.package_name}+{MATCH.package_path}": NOW}
ANALYSIS = {
    "distro": Distro(id="debian", version_id="12"),
    "packages": [
        Package(
            name="libssl1.1",
            version="1.1.1d-0+deb10u3",
            type=PackageType.DPKG,
            location="/var/lib/dpkg/status",
        )
    ],
    "history": [{"created_by": "/bin/sh -c #(nop)  EXPOSE 22"}],
}
FACTS = make_facts(
    ANALYSIS,
    vulnerabilities=[MATCH],
    vuln_namespace="debian:12",
    feed_record_counts={"debian:12": 900, "pypi": 3000},
    feed_last_sync={"debian:12": SYNCED, "pypi": None},
    first_seen=FIRST_SEEN,
)
ANALYSIS_DOCUMENT = FACTS.analysis.model_dump(mode="json")
RULES = [
    make_rule("vulnerabilities", "package", {"package_type": "all"}, action="WARN", rule_id="v"),
    make_rule("vulnerabilities", "stale_feed_data", {"max_days_since_sync": "5"}, rule_id="s"),
    make_rule("dockerfile", "exposed_ports", {"ports": "22", "type": "blacklist"}, rule_id="e"),
]


def recorded(bundle: dict[str, Any] | None = None, now: datetime.datetime = NOW) -> dict:
    document = evaluate_recorded(
        bundle or make_bundle(RULES),
        FACTS,
        TAG,
        now=now,
        analysis_digest=canonical_digest(ANALYSIS_DOCUMENT),
    )
    # A stored document has been through JSON, as the store keeps it.
    stored: dict = json.loads(json.dumps(document))
    return stored


def test_canonical_digest_ignores_key_order_and_spacing() -> None:
    assert canonical_digest({"b": 1, "a": [1, "é"]}) == canonical_digest({"a": [1, "é"], "b": 1})
    assert canonical_digest({"a": 1}) != canonical_digest({"a": "1"})
    assert canonical_digest({}).startswith("sha256:")


def test_recorded_document_fields() -> None:
    bundle = make_bundle(RULES)

    document = recorded(bundle)

    assert document["bundle_digest"] == bundle_digest(bundle)
    assert document["analysis_digest"] == canonical_digest(ANALYSIS_DOCUMENT)
    assert document["vulnerability_data"] == {
        "debian:12": {"record_count": 900, "last_sync": "2024-05-30T08:00:00Z"},
        "pypi": {"record_count": 3000, "last_sync": None},
    }
    assert document["evaluated_at"] == NOW.isoformat()
    inputs = document["replay_inputs"]
    assert inputs["vuln_namespace"] == "debian:12"
    assert [match["vuln_id"] for match in inputs["matches"]] == ["CVE-2020-0001"]
    assert list(inputs["first_seen"]) == list(FIRST_SEEN)


def test_replay_reproduces_the_stored_document() -> None:
    stored = recorded(now=NOW + datetime.timedelta(microseconds=250))

    replay = replay_evaluation(stored, copy.deepcopy(ANALYSIS_DOCUMENT))

    assert replay.identical
    assert replay.differences == ()
    replayed = json.loads(json.dumps(replay.document))
    assert replayed["result"] == stored["result"]
    assert [row[4] for row in replayed["result"][FACTS.image_id]["result"]["rows"]] == [
        "package",
        "exposed_ports",
    ]
    assert replayed["final_action"] == stored["final_action"] == "stop"


def test_replay_uses_recorded_feed_state_and_time() -> None:
    # Ten days after the sync the feed was stale, so the replay must fire stale_feed_data again.
    stored = recorded(now=SYNCED + datetime.timedelta(days=10))

    replay = replay_evaluation(stored, ANALYSIS_DOCUMENT)

    rows = replay.document["result"][FACTS.image_id]["result"]["rows"]
    assert "stale_feed_data" in [row[4] for row in rows]
    assert replay.identical


def test_replay_reports_changed_analysis() -> None:
    stored = recorded()
    changed = copy.deepcopy(ANALYSIS_DOCUMENT)
    changed["packages"][0]["version"] = "1.1.1n-0+deb10u1"

    with pytest.raises(AnalysisChangedError, match="changed since the evaluation") as error:
        replay_evaluation(stored, changed)

    assert stored["analysis_digest"] in str(error.value)
    assert canonical_digest(changed) in str(error.value)


def test_replay_reports_differences_when_rows_change() -> None:
    stored = recorded()
    stored["final_action"] = "go"
    stored["result"][FACTS.image_id]["result"]["rows"].pop()

    replay = replay_evaluation(stored, ANALYSIS_DOCUMENT)

    assert not replay.identical
    assert replay.differences == ("final_action", "result")


def test_replay_requires_recorded_inputs() -> None:
    stored = recorded()
    del stored["replay_inputs"]
    del stored["evaluated_at"]

    with pytest.raises(ReplayError, match="stored without evaluated_at, replay_inputs"):
        replay_evaluation(stored, ANALYSIS_DOCUMENT)


def test_replay_rejects_altered_bundle() -> None:
    stored = recorded()
    stored["bundle"]["policies"][0]["rules"].pop()

    with pytest.raises(ReplayError, match="does not match its recorded digest"):
        replay_evaluation(stored, ANALYSIS_DOCUMENT)


def test_replay_rejects_invalid_inputs() -> None:
    stored = recorded()
    stored["replay_inputs"]["matches"] = [{"vuln_id": 3}]

    with pytest.raises(ReplayError, match="recorded replay inputs are invalid"):
        replay_evaluation(stored, ANALYSIS_DOCUMENT)


def whitelisted(expires_on: str) -> dict:
    item = {"id": "i", "gate": "always", "trigger_id": "always", "expires_on": expires_on}
    return make_bundle([make_rule("always", "always")], whitelist_items=[item])


def test_valid_until_is_expiry_of_the_matching_whitelist_item() -> None:
    assert (
        recorded(whitelisted("2024-06-02T00:00:00Z"))["valid_until"] == "2024-06-02T00:00:00+00:00"
    )
    # An expired item changes nothing later, and a bundle without times never expires.
    assert recorded(whitelisted("2024-05-01T00:00:00Z"))["valid_until"] is None
    assert recorded(make_bundle([make_rule("always", "always")]))["valid_until"] is None


def test_valid_until_is_when_the_feed_becomes_stale() -> None:
    document = recorded(now=SYNCED + datetime.timedelta(days=1))

    assert document["valid_until"] == (SYNCED + datetime.timedelta(days=5)).isoformat()


def test_valid_until_is_the_earliest_change() -> None:
    bundle = whitelisted("2024-06-20T00:00:00Z")
    bundle["policies"][0]["rules"].append(
        make_rule("vulnerabilities", "stale_feed_data", {"max_days_since_sync": "5"})
    )

    document = recorded(bundle, now=SYNCED + datetime.timedelta(days=1))

    assert document["valid_until"] == "2024-06-04T08:00:00+00:00"
