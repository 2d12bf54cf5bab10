"""Tests of bundle validation."""

from __future__ import annotations

from typing import Any

from chalicelib.policy import validate_bundle
from tests.policy.factories import make_bundle, make_rule, mapping_rule


def kinds(bundle: Any, **kwargs: Any) -> list[str]:
    return [problem.problem_type for problem in validate_bundle(bundle, **kwargs)]


def test_valid_bundle_has_no_problems() -> None:
    rules = [
        make_rule("dockerfile", "instruction", {"instruction": "RUN", "check": "exists"}),
        make_rule("always", "always", action="go", rule_id=None),
    ]

    assert validate_bundle(make_bundle(rules)) == []


def test_gate_trigger_and_param_names_are_case_insensitive() -> None:
    rule = make_rule(
        "DockerFile", "EXPOSED_PORTS", {"PORTS": "22", "Type": "blacklist"}, action="Warn"
    )

    assert validate_bundle(make_bundle([rule])) == []


def test_param_alias_is_accepted() -> None:
    rule = make_rule("passwd_file", "blacklist_usernames", {"usernameblacklist": "ftp"})

    assert validate_bundle(make_bundle([rule])) == []


def test_every_rule_problem_is_reported_at_once() -> None:
    rules = [
        make_rule("nosuchgate", "x", rule_id="r1"),
        make_rule("dockerfile", "nosuchtrigger", rule_id="r2"),
        make_rule(
            "dockerfile",
            "instruction",
            {"instruction": "RUN", "check": "=", "bogus": "1"},
            rule_id="r3",
        ),
        make_rule("dockerfile", "instruction", {"check": "exists"}, rule_id="r4"),
        make_rule("dockerfile", "exposed_ports", {"ports": "ssh", "type": "allow"}, rule_id="r5"),
        make_rule("always", "always", action="DENY", rule_id="r6"),
    ]

    problems = validate_bundle(make_bundle(rules))

    assert [(p.rule_id, p.problem_type, p.parameter) for p in problems] == [
        ("r1", "GateNotFoundError", None),
        ("r2", "TriggerNotFoundError", None),
        ("r3", "InvalidParameterError", "bogus"),
        ("r4", "RequiredParameterNotSetError", "instruction"),
        ("r5", "ParameterValueInvalidError", "ports"),
        ("r5", "ParameterValueInvalidError", "type"),
        ("r6", "InvalidGateAction", None),
    ]


def test_problem_fields_and_message_name_the_location() -> None:
    rule = make_rule(
        "dockerfile", "exposed_ports", {"ports": "ssh", "type": "blacklist"}, rule_id="r5"
    )

    (problem,) = validate_bundle(make_bundle([rule]))

    assert problem.policy_id == "p1"
    assert problem.rule_id == "r5"
    assert problem.rule_position == 1
    assert problem.gate == "dockerfile"
    assert problem.trigger == "exposed_ports"
    assert problem.parameter == "ports"
    assert str(problem) == problem.message
    assert problem.message == (
        "policy 'p1' rule 1 (id 'r5') gate 'dockerfile' trigger 'exposed_ports' parameter "
        "'ports': value 'ssh' is invalid; use a comma-separated list of integers such as 80,443"
    )


def test_unknown_gate_message_lists_active_gates() -> None:
    (problem,) = validate_bundle(make_bundle([make_rule("nosuchgate", "x")]))

    assert "use one of always, dockerfile, files," in problem.message
    assert "anchoresec" not in problem.message


def test_invalid_value_is_not_also_reported_missing() -> None:
    rule = make_rule("vulnerabilities", "stale_feed_data", {"max_days_since_sync": 0.1})

    assert kinds(make_bundle([rule])) == ["ParameterValueInvalidError"]


def test_none_value_counts_as_missing() -> None:
    rule = make_rule("vulnerabilities", "stale_feed_data", {"max_days_since_sync": None})

    assert kinds(make_bundle([rule])) == ["RequiredParameterNotSetError"]


def test_invalid_regex_parameter() -> None:
    rule = make_rule(
        "vulnerabilities", "package", {"package_type": "all", "package_path_exclude": "(x"}
    )

    assert kinds(make_bundle([rule])) == ["ParameterValueInvalidError"]


def test_end_of_life_gate_strict_and_lenient() -> None:
    rules = [
        make_rule("ANCHORESEC", "VULNHIGH", {"anything": "goes"}),
        make_rule("pkgdiff", "pkgadd"),
    ]
    bundle = make_bundle(rules)

    problems = validate_bundle(bundle)

    assert [p.problem_type for p in problems] == ["EndOfLifedError", "EndOfLifedError"]
    assert problems[0].message.endswith(
        "gate 'anchoresec' is end-of-life and is no longer evaluated; replace it with "
        "'vulnerabilities'"
    )
    assert problems[1].message.endswith(
        "gate 'pkgdiff' is end-of-life and is no longer evaluated; remove it"
    )
    assert validate_bundle(bundle, strict=False) == []


def test_end_of_life_successor_of_gemcheck_is_ruby_gems() -> None:
    (problem,) = validate_bundle(make_bundle([make_rule("gemcheck", "gemnofeed")]))

    assert problem.message.endswith("replace it with 'ruby_gems'")


def test_unknown_trigger_of_end_of_life_gate_is_still_reported() -> None:
    assert kinds(make_bundle([make_rule("anchoresec", "vulnbogus")]), strict=False) == [
        "TriggerNotFoundError"
    ]


def test_versions_are_checked_everywhere() -> None:
    bundle = make_bundle(version="2_0")
    bundle["policies"][0]["version"] = "1.0"
    bundle["whitelists"][0]["version"] = None

    problems = validate_bundle(bundle)

    assert [p.problem_type for p in problems] == ["UnsupportedVersionError"] * 3
    assert problems[0].message == 'bundle version \'2_0\' is not supported; set "version": "1_0"'


def test_missing_required_fields() -> None:
    bundle = {"version": "1_0", "policies": [{"version": "1_0", "rules": []}], "mappings": None}

    messages = [p.message for p in validate_bundle(bundle)]

    assert messages == [
        "bundle id is missing",
        "bundle mappings is missing or not a list",
        'policies[0] has no id; add an "id" string',
    ]


def test_non_object_bundle() -> None:
    assert kinds(["not", "a", "bundle"]) == ["ValidationError"]


def test_mapping_policy_id_and_policy_ids() -> None:
    both = mapping_rule(name="both", policy_id="p1", policy_ids=["p1"])
    neither = mapping_rule(name="neither")
    empty = mapping_rule(name="empty", policy_ids=[])

    problems = validate_bundle(make_bundle(mappings=[both, neither, empty]))

    assert [p.message for p in problems] == [
        "mapping 'both': set policy_id or policy_ids, not both",
        "mapping 'neither': policy_id or policy_ids is missing",
        "mapping 'empty': policy_ids is not a non-empty list of policy ids",
    ]


def test_mapping_references_must_exist() -> None:
    mapping = mapping_rule(name="m", policy_ids=["p1", "p9"], whitelist_ids=["w1", "w9"])

    problems = validate_bundle(make_bundle(mappings=[mapping]))

    assert [(p.problem_type, p.mapping) for p in problems] == [
        ("ReferencedObjectNotFoundError", "m"),
        ("ReferencedObjectNotFoundError", "m"),
    ]
    assert (
        problems[0].message == "mapping 'm': policy 'p9' is not in the bundle; add it or fix the id"
    )
    assert problems[1].message == (
        "mapping 'm': whitelist 'w9' is not in the bundle; add it or fix the id"
    )


def test_duplicate_ids() -> None:
    bundle = make_bundle()
    bundle["policies"].append(dict(bundle["policies"][0]))
    bundle["whitelists"].append(dict(bundle["whitelists"][0]))

    problems = validate_bundle(bundle)

    assert [(p.problem_type, p.policy_id, p.whitelist_id) for p in problems] == [
        ("DuplicateIdentifierFoundError", "p1", None),
        ("DuplicateIdentifierFoundError", None, "w1"),
    ]


def test_selection_rule_structure() -> None:
    bad_type = mapping_rule(name="bad-type", image_type="label", policy_id="p1")
    bad_regex = mapping_rule(name="bad-regex", repository="regexp:(unclosed", policy_id="p1")
    no_registry = {"name": "no-registry", "repository": "*", "image": {"type": "tag", "value": "*"}}

    problems = validate_bundle(
        make_bundle(
            mappings=[bad_type, bad_regex], whitelisted_images=[no_registry], blacklisted_images=[7]
        )
    )

    assert [p.message for p in problems] == [
        "mapping 'bad-type': image type 'label' is invalid; use tag, digest or id",
        "mapping 'bad-regex': repository pattern 'regexp:(unclosed' is not a valid regular "
        "expression: missing ), unterminated subpattern at position 0",
        "mapping 'no-registry': registry is missing; use * to match any",
        "mapping 'blacklisted_images[0]': blacklisted_images entry is not a JSON object",
    ]


def test_whitelist_items() -> None:
    items = [
        {
            "id": "ok",
            "gate": "vulnerabilities",
            "trigger_id": "CVE-1+*",
            "expires_on": "2030-01-01T00:00:00Z",
        },
        {"id": "no-gate", "trigger_id": "x"},
        {"id": "bad-expiry", "gate": "files", "trigger_id": "x", "expires_on": "next year"},
        {"gate": "files", "trigger_id": "regexp:["},
    ]

    problems = validate_bundle(make_bundle(whitelist_items=items))

    assert [p.message for p in problems] == [
        "whitelist 'w1': item 2 (id 'no-gate') has no gate",
        "whitelist 'w1': item 3 (id 'bad-expiry') expires_on 'next year' is not an RFC 3339 "
        "timestamp such as 2024-01-31T00:00:00Z",
        "whitelist 'w1': item 4: pattern 'regexp:[' is not a valid regular expression: "
        "unterminated character set at position 0",
    ]


def test_unmapped_policies_are_validated_too() -> None:
    bundle = make_bundle()
    bundle["policies"].append(
        {"id": "p2", "version": "1_0", "rules": [make_rule("always", "always", action="maybe")]}
    )

    assert kinds(bundle) == ["InvalidGateAction"]


def test_params_must_be_a_list_of_named_objects() -> None:
    rule = make_rule("always", "always")
    rule["params"] = [{"value": "x"}]
    other = make_rule("always", "always")
    other["params"] = {"name": "x"}

    assert kinds(make_bundle([rule, other])) == ["ValidationError", "ValidationError"]


def test_whitelist_item_package_version() -> None:
    base = {"gate": "vulnerabilities", "trigger_id": "CVE-1+openssl"}
    items = [
        {**base, "id": "exact", "package_version": "1.1.1d-0+deb10u3"},
        {**base, "id": "glob", "package_version": "1.1.*"},
        {**base, "id": "number", "package_version": 1.1},
        {**base, "id": "blank", "package_version": " "},
        {**base, "id": "regex", "package_version": "regexp:("},
    ]

    problems = validate_bundle(make_bundle(whitelist_items=items))

    assert [p.message for p in problems] == [
        "whitelist 'w1': item 3 (id 'number') package_version 1.1 is not a version string; "
        "give a version such as 1.1.1d-0+deb10u3, or remove the field",
        "whitelist 'w1': item 4 (id 'blank') package_version ' ' is not a version string; "
        "give a version such as 1.1.1d-0+deb10u3, or remove the field",
        "whitelist 'w1': item 5 (id 'regex') package_version pattern 'regexp:(' is not a valid "
        "regular expression: missing ), unterminated subpattern at position 0",
    ]


def test_extensions_keep_1_0_bundles_valid() -> None:
    rule = make_rule(
        "vulnerabilities", "package", {"package_type": "all", "count_greater_than": "10"}
    )
    item = {"gate": "vulnerabilities", "trigger_id": "*", "package_version": "2.*"}

    bundle = make_bundle([rule], whitelist_items=[item])

    assert bundle["version"] == "1_0"
    assert validate_bundle(bundle) == []
