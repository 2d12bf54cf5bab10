"""`plimsoll analyze docker:NAME` through the real `docker` SDK, against a Docker Engine API server.

No Docker daemon runs on the test machines. The tests therefore serve, on a Unix socket of
their own, the few Engine API routes that the SDK calls for `images.get(name).save()`:
`/version` (the SDK requests the API version first), `GET /vX/images/NAME/json` and
`GET /vX/images/ID/get`. The `get` route streams a real `docker save` archive in chunks, as the
daemon does.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analysis.sbom_support import debian_archive  # noqa: F401
from tests.conftest import REPO_ROOT

API_VERSION = "1.45"
IMAGE_NAME = "sbom:1"


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    """The Engine API routes that `DockerClient.images.get(...).save()` requests."""

    protocol_version = "HTTP/1.1"
    archive: Path
    image_id: str
    requests: list[str]

    def address_string(self) -> str:
        # A Unix socket has no client address, and the base class would index an empty string.
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        self.requests.append(self.path)

    def do_GET(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path in ("/version", f"/v{API_VERSION}/version"):
            self._send_json(200, {"ApiVersion": API_VERSION, "Version": "27.0.0", "Os": "linux"})
            return
        prefix = f"/v{API_VERSION}/images/"
        if path.startswith(prefix) and path.endswith("/json"):
            name = path[len(prefix) : -len("/json")]
            if name in (IMAGE_NAME, self.image_id):
                self._send_json(200, {"Id": self.image_id, "RepoTags": [IMAGE_NAME]})
            else:
                self._send_json(404, {"message": f"No such image: {name}"})
            return
        if path == f"{prefix}{self.image_id}/get":
            self._send_archive()
            return
        self._send_json(404, {"message": f"page not found: {path}"})

    def _send_json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_archive(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with self.archive.open("rb") as stream:
            while chunk := stream.read(32768):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture()
def engine_socket(debian_archive: Path, tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:  # noqa: F811
    """Serve the Engine API routes on a Unix socket, and yield its path and the requested paths."""
    socket_path = tmp_path / "docker.sock"
    requests: list[str] = []
    image_id = "sha256:" + hashlib.sha256(debian_archive.read_bytes()).hexdigest()
    handler = type(
        "Handler",
        (_EngineHandler,),
        {"archive": debian_archive, "image_id": image_id, "requests": requests},
    )
    server = _UnixHTTPServer(str(socket_path), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield socket_path, requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _run_plimsoll(docker_host: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the installed-style entry point with DOCKER_HOST set, as a user would."""
    environment = {**os.environ, "DOCKER_HOST": docker_host, "PYTHONPATH": str(REPO_ROOT)}
    environment.pop("DOCKER_TLS_VERIFY", None)
    environment.pop("DOCKER_CERT_PATH", None)
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "analyze", *arguments],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_docker_scheme_saves_through_sdk(engine_socket: tuple[Path, list[str]]) -> None:
    socket_path, requests = engine_socket

    result = _run_plimsoll(f"unix://{socket_path}", f"docker:{IMAGE_NAME}", "-o", "syft-json")

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    found = {(artifact["name"], artifact["type"]) for artifact in document["artifacts"]}
    assert ("zlib1g", "deb") in found
    assert ("urllib3", "python") in found
    assert ("minimist", "npm") in found
    assert document["source"]["metadata"]["userInput"] == IMAGE_NAME
    assert document["source"]["metadata"]["tags"] == [IMAGE_NAME]
    assert any(path.endswith("/get") for path in requests)


def test_docker_scheme_image_missing_from_daemon(engine_socket: tuple[Path, list[str]]) -> None:
    socket_path, _ = engine_socket

    result = _run_plimsoll(f"unix://{socket_path}", "docker:absent:2", "-o", "json")

    assert result.returncode == 1
    assert "docker:absent:2" in result.stderr
    assert "not in the local Docker daemon" in result.stderr
    assert "Traceback" not in result.stderr


def test_docker_scheme_without_daemon_socket(tmp_path: Path) -> None:
    missing = tmp_path / "absent.sock"

    result = _run_plimsoll(f"unix://{missing}", f"docker:{IMAGE_NAME}", "-o", "json")

    assert result.returncode == 1
    assert f"docker:{IMAGE_NAME}" in result.stderr
    assert "no Docker daemon is reachable" in result.stderr
    assert "docker-archive:PATH" in result.stderr
    assert "Traceback" not in result.stderr
