"""The v1 query routes on real PyPA records and images stored with a known package list."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.api import query as query_routes
from chalicelib.service.context import Services
from tests.api.conftest import PYPI_FEED, call
from tests.store.factories import DIGEST, OTHER_DIGEST, new_image, summary

REQUESTS_2_19 = {
    "name": "requests",
    "version": "2.19.0",
    "type": "python",
    "location": "/usr/lib/python3/dist-packages/requests-2.19.0.dist-info",
}
REQUESTS_2_31 = {**REQUESTS_2_19, "version": "2.31.0"}


@pytest.fixture
def synced(client: Client, services: Services, shared_dir: Path, tmp_path: Path) -> Client:
    """Two images with `requests` 2.19.0 and 2.31.0, matched against its real PyPA records."""
    folder = tmp_path / "feed"
    shutil.copytree(PYPI_FEED / "requests", folder / "requests")
    services.settings = dataclasses.replace(services.settings, feed_sources=f"osv={folder}")
    images = ((DIGEST, REQUESTS_2_19, "old"), (OTHER_DIGEST, REQUESTS_2_31, "new"))
    for digest, package, tag in images:
        services.store.upsert_image(new_image(digest, tag=tag))
        services.store.finish_analysis(digest, {"packages": [package]}, summary())
    status, body = call(client, "POST", "/v1/system/feeds")
    assert status == 200, body
    return client


def test_query_vulnerabilities_by_id(synced: Client) -> None:
    status, body = call(synced, "GET", "/v1/query/vulnerabilities?id=PYSEC-2018-28")

    assert status == 200
    assert body["page"] == "1"
    assert body["next_page"] is None
    assert body["returned_count"] == 1
    [vulnerability] = body["vulnerabilities"]
    assert vulnerability["id"] == "PYSEC-2018-28"
    assert vulnerability["namespace"] == "pypi"
    assert vulnerability["affected_packages"] == [
        {"name": "requests", "version": "2.20.0", "type": "python", "will_not_fix": False}
    ]
    assert "Authorization" in vulnerability["description"]
    assert "CVE-2018-18074" in [entry["id"] for entry in vulnerability["nvd_data"]]


def test_query_vulnerabilities_several_ids(synced: Client) -> None:
    path = "/v1/query/vulnerabilities"
    _, repeated = call(synced, "GET", f"{path}?id=PYSEC-2018-28&id=PYSEC-2014-13")
    _, joined = call(synced, "GET", f"{path}?id=PYSEC-2018-28,PYSEC-2014-13")

    expected = ["PYSEC-2014-13", "PYSEC-2018-28"]
    assert [v["id"] for v in repeated["vulnerabilities"]] == expected
    assert [v["id"] for v in joined["vulnerabilities"]] == expected


def test_query_vulnerabilities_affected_version(synced: Client) -> None:
    path = "/v1/query/vulnerabilities?id=PYSEC-2018-28&affected_package=requests"

    _, affected = call(synced, "GET", f"{path}&affected_package_version=2.19.0")
    _, fixed = call(synced, "GET", f"{path}&affected_package_version=2.20.0")
    by_id = "/v1/query/vulnerabilities?id=PYSEC-2018-28"
    _, other_package = call(synced, "GET", f"{by_id}&affected_package=urllib3")
    _, other_namespace = call(synced, "GET", f"{by_id}&namespace=npm")

    assert affected["returned_count"] == 1
    assert fixed["returned_count"] == 0
    assert other_package["returned_count"] == 0
    assert other_namespace["returned_count"] == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/query/vulnerabilities", "id"),
        ("/v1/query/vulnerabilities?id=X&affected_package_version=1", "affected_package"),
        ("/v1/query/vulnerabilities?id=X&limit=0", "limit"),
        ("/v1/query/images/by_vulnerability", "vulnerability_id"),
        ("/v1/query/images/by_vulnerability?vulnerability_id=X&severity=Bad", "severity"),
        ("/v1/query/images/by_package", "name"),
        ("/v1/query/images/by_package?name=x&page=-1", "page"),
    ],
)
def test_query_invalid_parameters_rejected(client: Client, path: str, message: str) -> None:
    status, body = call(client, "GET", path)

    assert status == 400
    assert message in body["message"]


def test_images_by_vulnerability(synced: Client) -> None:
    path = "/v1/query/images/by_vulnerability?vulnerability_id=PYSEC-2018-28"
    status, body = call(synced, "GET", path)

    assert status == 200
    [entry] = body["images"]
    assert entry["image"]["imageDigest"] == DIGEST
    assert entry["image"]["tag_history"][0]["fulltag"] == "docker.io/library/debian:old"
    assert entry["image"]["analyzed_at"].endswith("Z")
    assert entry["affected_packages"] == [
        {
            "name": "requests",
            "version": "2.19.0",
            "type": "python",
            "namespace": "pypi",
            "severity": entry["affected_packages"][0]["severity"],
        }
    ]


def test_images_by_vulnerability_filters(synced: Client) -> None:
    path = "/v1/query/images/by_vulnerability?vulnerability_id=PYSEC-2018-28"
    _, match = call(synced, "GET", path)
    severity = match["images"][0]["affected_packages"][0]["severity"]
    other_severity = "Critical" if severity != "Critical" else "Low"

    _, same = call(synced, "GET", f"{path}&severity={severity}&namespace=pypi")
    _, other = call(synced, "GET", f"{path}&severity={other_severity}")
    _, other_namespace = call(synced, "GET", f"{path}&namespace=npm")
    _, other_package = call(synced, "GET", f"{path}&affected_package=urllib3")
    _, unknown = call(
        synced, "GET", "/v1/query/images/by_vulnerability?vulnerability_id=CVE-1999-0001"
    )

    assert same["returned_count"] == 1
    assert other["returned_count"] == 0
    assert other_namespace["returned_count"] == 0
    assert other_package["returned_count"] == 0
    assert unknown == {"page": "1", "next_page": None, "returned_count": 0, "images": []}


def test_images_by_package(synced: Client) -> None:
    path = "/v1/query/images/by_package?name=requests"
    _, every = call(synced, "GET", path)
    _, versioned = call(synced, "GET", f"{path}&version=2.31.0")
    _, typed = call(synced, "GET", f"{path}&package_type=npm")

    assert [entry["image"]["imageDigest"] for entry in every["images"]] == [DIGEST, OTHER_DIGEST]
    assert every["images"][0]["packages"] == [
        {
            "name": "requests",
            "version": "2.19.0",
            "type": "python",
            "path": REQUESTS_2_19["location"],
        }
    ]
    assert [entry["image"]["imageDigest"] for entry in versioned["images"]] == [OTHER_DIGEST]
    assert typed["images"] == []


def test_images_by_package_pages(synced: Client) -> None:
    _, first = call(synced, "GET", "/v1/query/images/by_package?name=requests&limit=1")
    _, second = call(synced, "GET", "/v1/query/images/by_package?name=requests&limit=1&page=2")

    assert first["next_page"] == "2"
    assert [entry["image"]["imageDigest"] for entry in first["images"]] == [DIGEST]
    assert second["next_page"] is None
    assert second["page"] == "2"
    assert [entry["image"]["imageDigest"] for entry in second["images"]] == [OTHER_DIGEST]


@pytest.mark.parametrize(
    ("namespace", "package_type"),
    [
        ("debian:12", "dpkg"),
        ("ubuntu:22.04", "dpkg"),
        ("alpine:3.18", "APKG"),
        ("wolfi", "APKG"),
        ("rhel:9", "rpm"),
        ("rocky:9", "rpm"),
        ("sles:15.5", "rpm"),
        ("pypi", "python"),
        ("npm", "npm"),
    ],
)
def test_query_package_type_of_namespace(namespace: str, package_type: str) -> None:
    assert query_routes._package_type(namespace) == package_type
