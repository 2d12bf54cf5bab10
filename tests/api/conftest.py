"""Fixtures of the API tests: a real registry, a real image and the app on a fresh store."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.config import Settings
from chalicelib.service.context import Services, build_services, set_services
from tests.conftest import SHARED_DIR
from tests.support.postgres import PostgresCluster, postgres_cluster  # noqa: F401

PASSWORD = "test-password"
AUTH_HEADER = {
    "Authorization": "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode(),
    "Content-Type": "application/json",
}

PYPI_FEED = SHARED_DIR / "feeds" / "pypi" / "pypa-advisory-database" / "vulns"
NPM_FEED = SHARED_DIR / "feeds" / "npm" / "ghsa"


def make_settings(data_dir: Path, feed_sources: str = "") -> Settings:
    return Settings(data_dir=data_dir, admin_password=PASSWORD, feed_sources=feed_sources)


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services on a fresh store with the in-process queue, installed process-wide.

    Every API test runs twice: on the embedded SQLite default and on a new database of the
    session's throwaway PostgreSQL cluster.
    """
    feed_sources = ""
    if PYPI_FEED.is_dir() and NPM_FEED.is_dir():
        feed_sources = f"osv={PYPI_FEED},osv={NPM_FEED}"
    settings = make_settings(tmp_path, feed_sources)
    if request.param == "postgresql":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        settings = dataclasses.replace(settings, database_url=cluster.create_database())
    built = build_services(settings)
    set_services(built)
    yield built
    set_services(None)
    built.store.close()


@pytest.fixture
def client(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """A `chalice.test.Client` of the app, with the admin password of `services`."""
    monkeypatch.setenv("ADMIN_PASSWORD", PASSWORD)
    from chalicelib.config import get_settings

    get_settings.cache_clear()
    from app import app

    with Client(app, stage_name="local") as test_client:
        yield test_client
    get_settings.cache_clear()


def call(client: Client, method: str, path: str, body: object = None):
    """Send an authenticated request and return (status, parsed JSON body)."""
    kwargs: dict = {"headers": AUTH_HEADER}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = getattr(client.http, method.lower())(path, **kwargs)
    parsed = json.loads(response.body) if response.body else None
    return response.status_code, parsed


def wait_analyzed(client: Client, digest: str, timeout: float = 120) -> dict:
    """Poll an image until its analysis ends and return the image record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, body = call(client, "GET", f"/v1/images/{digest}")
        if body[0]["analysis_status"] in ("analyzed", "analysis_failed"):
            return body[0]
        time.sleep(0.2)
    raise AssertionError(f"analysis of {digest} did not end within {timeout} s")
