"""Fixtures of the version scheme tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.vulns.versions.tables import TABLES_DIR, TableRow


@pytest.fixture
def table_row(request: pytest.FixtureRequest, shared_dir: Path) -> TableRow:
    """Return the table row that the test is parametrized with (`indirect=True`).

    The row comes from `table_params`. The test skips when the shared fixtures are absent.
    """
    row: TableRow | None = request.param
    if row is None:
        pytest.skip(f"the version table is missing under {shared_dir / TABLES_DIR}")
    return row
