"""Policy bundles and checks through the API."""

from __future__ import annotations

import copy

from chalice.test import Client

from chalicelib.policy import DEFAULT_BUNDLE
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
    path = f"/v1/images/{digest}/check?tag={small_image}"
    call(client, "GET", path)
    call(client, "GET", path + "&interactive=true")
    call(client, "GET", path)

    _, body = call(client, "GET", path + "&history=true")

    assert len(body[0][digest][small_image]) == 2


def test_check_requires_tag(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    status, body = call(client, "GET", f"/v1/images/{digest}/check")

    assert status == 400
    assert "tag" in body["message"]


def test_bundle_copy_unchanged_by_evaluation(client: Client) -> None:
    before = copy.deepcopy(DEFAULT_BUNDLE)
    call(client, "GET", "/v1/policies?detail=true")
    assert DEFAULT_BUNDLE == before
