"""Feed sync options, feed group state and events through the v1 API."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.service.context import Services
from tests.api.conftest import PYPI_FEED, call


@pytest.fixture
def feed_dir(services: Services, shared_dir: Path, tmp_path: Path) -> Path:
    """Point `FEED_SOURCES` at a copy of the real PyPA records of `requests`."""
    folder = tmp_path / "feed"
    shutil.copytree(PYPI_FEED / "requests", folder / "requests")
    services.settings = dataclasses.replace(services.settings, feed_sources=f"osv={folder}")
    return folder


def test_post_feeds_anchore_cli_form_syncs(client: Client, feed_dir: Path) -> None:
    status, body = call(client, "POST", "/v1/system/feeds?flush=False")

    assert status == 200
    [feed] = body
    assert feed["feed"] == "vulnerabilities"
    assert feed["status"] == "success"
    [group] = feed["groups"]
    assert group["group"] == "pypi"
    assert group["status"] == "success"
    assert group["updated_record_count"] >= 5


def test_post_feeds_second_sync_changes_nothing(client: Client, feed_dir: Path) -> None:
    call(client, "POST", "/v1/system/feeds?sync=true")

    status, body = call(client, "POST", "/v1/system/feeds?sync=true")

    assert status == 200
    assert body[0]["groups"][0]["updated_record_count"] == 0
    _, feeds = call(client, "GET", "/v1/system/feeds")
    assert feeds[0]["groups"][0]["record_count"] >= 5


def test_post_feeds_sync_false_skips(client: Client, feed_dir: Path) -> None:
    status, body = call(client, "POST", "/v1/system/feeds?sync=false")

    assert status == 200
    assert body == []
    _, feeds = call(client, "GET", "/v1/system/feeds")
    assert feeds == []


def test_post_feeds_invalid_flag_rejected(client: Client, feed_dir: Path) -> None:
    status, body = call(client, "POST", "/v1/system/feeds?flush=maybe")

    assert status == 400
    assert "flush" in body["message"]


def test_failed_source_keeps_group_and_shows_error(client: Client, feed_dir: Path) -> None:
    call(client, "POST", "/v1/system/feeds")
    _, before = call(client, "GET", "/v1/system/feeds")
    shutil.rmtree(feed_dir)

    status, body = call(client, "POST", "/v1/system/feeds")

    assert status == 502
    assert "does not exist" in body["message"]
    result = body["detail"]["sync_result"]
    assert result[0]["status"] == "failure"
    assert "does not exist" in result[0]["errors"][0]
    _, after = call(client, "GET", "/v1/system/feeds")
    [group] = after[0]["groups"]
    assert group["record_count"] == before[0]["groups"][0]["record_count"]
    assert group["last_sync"] == before[0]["groups"][0]["last_sync"]
    assert "does not exist" in group["last_error"]


def test_events_list_sync_progress(client: Client, feed_dir: Path) -> None:
    call(client, "POST", "/v1/system/feeds")

    status, body = call(client, "GET", "/v1/events")

    assert status == 200
    types = [result["event"]["type"] for result in body["results"]]
    assert types == [
        "system.feeds.sync.completed",
        "system.feeds.sync.group_completed",
        "system.feeds.sync.group_started",
        "system.feeds.sync.started",
    ]
    assert body["item_count"] == 4
    assert body["next_page"] is False
    first = body["results"][0]
    assert first["generated_uuid"]
    assert first["created_at"].endswith("Z")
    assert first["event"]["level"] == "info"
    assert first["event"]["resource"] == {
        "user_id": "admin",
        "id": "vulnerabilities",
        "type": "feeds",
    }
    assert first["event"]["source"]["servicename"] == "policy_engine"


def test_events_filters_and_pages(client: Client, feed_dir: Path) -> None:
    call(client, "POST", "/v1/system/feeds")

    _, groups = call(client, "GET", "/v1/events?event_type=system.feeds.sync.group_*")
    _, errors = call(client, "GET", "/v1/events?level=error")
    _, page = call(client, "GET", "/v1/events?limit=3&page=1")
    _, last = call(client, "GET", "/v1/events?limit=3&page=2")
    _, resource = call(client, "GET", "/v1/events?resource_id=vulnerabilities/pypi")

    assert len(groups["results"]) == 2
    assert errors["results"] == []
    assert page["next_page"] is True
    assert page["item_count"] == 3
    assert last["next_page"] is False
    assert [r["event"]["type"] for r in last["results"]] == ["system.feeds.sync.started"]
    assert len(resource["results"]) == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [("level=warn", "level"), ("page=0", "page"), ("since=yesterday", "since")],
)
def test_events_invalid_parameter_rejected(client: Client, query: str, message: str) -> None:
    status, body = call(client, "GET", f"/v1/events?{query}")

    assert status == 400
    assert message in body["message"]


def test_events_failed_sync_is_error(client: Client, services: Services, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    services.settings = dataclasses.replace(services.settings, feed_sources=f"osv={missing}")

    call(client, "POST", "/v1/system/feeds")

    _, body = call(client, "GET", "/v1/events?level=error")
    [event] = body["results"]
    assert event["event"]["type"] == "system.feeds.sync.failed"
    assert "does not exist" in event["event"]["details"]["errors"][0]
