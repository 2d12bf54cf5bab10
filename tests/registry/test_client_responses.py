"""The registry client on responses a real registry does not send on demand (canned server)."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest
import requests

from chalicelib.registry.client import RegistryClient
from chalicelib.registry.errors import (
    AuthenticationError,
    DigestMismatchError,
    InvalidManifestError,
    RegistryError,
    RegistryUnavailableError,
    UnsupportedMediaTypeError,
)
from chalicelib.registry.manifest import (
    MAX_MANIFEST_SIZE,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
)
from tests.registry.cannedserver import CannedServer, Response

CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {}}).encode()
LAYER = b"\x1f\x8b layer bytes"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(layer_media_type: str = OCI_LAYER_GZIP) -> bytes:
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _digest(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": layer_media_type, "digest": _digest(LAYER), "size": len(LAYER)}],
    }
    return json.dumps(document).encode()


def _serve_image(server: CannedServer, manifest: bytes, **headers: str) -> None:
    server.routes["/v2/app/manifests/v1"] = Response(
        200, manifest, {"Content-Type": OCI_MANIFEST, **headers}
    )
    server.routes[f"/v2/app/blobs/{_digest(CONFIG)}"] = Response(200, CONFIG)
    server.routes[f"/v2/app/blobs/{_digest(LAYER)}"] = Response(200, LAYER)


@pytest.fixture
def client() -> RegistryClient:
    return RegistryClient(retries=0)


def test_resolve_canned_image(canned_server: CannedServer, client: RegistryClient) -> None:
    manifest = _manifest()
    _serve_image(canned_server, manifest, **{"Docker-Content-Digest": _digest(manifest)})

    image = client.resolve(f"{canned_server.host}/app:v1")

    assert image.manifest_digest == _digest(manifest)
    with image.open_layer(image.layers[0]) as stream:
        assert stream.read() == LAYER


def test_manifest_request_accepts_indexes_and_manifests(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    _serve_image(canned_server, _manifest())

    client.resolve(f"{canned_server.host}/app:v1")

    accept = canned_server.requests[0].headers["Accept"]
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in accept
    assert "distribution.manifest.v1" not in accept


def test_resolve_rejects_schema1_manifest(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    schema1 = json.dumps({"schemaVersion": 1, "name": "app", "tag": "v1", "fsLayers": []})
    canned_server.routes["/v2/app/manifests/v1"] = Response(
        200,
        schema1.encode(),
        {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
    )

    with pytest.raises(UnsupportedMediaTypeError) as raised:
        client.resolve(f"{canned_server.host}/app:v1")

    message = str(raised.value)
    assert "schema 1" in message
    assert f"{canned_server.host}/app:v1" in message


def test_resolve_rejects_wrong_content_digest_header(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    other = "sha256:" + "9" * 64
    _serve_image(canned_server, _manifest(), **{"Docker-Content-Digest": other})

    with pytest.raises(DigestMismatchError, match=f"gives {other} in Docker-Content-Digest"):
        client.resolve(f"{canned_server.host}/app:v1")


def test_resolve_ignores_invalid_content_digest_header(
    canned_server: CannedServer, client: RegistryClient, caplog: pytest.LogCaptureFixture
) -> None:
    _serve_image(canned_server, _manifest(), **{"Docker-Content-Digest": "sha256:nothex"})

    with caplog.at_level(logging.WARNING):
        image = client.resolve(f"{canned_server.host}/app:v1")

    assert image.manifest_digest == _digest(_manifest())
    assert "ignoring invalid Docker-Content-Digest" in caplog.text


def test_resolve_by_digest_rejects_other_content(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    requested = _digest(b"the manifest that was asked for")
    canned_server.routes[f"/v2/app/manifests/{requested}"] = Response(
        200, _manifest(), {"Content-Type": OCI_MANIFEST}
    )

    with pytest.raises(DigestMismatchError, match=f"not the expected {requested}"):
        client.resolve(f"{canned_server.host}/app@{requested}")


def test_resolve_rejects_zstd_layers(canned_server: CannedServer, client: RegistryClient) -> None:
    _serve_image(canned_server, _manifest(OCI_LAYER_ZSTD))

    with pytest.raises(UnsupportedMediaTypeError, match="zstd-compressed"):
        client.resolve(f"{canned_server.host}/app:v1")


def test_resolve_rejects_oversized_manifest(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    canned_server.routes["/v2/app/manifests/v1"] = Response(
        200, b" " * (MAX_MANIFEST_SIZE + 1), {"Content-Type": OCI_MANIFEST}
    )

    with pytest.raises(InvalidManifestError, match="larger than"):
        client.resolve(f"{canned_server.host}/app:v1")


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        (500, RegistryUnavailableError, "returned HTTP 500"),
        (503, RegistryUnavailableError, "retry later"),
        (429, RegistryUnavailableError, "rate-limiting"),
        (403, AuthenticationError, "denied access"),
        (418, RegistryError, "returned HTTP 418"),
    ],
)
def test_resolve_maps_error_status(
    canned_server: CannedServer,
    client: RegistryClient,
    status: int,
    error: type[RegistryError],
    fragment: str,
) -> None:
    body = {"errors": [{"code": "SOME_CODE", "message": "something happened"}]}
    canned_server.routes["/v2/app/manifests/v1"] = Response.json(body, status=status)

    with pytest.raises(error, match=fragment) as raised:
        client.resolve(f"{canned_server.host}/app:v1")

    assert "(SOME_CODE: something happened)" in str(raised.value)


def test_client_retries_server_errors(canned_server: CannedServer) -> None:
    manifest = _manifest()
    _serve_image(canned_server, manifest)
    responses = iter([Response(503), Response(200, manifest, {"Content-Type": OCI_MANIFEST})])
    canned_server.routes["/v2/app/manifests/v1"] = lambda request: next(responses)

    with RegistryClient(retries=1) as client:
        image = client.resolve(f"{canned_server.host}/app:v1")

    assert image.manifest_digest == _digest(manifest)
    assert canned_server.paths().count("/v2/app/manifests/v1") == 2


def test_open_blob_follows_redirect(canned_server: CannedServer, client: RegistryClient) -> None:
    _serve_image(canned_server, _manifest())
    canned_server.routes[f"/v2/app/blobs/{_digest(LAYER)}"] = Response(
        307, b"", {"Location": "/storage/layer?signature=abc"}
    )
    canned_server.routes["/storage/layer?signature=abc"] = Response(200, LAYER)

    image = client.resolve(f"{canned_server.host}/app:v1")
    with image.open_layer(image.layers[0]) as stream:
        content = stream.read()

    assert content == LAYER


def test_list_tags_without_tags(canned_server: CannedServer, client: RegistryClient) -> None:
    canned_server.routes["/v2/app/tags/list?n=1000"] = Response.json({"name": "app", "tags": None})

    assert client.list_tags(f"{canned_server.host}/app") == []


def test_list_tags_rejects_foreign_next_link(
    canned_server: CannedServer, client: RegistryClient
) -> None:
    canned_server.routes["/v2/app/tags/list?n=1000"] = Response.json(
        {"name": "app", "tags": ["a"]}, Link='</v2/other/tags/list?last=a>; rel="next"'
    )

    with pytest.raises(RegistryError, match="outside"):
        client.list_tags(f"{canned_server.host}/app")


class _RecordingSession(requests.Session):
    """A session that records request URLs and fails every request, so nothing is sent."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        self.urls.append(str(url))
        raise requests.ConnectionError("requests are not sent in this test")


@pytest.mark.parametrize(
    ("reference", "insecure", "url"),
    [
        ("quay.io/org/app:v1", [], "https://quay.io/v2/org/app/manifests/v1"),
        ("nginx", [], "https://registry-1.docker.io/v2/library/nginx/manifests/latest"),
        ("registry.internal:5000/app:v1", [], "https://registry.internal:5000/v2/app/manifests/v1"),
        (
            "registry.internal:5000/app:v1",
            ["registry.internal:5000"],
            "http://registry.internal:5000/v2/app/manifests/v1",
        ),
        ("localhost:5000/app:v1", [], "http://localhost:5000/v2/app/manifests/v1"),
        ("127.0.0.2:5000/app:v1", [], "http://127.0.0.2:5000/v2/app/manifests/v1"),
        ("[::1]:5000/app:v1", [], "http://[::1]:5000/v2/app/manifests/v1"),
        ("10.0.0.1:5000/app:v1", [], "https://10.0.0.1:5000/v2/app/manifests/v1"),
    ],
)
def test_client_uses_https_unless_loopback_or_insecure(
    reference: str, insecure: list[str], url: str
) -> None:
    session = _RecordingSession()
    client = RegistryClient(insecure_registries=insecure, retries=0, session=session)

    with pytest.raises(RegistryUnavailableError):
        client.resolve(reference)

    assert session.urls == [url]
