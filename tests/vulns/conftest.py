"""Fixtures of the vulnerability tests: paths to the real feed data beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def feeds_dir(shared_dir: Path) -> Path:
    """Return the folder of real vulnerability feed snapshots."""
    return shared_dir / "feeds"
