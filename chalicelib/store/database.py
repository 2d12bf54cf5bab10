"""Engine set-up, transactions and migrations shared by every part of the store.

Two backends are supported. SQLite is the embedded default, shared by an API thread and a worker
thread of one process. PostgreSQL (through pg8000) is used by the local stack and on AWS, where
several processes may start at once.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chalicelib.store.records import ConflictError, StoreError

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
"""How long a SQLite writer waits for another writer's transaction before failing.

The value leaves room for the longest write, the replacement of a large feed group, while a
writer that never finishes still surfaces as an error.
"""

MIGRATION_LOCK_KEY = 0x506C696D736F6C6C
"""PostgreSQL advisory lock key that serializes `Database.migrate` across processes.

The value is the ASCII bytes of "Plimsoll" read as a 64-bit integer, so it is unlikely to collide
with locks taken by other applications sharing the database.
"""

_ALEMBIC_LOCK = threading.Lock()
"""Serializes migrations within one process: Alembic's `context` and `op` are process-wide
proxies, so two threads migrating at once would run each other's operations."""

_WRITE_OPTION = "plimsoll_write"
"""Execution option that marks a SQLite connection whose transactions start with a write lock."""


class Database:
    """An engine with read and write transactions that raise `StoreError` on database errors."""

    def __init__(self, url: str) -> None:
        """Create the engine for `url` without connecting yet.

        `url` is `sqlite:///PATH` or `postgresql+pg8000://USER@HOST:PORT/DB`. For SQLite the
        parent directory of PATH is created when missing. Raises `StoreError` for a malformed
        URL, an in-memory SQLite URL or another backend.
        """
        try:
            self.url: URL = make_url(url)
        except ArgumentError as error:
            raise StoreError(
                f"database URL {url!r} is malformed; use sqlite:///PATH "
                "or postgresql+pg8000://USER:PASSWORD@HOST:PORT/DB"
            ) from error
        self.display_url = self.url.render_as_string(hide_password=True)
        """The URL with the password masked, for messages."""

        backend = self.url.get_backend_name()
        if backend == "sqlite":
            self.engine = _create_sqlite_engine(self.url)
        elif backend == "postgresql":
            # Pre-ping replaces connections that the server or a NAT closed while idle, which is
            # common for a Lambda that sleeps between invocations.
            self.engine = create_engine(self.url, pool_pre_ping=True)
        else:
            raise StoreError(
                f"database URL {self.display_url} uses the unsupported backend {backend!r}; "
                "use sqlite:///PATH or postgresql+pg8000://..."
            )
        self.is_sqlite = backend == "sqlite"

        write_engine = self.engine.execution_options(**{_WRITE_OPTION: True})
        self._read_sessions = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(bind=write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def transaction(self, operation: str, *, write: bool) -> Iterator[Session]:
        """Yield a session inside one transaction, committed when the block ends without error.

        `operation` describes the call in error messages ("claim analysis of sha256:..."). A
        constraint violation raises `ConflictError`, and any other database error `StoreError`,
        both chained to the driver's error. Exceptions raised by the block itself roll the
        transaction back and propagate unchanged.

        On SQLite a write transaction takes the database write lock when it begins
        (`BEGIN IMMEDIATE`). A deferred transaction that reads and then writes can fail at once
        with "database is locked" when another connection wrote in between, while an immediate
        one waits up to the busy timeout for the lock.
        """
        sessions = self._write_sessions if write else self._read_sessions
        try:
            with sessions.begin() as session:
                yield session
        except IntegrityError as error:
            raise ConflictError(f"{operation} conflicts with stored data: {error.orig}") from error
        except SQLAlchemyError as error:
            detail = getattr(error, "orig", None) or error
            raise StoreError(f"{operation} failed on {self.display_url}: {detail}") from error

    def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision; a no-op when it is current.

        Concurrent callers are serialized: threads by a process-wide lock, processes on
        PostgreSQL by a transaction-scoped advisory lock and on SQLite by the database write
        lock. The upgrade runs in the same transaction as the lock, so a second process waits,
        then finds the schema current. Raises `StoreError`
        when the upgrade fails; the transaction is rolled back then.
        """
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        try:
            with _ALEMBIC_LOCK, self.engine.connect() as connection:
                if self.is_sqlite:
                    connection.execution_options(**{_WRITE_OPTION: True})
                with connection.begin():
                    if not self.is_sqlite:
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                        )
                    config.attributes["connection"] = connection
                    command.upgrade(config, "head")
        except SQLAlchemyError as error:
            detail = getattr(error, "orig", None) or error
            raise StoreError(f"migrating {self.display_url} failed: {detail}") from error
        logger.info("database schema is current: url=%s", self.display_url)

    def close(self) -> None:
        """Close every pooled connection; the engine reconnects if it is used again."""
        self.engine.dispose()


def _create_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        raise StoreError(
            f"in-memory SQLite database {url} is not supported because the API and worker "
            "threads must share one database; use sqlite:///PATH (a temporary file in tests)"
        )
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN (see the "begin" hook) instead of the sqlite3 module, which
        # starts no transaction for SELECT or DDL statements.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
            _enable_wal(cursor)
            # NORMAL synchronous mode is safe with WAL: a power loss can drop the last commits
            # but cannot corrupt the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def _enable_wal(cursor: Any) -> None:
    """Switch the database file to WAL mode, which lets readers go on while a writer works.

    The switch needs an exclusive lock, and SQLite reports "database is locked" at once,
    without waiting out the busy timeout, when another connection is switching or writing at
    that moment (several processes opening a new file together). WAL mode is stored in the
    file, so the first connection that succeeds switches it for all. The others retry until
    they find it switched or the busy timeout has passed.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    delay = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
