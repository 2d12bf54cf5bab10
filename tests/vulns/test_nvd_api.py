"""Tests of the NVD CVE API 2.0 client and mirror against a local API server.

The server on 127.0.0.1 behaves like the CVE API: it pages through the 38 CVEs of the real
full-page sample with `startIndex` and `resultsPerPage`, and returns for a `lastModStartDate`
query the real single-entry sample (CVE-2022-1576) and a rejected copy of CVE-2023-27314.
"""

from __future__ import annotations

import copy
import datetime
import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.config import get_settings
from chalicelib.vulns.interface import FeedError
from chalicelib.vulns.nvd import (
    NVD_API_MAX_WINDOW,
    NvdApiClient,
    NvdMirror,
    is_nvd_api_url,
    iter_nvd_api_records,
)
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records

API_PATH = "/rest/json/cves/2.0"
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class NvdApiServer:
    """A local CVE API 2.0 endpoint serving the real NVD samples, recording each request."""

    def __init__(self, full_page: dict, update_page: dict) -> None:
        self.items = full_page["vulnerabilities"]
        rejected = copy.deepcopy(self.items[0])
        rejected["cve"]["vulnStatus"] = "Rejected"
        self.updates = [*update_page["vulnerabilities"], rejected]
        self.requests: list[tuple[dict[str, str], dict[str, str]]] = []
        self.failures: list[int] = []
        """HTTP error statuses to respond with, one per request, before serving pages again."""
        self.truncate = False
        """Whether to claim more results than there are, so the last page comes back empty."""
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PATH}"

    def __enter__(self) -> NvdApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def page(self, params: dict[str, str]) -> dict:
        items = self.updates if "lastModStartDate" in params else self.items
        start = int(params["startIndex"])
        size = int(params["resultsPerPage"])
        selected = items[start : start + size]
        total = len(items) + (10 if self.truncate else 0)
        return {
            "resultsPerPage": len(selected),
            "startIndex": start,
            "totalResults": total,
            "format": "NVD_CVE",
            "version": "2.0",
            "timestamp": "2026-01-01T00:00:00.000",
            "vulnerabilities": selected,
        }

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                url = urlsplit(self.path)
                params = {key: values[0] for key, values in parse_qs(url.query).items()}
                api.requests.append((params, dict(self.headers)))
                if url.path != API_PATH:
                    self.send_error(404)
                    return
                if api.failures:
                    self.send_error(api.failures.pop(0))
                    return
                body = json.dumps(api.page(params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def api(feeds_dir: Path) -> Iterator[NvdApiServer]:
    samples = feeds_dir / "samples" / "nvd"
    full_page = json.loads((samples / "vunnel-nvd-api2-full-page.json").read_bytes())
    update_page = json.loads((samples / "vunnel-nvd-api2-single-entry.json").read_bytes())
    with NvdApiServer(full_page, update_page) as server:
        yield server


class RecordedSleep:
    """A `sleep` that records the pauses instead of waiting."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


def make_mirror(
    api: NvdApiServer, tmp_path: Path, *, api_key: str | None = None
) -> tuple[NvdMirror, RecordedSleep]:
    sleep = RecordedSleep()
    client = NvdApiClient(api.url, api_key=api_key, page_size=10, sleep=sleep)
    return NvdMirror(tmp_path / "nvd.sqlite", client), sleep


def ids(mirror: NvdMirror) -> list[str]:
    return [record.id for record in mirror.records()]


def test_nvd_api_url_detected() -> None:
    assert is_nvd_api_url("https://services.nvd.nist.gov/rest/json/cves/2.0")
    assert is_nvd_api_url("http://127.0.0.1:8000/rest/json/cves/2.0/")
    assert not is_nvd_api_url("https://mirror.example/nvd/page-1.json")


def test_full_sync_follows_total_results(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, sleep = make_mirror(api, tmp_path)

    read = mirror.sync(now=START)

    assert read == 38
    assert [params["startIndex"] for params, _ in api.requests] == ["0", "10", "20", "30"]
    assert all(params["resultsPerPage"] == "10" for params, _ in api.requests)
    assert all("lastModStartDate" not in params for params, _ in api.requests)
    assert len(ids(mirror)) == 38
    assert "CVE-2023-27314" in ids(mirror)
    # No pause before the first request, 6 seconds before each later one without a key.
    assert sleep.pauses == [6.0, 6.0, 6.0]


def test_api_key_sent_as_header(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, sleep = make_mirror(api, tmp_path, api_key="test-key")

    mirror.sync(now=START)

    assert all(headers.get("apiKey") == "test-key" for _, headers in api.requests)
    assert sleep.pauses == [0.6, 0.6, 0.6]


def test_no_api_key_no_header(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)

    mirror.sync(now=START)

    assert all("apiKey" not in headers for _, headers in api.requests)


def test_incremental_sync_updates_and_deletes(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    mirror.sync(now=START)
    api.requests.clear()

    read = mirror.sync(now=START + datetime.timedelta(days=1))

    assert read == 2
    [(params, _)] = api.requests
    assert params["lastModStartDate"] == "2026-01-01T00:00:00.000+00:00"
    assert params["lastModEndDate"] == "2026-01-02T00:00:00.000+00:00"
    assert params["startIndex"] == "0"
    stored = ids(mirror)
    assert len(stored) == 38
    assert "CVE-2022-1576" in stored
    assert "CVE-2023-27314" not in stored


def test_incremental_sync_splits_120_day_windows(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    mirror.sync(now=START)
    api.requests.clear()
    later = START + datetime.timedelta(days=250)

    mirror.sync(now=later)

    windows = [(p["lastModStartDate"], p["lastModEndDate"]) for p, _ in api.requests]
    assert windows == [
        ("2026-01-01T00:00:00.000+00:00", "2026-05-01T00:00:00.000+00:00"),
        ("2026-05-01T00:00:00.000+00:00", "2026-08-29T00:00:00.000+00:00"),
        ("2026-08-29T00:00:00.000+00:00", "2026-09-08T00:00:00.000+00:00"),
    ]
    for start, end in windows:
        span = datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
        assert span <= NVD_API_MAX_WINDOW


def test_rate_limited_request_retried(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, sleep = make_mirror(api, tmp_path)
    api.failures = [403, 503]

    read = mirror.sync(now=START)

    assert read == 38
    assert [params["startIndex"] for params, _ in api.requests] == ["0", "0", "0", "10", "20", "30"]
    # Each retry doubles the pause.
    assert sleep.pauses == [12.0, 24.0, 6.0, 6.0, 6.0]


def test_failed_sync_keeps_previous_copy(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    mirror.sync(now=START)
    api.failures = [503] * 5

    with pytest.raises(FeedError, match="HTTP 503"):
        mirror.sync(now=START + datetime.timedelta(days=1))

    assert len(ids(mirror)) == 38
    api.requests.clear()
    mirror.sync(now=START + datetime.timedelta(days=2))
    [(params, _)] = api.requests
    assert params["lastModStartDate"] == "2026-01-01T00:00:00.000+00:00"


def test_client_error_not_retried(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    api.failures = [404]

    with pytest.raises(FeedError, match="HTTP 404"):
        mirror.sync(now=START)

    assert len(api.requests) == 1


def test_empty_page_before_total_raises(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    api.truncate = True

    with pytest.raises(FeedError, match="is empty although totalResults is 48"):
        mirror.sync(now=START)


def test_iter_records_reads_api_through_mirror(
    api: NvdApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NVD_API_KEY", "env-key")
    get_settings.cache_clear()
    stats = FeedReadStats()
    try:
        records = list(iter_records(FeedSource("nvd", api.url), stats))
    finally:
        get_settings.cache_clear()

    assert len(records) == 38
    assert stats.records == 38
    assert all(record.namespace == "nvd" for record in records)
    [(params, headers)] = api.requests
    assert params["resultsPerPage"] == "2000"
    assert headers.get("apiKey") == "env-key"
    assert list((tmp_path / "feeds").glob("nvd-*.sqlite"))


def test_mirror_named_after_url(api: NvdApiServer, tmp_path: Path) -> None:
    client = NvdApiClient(api.url, page_size=50, sleep=RecordedSleep())
    first = list(iter_nvd_api_records(api.url, mirror_dir=tmp_path, api_key="", client=client))
    api.requests.clear()

    second = list(iter_nvd_api_records(api.url, mirror_dir=tmp_path, api_key="", client=client))

    assert len(first) == len(second) == 38
    [(params, _)] = api.requests
    assert "lastModStartDate" in params


def test_clock_going_back_sends_no_request(api: NvdApiServer, tmp_path: Path) -> None:
    mirror, _ = make_mirror(api, tmp_path)
    mirror.sync(now=START)
    api.requests.clear()

    read = mirror.sync(now=START - datetime.timedelta(hours=1))

    assert read == 0
    assert api.requests == []
    assert len(ids(mirror)) == 38


def test_unreachable_host_not_retried(tmp_path: Path) -> None:
    # A port on loopback that nothing listens on refuses the connection at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = RecordedSleep()
    client = NvdApiClient(f"http://127.0.0.1:{port}/rest/json/cves/2.0", sleep=sleep)
    mirror = NvdMirror(tmp_path / "nvd.sqlite", client)

    with pytest.raises(FeedError, match="cannot connect") as raised:
        mirror.sync(now=START)

    assert sleep.pauses == []
    assert "HTTPConnectionPool" not in str(raised.value)
