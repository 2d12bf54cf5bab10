"""Tests of trigger id formats, which existing whitelists depend on."""

from __future__ import annotations

import hashlib

from chalicelib.policy import evaluate_bundle
from chalicelib.policy.gate import default_trigger_id
from tests.policy.factories import IMAGE_ID, NOW, make_bundle, make_facts, make_match, make_rule


def trigger_ids(rules: list[dict], **facts: object) -> list[str]:
    document = evaluate_bundle(make_bundle(rules), make_facts(**facts), "nginx", now=NOW)
    return [row[2] for row in document["result"][IMAGE_ID]["result"]["rows"]]


def test_default_trigger_id_is_md5_of_gate_trigger_message() -> None:
    message = "Image was not analyzed with an actual Dockerfile"
    expected = hashlib.md5(f"dockerfileno_dockerfile_provided{message}".encode()).hexdigest()

    assert default_trigger_id("dockerfile", "no_dockerfile_provided", message) == expected
    assert trigger_ids([make_rule("DOCKERFILE", "No_Dockerfile_Provided")]) == [expected]


def test_default_trigger_id_hashes_utf8() -> None:
    expected = hashlib.md5("filesname_matchfile=/é".encode()).hexdigest()

    assert default_trigger_id("files", "name_match", "file=/é") == expected


def test_always_trigger_id() -> None:
    assert trigger_ids([make_rule("always", "always")]) == ["always"]


def test_vulnerability_package_trigger_id() -> None:
    matches = [
        make_match(vuln_id="CVE-1"),
        make_match(
            vuln_id="GHSA-2", package_type="npm", package_path="/app/node_modules/qs/package.json"
        ),
    ]

    assert trigger_ids(
        [make_rule("vulnerabilities", "package", {"package_type": "all"})], vulnerabilities=matches
    ) == ["CVE-1+libssl1.1", "GHSA-2+qs"]


def test_vulnerability_blacklist_uses_default_id() -> None:
    message = "Blacklisted vulnerabilities detected: ['CVE-1']"

    assert trigger_ids(
        [make_rule("vulnerabilities", "blacklist", {"vulnerability_ids": "CVE-1"})],
        vulnerabilities=[make_match(vuln_id="CVE-1")],
    ) == [default_trigger_id("vulnerabilities", "blacklist", message)]


def test_retrieved_files_content_regex_trigger_id() -> None:
    rule = make_rule(
        "retrieved_files",
        "content_regex",
        {"path": "/etc/passwd", "regex": "root.*", "check": "match"},
        rule_id="abc-123",
    )

    assert trigger_ids([rule], analysis={"passwd": "root:x:0:0::/root:/bin/sh\n"}) == [
        "abc-123+file:///etc/passwd"
    ]
