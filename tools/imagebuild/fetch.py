"""Download real packages into a cache directory, so that a second run downloads nothing.

Each kind has its own subdirectory of the cache: `debs/` (from apt, for the host's architecture
and `all`), `wheels/` (from PyPI) and `npm/` (tarballs from the npm registry). Downloads land
in a temporary directory first and are renamed into place, so an interrupted run leaves no
partial file behind.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from tools.imagebuild.errors import ImageBuildError, run_tool

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "packages"
"""`.cache/packages` in the repository, which git ignores."""

APT_LISTS_DIR = Path("/var/lib/apt/lists")

_EXACT_NPM_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


def fetch_debs(names: Iterable[str], cache_dir: Path = DEFAULT_CACHE_DIR) -> list[Path]:
    """Return the cached `.deb` of each of `names`, downloading the missing ones with apt.

    A name is a binary package name, optionally pinned as `name=version`. The packages come
    from the apt sources configured on this machine, for its architecture. `apt-get update`
    runs only when the download fails and no package lists exist, and only as root.
    """
    specs = list(names)
    debs_dir = cache_dir / "debs"
    debs_dir.mkdir(parents=True, exist_ok=True)

    missing = [spec for spec in specs if _cached_deb(debs_dir, spec) is None]
    if missing:
        logger.info("downloading %d Debian packages: %s", len(missing), " ".join(missing))
        with tempfile.TemporaryDirectory(dir=debs_dir, prefix=".download-") as download_dir:
            _apt_download(missing, Path(download_dir))
            _move_all(Path(download_dir).glob("*.deb"), debs_dir)

    paths = []
    for spec in specs:
        path = _cached_deb(debs_dir, spec)
        if path is None:
            raise ImageBuildError(
                f"apt-get download of {spec!r} reported success but left no matching .deb in "
                f"{debs_dir}; check the package name and architecture"
            )
        paths.append(path)
    return paths


def fetch_wheels(requirements: Iterable[str], cache_dir: Path = DEFAULT_CACHE_DIR) -> list[Path]:
    """Return a cached wheel for each requirement, downloading the missing ones with pip.

    A requirement is a PEP 508 string such as `requests==2.19.1`. A cached wheel satisfies it
    when the names match and its version is in the specifier; the highest such version wins.
    Downloads skip dependencies and take only wheels that pip accepts for Python 3.11 on this
    machine's platform. For old releases that means pure-Python wheels (`py2.py3-none-any`).
    """
    parsed = [_parse_requirement(text) for text in requirements]
    wheels_dir = cache_dir / "wheels"
    wheels_dir.mkdir(parents=True, exist_ok=True)

    missing = [req for req in parsed if _cached_wheel(wheels_dir, req) is None]
    if missing:
        logger.info("downloading %d wheels: %s", len(missing), " ".join(map(str, missing)))
        with tempfile.TemporaryDirectory(dir=wheels_dir, prefix=".download-") as download_dir:
            command = [
                sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                "--python-version", "3.11", "--disable-pip-version-check", "--quiet",
                "--dest", download_dir, *map(str, missing),
            ]  # fmt: skip
            run_tool(command)
            _move_all(Path(download_dir).glob("*.whl"), wheels_dir)

    paths = []
    for req in parsed:
        path = _cached_wheel(wheels_dir, req)
        if path is None:
            raise ImageBuildError(
                f"pip download of {str(req)!r} left no matching wheel in {wheels_dir}"
            )
        paths.append(path)
    return paths


def fetch_npm(specs: Iterable[str], cache_dir: Path = DEFAULT_CACHE_DIR) -> list[Path]:
    """Return the cached tarball of each `name@version` spec, downloading with `npm pack`.

    Scoped names (`@scope/name@1.2.3`) are accepted. Only a spec with an exact version is looked
    up in this cache. A range such as `lodash@^4` runs `npm pack` every time, and npm then
    serves the tarball from its own cache when it can.
    """
    requested = list(specs)
    npm_dir = cache_dir / "npm"
    npm_dir.mkdir(parents=True, exist_ok=True)

    paths = []
    for spec in requested:
        cached = _cached_npm_tarball(npm_dir, spec)
        if cached is not None:
            paths.append(cached)
            continue
        logger.info("downloading npm package %s", spec)
        with tempfile.TemporaryDirectory(dir=npm_dir, prefix=".download-") as download_dir:
            run_tool(
                ["npm", "pack", spec, "--pack-destination", download_dir],
                cwd=Path(download_dir),
                env={"npm_config_update_notifier": "false", "npm_config_fund": "false"},
            )
            packed = list(Path(download_dir).glob("*.tgz"))
            if len(packed) != 1:
                raise ImageBuildError(
                    f"npm pack {spec} left {len(packed)} tarballs instead of one in {download_dir}"
                )
            target = npm_dir / packed[0].name
            os.replace(packed[0], target)
        paths.append(target)
    return paths


def _apt_download(specs: Sequence[str], download_dir: Path) -> None:
    command = ["apt-get", "download", "-q"]
    if os.geteuid() == 0:
        # NOTE: as root, apt downloads as the `_apt` user, which cannot write into a directory
        # that root owns, so apt warns. Downloading as root avoids the warning.
        command += ["-o", "APT::Sandbox::User=root"]
    command += list(specs)
    try:
        run_tool(command, cwd=download_dir)
        return
    except ImageBuildError:
        if _apt_lists_present():
            raise
    if os.geteuid() != 0:
        raise ImageBuildError(
            "apt-get download failed and this machine has no apt package lists; "
            "run `apt-get update` as root and retry"
        )
    logger.info("no apt package lists found; running apt-get update")
    run_tool(["apt-get", "update", "-q"])
    run_tool(command, cwd=download_dir)


def _apt_lists_present() -> bool:
    return any(APT_LISTS_DIR.glob("*_Packages*"))


@functools.cache
def _host_architecture() -> str:
    return run_tool(["dpkg", "--print-architecture"]).stdout.strip()


def _cached_deb(debs_dir: Path, spec: str) -> Path | None:
    name, _, version = spec.partition("=")
    candidates: list[tuple[str, Path]] = []
    for path in debs_dir.glob(f"{name}_*.deb"):
        parts = path.stem.split("_")
        if len(parts) != 3 or parts[0] != name:
            continue
        file_version = urllib.parse.unquote(parts[1])
        if parts[2] not in (_host_architecture(), "all"):
            continue
        if version and file_version != version:
            continue
        candidates.append((file_version, path))
    if not candidates:
        return None
    best_version, best_path = candidates[0]
    for file_version, path in candidates[1:]:
        if _deb_version_greater(file_version, best_version):
            best_version, best_path = file_version, path
    return best_path


def _deb_version_greater(left: str, right: str) -> bool:
    try:
        run_tool(["dpkg", "--compare-versions", left, "gt", right])
    except ImageBuildError:
        return False
    return True


def _parse_requirement(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as error:
        raise ImageBuildError(
            f"invalid requirement {text!r}: write it as NAME==VERSION, for example requests==2.19.1"
        ) from error


def _cached_wheel(wheels_dir: Path, requirement: Requirement) -> Path | None:
    requested_name = canonicalize_name(requirement.name)
    best: tuple[Version, Path] | None = None
    for path in wheels_dir.glob("*.whl"):
        try:
            name, version, _build, _tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            logger.warning("ignoring %s in the wheel cache: not a valid wheel file name", path)
            continue
        if name != requested_name:
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            continue
        if best is None or version > best[0]:
            best = (version, path)
    return None if best is None else best[1]


def _split_npm_spec(spec: str) -> tuple[str, str]:
    at = spec.rfind("@")
    if at <= 0:
        return spec, ""
    return spec[:at], spec[at + 1 :]


def _npm_tarball_name(name: str, version: str) -> str:
    # `npm pack` names the tarball after the package, with a scope's `@` dropped and `/` as `-`.
    return f"{name.removeprefix('@').replace('/', '-')}-{version}.tgz"


def _cached_npm_tarball(npm_dir: Path, spec: str) -> Path | None:
    name, version = _split_npm_spec(spec)
    if not _EXACT_NPM_VERSION.match(version):
        return None
    path = npm_dir / _npm_tarball_name(name, version)
    return path if path.is_file() else None


def _move_all(paths: Iterable[Path], target_dir: Path) -> None:
    for path in paths:
        shutil.move(path, target_dir / path.name)
