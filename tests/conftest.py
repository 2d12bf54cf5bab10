"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
"""Read-only real-world inputs laid beside the checkout; absent in a plain clone."""


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """Return `../shared`, skipping the test when it is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} is absent: the real-world fixtures are not laid beside this clone")
    return SHARED_DIR
