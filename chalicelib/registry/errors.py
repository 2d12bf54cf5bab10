"""Errors raised while reading images from registries, OCI layouts and `docker save` archives.

Every error here is an `AnalysisError`, so a worker that meets one while reading layers marks the
image `analysis_failed` with the message as the reason. Messages name the image reference or path,
the registry and what to do.
"""

from __future__ import annotations

from chalicelib.analysis.interface import AnalysisError


class RegistryError(AnalysisError):
    """Base error of the registry client and the archive readers."""


class InvalidReferenceError(RegistryError, ValueError):
    """An image reference does not follow Docker's reference grammar."""


class AuthenticationError(RegistryError):
    """The registry or its token service rejected the request's credentials or gave no access."""


class ManifestNotFoundError(RegistryError):
    """The repository, tag or manifest digest does not exist in the registry or image layout."""


class PlatformNotFoundError(ManifestNotFoundError):
    """A manifest list or image index has no entry for the requested platform."""


class BlobNotFoundError(RegistryError):
    """A config or layer blob named by a manifest is missing from the registry or image layout."""


class DigestMismatchError(RegistryError):
    """Content does not match the digest or size that names it."""


class UnsupportedMediaTypeError(RegistryError):
    """A manifest, config or layer has a media type this project cannot read."""


class InvalidManifestError(RegistryError):
    """A manifest, index or image config is not valid JSON of the expected shape."""


class RegistryUnavailableError(RegistryError):
    """The registry could not be reached, timed out, or responded with a server error."""


class InvalidImageLayoutError(RegistryError):
    """A path is not a readable OCI image layout or `docker save` archive."""


class InvalidPlatformError(RegistryError, ValueError):
    """A platform string is not `os/architecture[/variant]`."""
