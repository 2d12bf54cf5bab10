"""Fixtures of the store tests: a store on SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from chalicelib.store import Store
from chalicelib.store.models import Base
from tests.support.postgres import PostgresCluster, postgres_cluster  # noqa: F401

START_TIME = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
BACKENDS = ["sqlite", "postgresql"]


class FakeClock:
    """A clock that returns a fixed time until a test advances it."""

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


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a new, empty database, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'plimsoll.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def empty_store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    """Return a store on a new database, before any migration."""
    store = Store(database_url, clock=clock)
    yield store
    store.close()


@pytest.fixture(scope="session")
def migrated_postgres_url(request: pytest.FixtureRequest) -> str:
    """Return the URL of a migrated PostgreSQL database that store tests share."""
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    url = cluster.create_database("store_tests")
    store = Store(url)
    store.migrate()
    store.close()
    return url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    """Return a migrated store with no rows, once per backend.

    On PostgreSQL the tests share one migrated database, emptied before each test, because
    creating a database per test costs more than the test.
    """
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'plimsoll.db'}", clock=clock)
        store.migrate()
    else:
        store = Store(request.getfixturevalue("migrated_postgres_url"), clock=clock)
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        with store._db.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    yield store
    store.close()
