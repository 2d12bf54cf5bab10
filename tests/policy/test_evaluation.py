"""Tests of bundle evaluation: mappings, decisions, whitelists and image rules."""

from __future__ import annotations

import datetime
from typing import Any

from chalicelib.policy import evaluate_bundle
from chalicelib.policy.gate import default_trigger_id
from tests.policy.factories import (
    IMAGE_ID,
    NOW,
    make_bundle,
    make_facts,
    make_match,
    make_rule,
    mapping_rule,
)

TAG = "docker.io/library/nginx:latest"
FACTS = make_facts({"dockerfile": "FROM debian\nUSER root\n", "dockerfile_mode": "Actual"})

ALWAYS = make_rule("always", "always", action="WARN", rule_id="r-always")
ROOT = make_rule(
    "dockerfile",
    "effective_user",
    {"users": "root", "type": "blacklist"},
    action="STOP",
    rule_id="r-root",
)
NO_HEALTHCHECK = make_rule(
    "dockerfile",
    "instruction",
    {"instruction": "HEALTHCHECK", "check": "not_exists"},
    action="GO",
    rule_id="r-hc",
)
ROOT_MESSAGE = "User root found as effective user, which is explicity not allowed"
ROOT_ID = default_trigger_id("dockerfile", "effective_user", ROOT_MESSAGE)


def evaluate(bundle: dict[str, Any], tag: str = TAG, **kwargs: Any) -> dict[str, Any]:
    return evaluate_bundle(bundle, FACTS, tag, now=kwargs.pop("now", NOW), **kwargs)


def table(document: dict[str, Any]) -> dict[str, Any]:
    return document["result"][IMAGE_ID]["result"]


def rows(document: dict[str, Any]) -> list[list[Any]]:
    return table(document)["rows"]


def test_document_fields_and_row_layout() -> None:
    bundle = make_bundle([ROOT])

    document = evaluate(bundle)

    assert document["user_id"] == "admin"
    assert document["image_id"] == IMAGE_ID
    assert document["tag"] == TAG
    assert document["bundle"] is bundle
    assert document["matched_mapping_rule"] == bundle["mappings"][0]
    assert document["matched_whitelisted_images_rule"] is False
    assert document["matched_blacklisted_images_rule"] is False
    assert document["final_action"] == "stop"
    assert document["final_action_reason"] == "policy_evaluation"
    assert document["created_at"] == document["last_modified"] == int(NOW.timestamp())
    assert document["evaluation_problems"] == []
    assert table(document) == {
        "header": [
            "Image_Id",
            "Repo_Tag",
            "Trigger_Id",
            "Gate",
            "Trigger",
            "Check_Output",
            "Gate_Action",
            "Whitelisted",
            "Policy_Id",
        ],
        "row_count": 1,
        "rows": [
            [
                IMAGE_ID,
                TAG,
                ROOT_ID,
                "dockerfile",
                "effective_user",
                ROOT_MESSAGE,
                "stop",
                False,
                "p1",
            ]
        ],
        "final_action": "stop",
    }
    assert document["result"]["policy_data"] == []
    assert document["result"]["whitelist_names"] == []


def test_user_id_can_be_set() -> None:
    assert evaluate(make_bundle(), user_id="alice")["user_id"] == "alice"


def test_no_matching_mapping_is_go_without_rows() -> None:
    bundle = make_bundle([ROOT], mappings=[mapping_rule("gcr.io", policy_id="p1")])

    document = evaluate(bundle)

    assert document["matched_mapping_rule"] is False
    assert document["final_action"] == "go"
    assert document["final_action_reason"] == "policy_evaluation"
    assert rows(document) == []
    assert table(document)["final_action"] == "go"


def test_first_matching_mapping_selects_policy() -> None:
    bundle = make_bundle(
        [ROOT],
        mappings=[
            mapping_rule(repository="library/nginx", name="nginx", policy_id="p2"),
            mapping_rule(name="rest", policy_id="p1"),
        ],
    )
    bundle["policies"].append({"id": "p2", "version": "1_0", "rules": [ALWAYS]})

    assert [row[8] for row in rows(evaluate(bundle))] == ["p2"]
    assert [row[8] for row in rows(evaluate(bundle, "docker.io/library/redis:7"))] == ["p1"]


def test_decision_is_strictest_action() -> None:
    assert evaluate(make_bundle([NO_HEALTHCHECK]))["final_action"] == "go"
    assert evaluate(make_bundle([NO_HEALTHCHECK, ALWAYS]))["final_action"] == "warn"
    assert evaluate(make_bundle([ALWAYS, ROOT, NO_HEALTHCHECK]))["final_action"] == "stop"


def test_multiple_policies_take_strictest_and_keep_order() -> None:
    bundle = make_bundle(
        [ALWAYS], mappings=[mapping_rule(policy_ids=["p2", "p1"], whitelist_ids=["w1"])]
    )
    bundle["policies"].append({"id": "p2", "version": "1_0", "rules": [NO_HEALTHCHECK]})

    document = evaluate(bundle)

    assert [(row[4], row[6], row[8]) for row in rows(document)] == [
        ("instruction", "go", "p2"),
        ("always", "warn", "p1"),
    ]
    assert document["final_action"] == "warn"


def test_rows_are_grouped_by_gate_in_order_of_first_use() -> None:
    bundle = make_bundle([ROOT, ALWAYS, NO_HEALTHCHECK])

    assert [row[4] for row in rows(evaluate(bundle))] == ["effective_user", "instruction", "always"]


def whitelist_item(trigger_id: str, gate: str = "dockerfile", **fields: Any) -> dict[str, Any]:
    return {"id": fields.pop("id", "item-1"), "gate": gate, "trigger_id": trigger_id, **fields}


def test_whitelisted_row_stays_with_go_action() -> None:
    bundle = make_bundle(
        [ROOT, ALWAYS], whitelist_items=[whitelist_item(ROOT_ID, gate="DockerFile")]
    )

    document = evaluate(bundle)

    assert rows(document)[0][6:8] == [
        "go",
        {"whitelist_name": "whitelist one", "whitelist_id": "w1", "matched_rule_id": "item-1"},
    ]
    assert rows(document)[1][6:8] == ["warn", False]
    assert document["final_action"] == "warn"
    assert table(document)["final_action"] == "warn"


def test_whitelist_trigger_id_forms() -> None:
    cases = [
        (ROOT_ID, True),
        (ROOT_ID.upper(), False),
        (ROOT_ID[:6] + "*", True),
        ("*", True),
        (f"regexp:{ROOT_ID[:4]}[0-9a-f]+", True),
        ("regexp:zz", False),
        ("always", False),
    ]
    for trigger_id, whitelisted in cases:
        document = evaluate(make_bundle([ROOT], whitelist_items=[whitelist_item(trigger_id)]))
        assert (document["final_action"] == "go") is whitelisted, trigger_id


def test_whitelist_gate_must_match() -> None:
    document = evaluate(make_bundle([ROOT], whitelist_items=[whitelist_item("*", gate="files")]))

    assert document["final_action"] == "stop"


def test_whitelist_expiry_against_now() -> None:
    def final_action(expires_on: str) -> str:
        item = whitelist_item(ROOT_ID, expires_on=expires_on)
        return evaluate(make_bundle([ROOT], whitelist_items=[item]))["final_action"]

    assert final_action("2024-06-01T12:00:01Z") == "go"
    assert final_action("2024-06-01T12:00:00Z") == "stop"
    assert final_action("2024-06-01T14:00:00+02:00") == "stop"
    assert final_action("2024-05-01T00:00:00Z") == "stop"
    assert final_action("2024-06-01T13:00:00") == "go"


def test_first_matching_whitelist_item_is_recorded() -> None:
    bundle = make_bundle(
        [ROOT],
        whitelist_items=[
            whitelist_item("never", id="a"),
            whitelist_item(ROOT_ID, id="b"),
            whitelist_item("*", id="c"),
        ],
        mappings=[mapping_rule(policy_id="p1", whitelist_ids=["w1", "w2"])],
    )
    bundle["whitelists"].append(
        {"id": "w2", "version": "1_0", "name": "two", "items": [whitelist_item("*", id="d")]}
    )

    assert rows(evaluate(bundle))[0][7]["matched_rule_id"] == "b"


def test_whitelist_outside_the_mapping_does_not_apply() -> None:
    bundle = make_bundle([ROOT], whitelist_items=[whitelist_item("*")])
    bundle["mappings"][0]["whitelist_ids"] = []

    assert evaluate(bundle)["final_action"] == "stop"


def image_rules_bundle(
    whitelisted: list[dict[str, Any]], blacklisted: list[dict[str, Any]]
) -> dict:
    return make_bundle([ALWAYS], whitelisted_images=whitelisted, blacklisted_images=blacklisted)


def test_whitelisted_image_forces_go() -> None:
    latest = mapping_rule(value="latest", name="latest")

    document = evaluate(image_rules_bundle([latest], []))

    assert document["final_action"] == "go"
    assert document["final_action_reason"] == "whitelisted"
    assert document["matched_whitelisted_images_rule"] == latest
    assert table(document)["final_action"] == "warn"
    assert evaluate(image_rules_bundle([latest], []), "nginx:alpine")["final_action"] == "warn"


def test_blacklisted_image_forces_stop() -> None:
    latest = mapping_rule(value="latest", name="latest")

    document = evaluate(image_rules_bundle([], [latest]))

    assert document["final_action"] == "stop"
    assert document["final_action_reason"] == "blacklisted"
    assert document["matched_blacklisted_images_rule"] == latest
    assert table(document)["final_action"] == "warn"
    alpine = evaluate(image_rules_bundle([], [latest]), "nginx:alpine")
    assert (alpine["final_action"], alpine["final_action_reason"]) == ("warn", "policy_evaluation")


def test_blacklist_wins_over_whitelist() -> None:
    everything = mapping_rule(name="all")

    document = evaluate(image_rules_bundle([everything], [everything]))

    assert document["final_action"] == "stop"
    assert document["final_action_reason"] == "blacklisted"
    assert document["matched_whitelisted_images_rule"] == everything


def test_image_rules_apply_without_a_mapping() -> None:
    everything = mapping_rule(name="all")
    bundle = make_bundle(mappings=[], whitelisted_images=[everything])

    document = evaluate(bundle)

    assert (document["final_action"], document["final_action_reason"]) == ("go", "whitelisted")
    bundle = make_bundle(mappings=[], blacklisted_images=[everything])
    assert evaluate(bundle)["final_action"] == "stop"


def test_image_rules_match_by_digest_and_id() -> None:
    by_id = mapping_rule(image_type="id", value=IMAGE_ID, name="id")

    assert evaluate(image_rules_bundle([], [by_id]))["final_action_reason"] == "blacklisted"


def test_invalid_bundle_gives_stop_with_problems() -> None:
    document = evaluate(make_bundle(version="2_0"))

    assert document["final_action"] == "stop"
    assert document["final_action_reason"] == "policy_evaluation"
    assert document["matched_mapping_rule"] is False
    assert rows(document) == []
    assert table(document)["final_action"] == "stop"
    assert document["evaluation_problems"] == [
        {
            "severity": "error",
            "problem_type": "UnsupportedVersionError",
            "details": 'bundle version \'2_0\' is not supported; set "version": "1_0"',
        }
    ]


def test_missing_mapped_policy_gives_stop() -> None:
    bundle = make_bundle(
        [ALWAYS], mappings=[mapping_rule(policy_id="nope")], whitelisted_images=[mapping_rule()]
    )

    document = evaluate(bundle)

    assert document["final_action"] == "stop"
    assert document["final_action_reason"] == "policy_evaluation"
    assert document["matched_mapping_rule"] == bundle["mappings"][0]
    assert [p["problem_type"] for p in document["evaluation_problems"]] == [
        "ReferencedObjectNotFoundError"
    ]


def test_invalid_rule_in_mapped_policy_gives_stop() -> None:
    document = evaluate(make_bundle([ALWAYS, make_rule("always", "always", action="NOPE")]))

    assert document["final_action"] == "stop"
    assert [p["problem_type"] for p in document["evaluation_problems"]] == ["InvalidGateAction"]


def test_problems_outside_the_matched_mapping_are_ignored() -> None:
    bundle = make_bundle([ALWAYS])
    bundle["policies"].append({"id": "p2", "version": "1_0", "rules": [make_rule("bogus", "x")]})
    bundle["mappings"].append(mapping_rule(name="other", policy_id="missing"))

    document = evaluate(bundle)

    assert document["final_action"] == "warn"
    assert document["evaluation_problems"] == []


def test_end_of_life_rule_is_skipped_with_warning() -> None:
    bundle = make_bundle([make_rule("DOCKERFILECHECK", "NOFROM", {"old": "param"}), ALWAYS])

    document = evaluate(bundle)

    assert [row[3] for row in rows(document)] == ["always"]
    assert document["final_action"] == "warn"
    (problem,) = document["evaluation_problems"]
    assert problem["severity"] == "warn"
    assert problem["problem_type"] == "EndOfLifedError"
    assert problem["details"].endswith("replace it with 'dockerfile'")


def test_trigger_failure_gives_stop_with_location() -> None:
    bad_regex = make_rule("files", "name_match", {"regex": r"*\.pem"}, rule_id="r-bad")

    document = evaluate(make_bundle([make_rule("pkgdiff", "pkgadd"), ALWAYS, bad_regex]))

    assert document["final_action"] == "stop"
    assert rows(document) == []
    end_of_life, problem = document["evaluation_problems"]
    assert end_of_life["problem_type"] == "EndOfLifedError"
    assert problem["problem_type"] == "TriggerEvaluationError"
    assert problem["details"].startswith(
        "policy 'p1' rule 3 (id 'r-bad') gate 'files' trigger 'name_match': parameter 'regex' "
        r"value '*\\.pem' is not a valid regular expression"
    )


def test_invalid_tag_gives_stop() -> None:
    document = evaluate(make_bundle([ALWAYS]), "docker.io/Library/Nginx:latest")

    assert document["final_action"] == "stop"
    assert rows(document) == []
    (problem,) = document["evaluation_problems"]
    assert problem["problem_type"] == "ValidationError"
    assert "invalid image reference 'docker.io/Library/Nginx:latest'" in problem["details"]


def test_naive_now_is_utc() -> None:
    naive = datetime.datetime(2024, 6, 1, 12, 0)

    assert evaluate(make_bundle(), now=naive)["created_at"] == int(NOW.timestamp())


OPENSSL_MATCH = make_match(package_name="openssl", package_version="1.1.1d-0+deb10u3")
VULN_FACTS = make_facts(vulnerabilities=[OPENSSL_MATCH, make_match(vuln_id="CVE-2021-9")])
VULN_RULE = make_rule("vulnerabilities", "package", {"package_type": "all"}, rule_id="r-vuln")


def vulnerability_rows(items: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    bundle = make_bundle([VULN_RULE], whitelist_items=items)
    document = evaluate_bundle(bundle, VULN_FACTS, TAG, now=NOW)
    return [(row[2], bool(row[7])) for row in rows(document)]


def test_whitelist_package_version_forms() -> None:
    cases = [
        (None, True),
        ("1.1.1d-0+deb10u3", True),
        ("1.1.1d-*", True),
        ("regexp:1\\.1\\.1[a-z]-", True),
        ("1.1.1d", False),
        ("1.1.1n-0+deb10u1", False),
    ]
    for version, whitelisted in cases:
        item = whitelist_item("CVE-2020-0001+openssl", gate="vulnerabilities")
        if version is not None:
            item["package_version"] = version
        assert vulnerability_rows([item]) == [
            ("CVE-2020-0001+openssl", whitelisted),
            ("CVE-2021-9+libssl1.1", False),
        ], version


def test_whitelist_package_version_applies_to_every_matching_row() -> None:
    item = whitelist_item("*", gate="vulnerabilities", package_version="1.1.1d-0+deb10u3")

    assert vulnerability_rows([item]) == [
        ("CVE-2020-0001+openssl", True),
        ("CVE-2021-9+libssl1.1", True),
    ]


def test_whitelist_package_version_needs_a_package_cause() -> None:
    item = whitelist_item(ROOT_ID, package_version="*")

    assert evaluate(make_bundle([ROOT], whitelist_items=[item]))["final_action"] == "stop"


def test_whitelist_count_row_by_its_trigger_id() -> None:
    rule = make_rule(
        "vulnerabilities",
        "package",
        {"package_type": "all", "count_greater_than": "1"},
        rule_id="too-many",
    )
    item = whitelist_item("vulnerability_count+too-many", gate="vulnerabilities")

    document = evaluate_bundle(
        make_bundle([rule], whitelist_items=[item]), VULN_FACTS, TAG, now=NOW
    )

    (row,) = rows(document)
    assert row[2] == "vulnerability_count+too-many"
    assert row[6] == "go"
    assert document["final_action"] == "go"


# (blacklisted image rule matches, whitelisted image rule matches, policy action)
# -> (final action, final_action_reason)
PRECEDENCE = [
    (False, False, "GO", ("go", "policy_evaluation")),
    (False, False, "WARN", ("warn", "policy_evaluation")),
    (False, False, "STOP", ("stop", "policy_evaluation")),
    (False, True, "STOP", ("go", "whitelisted")),
    (False, True, "WARN", ("go", "whitelisted")),
    (True, False, "GO", ("stop", "blacklisted")),
    (True, True, "GO", ("stop", "blacklisted")),
    (True, True, "STOP", ("stop", "blacklisted")),
]


def test_final_action_precedence_table() -> None:
    everything = mapping_rule(name="all")
    for blacklisted, whitelisted, action, expected in PRECEDENCE:
        bundle = make_bundle(
            [make_rule("always", "always", action=action)],
            whitelisted_images=[everything] if whitelisted else [],
            blacklisted_images=[everything] if blacklisted else [],
        )
        document = evaluate(bundle)
        assert (document["final_action"], document["final_action_reason"]) == expected, (
            blacklisted,
            whitelisted,
            action,
        )
        assert table(document)["final_action"] == action.lower()
