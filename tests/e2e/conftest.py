"""The server as `make run` starts it, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from tests.conftest import REPO_ROOT, SHARED_DIR
from tools.registry import free_port

PASSWORD = "e2e-password"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start `python -m chalicelib.local`, as `make run` does, and yield the API base URL."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("e2e-data")
    pypi = SHARED_DIR / "feeds" / "pypi" / "pypa-advisory-database" / "vulns"
    npm = SHARED_DIR / "feeds" / "npm" / "ghsa"
    env = dict(
        os.environ,
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(data_dir),
        ADMIN_PASSWORD=PASSWORD,
        FEED_SOURCES=f"osv={pypi},osv={npm}" if pypi.is_dir() else "osv=/nonexistent-feed",
    )
    env.pop("DATABASE_URL", None)
    env.pop("QUEUE_URL", None)

    log_path = data_dir / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=log,
        )

    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited early:\n{log_path.read_text()}")
            try:
                if session.get(base + "/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield base + "/v1"
    finally:
        process.terminate()
        process.wait(timeout=20)
