"""Tests of engine set-up, migrations and database error handling, on both backends."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from chalicelib.store import Store, StoreError
from chalicelib.store.database import MIGRATIONS_DIR, Database
from chalicelib.store.models import Base
from tests.conftest import REPO_ROOT
from tests.store.factories import DIGEST, evaluation

JOIN_TIMEOUT_SECONDS = 120
"""Upper bound on waiting for a racing thread or process, so a deadlock fails the test
instead of hanging the run."""

TABLES = {
    "images",
    "image_tags",
    "image_analyses",
    "vuln_matches",
    "feed_groups",
    "vuln_records",
    "policies",
    "evaluations",
}


def _head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_migrate_creates_schema_from_empty(empty_store: Store) -> None:
    database = empty_store._db
    assert _current_revision(database) is None

    empty_store.migrate()

    assert set(inspect(database.engine).get_table_names()) >= TABLES
    assert _current_revision(database) == _head_revision()


def test_migrate_schema_matches_models(store: Store) -> None:
    with store._db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrate_twice_is_noop(store: Store) -> None:
    store.add_evaluation(evaluation("e1", datetime.datetime.now(datetime.UTC)))

    store.migrate()

    assert _current_revision(store._db) == _head_revision()
    assert len(store.list_evaluations(DIGEST)) == 1


def test_migrate_concurrent_threads_all_succeed(database_url: str) -> None:
    stores = [Store(database_url) for _ in range(4)]
    barrier = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def start(store: Store) -> None:
        barrier.wait()
        try:
            store.migrate()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert _current_revision(stores[0]._db) == _head_revision()
    for store in stores:
        store.close()


def test_migrate_concurrent_processes_all_succeed(database_url: str) -> None:
    # Each process imports everything, prints "ready", and migrates when it reads a line from
    # stdin, so the migrations overlap instead of being spread out by start-up times.
    script = (
        "import sys\n"
        "from chalicelib.store import Store\n"
        "store = Store(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "store.migrate()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, database_url],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"

    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=JOIN_TIMEOUT_SECONDS) for process in processes]

    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    database = Database(database_url)
    assert _current_revision(database) == _head_revision()
    database.close()


def test_sqlite_connection_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'plimsoll.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    database.close()


def test_sqlite_parent_directory_created(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "plimsoll.db"

    store = Store(f"sqlite:///{path}")
    store.migrate()

    assert path.is_file()
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_in_memory_rejected(url: str) -> None:
    with pytest.raises(StoreError, match="in-memory SQLite"):
        Store(url)


def test_unsupported_backend_rejected() -> None:
    with pytest.raises(StoreError, match="unsupported backend 'mysql'"):
        Store("mysql+pymysql://user@127.0.0.1/plimsoll")


def test_malformed_url_rejected() -> None:
    with pytest.raises(StoreError, match="malformed"):
        Store("not a url")


def test_connection_failure_masks_password() -> None:
    # Port 1 on loopback has no listener, so the connection is refused at once.
    store = Store("postgresql+pg8000://plimsoll:s3cret@127.0.0.1:1/plimsoll")

    with pytest.raises(StoreError) as raised:
        store.migrate()

    message = str(raised.value)
    assert "127.0.0.1:1" in message
    assert "s3cret" not in message
    store.close()


def test_operation_error_names_operation(empty_store: Store) -> None:
    # A database of its own, because the shared test database must keep its tables.
    store = empty_store
    store.migrate()
    with store._db.engine.begin() as connection:
        connection.execute(text("DROP TABLE evaluations"))

    with pytest.raises(StoreError, match="list evaluations of sha256:x failed"):
        store.list_evaluations("sha256:x")
