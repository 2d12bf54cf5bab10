"""Tests of the default bundle shipped with the policy engine."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from chalicelib.analysis.interface import Distro
from chalicelib.policy import DEFAULT_BUNDLE, evaluate_bundle, validate_bundle
from chalicelib.policy.gate import default_trigger_id
from chalicelib.vulns.interface import Severity
from tests.policy.factories import IMAGE_ID, NOW, make_facts, make_match

TAG = "docker.io/library/debian:12"
POLICY_ID = "48e6f7d6-1765-11e8-b5f9-8b6f228548b6"

SAMPLE = make_facts(
    {
        "distro": Distro(id="debian", version_id="12"),
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:1f4 in / "},
            {"created_by": "/bin/sh -c apt-get update && apt-get install -y openssh-server"},
            {"created_by": "/bin/sh -c #(nop)  EXPOSE 22"},
            {"created_by": '/bin/sh -c #(nop)  CMD ["/usr/sbin/sshd", "-D"]'},
        ],
    },
    vuln_namespace="debian:12",
    feed_last_sync={"debian:12": NOW - datetime.timedelta(days=1)},
    feed_record_counts={"debian:12": 3500},
    vulnerabilities=[
        make_match(vuln_id="CVE-2023-0001", severity=Severity.LOW),
        make_match(
            vuln_id="CVE-2023-0002", severity=Severity.MEDIUM, fixed_in=["3.0.11-1~deb12u1"]
        ),
        make_match(vuln_id="CVE-2023-0003", severity=Severity.HIGH, package_name="openssh-server"),
        make_match(vuln_id="CVE-2023-0004", severity=Severity.CRITICAL, will_not_fix=True),
    ],
)


def test_default_bundle_validates() -> None:
    assert validate_bundle(DEFAULT_BUNDLE) == []


def test_default_bundle_has_anchore_ids_and_rules(shared_dir: Path) -> None:
    path = (
        shared_dir / "acceptance-fixtures/anchore-engine-policy/bundles/anchore_default_bundle.json"
    )
    anchore = json.loads(path.read_text())

    assert DEFAULT_BUNDLE["id"] == "2c53a13c-1765-11e8-82ef-23527761d060"
    assert DEFAULT_BUNDLE["policies"][0]["id"] == anchore["policies"][0]["id"]
    assert DEFAULT_BUNDLE["whitelists"][0]["id"] == anchore["whitelists"][0]["id"]
    assert DEFAULT_BUNDLE["mappings"] == anchore["mappings"]
    assert DEFAULT_BUNDLE["policies"][0]["rules"] == anchore["policies"][0]["rules"]


def test_default_bundle_rows_on_sample_image() -> None:
    document = evaluate_bundle(DEFAULT_BUNDLE, SAMPLE, TAG, now=NOW)
    result = document["result"][IMAGE_ID]["result"]

    link = "https://security-tracker.debian.org/tracker/CVE-2020-0001"
    expected = [
        (
            "dockerfile",
            "exposed_ports",
            "Dockerfile exposes port (22) which is in policy file DENIEDPORTS list",
            "stop",
        ),
        (
            "dockerfile",
            "instruction",
            "Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check",
            "warn",
        ),
        (
            "vulnerabilities",
            "package",
            "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
            f"(fixed in: 3.0.11-1~deb12u1)(CVE-2023-0002 - {link})",
            "warn",
        ),
        (
            "vulnerabilities",
            "package",
            "HIGH Vulnerability found in os package type (dpkg) - openssh-server "
            f"(CVE-2023-0003 - {link})",
            "stop",
        ),
    ]
    assert [(row[3], row[4], row[5], row[6]) for row in result["rows"]] == expected
    assert [row[2] for row in result["rows"]] == [
        default_trigger_id("dockerfile", "exposed_ports", expected[0][2]),
        default_trigger_id("dockerfile", "instruction", expected[1][2]),
        "CVE-2023-0002+libssl1.1",
        "CVE-2023-0003+openssh-server",
    ]
    assert {row[8] for row in result["rows"]} == {POLICY_ID}
    assert document["final_action"] == "stop"
    assert document["evaluation_problems"] == []


def test_default_bundle_warns_on_stale_and_missing_feed_data() -> None:
    facts = SAMPLE.model_copy(
        update={
            "feed_last_sync": {"debian:12": NOW - datetime.timedelta(days=3)},
            "feed_record_counts": {},
            "vulnerabilities": [],
        }
    )

    document = evaluate_bundle(DEFAULT_BUNDLE, facts, TAG, now=NOW)
    rows = document["result"][IMAGE_ID]["result"]["rows"]

    assert [(row[4], row[6]) for row in rows] == [
        ("exposed_ports", "stop"),
        ("instruction", "warn"),
        ("stale_feed_data", "warn"),
        ("vulnerability_data_unavailable", "warn"),
    ]
