"""The image routes end to end: add through the API, analyze from a real registry, read back."""

from __future__ import annotations

import base64
import dataclasses

from chalice.test import Client

from chalicelib.service.context import Services
from tests.api.conftest import call, wait_analyzed


def add_and_wait(client: Client, reference: str) -> dict:
    status, body = call(client, "POST", "/v1/images", {"tag": reference})
    assert status == 200, body
    return wait_analyzed(client, body[0]["imageDigest"])


def test_images_add_analyzes_real_image(client: Client, small_image: str) -> None:
    image = add_and_wait(client, small_image)

    assert image["analysis_status"] == "analyzed", image.get("analysis_error")
    assert image["image_content"]["metadata"]["distro"] == "debian"
    assert image["image_content"]["metadata"]["distro_version"] == "12"
    assert image["image_content"]["metadata"]["layer_count"] == 3
    assert image["image_detail"][0]["fulltag"] == small_image


def test_images_content_lists_packages_by_type(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    _, os_rows = call(client, "GET", f"/v1/images/{digest}/content/os")
    zlib = [row for row in os_rows["content"] if row["package"] == "zlib1g"]
    assert len(zlib) == 1
    assert zlib[0]["sourcepkg"] == "zlib"
    assert zlib[0]["type"] == "dpkg"

    _, python_rows = call(client, "GET", f"/v1/images/{digest}/content/python")
    assert [(r["package"], r["version"]) for r in python_rows["content"]] == [
        ("urllib3", "1.24.1")
    ]
    _, npm_rows = call(client, "GET", f"/v1/images/{digest}/content/npm")
    assert [(r["package"], r["version"]) for r in npm_rows["content"]] == [("minimist", "0.0.8")]
    assert npm_rows["content"][0]["location"] == "/app/node_modules/minimist/package.json"

    _, file_rows = call(client, "GET", f"/v1/images/{digest}/content/files")
    names = {row["filename"] for row in file_rows["content"]}
    assert "/var/lib/dpkg/status" in names


def test_images_metadata_returns_guessed_dockerfile(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    status, body = call(client, "GET", f"/v1/images/{digest}/metadata/dockerfile")

    assert status == 200
    dockerfile = base64.b64decode(body["metadata"]).decode()
    assert "EXPOSE 22" in dockerfile
    assert "RUN pip install urllib3==1.24.1" in dockerfile


def test_images_add_twice_keeps_one_record(client: Client, small_image: str) -> None:
    first = add_and_wait(client, small_image)

    status, again = call(client, "POST", "/v1/images", {"tag": small_image})

    assert status == 200
    assert again[0]["imageDigest"] == first["imageDigest"]
    assert again[0]["analysis_status"] == "analyzed"
    _, listed = call(client, "GET", "/v1/images")
    assert len(listed) == 1


def test_images_list_filters_by_short_tag(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    _, by_tag = call(client, "GET", f"/v1/images?fulltag={small_image}")

    assert [image["imageDigest"] for image in by_tag] == [digest]


def test_images_add_missing_tag_names_reference(client: Client, registry_address: str) -> None:
    reference = f"{registry_address}/plimsoll/absent:1"

    status, body = call(client, "POST", "/v1/images", {"tag": reference})

    assert status == 404
    assert reference in body["message"]


def test_images_add_rejects_invalid_reference(client: Client) -> None:
    status, body = call(client, "POST", "/v1/images", {"tag": "Not A Reference!"})

    assert status == 400
    assert "Not A Reference!" in body["message"]


def test_images_content_before_analysis_is_not_found(client: Client) -> None:
    status, body = call(client, "GET", "/v1/images/sha256:" + "0" * 64 + "/content/os")

    assert status == 404
    assert "not found" in body["message"]


def test_images_delete_removes_image(client: Client, small_image: str) -> None:
    digest = add_and_wait(client, small_image)["imageDigest"]

    status, body = call(client, "DELETE", f"/v1/images/{digest}")

    assert status == 200
    assert body["status"] == "deleting"
    assert call(client, "GET", f"/v1/images/{digest}")[0] == 404


def test_api_rejects_request_without_credentials(client: Client) -> None:
    response = client.http.get("/v1/images")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_api_health_needs_no_credentials(client: Client) -> None:
    assert client.http.get("/health").status_code == 200


def test_images_routes_accept_quoted_digest(client: Client, small_image: str) -> None:
    # anchore-cli sends a digest quoted, `sha256%3A...`.
    digest = add_and_wait(client, small_image)["imageDigest"]
    quoted = digest.replace(":", "%3A")

    status, image = call(client, "GET", f"/v1/images/{quoted}")
    assert status == 200, image
    assert image[0]["imageDigest"] == digest

    status, rows = call(client, "GET", f"/v1/images/{quoted}/content/os")
    assert status == 200, rows
    assert any(row["package"] == "zlib1g" for row in rows["content"])

    status, vulns = call(client, "GET", f"/v1/images/{quoted}/vuln/all")
    assert status == 200, vulns
    assert vulns["imageDigest"] == digest


def test_images_list_by_image_id(client: Client, small_image: str) -> None:
    image = add_and_wait(client, small_image)
    image_id = image["image_detail"][0]["imageId"]

    status, found = call(client, "GET", f"/v1/images?fulltag={image_id}")

    assert status == 200, found
    assert [record["imageDigest"] for record in found] == [image["imageDigest"]]


def test_images_list_unknown_tag_is_not_found(client: Client, registry_address: str) -> None:
    reference = f"{registry_address}/plimsoll/never-added:1"

    status, body = call(client, "GET", f"/v1/images?fulltag={reference}")

    assert status == 404
    assert reference in body["message"]


def test_images_analysis_uses_limit_settings(
    client: Client, services: Services, small_image: str
) -> None:
    services.settings = dataclasses.replace(
        services.settings, analysis_limits={"max_layer_entries": 1}
    )

    image = add_and_wait(client, small_image)

    assert image["analysis_status"] == "analysis_failed"
    assert "more than 1 tar entries" in image["analysis_error"]
    assert "the MAX_LAYER_ENTRIES setting of the service" in image["analysis_error"]
