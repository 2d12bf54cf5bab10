"""NVD scores in vulnerability rows, query results and policy checks, on real records.

The PyPA advisory PYSEC-2018-28 (requests < 2.20.0) carries no severity and no CVSS, and the
GHSA advisory of minimist carries a CVSS 3.1 vector. The NVD samples contain neither CVE, so
the NVD page used here is the real single-entry sample with its CVE id set to the PyPA
advisory's alias CVE-2018-18074. Its scores: CVSS 3.1 6.5 (2.8 / 3.6), CVSS 2.0 4.3 (8.6 / 2.9).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shutil
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.service import policies as policy_service
from chalicelib.service.context import Services
from tests.api.conftest import NPM_FEED, PYPI_FEED, call
from tests.conftest import SHARED_DIR
from tests.store.factories import DIGEST, IMAGE_ID, new_image, summary

NVD_SAMPLE = SHARED_DIR / "feeds" / "samples" / "nvd" / "vunnel-nvd-api2-single-entry.json"
ALIAS = "CVE-2018-18074"
PACKAGES = [
    {
        "name": "requests",
        "version": "2.19.0",
        "type": "python",
        "location": "/usr/lib/python3/dist-packages/requests-2.19.0.dist-info",
    },
    {
        "name": "minimist",
        "version": "1.2.0",
        "type": "npm",
        "location": "/app/node_modules/minimist/package.json",
    },
]
NO_SCORES = {"base_score": -1.0, "exploitability_score": -1.0, "impact_score": -1.0}


def no_nvd_entry(cve_id: str) -> dict:
    """Return the `nvd_data` entry of a CVE id without stored NVD data."""
    return {"id": cve_id, "cvss_v2": NO_SCORES, "cvss_v3": NO_SCORES, "cwes": []}


def write_nvd_page(folder: Path, cve_id: str = ALIAS) -> None:
    page = json.loads(NVD_SAMPLE.read_bytes())
    page["vulnerabilities"][0]["cve"]["id"] = cve_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "page.json").write_text(json.dumps(page))


def sync(client: Client) -> None:
    status, body = call(client, "POST", "/v1/system/feeds")
    assert status == 200, body


@pytest.fixture
def enriched(client: Client, services: Services, shared_dir: Path, tmp_path: Path) -> Client:
    """An image with requests 2.19.0 and minimist 1.2.0, matched, with one NVD record."""
    feed = tmp_path / "feed"
    shutil.copytree(PYPI_FEED / "requests", feed / "pypi" / "requests")
    shutil.copy(NPM_FEED / "GHSA-vh95-rmgr-6w4m.json", feed / "npm")
    write_nvd_page(feed / "nvd")
    sources = f"osv={feed / 'pypi'},osv={feed / 'npm'},nvd={feed / 'nvd'}"
    services.settings = dataclasses.replace(services.settings, feed_sources=sources)
    services.store.upsert_image(new_image(DIGEST, tag="nvd"))
    analysis = {"image_digest": DIGEST, "image_id": IMAGE_ID, "packages": PACKAGES}
    services.store.finish_analysis(DIGEST, analysis, summary())
    sync(client)
    return client


def rows_by_id(client: Client) -> dict[str, dict]:
    status, body = call(client, "GET", f"/v1/images/{DIGEST}/vuln/all")
    assert status == 200, body
    return {row["vuln"]: row for row in body["vulnerabilities"]}


def test_image_rows_take_nvd_scores(enriched: Client) -> None:
    row = rows_by_id(enriched)["PYSEC-2018-28"]

    assert row["nvd_data"] == [
        {
            "id": ALIAS,
            "cvss_v2": {"base_score": 4.3, "exploitability_score": 8.6, "impact_score": 2.9},
            "cvss_v3": {"base_score": 6.5, "exploitability_score": 2.8, "impact_score": 3.6},
            "cwes": ["CWE-352"],
        }
    ]
    assert row["vendor_data"] == []


def test_image_rows_severity_falls_back_to_nvd(enriched: Client) -> None:
    row = rows_by_id(enriched)["PYSEC-2018-28"]

    assert row["severity"] == "Medium"


def test_image_rows_vendor_scores_kept_apart(enriched: Client) -> None:
    row = rows_by_id(enriched)["GHSA-vh95-rmgr-6w4m"]

    assert row["severity"] == "Medium"
    assert row["nvd_data"] == [no_nvd_entry("CVE-2020-7598")]
    [vendor] = row["vendor_data"]
    assert vendor["id"] == "GHSA-vh95-rmgr-6w4m"
    assert vendor["cvss_v2"] == NO_SCORES
    assert vendor["cvss_v3"]["base_score"] == 5.6
    assert vendor["cvss_v3"]["exploitability_score"] == 2.2
    assert vendor["cvss_v3"]["impact_score"] == 3.4


def test_image_rows_without_nvd_stay_unknown(
    enriched: Client, services: Services, tmp_path: Path
) -> None:
    write_nvd_page(tmp_path / "feed" / "nvd", cve_id="CVE-2022-1576")
    sync(enriched)

    row = rows_by_id(enriched)["PYSEC-2018-28"]

    assert row["severity"] == "Unknown"
    assert row["nvd_data"] == [no_nvd_entry(ALIAS)]


def test_query_vulnerabilities_nvd_and_vendor_data(enriched: Client) -> None:
    path = "/v1/query/vulnerabilities?id=PYSEC-2018-28,GHSA-vh95-rmgr-6w4m"
    status, body = call(enriched, "GET", path)

    assert status == 200, body
    found = {entry["id"]: entry for entry in body["vulnerabilities"]}
    pysec, ghsa = found["PYSEC-2018-28"], found["GHSA-vh95-rmgr-6w4m"]
    assert pysec["severity"] == "Medium"
    assert pysec["nvd_data"][0]["cvss_v3"]["base_score"] == 6.5
    assert pysec["nvd_data"][0]["cvss_v2"]["base_score"] == 4.3
    assert pysec["nvd_data"][0]["cwes"] == ["CWE-352"]
    assert pysec["vendor_data"] == []
    assert ghsa["nvd_data"] == [no_nvd_entry("CVE-2020-7598")]
    assert ghsa["vendor_data"][0]["cvss_v3"]["base_score"] == 5.6


def test_query_vulnerabilities_nvd_record_has_no_vendor_data(enriched: Client) -> None:
    status, body = call(enriched, "GET", f"/v1/query/vulnerabilities?id={ALIAS}")

    assert status == 200, body
    [entry] = body["vulnerabilities"]
    assert entry["namespace"] == "nvd"
    assert entry["nvd_data"][0]["cvss_v3"]["base_score"] == 6.5
    assert entry["vendor_data"] == []


def test_images_by_vulnerability_severity_from_nvd(enriched: Client) -> None:
    path = "/v1/query/images/by_vulnerability?vulnerability_id=PYSEC-2018-28"

    _, medium = call(enriched, "GET", path + "&severity=Medium")
    _, unknown = call(enriched, "GET", path + "&severity=Unknown")

    [entry] = medium["images"]
    assert entry["affected_packages"][0]["severity"] == "Medium"
    assert unknown["images"] == []


def cvss_bundle() -> dict:
    """A bundle that stops on a match whose NVD CVSS v3 base score is at least 6.0."""
    rule = {
        "id": "r1",
        "gate": "vulnerabilities",
        "trigger": "package",
        "action": "STOP",
        "params": [
            {"name": "package_type", "value": "all"},
            {"name": "cvss_v3_base_score_comparison", "value": ">="},
            {"name": "cvss_v3_base_score", "value": "6.0"},
        ],
    }
    return {
        "id": "nvd-cvss",
        "name": "nvd cvss",
        "version": "1_0",
        "policies": [{"id": "p1", "name": "p1", "version": "1_0", "rules": [rule]}],
        "whitelists": [],
        "mappings": [
            {"id": "m1", "name": "all", "registry": "*", "repository": "*",
             "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}
        ],
    }


def test_facts_carry_nvd_scores(enriched: Client, services: Services) -> None:
    facts = policy_service.build_facts(services, DIGEST)

    assert set(facts.nvd_cvss) == {ALIAS}
    assert facts.nvd_cvss[ALIAS][0].base_score == 6.5
    severities = {match.vuln_id: match.severity.value for match in facts.vulnerabilities}
    assert severities["PYSEC-2018-28"] == "Medium"


def test_check_uses_nvd_scores_and_replays(enriched: Client, services: Services) -> None:
    status, body = call(enriched, "POST", "/v1/policies", cvss_bundle())
    assert status == 200, body
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    tag = "docker.io/library/debian:nvd"

    _, record = policy_service.check_image(services, DIGEST, tag, policy_id="nvd-cvss", now=now)

    # Only the NVD score of the PyPA advisory reaches 6.0: minimist's own score is 5.6.
    assert record.status == "fail"
    rows = record.result["result"][record.result["image_id"]]["result"]["rows"]
    assert [row[2] for row in rows] == ["PYSEC-2018-28+requests-2.19.0"]
    inputs = record.result["replay_inputs"]
    assert inputs["nvd_cvss"][ALIAS][0]["base_score"] == 6.5
    _, replay = policy_service.replay_evaluation(services, DIGEST, record.eval_id)
    assert replay.identical, replay.differences


def test_check_recomputed_when_nvd_changes(
    enriched: Client, services: Services, tmp_path: Path
) -> None:
    call(enriched, "POST", "/v1/policies", cvss_bundle())
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    tag = "docker.io/library/debian:nvd"

    def check() -> tuple[str, str]:
        _, record = policy_service.check_image(
            services, DIGEST, tag, policy_id="nvd-cvss", now=now
        )
        return record.eval_id, record.status

    first_id, first = check()
    again_id, _ = check()
    write_nvd_page(tmp_path / "feed" / "nvd", cve_id="CVE-2022-1576")
    sync(enriched)
    changed_id, changed = check()

    assert again_id == first_id
    assert (first, changed) == ("fail", "pass")
    assert changed_id != first_id
