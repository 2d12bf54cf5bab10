"""Shared parts of the vulnerability benchmarks: databases, the local feed set and timers.

Not a test module: the scripts beside it import it when run from the repository root as
`.venv/bin/python -m benchmarks.<script>`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event

from chalicelib.store import Store

REPO_ROOT = Path(__file__).resolve().parent.parent
FEEDS = REPO_ROOT.parent / "shared" / "feeds"

LOCAL_FEED_SOURCES = ",".join(
    [
        f"osv={FEEDS / 'pypi' / 'pypa-advisory-database' / 'vulns'}",
        f"osv={FEEDS / 'go' / 'golang-vulndb'}",
        f"osv={FEEDS / 'crates' / 'rustsec-osv'}",
        f"osv={FEEDS / 'npm' / 'ghsa'}",
        f"node-security={FEEDS / 'npm' / 'nodejs-security-wg'}",
        f"alpine-secdb={FEEDS / 'alpine' / 'alpine-secdb'}",
        f"debian-tracker={FEEDS / 'debian' / 'security-tracker'}",
        f"ubuntu-cve-tracker={FEEDS / 'ubuntu' / 'ubuntu-cve-tracker'}",
    ]
)
"""Every real feed of the offline data set beside this checkout, each with its format."""


@contextlib.contextmanager
def postgres_database(url: str | None) -> Iterator[str]:
    """Yield `url`, or the URL of a new database in a throwaway cluster started for the run."""
    if url:
        yield url
        return
    from tests.support.postgres import postgres_cluster

    # The cluster helper is a pytest fixture; its undecorated generator starts and stops it.
    start = contextlib.contextmanager(postgres_cluster.__wrapped__)
    with start() as cluster:
        yield cluster.create_database("benchmark")


@dataclasses.dataclass
class QueryTimer:
    """Sums the time the driver spends in each statement of one engine, and records them.

    The driver time includes sending the rows and decoding them in Python (pg8000 decodes JSON
    columns while it reads the result), so `server_seconds` requests PostgreSQL's execution
    time of the recorded statements with EXPLAIN ANALYZE.
    """

    seconds: float = 0.0
    statements: int = 0
    recorded: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    _started: list[float] = dataclasses.field(default_factory=list)

    def attach(self, store: Store) -> QueryTimer:
        """Start timing every statement that `store` executes."""
        engine = store._db.engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        return self

    def reset(self) -> None:
        """Set the sums back to zero and forget the recorded statements."""
        self.seconds = 0.0
        self.statements = 0
        self.recorded = []

    def server_seconds(self, store: Store) -> float:
        """Return PostgreSQL's execution time of the recorded SELECT statements, summed."""
        total = 0.0
        with store._db.engine.connect() as connection:
            for statement, parameters in self.recorded:
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                explained = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
                ).scalar()
                plan = explained if isinstance(explained, list) else json.loads(explained)
                total += plan[0]["Execution Time"] / 1000
        return total

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, *rest: Any) -> None:
        self.recorded.append((statement, parameters))
        self._started.append(time.perf_counter())

    def _after(self, *args: Any) -> None:
        self.seconds += time.perf_counter() - self._started.pop()
        self.statements += 1


def peak_rss_kib() -> int:
    """Return this process's peak resident set size in KiB (`VmHWM`), 0 where unknown.

    Not `ru_maxrss`, because on Linux a child's `ru_maxrss` still counts the parent's RSS at
    fork after exec: a sync child of a parent holding 6,952 records reported 138 MiB before
    its sync, against 80 MiB of `VmHWM`. `VmHWM` belongs to the memory map that exec replaces.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def machine() -> str:
    """Describe the CPU and memory of this machine in one line."""
    import os

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown memory"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kilobytes = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kilobytes / 1024 / 1024:.0f} GiB"
    return f"{cpu}, {os.cpu_count()} cores, {memory}"
