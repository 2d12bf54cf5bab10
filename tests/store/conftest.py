"""Fixtures of the store tests: a store on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.store import Store
from tests.support.postgres import PostgresCluster, postgres_cluster  # noqa: F401

START_TIME = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)


class FakeClock:
    """A clock that stands still until a test advances it."""

    def __init__(self, now: datetime.datetime = START_TIME) -> None:
        self.now = now

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> datetime.datetime:
        """Move the clock forward and return the new time."""
        self.now += datetime.timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    """Return a clock that starts at `START_TIME`."""
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of an empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'plimsoll.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def empty_store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """Return a store on an empty database, before any migration."""
    store = Store(database_url, clock=clock)
    yield store
    store.close()


@pytest.fixture
def store(empty_store: Store) -> Store:
    """Return a migrated, empty store."""
    empty_store.migrate()
    return empty_store
