"""Tests of installing wheels into a layer."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from tests.tools.imagebuild.layouts import entry_at
from tools.imagebuild import ImageBuildError, Layer, install_wheels

SITE = "usr/local/lib/python3.11/site-packages"


def _record_rows(layer: Layer, dist_info: str) -> dict[str, list[str]]:
    record = entry_at(layer, f"{dist_info}/RECORD")
    return {row[0]: row for row in csv.reader(io.StringIO(record.data.decode())) if row}


def _make_wheel(directory: Path) -> Path:
    """Write a wheel with a data directory, a `#!python` script and a console entry point."""
    path = directory / "demo_tool-1.0-py3-none-any.whl"
    dist_info = "demo_tool-1.0.dist-info"
    members = {
        "demo_tool/__init__.py": b"def main():\n    return 0\n",
        "demo_tool-1.0.data/scripts/demo-script": b"#!python\nprint('hi')\n",
        "demo_tool-1.0.data/data/share/demo/readme.txt": b"readme",
        f"{dist_info}/METADATA": b"Metadata-Version: 2.1\nName: demo-tool\nVersion: 1.0\n",
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/entry_points.txt": b"[console_scripts]\ndemo-tool = demo_tool:main\n",
    }
    record = "".join(f"{name},sha256=x,{len(data)}\n" for name, data in members.items())
    record += f"{dist_info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist_info}/RECORD", record)
    return path


def test_install_real_wheel_layout(real_wheel: Path) -> None:
    layer = Layer()

    installed = install_wheels(layer, [real_wheel])

    dist_info = f"{SITE}/requests-2.19.1.dist-info"
    assert [(wheel.name, wheel.version, wheel.dist_info) for wheel in installed] == [
        ("requests", "2.19.1", dist_info)
    ]
    assert f"{SITE}/requests/__init__.py" in layer
    assert b"Version: 2.19.1" in entry_at(layer, f"{dist_info}/METADATA").data
    assert entry_at(layer, f"{dist_info}/INSTALLER").data == b"pip\n"
    rows = _record_rows(layer, dist_info)
    assert "requests/__init__.py" in rows
    assert rows["requests-2.19.1.dist-info/INSTALLER"][2] == "4"
    assert rows["requests-2.19.1.dist-info/RECORD"] == ["requests-2.19.1.dist-info/RECORD", "", ""]


def test_install_wheel_data_scripts_and_entry_points(tmp_path: Path) -> None:
    layer = Layer()

    install_wheels(layer, [_make_wheel(tmp_path)])

    script = entry_at(layer, "usr/local/bin/demo-script")
    launcher = entry_at(layer, "usr/local/bin/demo-tool")
    readme = entry_at(layer, "usr/local/share/demo/readme.txt")
    assert readme.data == b"readme"
    assert script.data.startswith(b"#!/usr/local/bin/python3.11\n")
    assert script.mode == 0o755
    assert launcher.data.startswith(b"#!/usr/local/bin/python3.11\n")
    assert b"from demo_tool import main" in launcher.data
    assert launcher.mode == 0o755
    rows = _record_rows(layer, f"{SITE}/demo_tool-1.0.dist-info")
    assert "../../../bin/demo-script" in rows
    assert "../../../bin/demo-tool" in rows
    assert "../../../share/demo/readme.txt" in rows
    assert "demo_tool-1.0.data/scripts/demo-script" not in rows


def test_install_wheel_other_prefix_and_python(tmp_path: Path) -> None:
    layer = Layer()

    installed = install_wheels(
        layer, [_make_wheel(tmp_path)], prefix="/opt/venv", python_version="3.12"
    )

    assert installed[0].dist_info == "opt/venv/lib/python3.12/site-packages/demo_tool-1.0.dist-info"
    assert entry_at(layer, "opt/venv/bin/demo-tool").data.startswith(
        b"#!/opt/venv/bin/python3.12\n"
    )


def test_install_wheel_without_dist_info_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("broken/__init__.py", b"")

    with pytest.raises(ImageBuildError, match="dist-info"):
        install_wheels(Layer(), [path])


def test_install_wheel_rejects_non_zip(tmp_path: Path) -> None:
    path = tmp_path / "bad-1.0-py3-none-any.whl"
    path.write_bytes(b"not a zip")

    with pytest.raises(ImageBuildError, match="not a readable wheel"):
        install_wheels(Layer(), [path])
