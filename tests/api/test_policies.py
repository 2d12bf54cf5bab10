"""Policy bundles and checks through the API."""

from __future__ import annotations

import copy
import datetime
import time

import pytest
from chalice.test import Client

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.policy import DEFAULT_BUNDLE
from chalicelib.policy.replay import bundle_digest
from chalicelib.service import policies as policy_service
from chalicelib.service.context import Services
from chalicelib.service.images import summarize
from tests.api.conftest import call
from tests.api.test_images import add_and_wait


def always_stop_bundle(bundle_id: str = "always-stop") -> dict:
    return {
        "id": bundle_id,
        "name": "always stop",
        "version": "1_0",
        "policies": [
            {
                "id": "p1",
                "name": "p1",
                "version": "1_0",
                "rules": [
                    {"id": "r1", "gate": "always", "trigger": "always", "action": "STOP",
                     "params": []},
                ],
            }
        ],
        "whitelists": [],
        "mappings": [
            {"id": "m1", "name": "all", "registry": "*", "repository": "*",
             "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}
        ],
    }


def test_policies_default_bundle_active_on_start(client: Client) -> None:
    status, body = call(client, "GET", "/v1/policies")

    assert status == 200
    assert [(p["policyId"], p["active"]) for p in body] == [(DEFAULT_BUNDLE["id"], True)]


def test_policies_add_activate_and_get(client: Client) -> None:
    status, added = call(client, "POST", "/v1/policies", always_stop_bundle())
    assert status == 200, added
    assert added["active"] is False

    _, record = call(client, "GET", "/v1/policies/always-stop?detail=true")
    record[0]["active"] = True
    status, _ = call(client, "PUT", "/v1/policies/always-stop", record[0])
    assert status == 200

    _, listed = call(client, "GET", "/v1/policies")
    assert {p["policyId"]: p["active"] for p in listed} == {
        DEFAULT_BUNDLE["id"]: False,
        "always-stop": True,
    }


def test_policies_invalid_bundle_lists_every_problem(client: Client) -> None:
    bundle = always_stop_bundle("broken")
    bundle["policies"][0]["rules"] = [
        {"id": "r1", "gate": "no_such_gate", "trigger": "x", "action": "STOP", "params": []},
        {"id": "r2", "gate": "always", "trigger": "always", "action": "EXPLODE", "params": []},
    ]

    status, body = call(client, "POST", "/v1/policies", bundle)

    assert status == 400
    problems = body["detail"]["validation_errors"]
    assert len(problems) >= 2
    assert any("no_such_gate" in p for p in problems)
    assert any("EXPLODE" in p for p in problems)
    assert call(client, "GET", "/v1/policies/broken")[0] == 404


def test_policies_delete_active_refused(client: Client) -> None:
    status, body = call(client, "DELETE", f"/v1/policies/{DEFAULT_BUNDLE['id']}")

    assert status == 409
    assert "active" in body["message"]


def test_check_with_stop_bundle_fails(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    call(client, "POST", "/v1/policies", always_stop_bundle())

    status, body = call(
        client, "GET", f"/v1/images/{digest}/check?tag={small_image}&policyId=always-stop"
    )

    assert status == 200
    entry = body[0][digest][small_image][0]
    assert entry["status"] == "fail"
    result = entry["detail"]["result"]
    rows = result["result"][result["image_id"]]["result"]["rows"]
    assert [(row[3], row[4], row[2]) for row in rows] == [("always", "always", "always")]


def test_check_default_bundle_warns_on_healthcheck(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    _, body = call(client, "GET", f"/v1/images/{digest}/check?tag={small_image}&detail=true")

    entry = body[0][digest][small_image][0]
    result = entry["detail"]["result"]
    rows = result["result"][result["image_id"]]["result"]["rows"]
    fired = {(row[3], row[4]) for row in rows}
    assert ("dockerfile", "instruction") in fired
    assert ("dockerfile", "exposed_ports") in fired
    assert entry["status"] == "fail"


def test_check_history_returns_stored_evaluations(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    call(client, "POST", "/v1/policies", always_stop_bundle())
    path = f"/v1/images/{digest}/check?tag={small_image}"
    call(client, "GET", path)
    call(client, "GET", path + "&interactive=true&policyId=always-stop")
    call(client, "GET", path + "&policyId=always-stop")

    _, body = call(client, "GET", path + "&history=true")

    assert [entry["policyId"] for entry in body[0][digest][small_image]] == [
        "always-stop",
        DEFAULT_BUNDLE["id"],
    ]


def check_entry(client: Client, path: str) -> dict:
    status, body = call(client, "GET", path)
    assert status == 200, body
    ((digest, by_tag),) = body[0].items()
    ((tag, entries),) = by_tag.items()
    return entries[0]


def table_rows(entry: dict) -> list[list]:
    result = entry["detail"]["result"]
    return result["result"][result["image_id"]]["result"]["rows"]


def test_check_repeated_is_served_from_stored_result(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    path = f"/v1/images/{digest}/check?tag={small_image}"

    first = check_entry(client, path)
    second = check_entry(client, path)
    interactive = check_entry(client, path + "&interactive=true")

    assert second["evalId"] == first["evalId"]
    assert interactive["evalId"] == first["evalId"]
    _, history = call(client, "GET", path + "&history=true")
    assert len(history[0][digest][small_image]) == 1


def test_check_evaluates_again_after_bundle_change(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    call(client, "POST", "/v1/policies", always_stop_bundle())
    path = f"/v1/images/{digest}/check?tag={small_image}&policyId=always-stop"
    first = check_entry(client, path)

    changed = always_stop_bundle()
    changed["policies"][0]["rules"][0]["action"] = "WARN"
    status, _ = call(client, "PUT", "/v1/policies/always-stop", changed)
    assert status == 200
    second = check_entry(client, path)

    assert second["evalId"] != first["evalId"]
    assert (first["status"], second["status"]) == ("fail", "pass")
    assert first["detail"]["result"]["bundle_digest"] != second["detail"]["result"]["bundle_digest"]


def test_check_stored_result_expires_with_whitelist(
    client: Client, services: Services, small_image: str
) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    bundle = always_stop_bundle()
    bundle["whitelists"] = [
        {
            "id": "w1",
            "version": "1_0",
            "name": "until june",
            "items": [
                {
                    "id": "i1",
                    "gate": "always",
                    "trigger_id": "always",
                    "expires_on": "2030-06-01T00:00:00Z",
                }
            ],
        }
    ]
    bundle["mappings"][0]["whitelist_ids"] = ["w1"]
    call(client, "POST", "/v1/policies", bundle)

    def check(now: datetime.datetime) -> tuple[str, str]:
        _, record = policy_service.check_image(
            services, digest, small_image, policy_id="always-stop", now=now
        )
        return record.eval_id, record.status

    before_id, before = check(datetime.datetime(2030, 5, 31, tzinfo=datetime.timezone.utc))
    later_id, later = check(datetime.datetime(2030, 5, 31, 23, tzinfo=datetime.timezone.utc))
    after_id, after = check(datetime.datetime(2030, 6, 1, tzinfo=datetime.timezone.utc))

    assert (before, later, after) == ("pass", "pass", "fail")
    assert later_id == before_id
    assert after_id != before_id


def test_check_by_image_id(client: Client, small_image: str) -> None:
    image = add_and_wait(client, small_image)
    digest, image_id = image["imageDigest"], image["image_detail"][0]["imageId"]
    path = f"/v1/images/by_id/{image_id}/check?tag={small_image}"

    status, body = call(client, "GET", path)

    assert status == 200, body
    entry = body[0][digest][small_image][0]
    assert entry["status"] == "fail"
    assert entry["detail"]["result"]["image_id"] == image_id
    _, history = call(client, "GET", path + "&history=true&detail=false")
    assert [e["evalId"] for e in history[0][digest][small_image]] == [entry["evalId"]]
    assert history[0][digest][small_image][0]["detail"] == {}


def test_check_by_unknown_image_id_is_not_found(client: Client) -> None:
    status, body = call(client, "GET", f"/v1/images/by_id/{'0' * 64}/check?tag=nginx:latest")

    assert status == 404
    assert "0" * 64 in body["message"]


def test_check_stores_digests_and_feed_state(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    entry = check_entry(client, f"/v1/images/{digest}/check?tag={small_image}")

    document = entry["detail"]["result"]
    assert document["bundle_digest"] == bundle_digest(DEFAULT_BUNDLE)
    assert document["analysis_digest"].startswith("sha256:")
    assert document["vulnerability_data"] == {}
    assert document["evaluated_at"].endswith("+00:00")
    assert "matches" in document["replay_inputs"]


def test_check_explains_exposed_port(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    entry = check_entry(client, f"/v1/images/{digest}/check?tag={small_image}")

    document = entry["detail"]["result"]
    rows = table_rows(entry)
    explanations = document["explanations"]
    assert [e["trigger_id"] for e in explanations] == [row[2] for row in rows]
    (port,) = [e for e in explanations if e["trigger"] == "exposed_ports"]
    (cause,) = port["causes"]
    assert cause["kind"] == "dockerfile"
    assert cause["mode"] == "Guessed"
    assert cause["text"] == "EXPOSE 22/tcp"
    assert isinstance(cause["line"], int)


def test_replay_gives_same_rows(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    entry = check_entry(client, f"/v1/images/{digest}/check?tag={small_image}")

    status, body = call(client, "GET", f"/v1/images/{digest}/evaluations/{entry['evalId']}/replay")

    assert status == 200, body
    assert body["identical"] is True
    assert body["differences"] == []
    assert body["status"] == entry["status"]
    replayed = body["result"]
    assert replayed["result"][replayed["image_id"]]["result"]["rows"] == table_rows(entry)
    assert replayed["final_action"] == entry["detail"]["result"]["final_action"]


def test_replay_reports_changed_analysis(
    client: Client, services: Services, small_image: str
) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]
    entry = check_entry(client, f"/v1/images/{digest}/check?tag={small_image}")
    report = AnalysisReport.model_validate(services.store.get_analysis(digest))
    report.passwd = "root:x:0:0:root:/root:/bin/sh\n"
    services.store.finish_analysis(digest, report.model_dump(mode="json"), summarize(report))

    status, body = call(client, "GET", f"/v1/images/{digest}/evaluations/{entry['evalId']}/replay")

    assert status == 409
    assert "changed since the evaluation" in body["message"]
    assert entry["evalId"] in body["message"]


def test_replay_of_unknown_evaluation_is_not_found(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    status, body = call(client, "GET", f"/v1/images/{digest}/evaluations/{'f' * 32}/replay")

    assert status == 404
    assert "f" * 32 in body["message"]


def test_check_requires_tag(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    status, body = call(client, "GET", f"/v1/images/{digest}/check")

    assert status == 400
    assert "tag" in body["message"]


def test_bundle_copy_unchanged_by_evaluation(client: Client) -> None:
    before = copy.deepcopy(DEFAULT_BUNDLE)
    call(client, "GET", "/v1/policies?detail=true")
    assert DEFAULT_BUNDLE == before


def test_check_explains_vulnerabilities_after_sync(
    client: Client, services: Services, small_image: str, shared_dir: object
) -> None:
    if not services.settings.feed_sources:
        pytest.skip("the PyPA and GHSA feeds under ../shared are absent")
    assert call(client, "POST", "/v1/system/feeds")[0] == 200
    image = add_and_wait(client, small_image)
    digest = image["imageDigest"]
    wait_matched(client, digest)

    entry = check_entry(client, f"/v1/images/{digest}/check?tag={small_image}")

    document = entry["detail"]["result"]
    assert document["vulnerability_data"]["pypi"]["record_count"] > 2000
    assert document["vulnerability_data"]["pypi"]["last_sync"]
    minimist = [
        e for e in document["explanations"] if e["trigger_id"] == "GHSA-vh95-rmgr-6w4m+minimist"
    ]
    assert minimist
    vulnerability, package = minimist[0]["causes"]
    assert vulnerability["kind"] == "vulnerability"
    assert vulnerability["id"] == "GHSA-vh95-rmgr-6w4m"
    assert (package["kind"], package["name"], package["version"]) == (
        "package",
        "minimist",
        "0.0.8",
    )
    assert package["type"] == "npm"
    assert package["layer_digest"] in [layer["digest"] for layer in image_layers(services, digest)]


def wait_matched(client: Client, digest: str, timeout: float = 60) -> None:
    """Poll until the image has matches: the worker matches an image after marking it analyzed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = call(client, "GET", f"/v1/images/{digest}/vuln/all")
        if body["vulnerabilities"]:
            return
        time.sleep(0.2)
    raise AssertionError(f"image {digest} has no vulnerability matches after {timeout} s")


def image_layers(services: Services, digest: str) -> list[dict]:
    return services.store.get_analysis(digest)["layers"]
