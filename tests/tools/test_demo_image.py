"""Tests of the demo image built from real packages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.tools.imagebuild.layouts import read_oci_image
from tools.demo_image import BASE_DEBS, DEMO_TAG, OPENSSL_DEBS, WHEELS, build_demo_image
from tools.imagebuild import DEFAULT_CACHE_DIR


@pytest.fixture(scope="module")
def demo_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the demo image once for this module."""
    for program in ("apt-get", "npm"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed; tools/install-test-deps.sh installs it")
    return build_demo_image(tmp_path_factory.mktemp("demo") / "layout", DEFAULT_CACHE_DIR)


def test_demo_image_layers_and_config(demo_layout: Path) -> None:
    image = read_oci_image(demo_layout, DEMO_TAG)
    config = image.config

    assert len(image.layer_blobs) == 4
    assert config["config"]["ExposedPorts"] == {"22/tcp": {}}
    assert "Healthcheck" not in config["config"]
    layer_steps = [entry for entry in config["history"] if not entry.get("empty_layer")]
    assert len(layer_steps) == 4
    assert layer_steps[0]["created_by"].startswith("/bin/sh -c #(nop) ADD file:")
    assert "apt-get install" in layer_steps[1]["created_by"]
    assert "pip install" in layer_steps[2]["created_by"]
    assert "npm install" in layer_steps[3]["created_by"]


def test_demo_image_dpkg_status_in_second_layer(demo_layout: Path) -> None:
    image = read_oci_image(demo_layout, DEMO_TAG)

    status = image.layer_file(1, "var/lib/dpkg/status").decode()
    names = [
        line.removeprefix("Package: ")
        for line in status.splitlines()
        if line.startswith("Package: ")
    ]

    assert sorted(names) == sorted(BASE_DEBS + OPENSSL_DEBS)
    assert "usr/bin/passwd" in image.layer_members(0)
    assert image.layer_members(0)["usr/bin/passwd"].mode == 0o4755


def test_demo_image_python_and_npm_layers(demo_layout: Path) -> None:
    image = read_oci_image(demo_layout, DEMO_TAG)

    python_members = image.layer_members(2)
    npm_members = image.layer_members(3)

    for requirement in WHEELS:
        name, version = requirement.split("==")
        assert f"usr/local/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA" in (
            python_members
        )
    lodash = json.loads(image.layer_file(3, "app/node_modules/lodash/package.json"))
    assert lodash["version"] == "4.17.4"
    assert "app/node_modules/minimist/package.json" in npm_members
    assert "usr/lib/node_modules/hoek/package.json" in npm_members
