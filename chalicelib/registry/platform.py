"""Image platforms (`os/architecture[/variant]`) and their selection from an image index."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from chalicelib.registry.errors import InvalidPlatformError, PlatformNotFoundError

logger = logging.getLogger(__name__)

DEFAULT_PLATFORM = "linux/amd64"

# Architecture names that tools other than Go's report for the same platform, mapped to the
# (architecture, variant) pair that Go and the OCI image spec use.
_ARCHITECTURE_ALIASES = {
    "x86_64": ("amd64", ""),
    "x86-64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "armhf": ("arm", "v7"),
    "armel": ("arm", "v6"),
    "i386": ("386", ""),
}


@dataclasses.dataclass(frozen=True)
class Platform:
    """An image platform, normalized so that equal platforms compare equal.

    Normalization follows containerd. `aarch64` becomes `arm64`, and the default `v8` variant of
    `arm64` is dropped. Plain `arm` means `arm/v7`. The `v1` variant of `amd64` is dropped.
    """

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse `os/architecture[/variant]`, raising `InvalidPlatformError`."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidPlatformError(
                f"invalid platform {text!r}: expected OS/ARCHITECTURE[/VARIANT], "
                "for example linux/amd64 or linux/arm/v7"
            )
        return cls.of(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def of(cls, os: str, architecture: str, variant: str = "") -> Platform:
        """Build a normalized platform from its parts as an index or image config gives them."""
        os = os.lower()
        architecture = architecture.lower()
        variant = variant.lower()
        if os == "macos":
            os = "darwin"
        if architecture in _ARCHITECTURE_ALIASES:
            architecture, default_variant = _ARCHITECTURE_ALIASES[architecture]
            variant = variant or default_variant

        if architecture == "arm64" and variant in ("8", "v8", "v8.0"):
            variant = ""
        elif architecture == "arm" and variant in ("", "7"):
            variant = "v7"
        elif architecture == "arm" and variant in ("5", "6", "8"):
            variant = f"v{variant}"
        elif architecture == "amd64" and variant == "v1":
            variant = ""
        return cls(os=os, architecture=architecture, variant=variant)

    @classmethod
    def from_descriptor(cls, descriptor: dict[str, Any]) -> Platform | None:
        """Return the platform of an index entry, or None when it gives none."""
        platform = descriptor.get("platform")
        if not isinstance(platform, dict):
            return None
        os = platform.get("os")
        architecture = platform.get("architecture")
        if not isinstance(os, str) or not isinstance(architecture, str):
            return None
        variant = platform.get("variant")
        return cls.of(os, architecture, variant if isinstance(variant, str) else "")

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


def select_platform_entry(
    entries: list[dict[str, Any]], platform: Platform, where: str
) -> dict[str, Any] | None:
    """Return the first index entry for `platform`, or None when there is none.

    An exact match wins. When `platform` has no variant and no entry matches exactly, the first
    entry with the same OS and architecture is taken, so `linux/amd64` finds an image built only
    for `linux/amd64/v2`. Entries without a platform (attestations, artifacts) never match.
    """
    same_os_architecture: dict[str, Any] | None = None
    for entry in entries:
        entry_platform = Platform.from_descriptor(entry)
        if entry_platform is None:
            continue
        if entry_platform == platform:
            return entry
        same = (entry_platform.os, entry_platform.architecture) == (
            platform.os,
            platform.architecture,
        )
        if same and same_os_architecture is None:
            same_os_architecture = entry
    if same_os_architecture is not None and not platform.variant:
        logger.debug(
            "no exact match for platform %s in %s; taking the %s entry",
            platform,
            where,
            Platform.from_descriptor(same_os_architecture),
        )
        return same_os_architecture
    return None


def describe_platforms(entries: list[dict[str, Any]]) -> str:
    """List the platforms of index entries for an error message."""
    names = sorted({str(p) for entry in entries if (p := Platform.from_descriptor(entry))})
    return ", ".join(names) if names else "none"


def platform_not_found(
    where: str, platform: Platform, entries: list[dict[str, Any]]
) -> PlatformNotFoundError:
    """Return the error for an index without an entry for `platform`, listing what it has."""
    available = describe_platforms(entries)
    if available == "none":
        return PlatformNotFoundError(
            f"{where} has no image for platform {platform} and names no platforms; "
            "reference a single-platform image or another index"
        )
    return PlatformNotFoundError(
        f"{where} has no image for platform {platform}; it has {available}, so request one "
        "of those platforms"
    )
