"""Image references, the OCI distribution client, and image sources read from disk."""

from chalicelib.registry.archive import DockerArchiveSource, OciLayoutSource
from chalicelib.registry.client import RegistryClient, ResolvedImage
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
