"""`python -m chalicelib.local`, what `make run` starts: routing and start-up errors."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import PASSWORD


def get(url: str, password: str = PASSWORD) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, auth=("admin", password), timeout=10)


def test_local_unknown_path_is_not_found(server: str) -> None:
    response = get(server + "/nosuch")

    assert response.status_code == 404
    assert "/v1/nosuch" in response.json()["message"]
    encoded = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    assert encoded not in response.text


def test_local_wrong_password_is_unauthorized(server: str) -> None:
    response = get(server + "/images", password="wrong")

    assert response.status_code == 401
    assert "ADMIN_PASSWORD" in response.json()["message"]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("LOG_LEVEL", "verbose", "LOG_LEVEL='verbose' is not a level"),
        ("PORT", "abc", "PORT='abc' is not an integer"),
        ("ADMIN_PASSWORD", "", "ADMIN_PASSWORD is set but empty"),
        ("FEED_SOURCES", "bogus", "FEED_SOURCES entry 'bogus' is invalid"),
        ("QUEUE_URL", "notaurl", "QUEUE_URL='notaurl' is not an SQS queue URL"),
    ],
)
def test_local_bad_setting_stops_start(variable: str, value: str, expected: str) -> None:
    env = dict(os.environ, **{variable: value})

    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.local"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_local_queue_without_region_stops_start(tmp_path: Path) -> None:
    # A queue URL that names no region, with no region configured for boto3.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")
    }
    env.update(
        QUEUE_URL="https://queue.example/123456789012/plimsoll",
        DATA_DIR=str(tmp_path / "data"),
        AWS_CONFIG_FILE=str(tmp_path / "absent-config"),
        FEED_SOURCES="",
    )

    result = subprocess.run(
        [sys.executable, "-m", "chalicelib.local"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )

    assert result.returncode == 1
    assert "cannot use QUEUE_URL=https://queue.example/123456789012/plimsoll" in result.stderr
    assert "AWS_DEFAULT_REGION" in result.stderr
    assert "Traceback" not in result.stderr
