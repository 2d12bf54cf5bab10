"""Media types, manifest and index parsing, and the walk from an index to one image's parts.

The registry client and the archive readers share this code, so an image read from a registry, an
OCI layout or a `docker save` archive is checked by the same rules.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.analysis.interface import LayerRef
from chalicelib.registry.digest import parse_digest
from chalicelib.registry.errors import InvalidManifestError, UnsupportedMediaTypeError
from chalicelib.registry.platform import Platform, platform_not_found, select_platform_entry

logger = logging.getLogger(__name__)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_MANIFEST_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_NONDISTRIBUTABLE_LAYER = "application/vnd.oci.image.layer.nondistributable.v1.tar"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_MEDIA_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

MANIFEST_ACCEPT = ", ".join((OCI_INDEX, DOCKER_MANIFEST_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
"""`Accept` header value for manifest requests; schema 1 is left out on purpose."""

MAX_MANIFEST_SIZE = 4 * 1024 * 1024
"""Largest manifest or index accepted, in bytes; containerd's limit is about the same."""

MAX_CONFIG_SIZE = 16 * 1024 * 1024
"""Largest image config accepted, in bytes; configs with long histories reach a few hundred KiB."""

MAX_INDEX_DEPTH = 4
"""Most indexes followed from the first one to an image manifest."""

_SCHEMA1_MEDIA_TYPES = frozenset({DOCKER_MANIFEST_SCHEMA1, DOCKER_MANIFEST_SCHEMA1_SIGNED})


class Compression(str, enum.Enum):
    """Compression of a layer blob."""

    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


_LAYER_COMPRESSION = {
    DOCKER_LAYER: Compression.NONE,
    DOCKER_LAYER_GZIP: Compression.GZIP,
    OCI_LAYER: Compression.NONE,
    OCI_LAYER_GZIP: Compression.GZIP,
    OCI_LAYER_ZSTD: Compression.ZSTD,
}


def layer_compression(media_type: str) -> Compression | None:
    """Return the compression a layer media type declares, or None for a non-layer type."""
    return _LAYER_COMPRESSION.get(media_type)


def detect_compression(head: bytes) -> Compression:
    """Return the compression of a blob from its first bytes (gzip and zstd magic numbers)."""
    if head.startswith(b"\x1f\x8b"):
        return Compression.GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return Compression.ZSTD
    return Compression.NONE


@dataclasses.dataclass(frozen=True)
class Descriptor:
    """A content descriptor: the media type, digest and size a manifest gives for a blob."""

    media_type: str
    digest: str
    size: int
    entry: dict[str, Any]
    """The descriptor as JSON, with any `platform`, `annotations` and `urls` fields."""

    @classmethod
    def from_json(cls, entry: object, where: str) -> Descriptor:
        """Validate a descriptor object, raising `InvalidManifestError` naming `where`."""
        if not isinstance(entry, dict):
            raise InvalidManifestError(f"{where} has a descriptor that is not a JSON object")
        digest = entry.get("digest")
        parse_digest(digest, where)
        size = entry.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidManifestError(
                f"descriptor {digest} in {where} has invalid size {size!r}; "
                "expected a non-negative integer"
            )
        media_type = entry.get("mediaType", "")
        if not isinstance(media_type, str):
            raise InvalidManifestError(f"descriptor {digest} in {where} has a non-string mediaType")
        return cls(media_type=media_type, digest=str(digest), size=size, entry=entry)


@dataclasses.dataclass(frozen=True)
class ManifestBlob:
    """A manifest or index as received, with its parsed JSON."""

    digest: str | None
    """Digest of `raw`; None only for an OCI layout's `index.json`, which is not a blob."""
    media_type: str
    raw: bytes
    document: dict[str, Any]

    @property
    def is_index(self) -> bool:
        """Whether this is a manifest list or image index."""
        return self.media_type in INDEX_MEDIA_TYPES


@dataclasses.dataclass(frozen=True)
class ImageParts:
    """The platform image an index walk ends at, with its config and layers checked."""

    manifest: ManifestBlob
    parent_digest: str | None
    config_descriptor: Descriptor
    config: dict[str, Any]
    image_id: str
    """Hex sha256 of the config blob."""
    layers: list[LayerRef]


def parse_manifest(
    raw: bytes, content_type: str | None, digest: str | None, where: str
) -> ManifestBlob:
    """Parse a manifest or index and find its media type.

    The media type is the document's `mediaType` field, else `content_type` (the HTTP header or
    the descriptor's media type), else inferred from the fields present, as OCI manifests may
    omit it. Raises `UnsupportedMediaTypeError` for schema 1 and for anything that is not an image
    manifest or index, and `InvalidManifestError` for invalid JSON.
    """
    header_type = (content_type or "").split(";", 1)[0].strip().lower()
    if header_type in _SCHEMA1_MEDIA_TYPES:
        raise _schema1_error(where)
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidManifestError(f"{where} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise InvalidManifestError(f"{where} is not a JSON object")
    if document.get("schemaVersion") == 1:
        raise _schema1_error(where)

    media_type = document.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        media_type = header_type
    if media_type not in INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES:
        media_type = _infer_media_type(document, media_type, where)
    if document.get("schemaVersion") != 2:
        raise InvalidManifestError(
            f"{where} has schemaVersion {document.get('schemaVersion')!r}, but only 2 is supported"
        )
    return ManifestBlob(digest=digest, media_type=media_type, raw=raw, document=document)


def _infer_media_type(document: dict[str, Any], declared: str, where: str) -> str:
    """Infer the media type of a manifest whose declared type is missing or generic."""
    if declared and declared not in ("application/json", "text/plain", "application/octet-stream"):
        raise UnsupportedMediaTypeError(
            f"{where} has media type {declared!r}, which is not a container image manifest "
            "or index; reference a container image instead"
        )
    if isinstance(document.get("manifests"), list):
        return OCI_INDEX
    if isinstance(document.get("config"), dict) and isinstance(document.get("layers"), list):
        return OCI_MANIFEST
    raise InvalidManifestError(
        f"{where} has no mediaType and neither the manifests of an index nor the config and "
        "layers of an image manifest"
    )


def _schema1_error(where: str) -> UnsupportedMediaTypeError:
    return UnsupportedMediaTypeError(
        f"{where} is a Docker schema 1 manifest, which is deprecated and not supported; "
        "push the image again with a current Docker, Buildah or skopeo to store it as schema 2"
    )


def index_entries(index: ManifestBlob, where: str) -> list[dict[str, Any]]:
    """Return the `manifests` entries of an index, raising `InvalidManifestError` if invalid."""
    entries = index.document.get("manifests")
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise InvalidManifestError(f"{where} has no valid 'manifests' list")
    return entries


def check_manifest_descriptor(descriptor: Descriptor, where: str) -> None:
    """Raise `UnsupportedMediaTypeError` when a descriptor names neither a manifest nor an index.

    A descriptor without a media type passes; the manifest it names is checked once fetched.
    """
    media_type = descriptor.media_type
    if media_type in _SCHEMA1_MEDIA_TYPES:
        raise _schema1_error(f"manifest {descriptor.digest} of {where}")
    if media_type and media_type not in INDEX_MEDIA_TYPES | IMAGE_MANIFEST_MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            f"{where} names {descriptor.digest} with media type {media_type!r}, which is not "
            "a container image manifest or index; reference a container image instead"
        )


def walk_to_image(
    first: ManifestBlob,
    platform: Platform,
    fetch_manifest: Callable[[Descriptor, str], ManifestBlob],
    where: str,
) -> tuple[ManifestBlob, str | None]:
    """Follow indexes from `first` to the image manifest for `platform`.

    `fetch_manifest(descriptor, where)` returns the verified manifest a descriptor names. Returns
    the image manifest and the parent digest: the digest of the outermost index that has one, or
    None when `first` is already an image manifest.
    """
    current = first
    parent_digest: str | None = None
    for _ in range(MAX_INDEX_DEPTH + 1):
        if not current.is_index:
            return current, parent_digest
        if parent_digest is None:
            parent_digest = current.digest
        current_where = f"index {current.digest} of {where}" if current.digest else where
        entries = index_entries(current, current_where)
        entry = select_platform_entry(entries, platform, current_where)
        if entry is None:
            entry = _only_nested_index(entries)
        if entry is None:
            raise platform_not_found(current_where, platform, entries)
        descriptor = Descriptor.from_json(entry, current_where)
        check_manifest_descriptor(descriptor, current_where)
        logger.debug("%s: platform %s is %s", current_where, platform, descriptor.digest)
        current = fetch_manifest(descriptor, where)
    raise InvalidManifestError(
        f"{where} nests indexes more than {MAX_INDEX_DEPTH} levels deep; "
        "an image index this deep is not supported"
    )


def _only_nested_index(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the one entry that is an index without a platform, as in a wrapper index.

    An index that only wraps another index gives its entry no platform, because the inner index
    spans several; such an entry is followed when no entry matches the platform.
    """
    nested = [
        entry
        for entry in entries
        if entry.get("mediaType") in INDEX_MEDIA_TYPES and "platform" not in entry
    ]
    return nested[0] if len(nested) == 1 else None


def read_image_parts(
    manifest: ManifestBlob,
    parent_digest: str | None,
    fetch_config: Callable[[Descriptor, str], bytes],
    where: str,
) -> ImageParts:
    """Check an image manifest's config and layers and read its config.

    `fetch_config(descriptor, where)` returns the verified config blob. Raises
    `UnsupportedMediaTypeError` for a config that is not a container image config and for layer
    media types that cannot be analyzed (zstd, foreign and unknown ones).
    """
    manifest_where = f"manifest {manifest.digest} of {where}" if manifest.digest else where
    config_descriptor = Descriptor.from_json(manifest.document.get("config"), manifest_where)
    if config_descriptor.media_type not in CONFIG_MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            f"{manifest_where} has config media type {config_descriptor.media_type!r}, so it "
            "is not a container image (it may be a Helm chart, signature or other artifact); "
            "reference a container image instead"
        )
    layers = [_layer_ref(entry, manifest_where) for entry in _layer_entries(manifest, where)]

    raw_config = fetch_config(config_descriptor, where)
    try:
        config = json.loads(raw_config)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidManifestError(
            f"config {config_descriptor.digest} of {where} is not valid JSON: {error}"
        ) from error
    if not isinstance(config, dict):
        raise InvalidManifestError(
            f"config {config_descriptor.digest} of {where} is not a JSON object"
        )
    return ImageParts(
        manifest=manifest,
        parent_digest=parent_digest,
        config_descriptor=config_descriptor,
        config=config,
        image_id=hashlib.sha256(raw_config).hexdigest(),
        layers=layers,
    )


def _layer_entries(manifest: ManifestBlob, where: str) -> list[object]:
    layers = manifest.document.get("layers")
    if not isinstance(layers, list):
        raise InvalidManifestError(f"manifest {manifest.digest} of {where} has no 'layers' list")
    return layers


def _layer_ref(entry: object, where: str) -> LayerRef:
    """Build a `LayerRef`, raising `UnsupportedMediaTypeError` for layers we cannot read."""
    descriptor = Descriptor.from_json(entry, where)
    media_type = descriptor.media_type
    compression = layer_compression(media_type)
    if compression is Compression.ZSTD or media_type.endswith("+zstd"):
        raise UnsupportedMediaTypeError(
            f"layer {descriptor.digest} of {where} is zstd-compressed ({media_type}), which the "
            "analyzer cannot read; push the image with gzip-compressed layers "
            "(for example `skopeo copy --dest-compress-format gzip`)"
        )
    if media_type == DOCKER_FOREIGN_LAYER_GZIP or "nondistributable" in media_type:
        raise UnsupportedMediaTypeError(
            f"layer {descriptor.digest} of {where} is a foreign layer ({media_type}) that "
            "registries do not store, as in Windows base images; only Linux images are supported"
        )
    if compression is None:
        raise UnsupportedMediaTypeError(
            f"layer {descriptor.digest} of {where} has media type {media_type!r}, which is not "
            "an image layer; reference a container image instead"
        )
    return LayerRef(digest=descriptor.digest, media_type=media_type, size=descriptor.size)
