"""Tests of the gate catalog of `GET /v1/system/policy_spec`."""

from __future__ import annotations

from chalicelib.policy import policy_spec

ACTIVE_TRIGGERS = {
    "always": ["always"],
    "dockerfile": ["instruction", "effective_user", "exposed_ports", "no_dockerfile_provided"],
    "files": ["content_regex_match", "name_match", "attribute_match", "suid_or_guid_set"],
    "licenses": ["blacklist_exact_match", "blacklist_partial_match"],
    "metadata": ["attribute"],
    "malware": ["scans", "scan_not_run"],
    "npms": [
        "newer_version_in_feed",
        "unknown_in_feeds",
        "version_not_in_feeds",
        "blacklisted_name_version",
        "feed_data_unavailable",
    ],
    "packages": ["required_package", "verify", "blacklist"],
    "passwd_file": [
        "content_not_available",
        "blacklist_usernames",
        "blacklist_userids",
        "blacklist_groupids",
        "blacklist_shells",
        "blacklist_full_entry",
    ],
    "retrieved_files": ["content_not_available", "content_regex"],
    "ruby_gems": [
        "newer_version_found_in_feed",
        "not_found_in_feed",
        "version_not_found_in_feed",
        "blacklist",
        "feed_data_unavailable",
    ],
    "secret_scans": ["content_regex_checks"],
    "vulnerabilities": [
        "package",
        "stale_feed_data",
        "vulnerability_data_unavailable",
        "blacklist",
    ],
}

EOL_SUCCESSORS = {
    "anchoresec": "vulnerabilities",
    "dockerfilecheck": "dockerfile",
    "filecheck": "files",
    "fileparse_passwd": "passwd_file",
    "gemcheck": "ruby_gems",
    "npmcheck": "npms",
    "pkgcheck": "packages",
    "pkgblacklist": "packages",
    "licblacklist": "licenses",
    "metadatacheck": "metadata",
    "secretcheck": "secret_scans",
    "suiddiff": None,
    "pkgdiff": None,
    "imagecheck": None,
}


def gates() -> dict[str, dict]:
    return {gate["name"]: gate for gate in policy_spec()}


def params(gate: str, trigger: str) -> dict[str, dict]:
    (found,) = [t for t in gates()[gate]["triggers"] if t["name"] == trigger]
    return {param["name"]: param for param in found["parameters"]}


def test_spec_lists_13_active_gates_with_40_triggers() -> None:
    active = {name: gate for name, gate in gates().items() if gate["state"] == "active"}

    assert {name: [t["name"] for t in gate["triggers"]] for name, gate in active.items()} == (
        ACTIVE_TRIGGERS
    )
    assert sum(len(triggers) for triggers in ACTIVE_TRIGGERS.values()) == 40


def test_spec_lists_end_of_life_gates_last_with_successors() -> None:
    spec = policy_spec()
    retired = spec[len(ACTIVE_TRIGGERS) :]

    assert {gate["name"]: gate["superceded_by"] for gate in retired} == EOL_SUCCESSORS
    assert all(gate["state"] == "eol" for gate in retired)
    assert all(t["state"] == "eol" for gate in retired for t in gate["triggers"])
    assert sum(len(gate["triggers"]) for gate in retired) == 56


def test_spec_parameter_documents() -> None:
    package = params("vulnerabilities", "package")

    assert list(package)[:3] == ["package_type", "severity_comparison", "severity"]
    # Anchore's 20 parameters and the `count_greater_than` extension.
    assert len(package) == 21
    assert package["package_type"]["required"] is True
    assert package["severity"]["default"] == "unknown"
    assert package["severity"]["validator"]["criteria"] == {
        "type": "string",
        "enum": ["unknown", "negligible", "low", "medium", "high", "critical"],
    }
    assert package["vendor_only"]["type"] == "bool"
    assert package["cvss_v3_base_score_comparison"]["default"] == ">="
    assert package["package_path_exclude"]["type"] == "regex"
    assert set(package["max_days_since_fix"]) >= {
        "name",
        "description",
        "example",
        "required",
        "validator",
        "state",
        "superceded_by",
        "aliases",
        "default",
    }


def test_spec_lists_count_extension() -> None:
    count = params("vulnerabilities", "package")["count_greater_than"]

    assert count["type"] == "int"
    assert count["required"] is False
    assert count["default"] is None
    assert "vulnerability_count+" in count["description"]


def test_spec_parameter_aliases() -> None:
    assert params("passwd_file", "blacklist_usernames")["user_names"]["aliases"] == [
        "usernameblacklist"
    ]
    assert params("passwd_file", "blacklist_userids")["user_ids"]["aliases"] == ["useridblacklist"]


def test_spec_every_parameter_is_described() -> None:
    for gate in policy_spec():
        assert gate["description"], gate["name"]
        for trigger in gate["triggers"]:
            assert trigger["description"], (gate["name"], trigger["name"])
            for param in trigger["parameters"]:
                assert param["description"], (gate["name"], trigger["name"], param["name"])
                assert param["example"] is not None, (gate["name"], param["name"])
