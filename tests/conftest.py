"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.imagebuild import (
    DpkgDatabase,
    ImageBuilder,
    fetch_debs,
    fetch_npm,
    fetch_wheels,
    install_npm_packages,
    install_wheels,
    push,
    run_step,
)
from tests.support.registry import LocalRegistry, registry  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
"""Read-only real-world inputs laid beside the checkout; absent in a plain clone."""


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Return `../shared`, skipping the test when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent: the real-world fixtures are not laid beside this clone")
    return SHARED_DIR


@pytest.fixture(scope="session")
def registry_address(registry: LocalRegistry) -> str:
    """Return the `127.0.0.1:PORT` address of the session's real `docker-registry`."""
    return registry.host


@pytest.fixture(scope="session")
def small_image(registry_address: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Push a small image of real packages and return its tag reference.

    Debian's zlib1g (source package zlib), the urllib3 1.24.1 wheel and the minimist 0.0.8 npm
    package, in three layers, with an `EXPOSE 22` and no HEALTHCHECK.
    """
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(["base-files", "zlib1g"]))
    install_wheels(builder.add_layer(run_step("pip install urllib3==1.24.1")),
                   fetch_wheels(["urllib3==1.24.1"]))
    npm_layer = builder.add_layer(run_step("npm install minimist@0.0.8"))
    install_npm_packages(npm_layer, fetch_npm(["minimist@0.0.8"]), "/app/node_modules")
    builder.expose(22)
    layout = tmp_path_factory.mktemp("small-image")
    builder.write_oci_layout(layout, "1")
    reference = f"{registry_address}/plimsoll/small:1"
    push(layout, "1", reference)
    return reference
