"""Install npm package tarballs into a `node_modules` directory of a layer.

A tarball from `npm pack` or the registry contains the package under one top directory, usually
`package/`. Its content goes to `<node_modules>/<name>`, with the name from its `package.json`
(`@scope/name` becomes a scope directory). As npm does when it installs, files get mode 0644 or,
when any execute bit is set, 0755; directories get 0755; symbolic links and other entry types
are skipped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tarfile
from collections.abc import Iterable
from pathlib import Path

from tools.imagebuild.errors import ImageBuildError
from tools.imagebuild.layer import Layer, normalize_path

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class InstalledNpmPackage:
    """An npm package as installed: its name, version and directory in the image."""

    name: str
    version: str
    path: str
    """Image path of the package directory, without a leading `/`."""


def install_npm_packages(
    layer: Layer, tarballs: Iterable[Path], node_modules: str = "/usr/lib/node_modules"
) -> list[InstalledNpmPackage]:
    """Unpack each npm tarball into `<node_modules>/<name>` in `layer`.

    Use `/usr/lib/node_modules` for global installs on Debian and `/app/node_modules` (or any
    project directory) for an application. Raises `ImageBuildError` naming the tarball when it
    has no top-level `package.json` with a name and version, or a path that leaves the package.
    """
    base = normalize_path(node_modules)
    installed = []
    for tarball in tarballs:
        files = _read_tarball(tarball)
        manifest = _package_manifest(tarball, files)
        name, version = manifest["name"], manifest["version"]
        package_dir = f"{base}/{normalize_path(name)}"
        for relative, (content, mode) in files.items():
            layer.add_file(f"{package_dir}/{relative}", content, mode)
        logger.debug("installed npm package %s@%s in /%s", name, version, package_dir)
        installed.append(InstalledNpmPackage(name, version, package_dir))
    return installed


def _read_tarball(tarball: Path) -> dict[str, tuple[bytes, int]]:
    """Return the regular files of the tarball by path below its top directory."""
    files: dict[str, tuple[bytes, int]] = {}
    try:
        with tarfile.open(tarball, "r:*") as archive:
            for info in archive:
                if not info.isfile():
                    continue
                parts = info.name.replace("\\", "/").split("/")
                if any(part == ".." for part in parts):
                    raise ImageBuildError(
                        f"{tarball}: entry {info.name!r} leaves the package directory; "
                        "the tarball is unsafe"
                    )
                relative = "/".join(part for part in parts[1:] if part not in ("", "."))
                if not relative:
                    continue
                reader = archive.extractfile(info)
                content = reader.read() if reader is not None else b""
                files[relative] = (content, 0o755 if info.mode & 0o111 else 0o644)
    except (OSError, tarfile.TarError) as error:
        raise ImageBuildError(f"{tarball} is not a readable npm tarball: {error}") from error
    return files


def _package_manifest(tarball: Path, files: dict[str, tuple[bytes, int]]) -> dict[str, str]:
    if "package.json" not in files:
        raise ImageBuildError(f"{tarball} has no top-level package.json; is it an npm tarball?")
    try:
        manifest = json.loads(files["package.json"][0])
    except ValueError as error:
        raise ImageBuildError(f"{tarball}: package.json is not valid JSON") from error
    if not isinstance(manifest, dict) or not manifest.get("name") or not manifest.get("version"):
        raise ImageBuildError(f"{tarball}: package.json lacks a name or version")
    return manifest
