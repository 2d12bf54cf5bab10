"""Tests on the policy bundles from Anchore Engine's test suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.policy import evaluate_bundle, validate_bundle
from tests.policy.factories import IMAGE_ID, NOW, make_facts

VALID = [
    "anchore_default_bundle.json",
    "multi_default.json",
    "multi_policy.json",
    "bundle-with-all-rules-2020-08-20.json",
]
TAG = "docker.io/library/ruby:latest"


@pytest.fixture
def bundles(shared_dir: Path) -> Path:
    return shared_dir / "acceptance-fixtures" / "anchore-engine-policy" / "bundles"


def load(bundles: Path, name: str) -> dict:
    return json.loads((bundles / name).read_text())


def problems(bundle: dict, strict: bool = True) -> list[tuple[str, str]]:
    return [(p.problem_type, p.message) for p in validate_bundle(bundle, strict=strict)]


@pytest.mark.parametrize("name", VALID)
def test_valid_bundle_loads_without_problems(bundles: Path, name: str) -> None:
    assert validate_bundle(load(bundles, name)) == []


def test_bad_bundle_lists_every_error(bundles: Path) -> None:
    where = "policy '7dcbe180-2914-4723-89d4-20b6657f66eb'"

    assert problems(load(bundles, "bad_bundle.json")) == [
        (
            "InvalidGateAction",
            f"{where} rule 1 gate 'dockerfile' trigger 'instruction': action 'invalidaction' is "
            "invalid; use GO, WARN or STOP",
        ),
        (
            "RequiredParameterNotSetError",
            f"{where} rule 1 gate 'dockerfile' trigger 'instruction' parameter 'instruction': "
            "required parameter is missing",
        ),
        (
            "RequiredParameterNotSetError",
            f"{where} rule 1 gate 'dockerfile' trigger 'instruction' parameter 'check': "
            "required parameter is missing",
        ),
        (
            "RequiredParameterNotSetError",
            f"{where} rule 2 gate 'dockerfile' trigger 'instruction' parameter 'instruction': "
            "required parameter is missing",
        ),
        (
            "RequiredParameterNotSetError",
            f"{where} rule 2 gate 'dockerfile' trigger 'instruction' parameter 'check': "
            "required parameter is missing",
        ),
    ]


def test_bad_policy_id_bundle_names_the_missing_policy(bundles: Path) -> None:
    assert problems(load(bundles, "bad_policy_id_bundle.json")) == [
        (
            "ReferencedObjectNotFoundError",
            "mapping 'default': policy 'notarealid' is not in the bundle; add it or fix the id",
        )
    ]


def test_empty_bundle_problems(bundles: Path) -> None:
    bundle = load(bundles, "empty.json")
    missing = (
        "ReferencedObjectNotFoundError",
        "mapping 'default': policy 'empty' is not in the bundle; add it or fix the id",
    )

    assert [kind for kind, _ in problems(bundle)] == ["EndOfLifedError", missing[0]]
    assert problems(bundle, strict=False) == [missing]


def test_trivial_bundle_uses_end_of_life_gates(bundles: Path) -> None:
    bundle = load(bundles, "trivial_bundle.json")

    assert [p.gate for p in validate_bundle(bundle) if p.problem_type == "EndOfLifedError"] == [
        "DOCKERFILECHECK",
        "FILECHECK",
        "PKGCHECK",
        "ANCHORESEC",
    ]
    assert [kind for kind, _ in problems(bundle, strict=False)] == ["ReferencedObjectNotFoundError"]


def evaluate(bundle: dict, **analysis: object) -> dict:
    facts = make_facts(analysis or {"history": [{"created_by": "/bin/sh -c #(nop)  EXPOSE 22"}]})
    return evaluate_bundle(bundle, facts, TAG, now=NOW)


def test_multi_default_evaluates_like_default(bundles: Path) -> None:
    default = evaluate(load(bundles, "anchore_default_bundle.json"))
    multi = evaluate(load(bundles, "multi_default.json"))

    assert multi["result"] == default["result"]
    assert multi["final_action"] == default["final_action"] == "stop"


def test_multi_policy_evaluates_both_policies(bundles: Path) -> None:
    document = evaluate(load(bundles, "multi_policy.json"))
    rows = document["result"][IMAGE_ID]["result"]["rows"]

    assert [(row[4], row[5], row[8]) for row in rows] == [
        (
            "instruction",
            "Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check",
            "1",
        ),
        (
            "instruction",
            "Dockerfile directive 'SHELL' not found, matching condition 'not_exists' check",
            "2",
        ),
    ]
    assert document["final_action"] == "warn"


def test_bad_policy_id_bundle_evaluates_to_stop(bundles: Path) -> None:
    document = evaluate(load(bundles, "bad_policy_id_bundle.json"))

    assert document["final_action"] == "stop"
    assert [p["problem_type"] for p in document["evaluation_problems"]] == [
        "ReferencedObjectNotFoundError"
    ]


def test_all_rules_bundle_fails_on_its_invalid_file_pattern(bundles: Path) -> None:
    document = evaluate(load(bundles, "bundle-with-all-rules-2020-08-20.json"))

    assert document["final_action"] == "stop"
    (problem,) = document["evaluation_problems"]
    assert problem["problem_type"] == "TriggerEvaluationError"
    assert "gate 'files' trigger 'name_match'" in problem["details"]
