"""A throwaway PostgreSQL cluster for tests, started once per test session.

Import the fixtures into a `conftest.py` (`from tests.support.postgres import postgres_cluster`)
to use them. The cluster listens only on 127.0.0.1, on a free port, keeps its socket and data in
a temporary directory, runs with fsync off, and is stopped and removed at the end of the session.

When the PostgreSQL server binaries are missing, the tests that need the cluster are skipped,
unless the environment variable `CI` is set: CI must install them, so there the tests fail.
Set `PLIMSOLL_POSTGRES_BIN` to the directory containing `initdb` and `pg_ctl` to pick a version.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

import pg8000.native
import pytest

BIN_DIR_VARIABLE = "PLIMSOLL_POSTGRES_BIN"
SERVER_USER = "postgres"
"""Operating system user that runs the server when the tests run as root, and database
superuser name (with trust authentication) in every case."""

START_TIMEOUT_SECONDS = 60
START_ATTEMPTS = 3
"""Tries with a new port each, because another process can take the free port first."""

_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_database_numbers = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class PostgresCluster:
    """A running throwaway cluster that tests can create databases in."""

    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of `database` in this cluster."""
        return f"postgresql+pg8000://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database, named `name` or a fresh `test_N` name, and return its URL."""
        name = name or f"test_{next(_database_numbers)}"
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name {name!r} is invalid; use [a-z_][a-z0-9_]*")
        connection = pg8000.native.Connection(
            self.user, host=self.host, port=self.port, database="postgres"
        )
        try:
            connection.run(f"CREATE DATABASE {name}")
        finally:
            connection.close()
        return self.url(name)


def find_bin_dir() -> Path | None:
    """Return the directory containing `initdb` and `pg_ctl`, or None when they are missing.

    Looks at `PLIMSOLL_POSTGRES_BIN`, then `PATH`, then the newest `/usr/lib/postgresql/*/bin`
    (where Debian installs them off `PATH`).
    """
    candidates: list[Path] = []
    if os.environ.get(BIN_DIR_VARIABLE):
        candidates.append(Path(os.environ[BIN_DIR_VARIABLE]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    debian_dirs = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(debian_dirs, key=_major_version, reverse=True))
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _major_version(bin_dir: Path) -> int:
    version = bin_dir.parent.name
    return int(version) if version.isdigit() else 0


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide PostgreSQL for the store tests", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Raise KeyboardInterrupt on SIGTERM while the cluster runs, so pytest still stops it.

    `timeout` and CI runners end a run with SIGTERM, which by default ends Python without any
    fixture teardown and leaves the server running. pytest tears fixtures down after a
    KeyboardInterrupt. A SIGKILL still leaves the server behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signal_number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal_number}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(command: list[str | Path], run_as: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*run_as, *map(str, command)], capture_output=True, text=True, check=False
    )


def _start(bin_dir: Path, data_dir: Path, work_dir: Path, run_as: list[str]) -> int:
    """Start the server on a free port and return the port, or fail the test."""
    log_file = work_dir / "server.log"
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        server_options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={work_dir} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        command: list[str | Path] = [bin_dir / "pg_ctl", "-D", data_dir, "-l", log_file]
        command += ["-o", server_options]
        command += ["-w", "-t", str(START_TIMEOUT_SECONDS), "start"]
        started = _run(command, run_as)
        if started.returncode == 0:
            return port
    log_text = log_file.read_text(errors="replace") if log_file.exists() else "(no log)"
    pytest.fail(
        f"pg_ctl start failed after {START_ATTEMPTS} attempts: {started.stderr.strip()}\n"
        f"server log:\n{log_text}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster for the session and stop and remove it afterwards."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        _unavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH, in "
            f"/usr/lib/postgresql/*/bin or in ${BIN_DIR_VARIABLE}"
        )

    run_as: list[str] = []
    # initdb refuses to run as root, so then the server runs as the postgres user.
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        _unavailable("tests run as root but runuser is missing to start PostgreSQL as postgres")
    work_dir = Path(tempfile.mkdtemp(prefix="plimsoll-postgres-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(work_dir, user=SERVER_USER, group=None)
        except LookupError:
            shutil.rmtree(work_dir)
            _unavailable(f"tests run as root but no {SERVER_USER!r} user exists to run PostgreSQL")
        run_as = ["runuser", "-u", SERVER_USER, "--"]

    data_dir = work_dir / "data"
    try:
        command: list[str | Path] = [bin_dir / "initdb", "-D", data_dir, "-U", SERVER_USER]
        command += ["-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]
        created = _run(command, run_as)
        if created.returncode != 0:
            pytest.fail(f"initdb failed: {created.stderr.strip()}", pytrace=False)
        port = _start(bin_dir, data_dir, work_dir, run_as)
        try:
            with _sigterm_interrupts():
                yield PostgresCluster(host="127.0.0.1", port=port, user=SERVER_USER)
        finally:
            _run([bin_dir / "pg_ctl", "-D", data_dir, "-m", "immediate", "-w", "stop"], run_as)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """Return the URL of one empty database in the session's throwaway cluster."""
    return postgres_cluster.create_database("plimsoll_test")
