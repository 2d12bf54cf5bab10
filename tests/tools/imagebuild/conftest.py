"""Real packages (downloaded once into the repository's package cache) and synthetic .debs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tools.imagebuild import DEFAULT_CACHE_DIR, fetch_debs, fetch_npm, fetch_wheels

REAL_DEBS = ["base-files", "base-passwd", "passwd"]
"""Debian packages of the small real image: os-release, the account files, setuid binaries."""
REAL_WHEEL = "requests==2.19.1"
REAL_NPM_PACKAGE = "minimist@0.0.8"

MakeDeb = Callable[..., Path]


def _require_program(name: str) -> None:
    if shutil.which(name) is None:
        pytest.skip(f"{name} is not installed; tools/install-test-deps.sh installs it")


@pytest.fixture(scope="session")
def real_debs() -> dict[str, Path]:
    """Return the real bookworm .debs of `REAL_DEBS` by package name."""
    _require_program("apt-get")
    return dict(zip(REAL_DEBS, fetch_debs(REAL_DEBS, DEFAULT_CACHE_DIR), strict=True))


@pytest.fixture(scope="session")
def real_wheel() -> Path:
    """Return the real wheel of `REAL_WHEEL`."""
    return fetch_wheels([REAL_WHEEL], DEFAULT_CACHE_DIR)[0]


@pytest.fixture(scope="session")
def real_npm_tarball() -> Path:
    """Return the real npm tarball of `REAL_NPM_PACKAGE`."""
    _require_program("npm")
    return fetch_npm([REAL_NPM_PACKAGE], DEFAULT_CACHE_DIR)[0]


@pytest.fixture
def make_deb(tmp_path: Path) -> MakeDeb:
    """Return a function that builds a .deb with `dpkg-deb --build` and returns its path.

    Arguments: `name`, `files` (image path to content, or to (content, mode)), `control`
    (extra control fields), `control_files` (name to content, such as `conffiles`),
    `compression` (dpkg-deb's -Z value) and `version`.
    """
    _require_program("dpkg-deb")

    def build(
        name: str,
        files: dict[str, bytes | tuple[bytes, int]],
        control: dict[str, str] | None = None,
        control_files: dict[str, bytes] | None = None,
        compression: str = "xz",
        version: str = "1.0-1",
    ) -> Path:
        root = tmp_path / f"{name}-{version}-{compression}"
        (root / "DEBIAN").mkdir(parents=True)
        fields = {
            "Package": name,
            "Version": version,
            "Architecture": "amd64",
            "Maintainer": "Test <test@example.org>",
            **(control or {}),
        }
        fields.setdefault("Description", "synthetic test package\n more text on a second line")
        text = "".join(f"{key}: {value}\n" for key, value in fields.items())
        (root / "DEBIAN" / "control").write_text(text)
        for control_name, content in (control_files or {}).items():
            (root / "DEBIAN" / control_name).write_bytes(content)
        for image_path, spec in files.items():
            content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            target = root / image_path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(mode)
        output = tmp_path / f"{name}_{version}_{compression}.deb"
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root),
             str(output)],
            check=True, capture_output=True,
        )  # fmt: skip
        return output

    return build
