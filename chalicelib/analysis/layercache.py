"""Reuse of layer reader results across images that share layers.

`read_layer` output (`LayerContents`) is encoded as compressed JSON and stored under a key
that names the layer, the layers below it and everything that decides what the reader keeps.
A `LayerCache` stores the encoded bytes: `MemoryLayerCache` for one process (the CLI), and the
store's `StoreLayerCache` for the service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from chalicelib.analysis.catalog import Cataloger
from chalicelib.analysis.interface import AnalysisError, FileType, SecretMatch, Unknown
from chalicelib.analysis.layers import LayerContents, LayerEntry
from chalicelib.analysis.options import AnalysisOptions

logger = logging.getLogger(__name__)

READER_VERSION = 3
"""Version of what the layer reader and the summarizers keep for a path.

Bump it when a change to `read_layer`, a cataloger's `summarize` function or the package digest
summarizer changes the kept content for the same layer, so that older cache entries miss.
"""
_FORMAT_VERSION = 1
_FILE_TYPES = {file_type.value: file_type for file_type in FileType}


class LayerCache(Protocol):
    """Storage of encoded layer reader results by cache key.

    Implementations may drop entries at any time; a missing entry only costs a layer read.
    """

    def get(self, key: str) -> bytes | None:
        """Return the payload stored under `key`, or None."""
        ...

    def put(self, key: str, layer_digest: str, payload: bytes) -> None:
        """Store `payload`, the encoded contents of the layer `layer_digest`, under `key`."""
        ...


class MemoryLayerCache:
    """A `LayerCache` in this process's memory that keeps at most `max_bytes` of payloads.

    The least recently used entries are dropped first. It is safe to share between threads.
    """

    def __init__(self, max_bytes: int = 512 * 1024 * 1024) -> None:
        """Create an empty cache that stores at most `max_bytes` of encoded payloads."""
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        """Return the payload stored under `key`, or None."""
        with self._lock:
            payload = self._entries.get(key)
            if payload is not None:
                self._entries.move_to_end(key)
            return payload

    def put(self, key: str, layer_digest: str, payload: bytes) -> None:
        """Store `payload` under `key`, dropping the oldest entries beyond `max_bytes`."""
        if len(payload) > self.max_bytes:
            logger.debug("layer cache skips layer=%s bytes=%d", layer_digest, len(payload))
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old)
            self._entries[key] = payload
            self._size += len(payload)
            while self._size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped)

    def __len__(self) -> int:
        return len(self._entries)


def selection_fingerprint(
    catalogers: Sequence[Cataloger], kept_paths: Iterable[str], options: AnalysisOptions
) -> str:
    """Return a digest of everything besides the layer bytes that decides what a read keeps.

    That is the catalogers' ids and globs, whether each summarizes files, the extra kept
    paths, the analysis options (patterns and size limits) and `READER_VERSION`. Adding a
    cataloger or changing an option therefore changes every cache key.
    """
    selection = {
        "reader": READER_VERSION,
        "catalogers": [
            [
                cataloger.id,
                list(cataloger.patterns),
                list(cataloger.extra_patterns),
                list(cataloger.exclude),
                list(cataloger.summary_patterns),
                cataloger.summarize is not None,
            ]
            for cataloger in catalogers
        ],
        "kept_paths": sorted(kept_paths),
        "options": repr(options),
    }
    text = json.dumps(selection, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def chain_key(fingerprint: str, lower_key: str, layer_digest: str) -> str:
    """Return the cache key of `layer_digest` on top of the layers whose key is `lower_key`.

    The layers below are part of the key because the read depends on them: a hard link may
    name a file of a lower layer, and the package digest summarizer digests the files that
    lower package databases list. Images that share their base layers share these keys.
    Pass an empty `lower_key` for the first layer.
    """
    text = f"{fingerprint}\n{lower_key}\n{layer_digest}"
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def encode_layer(contents: LayerContents) -> bytes:
    """Return `contents` as compressed JSON bytes that `decode_layer` reads back."""
    document = {
        "format": _FORMAT_VERSION,
        "digest": contents.digest,
        "entries": [
            [
                entry.path,
                entry.type.value,
                entry.mode,
                entry.uid,
                entry.gid,
                entry.size,
                entry.sha256,
                entry.link_target,
            ]
            for entry in contents.entries.values()
        ],
        "whiteouts": contents.whiteouts,
        "opaque_dirs": contents.opaque_dirs,
        "kept": {
            path: base64.b64encode(content).decode("ascii")
            for path, content in contents.kept.items()
        },
        "secrets": {
            path: [[match.name, match.regex, match.lines] for match in matches]
            for path, matches in contents.secrets.items()
        },
        "unknowns": [[unknown.location, unknown.reason] for unknown in contents.unknowns],
        "uncompressed_size": contents.uncompressed_size,
    }
    # ASCII escapes keep the surrogates that represent undecodable bytes of tar entry names.
    text = json.dumps(document, separators=(",", ":"))
    return zlib.compress(text.encode("ascii"), 1)


def decode_layer(payload: bytes) -> LayerContents:
    """Return the `LayerContents` that `encode_layer` encoded into `payload`.

    Raises `AnalysisError` when the payload is damaged or of another format version; the
    caller then reads the layer again.
    """
    try:
        document: dict[str, Any] = json.loads(zlib.decompress(payload))
        if not isinstance(document, dict) or document.get("format") != _FORMAT_VERSION:
            raise ValueError(f"the payload is not a format {_FORMAT_VERSION} document")
        digest = document["digest"]
        contents = LayerContents(
            digest=digest,
            whiteouts=list(document["whiteouts"]),
            opaque_dirs=list(document["opaque_dirs"]),
            uncompressed_size=int(document["uncompressed_size"]),
        )
        for path, type_value, mode, uid, gid, size, sha256, link in document["entries"]:
            contents.entries[path] = LayerEntry(
                path, _FILE_TYPES[type_value], mode, uid, gid, size, sha256, link, digest
            )
        contents.kept = {path: base64.b64decode(text) for path, text in document["kept"].items()}
        contents.secrets = {
            path: [
                SecretMatch(path=path, name=name, regex=regex, lines=lines)
                for name, regex, lines in matches
            ]
            for path, matches in document["secrets"].items()
        }
        contents.unknowns = [
            Unknown(location=location, reason=reason) for location, reason in document["unknowns"]
        ]
    except (ValueError, KeyError, TypeError, zlib.error) as error:
        raise AnalysisError(
            f"cached layer contents are damaged or of another version: {error}; the layer is "
            "read again"
        ) from error
    return contents


def cached_layer(cache: LayerCache, key: str, layer_digest: str) -> LayerContents | None:
    """Return the contents stored under `key` in `cache`, or None when it has none.

    A damaged entry or a failing cache is logged and counts as a miss.
    """
    try:
        payload = cache.get(key)
    except Exception as error:  # noqa: BLE001 - a cache failure must not fail the analysis
        logger.warning("layer cache lookup failed layer=%s error=%s", layer_digest, error)
        return None
    if payload is None:
        logger.debug("layer cache miss layer=%s", layer_digest)
        return None
    try:
        contents = decode_layer(payload)
    except AnalysisError as error:
        logger.warning("layer cache entry unusable layer=%s error=%s", layer_digest, error)
        return None
    if contents.digest != layer_digest:
        logger.warning(
            "layer cache entry names layer=%s, not layer=%s; reading it again",
            contents.digest,
            layer_digest,
        )
        return None
    logger.debug("layer cache hit layer=%s", layer_digest)
    return contents


def store_layer(cache: LayerCache, key: str, contents: LayerContents) -> None:
    """Store `contents` under `key` in `cache`; a failing cache is logged and ignored."""
    try:
        cache.put(key, contents.digest, encode_layer(contents))
    except Exception as error:  # noqa: BLE001 - a cache failure must not fail the analysis
        logger.warning("layer cache store failed layer=%s error=%s", contents.digest, error)
