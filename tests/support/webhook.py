"""A webhook receiver for tests: an HTTP server on 127.0.0.1 that records each POST."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclasses.dataclass(frozen=True)
class ReceivedPost:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: Any


class WebhookReceiver:
    """Records POSTed JSON bodies and returns 200, or the status set for the path in `failing`."""

    def __init__(self) -> None:
        self.posts: list[ReceivedPost] = []
        self.failing: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with receiver._lock:
                    receiver.posts.append(
                        ReceivedPost(self.path, dict(self.headers), json.loads(raw or b"null"))
                    )
                    status = receiver.failing.get(self.path, 200)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def bodies(self, path: str) -> list[Any]:
        """Return the bodies POSTed to `path`, in arrival order."""
        with self._lock:
            return [post.body for post in self.posts if post.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """A running webhook receiver, stopped after the test."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
