"""anchore-cli 0.9.3 `subscription` and `repo` commands against the server `make run` starts."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from tests.e2e.test_anchore_cli import Cli, anchore_cli, cli  # noqa: F401 - fixtures
from tools.imagebuild import ImageBuilder, push


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
