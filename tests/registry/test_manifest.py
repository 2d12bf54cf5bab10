"""Manifest and index parsing, media type checks and the walk from an index to an image."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from chalicelib.registry.errors import (
    DigestMismatchError,
    InvalidManifestError,
    PlatformNotFoundError,
    UnsupportedMediaTypeError,
)
from chalicelib.registry.manifest import (
    DOCKER_CONFIG,
    DOCKER_FOREIGN_LAYER_GZIP,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    MAX_INDEX_DEPTH,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Compression,
    Descriptor,
    ManifestBlob,
    detect_compression,
    layer_compression,
    parse_manifest,
    read_image_parts,
    walk_to_image,
)
from chalicelib.registry.platform import Platform

CONFIG = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
CONFIG_DIGEST = "sha256:" + hashlib.sha256(CONFIG).hexdigest()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _manifest(
    layers: list[tuple[str, str]] | None = None, config_type: str = OCI_CONFIG
) -> dict[str, Any]:
    layer_list = layers if layers is not None else [(OCI_LAYER_GZIP, "1" * 64)]
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_type, "digest": CONFIG_DIGEST, "size": len(CONFIG)},
        "layers": [
            {"mediaType": media_type, "digest": f"sha256:{hex_part}", "size": 10}
            for media_type, hex_part in layer_list
        ],
    }


def _blob(document: dict[str, Any], media_type: str | None = None) -> ManifestBlob:
    raw = json.dumps(document).encode()
    return parse_manifest(raw, media_type, _digest(raw), "test manifest")


def _fetch_config(descriptor: Descriptor, where: str) -> bytes:
    assert descriptor.digest == CONFIG_DIGEST
    return CONFIG


def test_parse_manifest_uses_document_media_type() -> None:
    blob = _blob(_manifest(), media_type="application/json")

    assert blob.media_type == OCI_MANIFEST
    assert not blob.is_index


def test_parse_manifest_uses_header_when_document_has_none() -> None:
    document = _manifest()
    del document["mediaType"]

    assert _blob(document, DOCKER_MANIFEST).media_type == DOCKER_MANIFEST


def test_parse_manifest_ignores_header_parameters() -> None:
    document = {"schemaVersion": 2, "manifests": []}

    blob = _blob(document, f"{DOCKER_MANIFEST_LIST}; charset=utf-8")

    assert blob.media_type == DOCKER_MANIFEST_LIST
    assert blob.is_index


def test_parse_manifest_infers_missing_media_type() -> None:
    manifest = _manifest()
    del manifest["mediaType"]
    index = {"schemaVersion": 2, "manifests": []}

    assert _blob(manifest).media_type == OCI_MANIFEST
    assert _blob(index, "application/json").media_type == OCI_INDEX


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.docker.distribution.manifest.v1+json",
    ],
)
def test_parse_manifest_rejects_schema1_by_header(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="schema 1 manifest"):
        parse_manifest(b'{"schemaVersion": 1}', content_type, None, "test manifest")


def test_parse_manifest_rejects_schema1_by_body() -> None:
    raw = json.dumps({"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": []}).encode()

    with pytest.raises(UnsupportedMediaTypeError, match="push the image again"):
        parse_manifest(raw, "application/json", None, "test manifest")


def test_parse_manifest_rejects_artifact_media_type() -> None:
    document = {"schemaVersion": 2, "mediaType": "application/vnd.oci.artifact.manifest.v1+json"}

    with pytest.raises(UnsupportedMediaTypeError, match="not a container image manifest"):
        _blob(document)


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_parse_manifest_rejects_invalid_json(raw: bytes) -> None:
    with pytest.raises(InvalidManifestError, match="test manifest"):
        parse_manifest(raw, OCI_MANIFEST, None, "test manifest")


def test_parse_manifest_rejects_unknown_shape() -> None:
    with pytest.raises(InvalidManifestError, match="no mediaType"):
        _blob({"schemaVersion": 2})


def test_parse_manifest_rejects_other_schema_version() -> None:
    with pytest.raises(InvalidManifestError, match="schemaVersion 3"):
        _blob({"schemaVersion": 3, "mediaType": OCI_INDEX, "manifests": []})


@pytest.mark.parametrize(
    ("media_type", "compression"),
    [
        (DOCKER_LAYER_GZIP, Compression.GZIP),
        (DOCKER_LAYER, Compression.NONE),
        (OCI_LAYER_GZIP, Compression.GZIP),
        (OCI_LAYER, Compression.NONE),
        (OCI_LAYER_ZSTD, Compression.ZSTD),
        (OCI_CONFIG, None),
    ],
)
def test_layer_compression(media_type: str, compression: Compression | None) -> None:
    assert layer_compression(media_type) is compression


def test_detect_compression_by_magic() -> None:
    assert detect_compression(b"\x1f\x8b\x08\x00") is Compression.GZIP
    assert detect_compression(b"\x28\xb5\x2f\xfd") is Compression.ZSTD
    assert detect_compression(b"etc/") is Compression.NONE


def test_read_image_parts_accepts_gzip_and_plain_layers() -> None:
    layers = [
        (DOCKER_LAYER_GZIP, "1" * 64),
        (DOCKER_LAYER, "2" * 64),
        (OCI_LAYER_GZIP, "3" * 64),
        (OCI_LAYER, "4" * 64),
    ]

    parts = read_image_parts(_blob(_manifest(layers)), None, _fetch_config, "img")

    assert [layer.media_type for layer in parts.layers] == [m for m, _ in layers]
    assert parts.config == {"architecture": "amd64", "os": "linux"}
    assert parts.image_id == CONFIG_DIGEST.removeprefix("sha256:")
    assert parts.config_descriptor.digest == CONFIG_DIGEST


def test_read_image_parts_accepts_docker_config() -> None:
    parts = read_image_parts(_blob(_manifest(config_type=DOCKER_CONFIG)), None, _fetch_config, "i")

    assert parts.config_descriptor.media_type == DOCKER_CONFIG


def test_read_image_parts_rejects_zstd_layer() -> None:
    manifest = _blob(_manifest([(OCI_LAYER_GZIP, "1" * 64), (OCI_LAYER_ZSTD, "2" * 64)]))

    with pytest.raises(UnsupportedMediaTypeError, match="zstd-compressed") as raised:
        read_image_parts(manifest, None, _fetch_config, "img")
    assert "sha256:" + "2" * 64 in str(raised.value)
    assert "gzip" in str(raised.value)


def test_read_image_parts_rejects_foreign_layer() -> None:
    manifest = _blob(_manifest([(DOCKER_FOREIGN_LAYER_GZIP, "1" * 64)]))

    with pytest.raises(UnsupportedMediaTypeError, match="foreign layer"):
        read_image_parts(manifest, None, _fetch_config, "img")


def test_read_image_parts_rejects_unknown_layer_type() -> None:
    manifest = _blob(_manifest([("application/vnd.cncf.helm.chart.content.v1.tar+gzip", "1" * 64)]))

    with pytest.raises(UnsupportedMediaTypeError, match="not an image layer"):
        read_image_parts(manifest, None, _fetch_config, "img")


def test_read_image_parts_rejects_artifact_config() -> None:
    manifest = _blob(_manifest(config_type="application/vnd.cncf.helm.config.v1+json"))

    with pytest.raises(UnsupportedMediaTypeError, match="not a container image"):
        read_image_parts(manifest, None, _fetch_config, "img")


def test_read_image_parts_rejects_invalid_layer_digest() -> None:
    document = _manifest()
    document["layers"][0]["digest"] = "sha256:nothex"

    with pytest.raises(InvalidManifestError, match="invalid digest 'sha256:nothex'"):
        read_image_parts(_blob(document), None, _fetch_config, "img")


def test_read_image_parts_rejects_negative_size() -> None:
    document = _manifest()
    document["layers"][0]["size"] = -1

    with pytest.raises(InvalidManifestError, match="invalid size -1"):
        read_image_parts(_blob(document), None, _fetch_config, "img")


def test_read_image_parts_rejects_non_object_config() -> None:
    with pytest.raises(InvalidManifestError, match="not a JSON object"):
        read_image_parts(_blob(_manifest()), None, lambda d, w: b"[]", "img")


class _Manifests:
    """An in-memory set of manifests that `walk_to_image` fetches from."""

    def __init__(self) -> None:
        self.blobs: dict[str, ManifestBlob] = {}

    def add(self, document: dict[str, Any]) -> dict[str, Any]:
        blob = _blob(document)
        assert blob.digest is not None
        self.blobs[blob.digest] = blob
        return {"mediaType": blob.media_type, "digest": blob.digest, "size": len(blob.raw)}

    def fetch(self, descriptor: Descriptor, where: str) -> ManifestBlob:
        return self.blobs[descriptor.digest]


def _index(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list(entries)}


def _with_platform(descriptor: dict[str, Any], architecture: str) -> dict[str, Any]:
    return {**descriptor, "platform": {"os": "linux", "architecture": architecture}}


def test_walk_to_image_returns_manifest_without_parent() -> None:
    manifests = _Manifests()
    image = manifests.add(_manifest())
    first = manifests.blobs[image["digest"]]

    found, parent = walk_to_image(first, Platform.parse("linux/amd64"), manifests.fetch, "img")

    assert found is first
    assert parent is None


def test_walk_to_image_follows_nested_index() -> None:
    manifests = _Manifests()
    amd64 = manifests.add(_manifest([(OCI_LAYER, "a" * 64)]))
    arm64 = manifests.add(_manifest([(OCI_LAYER, "b" * 64)]))
    inner = manifests.add(_index(_with_platform(amd64, "amd64"), _with_platform(arm64, "arm64")))
    outer = manifests.add(_index(_with_platform(inner, "arm64")))

    found, parent = walk_to_image(
        manifests.blobs[outer["digest"]], Platform.parse("linux/arm64"), manifests.fetch, "img"
    )

    assert found.digest == arm64["digest"]
    assert parent == outer["digest"]


def test_walk_to_image_reports_available_platforms() -> None:
    manifests = _Manifests()
    amd64 = manifests.add(_manifest())
    index = manifests.add(_index(_with_platform(amd64, "amd64")))

    with pytest.raises(PlatformNotFoundError, match=r"linux/s390x.*it has linux/amd64"):
        walk_to_image(
            manifests.blobs[index["digest"]], Platform.parse("linux/s390x"), manifests.fetch, "img"
        )


def test_walk_to_image_limits_nesting() -> None:
    manifests = _Manifests()
    current = manifests.add(_manifest())
    for _ in range(MAX_INDEX_DEPTH + 1):
        current = manifests.add(_index(_with_platform(current, "amd64")))

    with pytest.raises(InvalidManifestError, match="nests indexes"):
        walk_to_image(
            manifests.blobs[current["digest"]], Platform.parse("linux/amd64"), manifests.fetch, "i"
        )


def test_walk_to_image_rejects_entry_of_unknown_type() -> None:
    manifests = _Manifests()
    entry = {
        "mediaType": "application/vnd.in-toto+json",
        "digest": "sha256:" + "c" * 64,
        "size": 1,
        "platform": {"os": "linux", "architecture": "amd64"},
    }
    index = manifests.add(_index(entry))

    with pytest.raises(UnsupportedMediaTypeError, match="in-toto"):
        walk_to_image(
            manifests.blobs[index["digest"]], Platform.parse("linux/amd64"), manifests.fetch, "i"
        )


def test_walk_to_image_passes_fetch_errors() -> None:
    manifests = _Manifests()
    index = manifests.add(_index(_with_platform(manifests.add(_manifest()), "amd64")))

    def corrupt_fetch(descriptor: Descriptor, where: str) -> ManifestBlob:
        raise DigestMismatchError("corrupt")

    with pytest.raises(DigestMismatchError):
        walk_to_image(
            manifests.blobs[index["digest"]], Platform.parse("linux/amd64"), corrupt_fetch, "i"
        )


def test_walk_to_image_follows_wrapper_index_without_platform() -> None:
    manifests = _Manifests()
    amd64 = manifests.add(_manifest([(OCI_LAYER, "a" * 64)]))
    inner = manifests.add(_index(_with_platform(amd64, "amd64")))
    wrapper = manifests.add(_index(inner))

    found, parent = walk_to_image(
        manifests.blobs[wrapper["digest"]], Platform.parse("linux/amd64"), manifests.fetch, "img"
    )

    assert found.digest == amd64["digest"]
    assert parent == wrapper["digest"]


def test_walk_to_image_does_not_guess_between_wrapped_indexes() -> None:
    manifests = _Manifests()
    first = manifests.add(_index(_with_platform(manifests.add(_manifest()), "amd64")))
    second = manifests.add(_index(_with_platform(manifests.add(_manifest([])), "amd64")))
    wrapper = manifests.add(_index(first, second))

    with pytest.raises(PlatformNotFoundError, match="names no platforms"):
        walk_to_image(
            manifests.blobs[wrapper["digest"]], Platform.parse("linux/amd64"), manifests.fetch, "i"
        )
