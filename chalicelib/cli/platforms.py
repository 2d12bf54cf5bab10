"""The platforms of a multi-platform image, for `plimsoll analyze --platform all`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from chalicelib.cli.sources import LOGIN_HINT, _guess_scheme, _split_scheme, registry_client
from chalicelib.registry import AuthenticationError
from chalicelib.registry.blobstore import open_store, read_limited
from chalicelib.registry.manifest import INDEX_MEDIA_TYPES
from chalicelib.registry.platform import Platform

logger = logging.getLogger(__name__)

ALL_PLATFORMS = "all"
"""The `--platform` value that analyzes every platform of an image index."""
_MAX_INDEX_SIZE = 4 * 1024 * 1024
_MAX_DEPTH = 4
"""Nested indexes followed before the search stops; real images nest at most two."""


def image_platforms(source: str) -> list[str] | None:
    """Return the platforms that the index of the image `source` lists, in index order.

    `source` is a SOURCE argument of `plimsoll analyze`.
    Returns None when the source is not a multi-platform image: a `docker save` archive, a
    Docker daemon image, a directory, or an image whose manifest is not an index. Entries
    without a platform, such as attestation manifests, are left out.
    """
    scheme, value = _split_scheme(source)
    if scheme is None:
        scheme = _guess_scheme(value)
    if scheme in ("oci-dir", "oci-archive"):
        return _layout_platforms(Path(value))
    if scheme == "registry":
        return _registry_platforms(value)
    return None


def _layout_platforms(path: Path) -> list[str] | None:
    store = open_store(path, "OCI layout")
    try:
        index = json.loads(read_limited(store, "index.json", _MAX_INDEX_SIZE))

        def read_index(digest: str) -> dict[str, Any] | None:
            algorithm, _, hex_digest = digest.partition(":")
            name = f"blobs/{algorithm}/{hex_digest}"
            if not store.exists(name):
                return None
            document = json.loads(read_limited(store, name, _MAX_INDEX_SIZE))
            return document if isinstance(document, dict) else None

        platforms = _collect(index.get("manifests") or [], read_index, 0)
    finally:
        store.close()
    # A layout of one image that names no platform is analyzed as that image.
    return platforms or None


def _registry_platforms(reference: str) -> list[str] | None:
    with registry_client(reference) as client:
        try:
            top = client.fetch_manifest(reference)
        except AuthenticationError as error:
            raise AuthenticationError(f"{error}; {LOGIN_HINT}") from error
        if not top.is_index:
            return None

        def read_index(digest: str) -> dict[str, Any] | None:
            blob = client.fetch_manifest(f"{reference.split('@')[0]}@{digest}")
            return blob.document if blob.is_index else None

        return _collect(top.document.get("manifests") or [], read_index, 0) or None


def _collect(entries: list[Any], read_index: Any, depth: int) -> list[str]:
    """Return the distinct platforms of `entries`, following entries that are indexes."""
    platforms: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        platform = Platform.from_descriptor(entry)
        if platform is not None and platform.os != "unknown":
            text = str(platform)
            if text not in platforms:
                platforms.append(text)
            continue
        if entry.get("mediaType") in INDEX_MEDIA_TYPES and depth < _MAX_DEPTH:
            nested = read_index(str(entry.get("digest")))
            if nested is not None:
                for text in _collect(nested.get("manifests") or [], read_index, depth + 1):
                    if text not in platforms:
                        platforms.append(text)
    return platforms
