"""Tests of the `python -m tools.imagebuild` command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.imagebuild.conftest import REAL_WHEEL
from tests.tools.imagebuild.layouts import read_oci_image
from tools.imagebuild.__main__ import main


def test_main_builds_oci_layout(
    real_wheel: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["build", str(tmp_path / "layout"), "--tag", "v1", "--wheel", REAL_WHEEL,
         "--expose", "8080", "--user", "app", "--cmd", "python3 -m http.server 8080"]
    )  # fmt: skip

    image = read_oci_image(tmp_path / "layout", "v1")
    assert status == 0
    assert capsys.readouterr().out.strip() == image.manifest_digest
    assert image.config["config"]["Cmd"] == ["python3", "-m", "http.server", "8080"]
    assert image.config["config"]["User"] == "app"
    assert image.config["config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert len(image.layer_blobs) == 1


def test_main_without_packages_fails(tmp_path: Path) -> None:
    assert main(["build", str(tmp_path / "layout")]) == 1
    assert not (tmp_path / "layout").exists()


def test_main_rejects_bad_cmd_json(real_wheel: Path, tmp_path: Path) -> None:
    status = main(["build", str(tmp_path / "x"), "--wheel", REAL_WHEEL, "--cmd", '["sh", 1]'])

    assert status == 1
