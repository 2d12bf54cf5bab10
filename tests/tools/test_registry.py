"""`tools.registry`: the registry launcher that the README, the demo and the tests use."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from tools.registry import free_port, run_registry_process


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry is not installed")
def test_registry_listens_on_requested_port(tmp_path: Path) -> None:
    port = free_port()

    with run_registry_process(tmp_path, port=port) as registry:
        session = requests.Session()
        session.trust_env = False
        response = session.get(f"http://127.0.0.1:{port}/v2/", timeout=5)

    assert registry.host == f"127.0.0.1:{port}"
    assert response.status_code == 200
    assert (tmp_path / "config.yml").read_text().count(f"127.0.0.1:{port}") == 1
