"""A tiny HTTP server on 127.0.0.1 that returns canned responses, for registry edge cases.

The real registry cannot be made to send a schema 1 manifest, a wrong `Docker-Content-Digest`
or a server error on demand; this server can. Each route maps a path (with its query) to a
`Response` or to a function of the request that returns one.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclasses.dataclass
class Response:
    """A canned response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def json(cls, document: Any, status: int = 200, **headers: str) -> Response:
        """Return a JSON response; `headers` use `_` for `-` in their names."""
        header_map = {"Content-Type": "application/json"}
        header_map.update({name.replace("_", "-"): value for name, value in headers.items()})
        return cls(status=status, body=json.dumps(document).encode(), headers=header_map)


@dataclasses.dataclass(frozen=True)
class Request:
    """A request the server received."""

    path: str
    headers: dict[str, str]


Route = Response | Callable[[Request], Response]


class CannedServer:
    """The running server: `host` is `127.0.0.1:PORT`; set `routes` before requests arrive."""

    def __init__(self) -> None:
        """Bind a free port on 127.0.0.1; `start` serves requests."""
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        """Serve requests on a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def paths(self) -> list[str]:
        """Return the paths requested so far, in order."""
        return [request.path for request in self.requests]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                request = Request(path=self.path, headers=dict(self.headers.items()))
                server.requests.append(request)
                route = server.routes.get(self.path)
                if route is None:
                    response = Response.json({"errors": [{"code": "NOT_FOUND"}]}, status=404)
                elif isinstance(route, Response):
                    response = route
                else:
                    response = route(request)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        return Handler


@pytest.fixture
def canned_server() -> Iterator[CannedServer]:
    """A `CannedServer` for one test."""
    server = CannedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
