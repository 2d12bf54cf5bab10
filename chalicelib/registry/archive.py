"""Image sources read from disk: OCI image layouts and `docker save` archives.

Both implement `chalicelib.analysis.interface.ImageSource` and check every manifest, config and
layer against its digest, as the registry client does. Archives are read in place, never
extracted to disk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, BinaryIO, Self, cast

from chalicelib.analysis.interface import LayerRef
from chalicelib.registry.blobstore import BlobStore, open_store, read_limited
from chalicelib.registry.digest import (
    VerifyingReader,
    compute_digest,
    parse_digest,
    verify_content,
)
from chalicelib.registry.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidImageLayoutError,
    InvalidManifestError,
    ManifestNotFoundError,
    RegistryError,
    UnsupportedMediaTypeError,
)
from chalicelib.registry.manifest import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    MAX_CONFIG_SIZE,
    MAX_INDEX_DEPTH,
    MAX_MANIFEST_SIZE,
    OCI_INDEX,
    Compression,
    Descriptor,
    ImageParts,
    ManifestBlob,
    check_manifest_descriptor,
    detect_compression,
    index_entries,
    parse_manifest,
    read_image_parts,
    walk_to_image,
)
from chalicelib.registry.platform import (
    DEFAULT_PLATFORM,
    Platform,
    platform_not_found,
    select_platform_entry,
)
from chalicelib.registry.reference import parse_reference

logger = logging.getLogger(__name__)

REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
"""Annotation of an `index.json` entry that holds its tag (or full reference)."""

CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
"""Annotation that containerd and Docker write with the full image reference."""

_LAYOUT_FILE = "oci-layout"
_INDEX_FILE = "index.json"
_DOCKER_MANIFEST_FILE = "manifest.json"
_BLOB_NAME_RE = re.compile(r"(?:.*/)?blobs/(sha256|sha384|sha512)/([a-f0-9]+)")
_LEGACY_CONFIG_NAME_RE = re.compile(r"([a-f0-9]{64})\.json")


def blob_name(digest: str, where: str) -> str:
    """Return the path of a blob inside an OCI layout: `blobs/ALGORITHM/HEX`."""
    algorithm, hex_part = parse_digest(digest, where)
    return f"blobs/{algorithm}/{hex_part}"


class _StoredImage:
    """An image whose blobs are files in a `BlobStore`; the shared part of both sources."""

    manifest_digest: str
    """Digest of the platform manifest (`imageDigest`)."""
    media_type: str
    raw_manifest: bytes
    manifest: dict[str, Any]
    parent_digest: str | None
    """Digest of the index the platform manifest was chosen from, when that index is a blob."""
    config_digest: str
    config: dict[str, Any]
    image_id: str
    """Hex sha256 of the config blob."""
    layers: list[LayerRef]
    platform: str

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._layer_files: dict[str, str] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying archive; layer streams opened before stop working."""
        self._store.close()

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        """Stream a layer as stored, raising `DigestMismatchError` at end of stream on mismatch."""
        name = self._layer_files.get(layer.digest)
        if name is None:
            raise BlobNotFoundError(
                f"layer {layer.digest} is not a layer of image {self.manifest_digest} in "
                f"{self._store.description}"
            )
        stream = self._store.open(name)
        label = f"layer {layer.digest} in {self._store.description}"
        # Unbuffered, because the layer reader asks for large chunks: a buffer would only copy them.
        reader = VerifyingReader(stream.read, layer.digest, layer.size, label, stream.close)
        return cast(BinaryIO, reader)

    def _use_parts(self, parts: ImageParts, layer_files: dict[str, str], platform: str) -> None:
        """Set the public attributes from checked image parts."""
        self.manifest_digest = str(parts.manifest.digest)
        self.media_type = parts.manifest.media_type
        self.raw_manifest = parts.manifest.raw
        self.manifest = parts.manifest.document
        self.parent_digest = parts.parent_digest
        self.config_digest = parts.config_descriptor.digest
        self.config = parts.config
        self.image_id = parts.image_id
        self.layers = parts.layers
        self.platform = platform
        self._layer_files = layer_files
        logger.info(
            "read image %s (parent %s) from %s",
            self.manifest_digest,
            self.parent_digest,
            self._store.description,
        )

    def _fetch_manifest(self, descriptor: Descriptor, where: str) -> ManifestBlob:
        label = f"manifest {descriptor.digest} in {self._store.description}"
        raw = read_limited(self._store, blob_name(descriptor.digest, where), MAX_MANIFEST_SIZE)
        verify_content(raw, descriptor.digest, descriptor.size, label)
        return parse_manifest(raw, descriptor.media_type or None, descriptor.digest, label)

    def _fetch_config(self, descriptor: Descriptor, where: str) -> bytes:
        label = f"config {descriptor.digest} in {self._store.description}"
        raw = read_limited(self._store, blob_name(descriptor.digest, where), MAX_CONFIG_SIZE)
        verify_content(raw, descriptor.digest, descriptor.size, label)
        return raw

    def _blob_layer_files(self, layers: list[LayerRef], where: str) -> dict[str, str]:
        """Map each layer digest to its blob in the layout, raising when a blob is missing."""
        files = {}
        for layer in layers:
            name = blob_name(layer.digest, where)
            if not self._store.exists(name):
                raise BlobNotFoundError(
                    f"layer {layer.digest} is missing from {self._store.description}; the "
                    "layout is incomplete, so write it again"
                )
            files[layer.digest] = name
        return files


class OciLayoutSource(_StoredImage):
    """An image in an OCI image layout: a directory, or a tar archive of one.

    `index.json` may list several images. `ref_name` picks one by its
    `org.opencontainers.image.ref.name` (or `io.containerd.image.name`) annotation; without it the
    layout must hold one image, or one per platform. An index found on the way, including an
    index that points at another index, is resolved to the entry for `platform`.
    """

    def __init__(
        self, path: str | Path, ref_name: str | None = None, platform: str = DEFAULT_PLATFORM
    ) -> None:
        """Read and check the layout at `path`.

        Raises `InvalidImageLayoutError` when `path` is not a valid OCI layout,
        `ManifestNotFoundError` when `ref_name` matches nothing or the choice is ambiguous,
        `PlatformNotFoundError`, `BlobNotFoundError`, `DigestMismatchError`,
        `UnsupportedMediaTypeError` and `InvalidManifestError`.
        """
        self.path = Path(path)
        self.ref_name = ref_name
        wanted = Platform.parse(platform)
        super().__init__(open_store(self.path, "OCI layout"))
        try:
            self._load(wanted)
        except BaseException:
            self.close()
            raise

    def _load(self, platform: Platform) -> None:
        where = self._store.description
        _check_layout_file(self._store)
        index = _read_index(self._store)
        descriptor = self._choose_entry(index_entries(index, f"index.json of {where}"), platform)
        check_manifest_descriptor(descriptor, f"index.json of {where}")

        first = self._fetch_manifest(descriptor, where)
        image_manifest, parent_digest = walk_to_image(first, platform, self._fetch_manifest, where)
        parts = read_image_parts(image_manifest, parent_digest, self._fetch_config, where)
        self._use_parts(parts, self._blob_layer_files(parts.layers, where), str(platform))

    def _choose_entry(self, entries: list[dict[str, Any]], platform: Platform) -> Descriptor:
        """Pick the `index.json` entry named by `ref_name`, or the only one, or by platform."""
        where = f"index.json of {self._store.description}"
        if self.ref_name is not None:
            matches = [entry for entry in entries if self.ref_name in _entry_names(entry)]
            if not matches:
                raise ManifestNotFoundError(
                    f"{self._store.description} has no image named {self.ref_name!r}; its "
                    f"names are {_describe_names(entries)}"
                )
        else:
            matches = entries
        distinct: list[dict[str, Any]] = []
        seen: set[str] = set()
        for entry in matches:
            digest = str(entry.get("digest"))
            if digest not in seen:
                seen.add(digest)
                distinct.append(entry)
        if not distinct:
            raise InvalidImageLayoutError(
                f"{where} lists no images; write the layout again with at least one image"
            )
        if len(distinct) == 1:
            return Descriptor.from_json(distinct[0], where)

        if not any(Platform.from_descriptor(entry) for entry in distinct):
            raise ManifestNotFoundError(
                f"{self._store.description} contains {len(distinct)} images; choose one with "
                f"ref_name, one of {_describe_names(distinct)}"
            )
        selected = select_platform_entry(distinct, platform, where)
        if selected is None:
            raise platform_not_found(where, platform, distinct)
        return Descriptor.from_json(selected, where)


class DockerArchiveSource(_StoredImage):
    """An image in a `docker save` archive (a tar, plain or gzip-compressed).

    The archive's `manifest.json` lists its images; `repo_tag` picks one by a tag in its
    `RepoTags`, and without it the archive must hold exactly one image.

    Archives written by Docker 25 and later also contain an OCI layout. There, the manifest
    whose config matches is the image's manifest, so `manifest_digest` equals the registry's
    digest. Older archives contain no manifest, so this source builds a Docker schema 2 manifest
    from the config and the layer files. Its digest is stable for the archive but differs from
    the digest of the same image in a registry, whose layers are compressed.
    """

    def __init__(self, path: str | Path, repo_tag: str | None = None) -> None:
        """Read and check the archive at `path` (a tar file, or a directory it was extracted to).

        Raises `InvalidImageLayoutError` when `path` is not a valid `docker save` archive,
        `ManifestNotFoundError` when `repo_tag` matches nothing or the choice is ambiguous,
        `BlobNotFoundError`, `DigestMismatchError` and `UnsupportedMediaTypeError`.
        """
        self.path = Path(path)
        self.repo_tags: list[str] = []
        super().__init__(open_store(self.path, "docker archive"))
        try:
            self._load(repo_tag)
        except BaseException:
            self.close()
            raise

    def _load(self, repo_tag: str | None) -> None:
        where = self._store.description
        entry = self._choose_entry(_read_archive_manifest(self._store), repo_tag)
        self.repo_tags = list(entry.get("RepoTags") or [])
        config_name = entry["Config"]
        raw_config = read_limited(self._store, config_name, MAX_CONFIG_SIZE)
        config_digest = _check_config_file(config_name, raw_config, where)

        found = self._find_oci_manifest(config_digest)
        if found is not None:
            manifest, parent_digest = found
            parts = read_image_parts(manifest, parent_digest, self._fetch_config, where)
            layer_files = self._blob_layer_files(parts.layers, where)
        else:
            manifest, layer_files = self._build_manifest(entry, raw_config, config_digest)
            parts = read_image_parts(manifest, None, lambda _d, _w: raw_config, where)
        self._use_parts(parts, layer_files, _config_platform(parts.config))

    def _choose_entry(self, entries: list[dict[str, Any]], repo_tag: str | None) -> dict[str, Any]:
        where = self._store.description
        if repo_tag is None:
            if len(entries) == 1:
                return entries[0]
            raise ManifestNotFoundError(
                f"{where} contains {len(entries)} images; choose one with repo_tag, one of "
                f"{_describe_repo_tags(entries)}"
            )
        expected_tag = parse_reference(repo_tag).fulltag
        for entry in entries:
            for tag in entry.get("RepoTags") or []:
                if isinstance(tag, str) and _same_tag(tag, expected_tag):
                    return entry
        raise ManifestNotFoundError(
            f"{where} has no image tagged {repo_tag!r}; its tags are {_describe_repo_tags(entries)}"
        )

    def _find_oci_manifest(self, config_digest: str) -> tuple[ManifestBlob, str | None] | None:
        """Find the manifest with this config in the archive's OCI layout, if it has one."""
        if not (self._store.exists(_INDEX_FILE) and self._store.exists(_LAYOUT_FILE)):
            return None
        pending: list[tuple[ManifestBlob, str | None, int]] = [(_read_index(self._store), None, 0)]
        while pending:
            index, parent_digest, depth = pending.pop(0)
            for entry in index_entries(index, f"index in {self._store.description}"):
                try:
                    descriptor = Descriptor.from_json(entry, self._store.description)
                    blob = self._fetch_manifest(descriptor, self._store.description)
                except RegistryError as error:
                    logger.debug("skipping an entry of %s: %s", self._store.description, error)
                    continue
                if blob.is_index and depth < MAX_INDEX_DEPTH:
                    pending.append((blob, parent_digest or blob.digest, depth + 1))
                elif not blob.is_index:
                    config = blob.document.get("config")
                    if isinstance(config, dict) and config.get("digest") == config_digest:
                        return blob, parent_digest
        logger.debug("no manifest in %s names config %s", self._store.description, config_digest)
        return None

    def _build_manifest(
        self, entry: dict[str, Any], raw_config: bytes, config_digest: str
    ) -> tuple[ManifestBlob, dict[str, str]]:
        """Build a Docker schema 2 manifest for an archive entry that has none."""
        where = self._store.description
        layer_names = entry["Layers"]
        diff_ids = _diff_ids(raw_config, where)
        if len(diff_ids) != len(layer_names):
            raise InvalidImageLayoutError(
                f"{where} lists {_count(len(layer_names), 'layer')} for config {config_digest} "
                f"but the config has {_count(len(diff_ids), 'diff id')}; the archive is "
                "inconsistent"
            )
        layers = []
        layer_files = {}
        for name, diff_id in zip(layer_names, diff_ids, strict=True):
            layer = self._layer_descriptor(name, diff_id)
            layers.append(layer)
            layer_files[layer["digest"]] = name
        document = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "size": len(raw_config),
                "digest": config_digest,
            },
            "layers": layers,
        }
        raw = json.dumps(document, indent=3).encode()
        manifest = ManifestBlob(
            digest=compute_digest(raw), media_type=DOCKER_MANIFEST, raw=raw, document=document
        )
        return manifest, layer_files

    def _layer_descriptor(self, name: str, diff_id: str) -> dict[str, Any]:
        """Describe one layer file: its media type, size and digest."""
        where = self._store.description
        size = self._store.size(name)
        with self._store.open(name) as stream:
            compression = detect_compression(stream.read(4))
        if compression is Compression.ZSTD:
            raise UnsupportedMediaTypeError(
                f"layer {name} in {where} is zstd-compressed, which the analyzer cannot read; "
                "save the image again from a Docker that stores layers uncompressed or as gzip"
            )
        if compression is Compression.NONE:
            # An uncompressed layer's digest is its diff id; reading the layer checks it.
            return {"mediaType": DOCKER_LAYER, "size": size, "digest": diff_id}

        blob_match = _BLOB_NAME_RE.fullmatch(name)
        if blob_match:
            digest = f"{blob_match.group(1)}:{blob_match.group(2)}"
        else:
            digest = self._hash_file(name)
        return {"mediaType": DOCKER_LAYER_GZIP, "size": size, "digest": digest}

    def _hash_file(self, name: str) -> str:
        digest = hashlib.sha256()
        with self._store.open(name) as stream:
            while chunk := stream.read(1024 * 1024):
                digest.update(chunk)
        return f"sha256:{digest.hexdigest()}"


def _check_layout_file(store: BlobStore) -> None:
    """Raise `InvalidImageLayoutError` unless the `oci-layout` file has a 1.x version."""
    if not store.exists(_LAYOUT_FILE) and store.exists(_DOCKER_MANIFEST_FILE):
        raise InvalidImageLayoutError(
            f"{store.description} is not an OCI image layout but looks like a `docker save` "
            "archive: it has manifest.json and no oci-layout file; read it with "
            "docker-archive:PATH"
        )
    if not store.exists(_LAYOUT_FILE):
        raise InvalidImageLayoutError(
            f"{store.description} is not an OCI image layout: the oci-layout file is missing; "
            "give a directory written by `skopeo copy ... oci:DIR` or `docker buildx "
            "--output type=oci`"
        )
    raw = read_limited(store, _LAYOUT_FILE, 64 * 1024)
    try:
        version = json.loads(raw).get("imageLayoutVersion")
    except (ValueError, AttributeError) as error:
        raise InvalidImageLayoutError(
            f"oci-layout of {store.description} is not a JSON object: {error}"
        ) from error
    if not isinstance(version, str) or not version.startswith("1."):
        raise InvalidImageLayoutError(
            f"{store.description} has imageLayoutVersion {version!r}; only 1.x layouts are "
            "supported"
        )


def _read_index(store: BlobStore) -> ManifestBlob:
    """Read the layout's `index.json`, raising `InvalidImageLayoutError` when it is invalid."""
    where = f"index.json of {store.description}"
    if not store.exists(_INDEX_FILE):
        raise InvalidImageLayoutError(
            f"{where} is missing or not a file; the layout is incomplete, so write it again"
        )
    raw = read_limited(store, _INDEX_FILE, MAX_MANIFEST_SIZE)
    if _lacks_schema_version(raw):
        raise InvalidImageLayoutError(
            f"{where} has no schemaVersion, so it is not an OCI image index; write the layout "
            "again"
        )
    try:
        index = parse_manifest(raw, OCI_INDEX, None, where)
    except (InvalidManifestError, UnsupportedMediaTypeError) as error:
        raise InvalidImageLayoutError(f"{error}; write the layout again") from error
    if not index.is_index:
        raise InvalidImageLayoutError(
            f"{where} is an image manifest, not an image index; write the layout again"
        )
    return index


def _lacks_schema_version(raw: bytes) -> bool:
    """Return whether `raw` is a JSON object without `schemaVersion`, such as `{}`."""
    try:
        document = json.loads(raw)
    except ValueError:
        return False  # parse_manifest reports the invalid JSON
    return isinstance(document, dict) and "schemaVersion" not in document


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _entry_names(entry: dict[str, Any]) -> set[str]:
    annotations = entry.get("annotations")
    if not isinstance(annotations, dict):
        return set()
    names = (annotations.get(REF_NAME_ANNOTATION), annotations.get(CONTAINERD_NAME_ANNOTATION))
    return {name for name in names if isinstance(name, str)}


def _describe_names(entries: list[dict[str, Any]]) -> str:
    names = sorted(set().union(*(_entry_names(entry) for entry in entries)))
    return ", ".join(repr(name) for name in names) if names else "none (no ref name annotations)"


def _read_archive_manifest(store: BlobStore) -> list[dict[str, Any]]:
    """Read and check `manifest.json` of a `docker save` archive."""
    where = store.description
    if not store.exists(_DOCKER_MANIFEST_FILE):
        raise InvalidImageLayoutError(
            f"{where} is not a `docker save` archive: manifest.json is missing"
        )
    raw = read_limited(store, _DOCKER_MANIFEST_FILE, MAX_MANIFEST_SIZE)
    try:
        entries = json.loads(raw)
    except ValueError as error:
        raise InvalidImageLayoutError(
            f"manifest.json of {where} is not valid JSON: {error}"
        ) from error
    valid = isinstance(entries, list) and all(
        isinstance(entry, dict)
        and isinstance(entry.get("Config"), str)
        and isinstance(entry.get("Layers"), list)
        and all(isinstance(layer, str) for layer in entry["Layers"])
        for entry in entries
    )
    if not valid or not entries:
        raise InvalidImageLayoutError(
            f"manifest.json of {where} is not a non-empty list of images with Config and "
            "Layers; save the image again with `docker save`"
        )
    return cast(list[dict[str, Any]], entries)


def _check_config_file(name: str, raw: bytes, where: str) -> str:
    """Return the config digest, checking it against a file name that encodes it."""
    digest = compute_digest(raw)
    blob_match = _BLOB_NAME_RE.fullmatch(name)
    legacy_match = _LEGACY_CONFIG_NAME_RE.fullmatch(name.rsplit("/", 1)[-1])
    if blob_match:
        expected = f"{blob_match.group(1)}:{blob_match.group(2)}"
        verify_content(raw, expected, None, f"config {name} in {where}")
        return expected
    if legacy_match and digest != f"sha256:{legacy_match.group(1)}":
        raise DigestMismatchError(
            f"config {name} in {where} has digest {digest}, not the one its name gives; "
            "the archive is corrupt, so save the image again"
        )
    return digest


def _diff_ids(raw_config: bytes, where: str) -> list[str]:
    try:
        diff_ids = json.loads(raw_config)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError) as error:
        raise InvalidManifestError(f"the image config in {where} has no rootfs.diff_ids") from error
    if not isinstance(diff_ids, list):
        raise InvalidManifestError(f"the image config in {where} has invalid rootfs.diff_ids")
    for diff_id in diff_ids:
        parse_digest(diff_id, f"rootfs.diff_ids of the image config in {where}")
    return diff_ids


def _config_platform(config: dict[str, Any]) -> str:
    """Return `os/architecture[/variant]` from an image config, as far as it gives them."""
    parts = [config.get("os"), config.get("architecture"), config.get("variant")]
    return "/".join(part for part in parts if isinstance(part, str) and part)


def _same_tag(archive_tag: str, expected_tag: str | None) -> bool:
    try:
        return parse_reference(archive_tag).fulltag == expected_tag
    except RegistryError:
        return False


def _describe_repo_tags(entries: list[dict[str, Any]]) -> str:
    tags = sorted(tag for entry in entries for tag in entry.get("RepoTags") or [])
    return ", ".join(tags) if tags else "none (untagged images)"
