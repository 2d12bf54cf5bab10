"""anchore-cli 0.9.3, unchanged, against the server that `make run` starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED_DIR
from tests.e2e.conftest import PASSWORD
from tests.support.registry import (  # noqa: F401 - imported to register the fixture
    TEST_PASSWORD,
    TEST_USER,
    LocalRegistry,
    auth_registry,
)
from tools.imagebuild import DpkgDatabase, ImageBuilder, fetch_debs

CLI_VENV = REPO_ROOT / ".cache" / "anchorecli-venv"
CLI_PACKAGES = ["click==8.0.1", "prettytable==2.2.0", "python-dateutil", "pyyaml", "requests"]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def anchore_cli() -> Path:
    """Install anchore-cli 0.9.3 into a cached virtual environment and return its program."""
    program = CLI_VENV / "bin" / "anchore-cli"
    if not program.exists():
        pip = [str(CLI_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
               "--disable-pip-version-check"]
        try:
            subprocess.run([sys.executable, "-m", "venv", str(CLI_VENV)], check=True)
            # Its own pins do not build on Python 3.11, hence --no-deps and newer dependencies.
            subprocess.run([*pip, "--no-deps", "anchorecli==0.9.3"], check=True)
            subprocess.run([*pip, *CLI_PACKAGES], check=True)
        except subprocess.CalledProcessError as exc:
            _missing(f"cannot install anchore-cli 0.9.3 from PyPI: {exc}")
    return program


class Cli:
    """Runs anchore-cli against the server and keeps what it printed."""

    def __init__(self, program: Path, url: str) -> None:
        self.program = program
        self.env = dict(
            os.environ,
            ANCHORE_CLI_URL=url,
            ANCHORE_CLI_USER="admin",
            ANCHORE_CLI_PASS=PASSWORD,
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )

    def run(self, *args: str, stdin: str = "", expect: int = 0) -> str:
        result = subprocess.run(
            [str(self.program), *args], input=stdin, capture_output=True, text=True,
            env=self.env, timeout=300,
        )
        output = result.stdout + result.stderr
        assert result.returncode == expect, f"anchore-cli {' '.join(args)}: {output}"
        return output


@pytest.fixture(scope="session")
def cli(anchore_cli: Path, server: str) -> Cli:
    return Cli(anchore_cli, server)


GO_BUNDLE = {
    "id": "e2e-go",
    "name": "e2e go",
    "version": "1_0",
    "policies": [{"id": "go", "name": "go", "version": "1_0", "rules": [
        {"id": "r1", "gate": "always", "trigger": "always", "action": "GO", "params": []}]}],
    "whitelists": [],
    "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                  "image": {"type": "tag", "value": "*"}, "policy_id": "go",
                  "whitelist_ids": []}],
}


def test_anchore_cli_interactive_workflow(cli: Cli, small_image: str, tmp_path: Path) -> None:
    assert "Service apiext" in cli.run("system", "status")
    # Without ../shared the server's only feed source is missing, and the sync says so.
    synced = cli.run("system", "feeds", "sync", stdin="y\n", expect=0 if SHARED_DIR.is_dir() else 1)
    if not SHARED_DIR.is_dir():
        assert "feed sync failed" in synced
    feeds = cli.run("system", "feeds", "list")
    if SHARED_DIR.is_dir():
        assert "pypi" in feeds

    assert "Image Digest: sha256:" in cli.run("image", "add", small_image)
    assert "analyzed" in cli.run("image", "wait", small_image, "--interval", "1", "--timeout", "180")
    assert small_image in cli.run("image", "list")
    got = cli.run("image", "get", small_image)
    assert "Distro: debian" in got
    assert "Distro Version: 12" in got

    assert "zlib1g" in cli.run("image", "content", small_image, "os")
    assert "urllib3" in cli.run("image", "content", small_image, "python")
    assert "minimist" in cli.run("image", "content", small_image, "npm")
    assert "/var/lib/dpkg/status" in cli.run("image", "content", small_image, "files")

    all_vulns = cli.run("image", "vuln", small_image, "all")
    non_os = cli.run("image", "vuln", small_image, "non-os")
    cli.run("image", "vuln", small_image, "os")
    if SHARED_DIR.is_dir():
        assert "GHSA-vh95-rmgr-6w4m" in all_vulns
        assert "GHSA-vh95-rmgr-6w4m" in non_os

    assert "schemaVersion" in cli.run("image", "metadata", small_image, "manifest")
    assert "EXPOSE 22" in cli.run("image", "metadata", small_image, "dockerfile")

    # The default bundle stops on an exposed port 22.
    detail = cli.run("evaluate", "check", small_image, "--detail", expect=1)
    assert "Status: fail" in detail
    assert "exposed_ports" in detail

    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(GO_BUNDLE))
    cli.run("policy", "add", str(bundle_path))
    assert "e2e-go" in cli.run("policy", "list")
    cli.run("policy", "activate", "e2e-go")
    assert '"always"' in cli.run("policy", "get", "e2e-go", "--detail")
    assert "Status: pass" in cli.run("evaluate", "check", small_image, expect=0)

    # anchore-cli quotes a digest in the path and looks an image id up with ?fulltag=ID.
    image_record = json.loads(cli.run("--json", "image", "get", small_image))[0]
    image_digest = image_record["imageDigest"]
    image_id = image_record["image_detail"][0]["imageId"]
    assert "zlib1g" in cli.run("image", "content", image_digest, "os")
    assert "Status: pass" in cli.run("evaluate", "check", image_digest, "--tag", small_image)
    assert "zlib1g" in cli.run("image", "content", image_id, "os")

    cli.run("image", "del", small_image)
    assert small_image not in cli.run("image", "list")


def test_anchore_cli_registry_workflow(
    cli: Cli, auth_registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
) -> None:
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(["base-files"]))
    layout = tmp_path_factory.mktemp("e2e-private")
    builder.write_oci_layout(layout, "1")
    private_image = auth_registry.push(layout, "1", "e2e/private:1")
    host = auth_registry.host

    # Without credentials the registry refuses the pull, and the add fails with its reason.
    refused = cli.run("image", "add", private_image, expect=1)
    assert host in refused

    wrong = cli.run("registry", "add", host, TEST_USER, "wrong-password", expect=1)
    assert "rejected the credentials" in wrong
    cli.run("registry", "add", host, TEST_USER, TEST_PASSWORD)
    listed = cli.run("registry", "list")
    assert host in listed
    assert TEST_USER in listed
    assert TEST_PASSWORD not in listed
    assert "Verify TLS: True" in cli.run("registry", "get", host)
    assert "Verify TLS: False" in cli.run(
        "registry", "update", host, TEST_USER, TEST_PASSWORD, "--insecure"
    )

    assert "Image Digest: sha256:" in cli.run("image", "add", private_image)
    assert "analyzed" in cli.run("image", "wait", private_image, "--interval", "1", "--timeout", "180")

    cli.run("registry", "del", host)
    assert host not in cli.run("registry", "list")
