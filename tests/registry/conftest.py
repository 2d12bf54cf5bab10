"""Fixtures of the registry tests: real registries with the synthetic test layout pushed."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.registry.cannedserver import canned_server  # noqa: F401 - registers the fixture
from tests.support.ocilayout import write_test_layout
from tests.support.registry import (  # noqa: F401 - imported to register the fixtures
    LocalRegistry,
    auth_registry,
    registry,
    token_registry,
)


@dataclasses.dataclass(frozen=True)
class PushedLayout:
    """The test layout and the references it was pushed to."""

    layout_dir: Path
    descriptors: dict[str, dict[str, Any]]
    """Descriptors by name: `single`, `multi` (the index), `amd64` and `arm64`."""
    single: str
    """Reference of the two-layer image (a gzip and an uncompressed layer)."""
    multi: str
    """Reference of the amd64 + arm64 index."""


@pytest.fixture(scope="session")
def test_layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The synthetic test layout: its directory and descriptors by name."""
    layout_dir = tmp_path_factory.mktemp("layout")
    return layout_dir, write_test_layout(layout_dir)


def _push_layout(
    target: LocalRegistry, test_layout: tuple[Path, dict[str, Any]], repository: str
) -> PushedLayout:
    layout_dir, descriptors = test_layout
    return PushedLayout(
        layout_dir=layout_dir,
        descriptors=descriptors,
        single=target.push(layout_dir, "single", f"{repository}:single"),
        multi=target.push(layout_dir, "multi", f"{repository}:multi"),
    )


@pytest.fixture(scope="session")
def pushed(
    registry: LocalRegistry,  # noqa: F811 - the fixture imported above
    test_layout: tuple[Path, dict[str, Any]],
) -> PushedLayout:
    """The test layout pushed to the open registry as `test/app:single` and `test/app:multi`."""
    return _push_layout(registry, test_layout, "test/app")


@pytest.fixture(scope="session")
def pushed_auth(
    auth_registry: LocalRegistry,  # noqa: F811 - the fixture imported above
    test_layout: tuple[Path, dict[str, Any]],
) -> PushedLayout:
    """The test layout pushed to the basic-auth registry as `private/app`."""
    return _push_layout(auth_registry, test_layout, "private/app")


@pytest.fixture(scope="session")
def pushed_token(
    token_registry: LocalRegistry,  # noqa: F811 - the fixture imported above
    test_layout: tuple[Path, dict[str, Any]],
) -> PushedLayout:
    """The test layout pushed to the token-auth registry as `private/app`."""
    return _push_layout(token_registry, test_layout, "private/app")
