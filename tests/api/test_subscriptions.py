"""Routes of subscriptions and repositories, against a real registry."""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib.service.context import Services
from chalicelib.service.watch import run_watchers
from tests.api.conftest import call
from tools.imagebuild import ImageBuilder, push


@pytest.fixture(scope="module")
def watched_repository(registry_address: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Push a one-file image as tags `1` and `2` of a new repository; return `registry/repo`."""
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/subscriptions-test", b"1")
    layout = tmp_path_factory.mktemp("subscriptions-image")
    builder.write_oci_layout(layout, "v")
    repository = f"{registry_address}/subscriptions/{uuid.uuid4().hex[:12]}"
    for tag in ("1", "2"):
        push(layout, "v", f"{repository}:{tag}")
    return repository


def subscription_types(client: Client, key: str) -> dict[str, bool]:
    status, body = call(client, "GET", f"/v1/subscriptions?subscription_key={quote(key)}")
    assert status == 200, body
    return {record["subscription_type"]: record["active"] for record in body}


def test_image_add_autosubscribe_creates_subscriptions(
    client: Client, watched_repository: str
) -> None:
    tag = f"{watched_repository}:1"
    status, body = call(client, "POST", "/v1/images?autosubscribe=true", {"tag": tag})
    assert status == 200, body

    assert subscription_types(client, tag) == {
        "analysis_update": True,
        "policy_eval": False,
        "tag_update": True,
        "vuln_update": False,
    }


def test_image_add_without_autosubscribe(client: Client, watched_repository: str) -> None:
    tag = f"{watched_repository}:2"
    status, body = call(client, "POST", "/v1/images", {"tag": tag})
    assert status == 200, body

    assert subscription_types(client, tag)["tag_update"] is False


def test_subscription_lifecycle(client: Client) -> None:
    request = {"subscription_key": "r.example/app:1", "subscription_type": "policy_eval"}
    status, created = call(client, "POST", "/v1/subscriptions", request)
    assert status == 200, created
    record = created[0]
    expected_id = hashlib.md5(b"admin+r.example/app:1+policy_eval").hexdigest()  # noqa: S324
    assert record["subscription_id"] == expected_id
    assert record["subscription_key"] == "r.example/app:1"
    assert record["userId"] == "admin"
    assert record["active"] is True
    assert record["created_at"].endswith("Z")

    status, body = call(client, "POST", "/v1/subscriptions", request)
    assert status == 409, body

    status, body = call(client, "GET", f"/v1/subscriptions/{expected_id}")
    assert status == 200, body
    assert body[0]["subscription_type"] == "policy_eval"

    update = {"active": False, "subscription_value": '{"digests": []}'}
    status, body = call(client, "PUT", f"/v1/subscriptions/{expected_id}", update)
    assert status == 200, body
    assert body[0]["active"] is False
    assert body[0]["subscription_value"] == '{"digests": []}'

    status, body = call(client, "DELETE", f"/v1/subscriptions/{expected_id}")
    assert status == 200, body
    status, body = call(client, "GET", f"/v1/subscriptions/{expected_id}")
    assert status == 404, body


def test_subscriptions_reject_unknown_type(client: Client) -> None:
    status, body = call(client, "GET", "/v1/subscriptions?subscription_type=tag_updates")
    assert status == 400, body
    assert "tag_updates" in body["message"]

    request = {"subscription_key": "r.example/app:1", "subscription_type": "bogus"}
    status, body = call(client, "POST", "/v1/subscriptions", request)
    assert status == 400, body


def test_subscriptions_filter_by_type(client: Client) -> None:
    for kind in ("tag_update", "vuln_update"):
        request = {"subscription_key": "r.example/app:1", "subscription_type": kind}
        assert call(client, "POST", "/v1/subscriptions", request)[0] == 200

    status, body = call(client, "GET", "/v1/subscriptions?subscription_type=vuln_update")
    assert status == 200, body
    assert [record["subscription_type"] for record in body] == ["vuln_update"]


def test_subscription_update_unknown_is_not_found(client: Client) -> None:
    status, body = call(client, "PUT", "/v1/subscriptions/0123abc", {"active": True})
    assert status == 404, body


def test_repository_add_creates_repo_update(client: Client, watched_repository: str) -> None:
    path = f"/v1/repositories?repository={quote(watched_repository)}&autosubscribe=True"
    status, body = call(client, "POST", path)
    assert status == 200, body
    record = body[0]
    assert record["subscription_type"] == "repo_update"
    assert record["subscription_key"] == watched_repository
    assert record["active"] is True
    value = json.loads(record["subscription_value"])
    assert value == {"autosubscribe": True, "lookuptag": "latest", "tagcount": 2, "repotags": []}

    status, body = call(client, "GET", "/v1/subscriptions?subscription_type=repo_update")
    assert status == 200, body
    assert [record["subscription_key"] for record in body] == [watched_repository]


def test_repository_add_again_keeps_repotags(
    client: Client, services: Services, watched_repository: str
) -> None:
    path = f"/v1/repositories?repository={quote(watched_repository)}"
    status, body = call(client, "POST", path)
    assert status == 200, body
    assert json.loads(body[0]["subscription_value"])["repotags"] == []

    first = run_watchers(services)
    assert first.errors == []
    status, body = call(client, "POST", path + "&autosubscribe=true")

    assert status == 200, body
    value = json.loads(body[0]["subscription_value"])
    assert value["repotags"] == ["1", "2"]
    assert value["autosubscribe"] is True
    assert run_watchers(services).images_added == []


def test_repository_dry_run_stores_nothing(client: Client, watched_repository: str) -> None:
    path = f"/v1/repositories?repository={quote(watched_repository)}&dryrun=true"
    status, body = call(client, "POST", path)
    assert status == 200, body
    assert json.loads(body[0]["subscription_value"])["repotags"] == ["1", "2"]

    status, body = call(client, "GET", "/v1/subscriptions")
    assert status == 200, body
    assert body == []


def test_repository_add_errors(client: Client, registry_address: str) -> None:
    status, body = call(client, "POST", "/v1/repositories")
    assert status == 400, body

    missing = quote(f"{registry_address}/subscriptions/missing-{uuid.uuid4().hex[:8]}")
    status, body = call(client, "POST", f"/v1/repositories?repository={missing}")
    assert status == 404, body
