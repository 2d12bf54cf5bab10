"""Registry credentials: `/v1/registries` routes, credential choice, and pulls that use them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib.registry.errors import AuthenticationError
from chalicelib.registry.reference import parse_reference
from chalicelib.service.registries import _client_for, _ecr_credentials, find_credentials
from chalicelib.store import RegistryRecord
from tests.api.conftest import call, wait_analyzed
from tests.support.registry import (  # noqa: F401 - imported to register the fixtures
    TEST_PASSWORD,
    TEST_USER,
    LocalRegistry,
    auth_registry,
    token_registry,
)
from tools.imagebuild import DpkgDatabase, ImageBuilder, fetch_debs


def registry_body(registry: str, user: str = TEST_USER, password: str = TEST_PASSWORD) -> dict:
    return {
        "registry": registry,
        "registry_user": user,
        "registry_pass": password,
        "registry_type": "docker_v2",
        "registry_verify": True,
        "registry_name": registry,
    }


@pytest.fixture(scope="module")
def private_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCI layout of a one-layer image of Debian's base-files, tagged `1`."""
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(["base-files"]))
    layout = tmp_path_factory.mktemp("private-image")
    builder.write_oci_layout(layout, "1")
    return layout


@pytest.fixture(scope="module")
def private_image(auth_registry: LocalRegistry, private_layout: Path) -> str:  # noqa: F811
    """Push the image to the registry that requires basic authentication; return its tag."""
    return auth_registry.push(private_layout, "1", "private/base:1")


def test_registries_add_list_get_delete(client: Client) -> None:
    status, added = call(client, "POST", "/v1/registries?validate=false", registry_body("r.example:5000"))
    assert status == 200, added
    assert added[0]["registry"] == "r.example:5000"
    assert added[0]["registry_user"] == TEST_USER
    assert added[0]["registry_verify"] is True
    assert "registry_pass" not in added[0]

    status, listed = call(client, "GET", "/v1/registries")
    assert status == 200
    assert [row["registry"] for row in listed] == ["r.example:5000"]
    assert all("registry_pass" not in row for row in listed)

    status, fetched = call(client, "GET", "/v1/registries/r.example:5000")
    assert status == 200
    assert fetched[0]["registry_name"] == "r.example:5000"

    status, _ = call(client, "DELETE", "/v1/registries/r.example:5000")
    assert status == 200
    status, body = call(client, "GET", "/v1/registries/r.example:5000")
    assert status == 404
    assert "r.example:5000" in body["message"]


def test_registries_path_with_encoded_slash(client: Client) -> None:
    # anchore-cli sends the registry as one quoted path segment, `/` included.
    registry = "r.example:5000/team/*"
    call(client, "POST", "/v1/registries?validate=false", registry_body(registry))

    status, fetched = call(client, "GET", f"/v1/registries/{quote(registry, '')}")

    assert status == 200, fetched
    assert fetched[0]["registry"] == registry


def test_registries_update_replaces_user(client: Client) -> None:
    call(client, "POST", "/v1/registries?validate=false", registry_body("r.example"))

    status, updated = call(
        client,
        "PUT",
        "/v1/registries/r.example?validate=false",
        {**registry_body("r.example", user="other"), "registry_verify": False},
    )

    assert status == 200, updated
    assert updated[0]["registry_user"] == "other"
    assert updated[0]["registry_verify"] is False


def test_registries_update_unknown_is_not_found(client: Client) -> None:
    status, body = call(
        client, "PUT", "/v1/registries/absent.example?validate=false", registry_body("absent.example")
    )

    assert status == 404
    assert "absent.example" in body["message"]


def test_registries_add_twice_conflicts(client: Client) -> None:
    call(client, "POST", "/v1/registries?validate=false", registry_body("r.example"))

    status, body = call(client, "POST", "/v1/registries?validate=false", registry_body("r.example"))

    assert status == 409
    assert "r.example" in body["message"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"registry": ""}, "registry"),
        ({"registry_user": None}, "registry_user"),
        ({"registry_pass": 5}, "registry_pass"),
        ({"registry": "https://r.example"}, "URL scheme"),
        ({"registry_type": "gcr"}, "registry_type 'gcr'"),
        ({"registry_verify": "yes"}, "registry_verify"),
        ({"registry_type": "awsecr"}, "not an Amazon ECR host"),
    ],
)
def test_registries_add_rejects_invalid_body(client: Client, change: dict, named: str) -> None:
    status, body = call(
        client, "POST", "/v1/registries?validate=false", {**registry_body("r.example"), **change}
    )

    assert status == 400
    assert named in body["message"]
    _, listed = call(client, "GET", "/v1/registries")
    assert listed == []


def test_registries_validate_accepts_basic_auth(
    client: Client, auth_registry: LocalRegistry  # noqa: F811
) -> None:
    status, body = call(client, "POST", "/v1/registries", registry_body(auth_registry.host))

    assert status == 200, body


def test_registries_validate_rejects_wrong_password(
    client: Client, auth_registry: LocalRegistry  # noqa: F811
) -> None:
    status, body = call(
        client, "POST", "/v1/registries", registry_body(auth_registry.host, password="wrong")
    )

    assert status == 400
    assert body["message"].count("rejected") == 1
    assert f"user {TEST_USER!r}" in body["message"]
    assert "--skip-validate" in body["message"]
    _, listed = call(client, "GET", "/v1/registries")
    assert listed == []


def test_registries_validate_token_registry(
    client: Client, token_registry: LocalRegistry  # noqa: F811
) -> None:
    status, body = call(
        client, "POST", "/v1/registries", registry_body(token_registry.host, password="wrong")
    )
    assert status == 400, body

    status, body = call(client, "POST", "/v1/registries", registry_body(token_registry.host))
    assert status == 200, body


def test_private_image_needs_stored_credentials(client: Client, private_image: str) -> None:
    status, body = call(client, "POST", "/v1/images", {"tag": private_image})
    assert status == 502
    assert private_image in body["message"]
    assert "anchore-cli registry add" in body["message"]

    registry = private_image.split("/")[0]
    status, body = call(client, "POST", "/v1/registries", registry_body(f"{registry}/private/*"))
    assert status == 200, body
    status, body = call(client, "POST", "/v1/images", {"tag": private_image})
    assert status == 200, body

    image = wait_analyzed(client, body[0]["imageDigest"])
    assert image["analysis_status"] == "analyzed", image.get("analysis_error")
    assert image["image_content"]["metadata"]["distro"] == "debian"


def record(registry: str, user: str = "u") -> RegistryRecord:
    return RegistryRecord(
        registry=registry,
        registry_name=registry,
        registry_type="docker_v2",
        registry_user=user,
        registry_pass="p",
        registry_verify=True,
    )


@pytest.mark.parametrize(
    ("stored", "image", "chosen"),
    [
        (["r.example"], "r.example/team/app:1", "r.example"),
        (["r.example", "r.example/team/app"], "r.example/team/app:1", "r.example/team/app"),
        (["r.example", "r.example/team/*"], "r.example/team/app:1", "r.example/team/*"),
        (["r.example/team/*"], "r.example/other/app:1", None),
        (["r.example:5000"], "r.example/team/app:1", None),
        (["r.example/te*"], "r.example/team/app:1", "r.example/te*"),
        (["docker.io"], "nginx", "docker.io"),
        (["docker.io/library/*"], "nginx:1.25", "docker.io/library/*"),
        ([], "nginx", None),
    ],
)
def test_find_credentials_rules(stored: list[str], image: str, chosen: str | None) -> None:
    found = find_credentials([record(r) for r in stored], parse_reference(image))

    assert (found.registry if found else None) == chosen


def test_client_for_passes_tls_verification() -> None:
    insecure = RegistryRecord(
        registry="r.example",
        registry_name="r.example",
        registry_type="docker_v2",
        registry_user="u",
        registry_pass="p",
        registry_verify=False,
    )

    with _client_for(insecure) as client:
        assert client._verify is False
    with _client_for(record("r.example")) as client:
        assert client._verify is True


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake AWS credentials and moto in process, so nothing reaches AWS."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_ecr_credentials_from_token(aws_environment: None) -> None:
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    ecr = RegistryRecord(
        registry=host,
        registry_name=host,
        registry_type="awsecr",
        registry_user="AKIAEXAMPLE",
        registry_pass="secret",
        registry_verify=True,
    )

    user, password = _ecr_credentials(ecr, host)

    token = boto3.client("ecr", region_name="eu-west-1").get_authorization_token(
        registryIds=["123456789012"]
    )
    expected = base64.b64decode(token["authorizationData"][0]["authorizationToken"]).decode()
    assert user == "AWS"
    assert password == expected.partition(":")[2]


def test_ecr_credentials_reject_other_host() -> None:
    with pytest.raises(AuthenticationError, match="not an Amazon ECR host"):
        _ecr_credentials(record("r.example"), "r.example")
