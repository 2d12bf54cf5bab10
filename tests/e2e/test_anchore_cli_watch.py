"""Watch mode end to end: anchore-cli 0.9.3 `subscription` and `repo` commands against the
server `make run` starts, and that server's background watchers."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_anchore_cli import Cli, anchore_cli, cli  # noqa: F401 - fixtures
from tests.support.webhook import WebhookReceiver, webhook  # noqa: F401 - fixture
from tools.imagebuild import ImageBuilder, push
from tools.registry import free_port, loopback_env


def table_rows(output: str) -> set[tuple[str, ...]]:
    """Return the whitespace-separated cells of each line of a plain-column table."""
    return {tuple(line.split()) for line in output.splitlines() if line.strip()}


def push_image(registry_address: str, tmp_path: Path, repository: str, tag: str) -> str:
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/e2e-watch", tag.encode())
    layout = tmp_path / f"layout-{tag}"
    builder.write_oci_layout(layout, tag)
    reference = f"{registry_address}/{repository}:{tag}"
    push(layout, tag, reference)
    return reference


def test_anchore_cli_subscription_commands(
    cli: Cli, registry_address: str, tmp_path: Path  # noqa: F811
) -> None:
    tag = push_image(registry_address, tmp_path, f"e2e-watch/{uuid.uuid4().hex[:8]}", "1")
    # anchore-cli adds images with autosubscribe=True, so tag_update starts active.
    assert "Image Digest: sha256:" in cli.run("image", "add", tag)

    rows = table_rows(cli.run("subscription", "list"))
    assert (tag, "tag_update", "True") in rows
    assert (tag, "analysis_update", "True") in rows
    assert (tag, "policy_eval", "False") in rows
    assert (tag, "vuln_update", "False") in rows

    assert "Success" in cli.run("subscription", "deactivate", "tag_update", tag)
    assert "Success" in cli.run("subscription", "activate", "policy_eval", tag)
    rows = table_rows(cli.run("subscription", "list", "--full"))
    policy_id = hashlib.md5(f"admin+{tag}+policy_eval".encode()).hexdigest()  # noqa: S324
    assert (tag, "tag_update", "False") in {row[:3] for row in rows}
    assert (tag, "policy_eval", "True", policy_id) in rows

    got = table_rows(cli.run("subscription", "get", policy_id))
    assert (tag, "policy_eval", "True", policy_id, "admin") in got

    assert "Success" in cli.run("subscription", "del", policy_id)
    assert policy_id not in cli.run("subscription", "list", "--full")


def test_anchore_cli_repo_commands(
    cli: Cli, registry_address: str, tmp_path: Path  # noqa: F811
) -> None:
    repository = f"e2e-repo/{uuid.uuid4().hex[:8]}"
    push_image(registry_address, tmp_path, repository, "1")
    push_image(registry_address, tmp_path, repository, "2")
    name = f"{registry_address}/{repository}"

    dry = cli.run("repo", "add", name, "--dryrun")
    assert "DRY RUN: Repository not added" in dry
    assert name not in cli.run("repo", "list")

    assert (name, "True", "2") in table_rows(cli.run("repo", "add", name))
    assert (name, "True", "2") in table_rows(cli.run("repo", "list"))
    assert (name, "True", "2") in table_rows(cli.run("repo", "get", name))

    assert (name, "False", "2") in table_rows(cli.run("repo", "unwatch", name))
    assert (name, "False", "2") in table_rows(cli.run("repo", "list"))
    assert (name, "True", "2") in table_rows(cli.run("repo", "watch", name))

    assert "Success" in cli.run("repo", "del", name)
    assert name not in cli.run("repo", "list")


@pytest.fixture
def watching_server(
    tmp_path: Path, webhook: WebhookReceiver  # noqa: F811
) -> Iterator[str]:
    """Start `python -m chalicelib.local` with watchers every second; yield the API base URL."""
    port = free_port()
    env = dict(
        loopback_env(),
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(tmp_path / "data"),
        ADMIN_PASSWORD=PASSWORD,
        FEED_SOURCES="",
        WATCH_INTERVAL_SECONDS="1",
        WEBHOOK_URL=webhook.url + "/<notification_type>",
    )
    env.pop("DATABASE_URL", None)
    env.pop("QUEUE_URL", None)
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chalicelib.local"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(base), 60, f"the server did not start:\n{log_path}")
        yield base + "/v1"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _healthy(base: str) -> bool:
    try:
        return requests.get(base + "/health", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def wait_until(condition: Callable[[], bool], timeout: float, message: str) -> None:
    """Poll `condition` every 0.2 s until it holds; fail with `message` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.2)


def test_local_server_watches_tags(
    watching_server: str,
    webhook: WebhookReceiver,  # noqa: F811
    registry_address: str,
    tmp_path: Path,
) -> None:
    repository = f"e2e-loop/{uuid.uuid4().hex[:8]}"
    tag = push_image(registry_address, tmp_path, repository, "1")
    response = requests.post(
        watching_server + "/images?autosubscribe=true",
        json={"tag": tag},
        auth=("admin", PASSWORD),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    first = response.json()[0]["imageDigest"]

    # Same tag, new content: the background watchers must add the new digest and notify.
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/e2e-watch", b"moved")
    layout = tmp_path / "layout-moved"
    builder.write_oci_layout(layout, "moved")
    push(layout, "moved", tag)
    wait_until(
        lambda: bool(webhook.bodies("/tag_update")),
        120,
        "no tag_update notification arrived from the local server's watchers",
    )

    payload = webhook.bodies("/tag_update")[0]["data"]["notification_payload"]
    assert payload["subscription_key"] == tag
    assert payload["last_eval"] == [first]
    assert payload["curr_eval"][0] != first
