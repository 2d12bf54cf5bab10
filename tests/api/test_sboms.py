"""SBOM routes: an image added through the API and analyzed from a real registry, exported."""

from __future__ import annotations

import gzip
import json

from chalice.test import Client

from chalicelib.analysis.interface import AnalysisReport
from tests.analysis.sbom_support import cyclonedx_validator, schema_errors, spdx_validator
from tests.api.conftest import AUTH_HEADER, call, wait_analyzed


def analyzed_digest(client: Client, reference: str) -> str:
    status, body = call(client, "POST", "/v1/images", {"tag": reference})
    assert status == 200, body
    image = wait_analyzed(client, body[0]["imageDigest"])
    assert image["analysis_status"] == "analyzed", image.get("analysis_error")
    return image["imageDigest"]


def get(client: Client, path: str):
    # curl and requests send `Accept: */*`, which Chalice requires for a binary response.
    return client.http.get(path, headers={**AUTH_HEADER, "Accept": "*/*"})


def test_sboms_export_each_format(client: Client, small_image: str) -> None:
    digest = analyzed_digest(client, small_image)

    cyclonedx = get(client, f"/v1/images/{digest}/sboms/cyclonedx-json")
    spdx = get(client, f"/v1/images/{digest}/sboms/spdx-json")
    syft = get(client, f"/v1/images/{digest}/sboms/syft-json")

    assert cyclonedx.status_code == 200
    assert cyclonedx.headers["Content-Type"].startswith("application/vnd.cyclonedx+json")
    cyclonedx_document = json.loads(cyclonedx.body)
    assert schema_errors(cyclonedx_validator(), cyclonedx_document) == []
    assert cyclonedx_document["metadata"]["component"]["name"] == small_image
    assert cyclonedx_document["metadata"]["component"]["version"] == digest

    assert spdx.status_code == 200
    assert spdx.headers["Content-Type"] == "application/spdx+json"
    spdx_document = json.loads(spdx.body)
    assert schema_errors(spdx_validator(), spdx_document) == []
    assert {"zlib1g", "urllib3", "minimist"} <= {p["name"] for p in spdx_document["packages"]}

    assert syft.status_code == 200
    syft_document = json.loads(syft.body)
    assert syft_document["source"]["metadata"]["tags"] == [small_image]
    assert syft_document["source"]["metadata"]["manifestDigest"] == digest
    assert {"zlib1g", "urllib3", "minimist"} <= {a["name"] for a in syft_document["artifacts"]}


def test_sboms_native_is_gzipped_analysis(client: Client, small_image: str) -> None:
    digest = analyzed_digest(client, small_image)

    response = get(client, f"/v1/images/{digest}/sboms/native")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    report = AnalysisReport.model_validate_json(gzip.decompress(response.body))
    assert report.image_digest == digest
    assert "zlib1g" in {package.name for package in report.packages}


def test_sboms_unknown_image_is_not_found(client: Client) -> None:
    status, body = call(client, "GET", "/v1/images/sha256:" + "0" * 64 + "/sboms/spdx-json")

    assert status == 404
    assert "not found" in body["message"]


def test_sboms_unknown_format_is_bad_request(client: Client) -> None:
    status, body = call(client, "GET", "/v1/images/sha256:" + "0" * 64 + "/sboms/bogus")

    assert status == 400
    assert body["httpcode"] == 400
    assert "SBOM format 'bogus' is not supported" in body["message"]
    for name in ("cyclonedx-json", "spdx-json", "syft-json", "native"):
        assert name in body["message"]


def test_sboms_native_as_json_without_binary_accept(client: Client, small_image: str) -> None:
    digest = analyzed_digest(client, small_image)

    response = client.http.get(
        f"/v1/images/{digest}/sboms/native", headers={**AUTH_HEADER, "Accept": "application/json"}
    )

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    report = AnalysisReport.model_validate_json(response.body)
    assert report.image_digest == digest


def test_sboms_native_other_accept_not_acceptable(client: Client, small_image: str) -> None:
    digest = analyzed_digest(client, small_image)

    response = client.http.get(
        f"/v1/images/{digest}/sboms/native", headers={**AUTH_HEADER, "Accept": "text/html"}
    )

    assert response.status_code == 406
    body = json.loads(response.body)
    assert body["httpcode"] == 406
    assert body["error_type"] == "client_error"
    assert "Accept: application/octet-stream" in body["message"]
    assert "Code" not in body
