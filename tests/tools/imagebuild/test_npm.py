"""Tests of installing npm tarballs into a layer."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.tools.imagebuild.layouts import entry_at
from tools.imagebuild import ImageBuildError, Layer, install_npm_packages


def _make_tarball(path: Path, members: dict[str, tuple[bytes, int]]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            archive.addfile(info, io.BytesIO(data))
    return path


def test_install_real_npm_package(real_npm_tarball: Path) -> None:
    layer = Layer()

    installed = install_npm_packages(layer, [real_npm_tarball], "/app/node_modules")

    assert [(package.name, package.version, package.path) for package in installed] == [
        ("minimist", "0.0.8", "app/node_modules/minimist")
    ]
    manifest = json.loads(entry_at(layer, "app/node_modules/minimist/package.json").data)
    assert manifest["version"] == "0.0.8"
    assert "app/node_modules/minimist/index.js" in layer


def test_install_scoped_package_with_other_top_dir(tmp_path: Path) -> None:
    package_json = json.dumps({"name": "@demo/tool", "version": "2.0.0"}).encode()
    tarball = _make_tarball(tmp_path / "demo-tool-2.0.0.tgz", {
        "tool/package.json": (package_json, 0o666),
        "tool/bin/run.js": (b"#!/usr/bin/env node\n", 0o777),
    })  # fmt: skip
    layer = Layer()

    installed = install_npm_packages(layer, [tarball])

    assert installed[0].path == "usr/lib/node_modules/@demo/tool"
    assert entry_at(layer, "usr/lib/node_modules/@demo/tool/package.json").mode == 0o644
    assert entry_at(layer, "usr/lib/node_modules/@demo/tool/bin/run.js").mode == 0o755


def test_install_npm_rejects_parent_path(tmp_path: Path) -> None:
    package_json = json.dumps({"name": "evil", "version": "1.0.0"}).encode()
    tarball = _make_tarball(tmp_path / "evil-1.0.0.tgz", {
        "package/package.json": (package_json, 0o644),
        "package/../../etc/passwd": (b"root::0:0::/:/bin/sh\n", 0o644),
    })  # fmt: skip

    with pytest.raises(ImageBuildError, match="leaves the package directory"):
        install_npm_packages(Layer(), [tarball])


def test_install_npm_without_package_json_raises(tmp_path: Path) -> None:
    tarball = _make_tarball(tmp_path / "empty-1.0.0.tgz", {"package/index.js": (b"", 0o644)})

    with pytest.raises(ImageBuildError, match=r"no top-level package\.json"):
        install_npm_packages(Layer(), [tarball])
