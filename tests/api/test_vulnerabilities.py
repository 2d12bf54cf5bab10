"""Feed sync and vulnerability listing through the API, on the real PyPA and GHSA records."""

from __future__ import annotations

import dataclasses

import pytest
from chalice.test import Client

from chalicelib.service.context import Services
from tests.api.conftest import call
from tests.api.test_images import add_and_wait


@pytest.fixture
def synced(client: Client, services: Services, shared_dir: object) -> Client:
    if not services.settings.feed_sources:
        pytest.skip("the PyPA and GHSA feeds under ../shared are absent")
    status, body = call(client, "POST", "/v1/system/feeds")
    assert status == 200, body
    return client


def test_feeds_sync_lists_groups_with_counts(synced: Client) -> None:
    _, feeds = call(synced, "GET", "/v1/system/feeds")

    groups = {group["name"]: group for group in feeds[0]["groups"]}
    assert set(groups) == {"pypi", "npm"}
    assert groups["pypi"]["record_count"] > 2000
    # Two GHSA advisories whose `affected` lists hold five package entries in all.
    assert groups["npm"]["record_count"] == 5
    assert groups["pypi"]["last_sync"].endswith("Z")


def test_vulnerabilities_of_real_image(synced: Client, small_image: str) -> None:
    digest = add_and_wait(synced, small_image)["imageDigest"]

    status, body = call(synced, "GET", f"/v1/images/{digest}/vuln/all")

    assert status == 200
    rows = body["vulnerabilities"]
    by_package = {(row["package_name"], row["vuln"]) for row in rows}
    assert ("minimist", "GHSA-vh95-rmgr-6w4m") in by_package
    urllib3 = [row for row in rows if row["package_name"] == "urllib3"]
    assert urllib3, "urllib3 1.24.1 has PyPA advisories"
    assert all(row["package_version"] == "1.24.1" for row in urllib3)
    assert all(row["feed_group"] == "pypi" for row in urllib3)
    assert all(row["fix"] != "None" for row in urllib3)


def test_vulnerabilities_os_filter_excludes_language(synced: Client, small_image: str) -> None:
    digest = add_and_wait(synced, small_image)["imageDigest"]

    _, body = call(synced, "GET", f"/v1/images/{digest}/vuln/os")

    assert body["vulnerabilities"] == []


def test_feeds_sync_without_sources_explains(client: Client, services: Services) -> None:
    services.settings = dataclasses.replace(services.settings, feed_sources="")

    status, body = call(client, "POST", "/v1/system/feeds")

    assert status == 400
    assert "FEED_SOURCES" in body["message"]
