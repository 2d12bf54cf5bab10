"""Choosing the image of an OCI layout for `plimsoll analyze`, and comparing image platforms.

`OciLayoutSource` picks an image by the platforms of the `index.json` entries. `skopeo copy ...
oci:DIR:TAG` (checked with skopeo 1.9.3) writes an entry with a tag but without a platform, so a
layout of several such images is read here by tag, and the image whose config has the requested
platform is taken.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from chalicelib.registry import (
    ManifestNotFoundError,
    OciLayoutSource,
    PlatformNotFoundError,
)
from chalicelib.registry.archive import CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION
from chalicelib.registry.blobstore import open_store, read_limited
from chalicelib.registry.manifest import MAX_MANIFEST_SIZE
from chalicelib.registry.platform import DEFAULT_PLATFORM, Platform

logger = logging.getLogger(__name__)


def config_platform(config: dict[str, Any]) -> tuple[Platform, bool] | None:
    """Return the platform of an image config and whether the config names a variant.

    Returns None when the config lacks the OS or the architecture.
    """
    os_name, architecture, variant = (
        value if isinstance(value, str) else ""
        for value in (config.get("os"), config.get("architecture"), config.get("variant"))
    )
    if not (os_name and architecture):
        return None
    return Platform.of(os_name, architecture, variant), bool(variant)


def platform_matches(actual: Platform, has_variant: bool, wanted: Platform) -> bool:
    """Return whether an image config's platform is the requested one.

    The variants are compared only when both name one, because image configs often leave out
    the variant that the index entry gives.
    """
    same = actual.os == wanted.os and actual.architecture == wanted.architecture
    return same and (not wanted.variant or not has_variant or actual.variant == wanted.variant)


def open_layout(path: str, platform: str | None) -> OciLayoutSource:
    """Open the image of the OCI layout at `path` for `platform`.

    When `index.json` lists several images without platforms, each tagged image is read and
    the one whose config is for `platform` is returned. Raises `PlatformNotFoundError` when none
    is, and the layout's `ManifestNotFoundError` without `platform` or when several are.
    """
    try:
        return OciLayoutSource(path, platform=platform or DEFAULT_PLATFORM)
    except PlatformNotFoundError:
        raise
    except ManifestNotFoundError as error:
        if platform is None:
            raise ManifestNotFoundError(
                f"{error}; plimsoll analyze picks among them only by --platform OS/ARCH"
            ) from error
        return _open_by_config_platform(path, Platform.parse(platform), error)


def _open_by_config_platform(
    path: str, wanted: Platform, ambiguous: ManifestNotFoundError
) -> OciLayoutSource:
    matches: list[OciLayoutSource] = []
    others: list[str] = []
    seen_digests: set[str] = set()
    try:
        for name in _ref_names(Path(path)):
            try:
                layout = OciLayoutSource(path, ref_name=name, platform=str(wanted))
            except ManifestNotFoundError as error:
                logger.debug("skipping image %r of %s: %s", name, path, error)
                others.append(f"an index without {wanted} ({name!r})")
                continue
            found = config_platform(layout.config)
            if layout.manifest_digest in seen_digests:
                layout.close()
            elif found is not None and platform_matches(*found, wanted):
                seen_digests.add(layout.manifest_digest)
                matches.append(layout)
            else:
                layout.close()
                others.append(f"{found[0] if found else 'no platform'} ({name!r})")
    except BaseException:
        for layout in matches:
            layout.close()
        raise

    if len(matches) == 1:
        return matches[0]
    for layout in matches:
        layout.close()
    if matches:
        raise ambiguous
    images = ", ".join(others) or "none with a tag"
    raise PlatformNotFoundError(
        f"OCI layout {path} has no image for platform {wanted}; its images are {images}, so "
        "request one of those platforms"
    )


def _ref_names(path: Path) -> list[str]:
    """Return the tags of the `index.json` entries of a layout, in index order."""
    store = open_store(path, "OCI layout")
    try:
        index = json.loads(read_limited(store, "index.json", MAX_MANIFEST_SIZE))
    finally:
        store.close()
    entries = index.get("manifests") if isinstance(index, dict) else None
    names: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        annotations = entry.get("annotations") if isinstance(entry, dict) else None
        if not isinstance(annotations, dict):
            continue
        for key in (REF_NAME_ANNOTATION, CONTAINERD_NAME_ANNOTATION):
            name = annotations.get(key)
            if isinstance(name, str) and name and name not in names:
                names.append(name)
                break
    return names
