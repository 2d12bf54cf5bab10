"""Image references, the OCI distribution client, and image sources read from disk.

`RegistryClient` and `ResolvedImage` are imported on first use, because their module loads
`requests` and `urllib3`, which analyzing a local archive or OCI layout never needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalicelib.registry.archive import DockerArchiveSource, OciLayoutSource
from chalicelib.registry.errors import (
    AuthenticationError,
    BlobNotFoundError,
    DigestMismatchError,
    InvalidImageLayoutError,
    InvalidManifestError,
    InvalidPlatformError,
    InvalidReferenceError,
    ManifestNotFoundError,
    PlatformNotFoundError,
    RegistryError,
    RegistryUnavailableError,
    UnsupportedMediaTypeError,
)
from chalicelib.registry.reference import ImageReference, parse_reference

if TYPE_CHECKING:
    from chalicelib.registry.client import RegistryClient, ResolvedImage

_CLIENT_NAMES = frozenset({"RegistryClient", "ResolvedImage"})

__all__ = [
    "AuthenticationError",
    "BlobNotFoundError",
    "DigestMismatchError",
    "DockerArchiveSource",
    "ImageReference",
    "InvalidImageLayoutError",
    "InvalidManifestError",
    "InvalidPlatformError",
    "InvalidReferenceError",
    "ManifestNotFoundError",
    "OciLayoutSource",
    "PlatformNotFoundError",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "ResolvedImage",
    "UnsupportedMediaTypeError",
    "parse_reference",
]


def __getattr__(name: str) -> Any:
    """Import the client module when `RegistryClient` or `ResolvedImage` is first requested."""
    if name in _CLIENT_NAMES:
        from chalicelib.registry import client

        value = getattr(client, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_CLIENT_NAMES})
