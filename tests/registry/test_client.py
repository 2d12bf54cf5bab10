"""The registry client against a real registry (`docker-registry` on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from chalicelib.analysis.interface import ImageSource
from chalicelib.registry import client as client_module
from chalicelib.registry.client import RegistryClient, ResolvedImage
from chalicelib.registry.errors import (
    AuthenticationError,
    BlobNotFoundError,
    DigestMismatchError,
    ManifestNotFoundError,
    PlatformNotFoundError,
    RegistryUnavailableError,
)
from chalicelib.registry.manifest import OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST
from tests.registry.conftest import PushedLayout
from tests.support.ocilayout import OciLayoutWriter, two_layer_image
from tests.support.registry import TEST_PASSWORD, TEST_USER, LocalRegistry


@pytest.fixture
def client() -> Iterator[RegistryClient]:
    with RegistryClient(retries=0) as registry_client:
        yield registry_client


def _read_layers(source: ImageSource) -> list[bytes]:
    """Read every layer of a source to its end, as the analysis does."""
    contents = []
    for layer in source.layers:
        with source.open_layer(layer) as stream:
            contents.append(stream.read())
    return contents


def _push_fresh_image(
    target: LocalRegistry, tmp_path: Path, name: str
) -> tuple[str, dict[str, Any]]:
    """Push an image with content unique to `name`, so its blobs are shared with no other test."""
    writer = OciLayoutWriter(tmp_path / "layout")
    descriptor = two_layer_image(writer, label=name)
    writer.tag(descriptor, "v1")
    reference = target.push(tmp_path / "layout", "v1", f"fresh/{name}:v1")
    manifest = json.loads(writer.blob_path(descriptor["digest"]).read_bytes())
    return reference, manifest


def test_resolve_by_tag(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.single)

    assert image.manifest_digest == pushed.descriptors["single"]["digest"]
    assert image.parent_digest is None
    assert image.media_type == OCI_MANIFEST
    assert image.reference.tag == "single"
    assert image.platform == "linux/amd64"


def test_resolve_reads_manifest_and_config(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.single)

    assert "sha256:" + hashlib.sha256(image.raw_manifest).hexdigest() == image.manifest_digest
    assert image.manifest == json.loads(image.raw_manifest)
    assert image.config["architecture"] == "amd64"
    assert image.config["os"] == "linux"
    assert image.config_digest == image.manifest["config"]["digest"]
    assert image.image_id == image.config_digest.removeprefix("sha256:")


def test_resolve_keeps_gzip_and_plain_layers(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.single)

    assert [layer.media_type for layer in image.layers] == [OCI_LAYER_GZIP, OCI_LAYER]
    assert [layer.digest for layer in image.layers] == [
        entry["digest"] for entry in image.manifest["layers"]
    ]


def test_resolve_index_picks_default_platform(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.multi)

    assert image.manifest_digest == pushed.descriptors["amd64"]["digest"]
    assert image.parent_digest == pushed.descriptors["multi"]["digest"]
    assert image.config["architecture"] == "amd64"


@pytest.mark.parametrize("platform", ["linux/arm64", "linux/arm64/v8", "linux/aarch64"])
def test_resolve_index_picks_requested_platform(
    client: RegistryClient, pushed: PushedLayout, platform: str
) -> None:
    image = client.resolve(pushed.multi, platform=platform)

    assert image.manifest_digest == pushed.descriptors["arm64"]["digest"]
    assert image.parent_digest == pushed.descriptors["multi"]["digest"]
    assert image.config["architecture"] == "arm64"
    assert image.platform == "linux/arm64"


def test_resolve_missing_platform_lists_available(
    client: RegistryClient, pushed: PushedLayout
) -> None:
    with pytest.raises(PlatformNotFoundError) as raised:
        client.resolve(pushed.multi, platform="linux/s390x")

    message = str(raised.value)
    assert "linux/s390x" in message
    assert "linux/amd64, linux/arm64" in message
    assert pushed.descriptors["multi"]["digest"] in message


def test_resolve_by_manifest_digest(
    client: RegistryClient, registry: LocalRegistry, pushed: PushedLayout
) -> None:
    digest = pushed.descriptors["amd64"]["digest"]

    image = client.resolve(f"{registry.host}/test/app@{digest}")

    assert image.manifest_digest == digest
    assert image.parent_digest is None
    assert image.reference.tag is None


def test_resolve_by_index_digest(
    client: RegistryClient, registry: LocalRegistry, pushed: PushedLayout
) -> None:
    digest = pushed.descriptors["multi"]["digest"]

    image = client.resolve(f"{registry.host}/test/app@{digest}", platform="linux/arm64")

    assert image.manifest_digest == pushed.descriptors["arm64"]["digest"]
    assert image.parent_digest == digest


def test_resolve_tag_and_digest_fetches_digest(
    client: RegistryClient, registry: LocalRegistry, pushed: PushedLayout
) -> None:
    # The tag names the single image, but the digest wins, as in `docker pull`.
    digest = pushed.descriptors["multi"]["digest"]

    image = client.resolve(f"{registry.host}/test/app:single@{digest}")

    assert image.parent_digest == digest
    assert image.manifest_digest == pushed.descriptors["amd64"]["digest"]
    assert image.reference.tag == "single"
    assert image.reference.digest == digest


def test_resolved_pinned_reference(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.multi)

    assert image.pinned_reference.digest == image.manifest_digest
    assert image.pinned_reference.tag == "multi"


def test_resolve_missing_tag(
    client: RegistryClient, registry: LocalRegistry, pushed: PushedLayout
) -> None:
    reference = f"{registry.host}/test/app:no-such-tag"

    with pytest.raises(ManifestNotFoundError) as raised:
        client.resolve(reference)

    message = str(raised.value)
    assert reference in message
    assert "MANIFEST_UNKNOWN" in message
    assert f"registry {registry.host}" in message


def test_resolve_missing_digest(
    client: RegistryClient, registry: LocalRegistry, pushed: PushedLayout
) -> None:
    with pytest.raises(ManifestNotFoundError, match="not found"):
        client.resolve(f"{registry.host}/test/app@sha256:{'0' * 64}")


def test_resolve_missing_repository(client: RegistryClient, registry: LocalRegistry) -> None:
    reference = f"{registry.host}/no/such-repository:latest"

    with pytest.raises(ManifestNotFoundError, match="not found") as raised:
        client.resolve(reference)

    assert reference in str(raised.value)


def test_open_layer_streams_blobs(client: RegistryClient, pushed: PushedLayout) -> None:
    image = client.resolve(pushed.single)

    contents = _read_layers(image)

    for layer, content in zip(image.layers, contents, strict=True):
        assert len(content) == layer.size
        assert "sha256:" + hashlib.sha256(content).hexdigest() == layer.digest


def test_resolved_image_is_image_source(client: RegistryClient, pushed: PushedLayout) -> None:
    image: ImageSource = client.resolve(pushed.single)

    assert isinstance(image, ResolvedImage)
    assert len(_read_layers(image)) == 2


def test_open_blob_missing(client: RegistryClient, pushed: PushedLayout) -> None:
    with pytest.raises(BlobNotFoundError, match="BLOB_UNKNOWN"):
        client.open_blob(pushed.single, f"sha256:{'0' * 64}")


def test_open_layer_detects_corrupt_blob(
    client: RegistryClient, registry: LocalRegistry, tmp_path: Path
) -> None:
    reference, _ = _push_fresh_image(registry, tmp_path, "corrupt-layer")
    image = client.resolve(reference)
    layer = image.layers[1]
    stored = registry.blob_path(layer.digest)
    data = bytearray(stored.read_bytes())
    data[600] ^= 0xFF
    stored.write_bytes(bytes(data))

    with image.open_layer(layer) as stream:
        start = stream.read(100)
        with pytest.raises(DigestMismatchError) as raised:
            stream.read()

    assert start == bytes(data[:100])
    message = str(raised.value)
    assert layer.digest in message
    assert reference in message


def test_open_layer_detects_appended_bytes(
    client: RegistryClient, registry: LocalRegistry, tmp_path: Path
) -> None:
    reference, _ = _push_fresh_image(registry, tmp_path, "longer-layer")
    image = client.resolve(reference)
    layer = image.layers[0]
    stored = registry.blob_path(layer.digest)
    stored.write_bytes(stored.read_bytes() + b"appended")

    with image.open_layer(layer) as stream, pytest.raises(DigestMismatchError, match="longer"):
        stream.read()


def test_resolve_detects_corrupt_config(
    client: RegistryClient, registry: LocalRegistry, tmp_path: Path
) -> None:
    reference, manifest = _push_fresh_image(registry, tmp_path, "corrupt-config")
    config_digest = manifest["config"]["digest"]
    stored = registry.blob_path(config_digest)
    stored.write_bytes(stored.read_bytes().replace(b"amd64", b"arm64"))

    with pytest.raises(DigestMismatchError) as raised:
        client.resolve(reference)

    assert config_digest in str(raised.value)


def test_resolve_detects_corrupt_manifest(
    client: RegistryClient, registry: LocalRegistry, tmp_path: Path
) -> None:
    reference, _ = _push_fresh_image(registry, tmp_path, "corrupt-manifest")
    image = client.resolve(reference)
    stored = registry.blob_path(image.manifest_digest)
    # Still valid JSON, so the registry serves it, under the digest it was stored with.
    stored.write_bytes(stored.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":2'))

    with pytest.raises(DigestMismatchError, match="Docker-Content-Digest"):
        client.resolve(reference)
    with pytest.raises(DigestMismatchError, match=f"not the expected {image.manifest_digest}"):
        client.resolve(image.pinned_reference)


def test_list_tags(client: RegistryClient, pushed: PushedLayout) -> None:
    tags = client.list_tags(pushed.single)

    assert "single" in tags
    assert "multi" in tags


def test_list_tags_follows_pages(
    client: RegistryClient, pushed: PushedLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "_TAGS_PAGE_SIZE", 1)

    tags = client.list_tags(pushed.single)

    assert sorted(tags) == ["multi", "single"]


def test_list_tags_missing_repository(client: RegistryClient, registry: LocalRegistry) -> None:
    with pytest.raises(ManifestNotFoundError, match="NAME_UNKNOWN"):
        client.list_tags(f"{registry.host}/no/such-repository")


def test_client_bypasses_proxy_for_loopback(
    client: RegistryClient,
    registry: LocalRegistry,
    pushed: PushedLayout,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Port 9 (discard) on loopback has no listener, so any request through the proxy fails.
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(requests.exceptions.ProxyError):
        requests.get(f"{registry.url}/v2/", timeout=5)

    image = client.resolve(pushed.single)

    assert len(_read_layers(image)) == 2


def test_resolve_unreachable_registry(client: RegistryClient) -> None:
    with pytest.raises(RegistryUnavailableError) as raised:
        client.resolve("127.0.0.1:1/test/app:v1")

    message = str(raised.value)
    assert "127.0.0.1:1" in message
    assert "reachable" in message


def test_basic_auth_resolves(pushed_auth: PushedLayout, auth_registry: LocalRegistry) -> None:
    with RegistryClient(credentials={auth_registry.host: (TEST_USER, TEST_PASSWORD)}) as client:
        image = client.resolve(pushed_auth.multi)
        contents = _read_layers(image)
        tags = client.list_tags(pushed_auth.multi)

    assert image.manifest_digest == pushed_auth.descriptors["amd64"]["digest"]
    assert len(contents) == 2
    assert sorted(tags) == ["multi", "single"]


def test_basic_auth_wrong_password(pushed_auth: PushedLayout, auth_registry: LocalRegistry) -> None:
    credentials = {auth_registry.host: (TEST_USER, "wrong-password")}

    with (
        RegistryClient(credentials=credentials) as client,
        pytest.raises(AuthenticationError) as raised,
    ):
        client.resolve(pushed_auth.single)

    message = str(raised.value)
    assert (
        f"registry {auth_registry.host} rejected the credentials of user {TEST_USER!r}" in message
    )
    assert pushed_auth.single in message
    assert "check the user name and password" in message
    assert "wrong-password" not in message


def test_basic_auth_without_credentials(
    pushed_auth: PushedLayout, auth_registry: LocalRegistry, client: RegistryClient
) -> None:
    with pytest.raises(AuthenticationError, match="requires authentication") as raised:
        client.resolve(pushed_auth.single)

    assert f"configure credentials for {auth_registry.host}" in str(raised.value)


def test_basic_auth_credentials_for_other_registry(
    pushed_auth: PushedLayout, auth_registry: LocalRegistry
) -> None:
    credentials = {"quay.io": (TEST_USER, TEST_PASSWORD)}

    with RegistryClient(credentials=credentials) as client, pytest.raises(AuthenticationError):
        client.resolve(pushed_auth.single)


def test_bearer_token_resolves(pushed_token: PushedLayout, token_registry: LocalRegistry) -> None:
    credentials = {token_registry.host: (TEST_USER, TEST_PASSWORD)}

    with RegistryClient(credentials=credentials) as client:
        image = client.resolve(pushed_token.multi, platform="linux/arm64")
        contents = _read_layers(image)

    assert image.manifest_digest == pushed_token.descriptors["arm64"]["digest"]
    assert len(contents) == 1


def test_bearer_token_cached_per_scope(
    pushed_token: PushedLayout, token_registry: LocalRegistry
) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    credentials = {token_registry.host: (TEST_USER, TEST_PASSWORD)}
    before = len(token_server.requests)

    with RegistryClient(credentials=credentials) as client:
        client.resolve(pushed_token.single)
        client.resolve(pushed_token.multi)
        client.list_tags(pushed_token.multi)
        new_requests = token_server.requests[before:]

    assert new_requests == [(TEST_USER, ["repository:private/app:pull"])]


def test_bearer_token_anonymous_denied(
    pushed_token: PushedLayout, token_registry: LocalRegistry, client: RegistryClient
) -> None:
    with pytest.raises(AuthenticationError) as raised:
        client.resolve(pushed_token.single)

    message = str(raised.value)
    assert "anonymous access" in message
    assert "repository:private/app:pull" in message


def test_bearer_token_anonymous_pull_allowed(
    pushed_token: PushedLayout, token_registry: LocalRegistry, client: RegistryClient
) -> None:
    token_server = token_registry.token_server
    assert token_server is not None
    token_server.anonymous_actions = {"pull"}
    try:
        image = client.resolve(pushed_token.single)
    finally:
        token_server.anonymous_actions = set()

    assert image.manifest_digest == pushed_token.descriptors["single"]["digest"]


def test_bearer_token_wrong_password(
    pushed_token: PushedLayout, token_registry: LocalRegistry
) -> None:
    credentials = {token_registry.host: (TEST_USER, "wrong-password")}

    with (
        RegistryClient(credentials=credentials) as client,
        pytest.raises(AuthenticationError) as raised,
    ):
        client.resolve(pushed_token.single)

    message = str(raised.value)
    assert "token service http://127.0.0.1:" in message
    assert f"rejected user {TEST_USER!r}" in message
    assert "wrong-password" not in message


def test_index_media_type_kept(client: RegistryClient, pushed: PushedLayout) -> None:
    index = client.fetch_manifest(pushed.multi)

    assert index.media_type == OCI_INDEX
    assert index.digest == pushed.descriptors["multi"]["digest"]


def test_read_error_text_drops_urllib3_repetition() -> None:
    dropped = urllib3.exceptions.ProtocolError(
        "Connection broken: IncompleteRead(100 bytes read, 900 more expected)",
        http.client.IncompleteRead(b"x" * 100, 900),
    )
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/v2/app/blobs/x", "Read timed out.")
    reset = ConnectionResetError(104, "Connection reset by peer")
    assert client_module._describe_read_error(dropped) == (
        "Connection broken: IncompleteRead(100 bytes read, 900 more expected)"
    )
    assert client_module._describe_read_error(timeout) == "timed out waiting for data"
    assert client_module._describe_read_error(reset) == "connection reset by peer"
