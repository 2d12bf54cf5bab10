"""Tests of the package cache: lookups, what is downloaded, and the apt-get update fallback."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.tools.imagebuild.conftest import REAL_DEBS, REAL_NPM_PACKAGE, REAL_WHEEL
from tools.imagebuild import DEFAULT_CACHE_DIR, ImageBuildError, fetch_debs, fetch_npm, fetch_wheels
from tools.imagebuild import fetch as fetch_module
from tools.imagebuild.errors import run_tool

DOWNLOADERS = {"apt-get", "npm"}


class CommandLog:
    """A stand-in for `run_tool` that records commands and forbids downloads by default."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self.handlers: dict[str, Callable[..., subprocess.CompletedProcess[str]]] = {}

    def __call__(self, command: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        command = list(command)
        self.commands.append(command)
        program = "pip" if command[1:3] == ["-m", "pip"] else command[0]
        if program in self.handlers:
            return self.handlers[program](command, **kwargs)
        if program in DOWNLOADERS or program == "pip":
            raise AssertionError(f"unexpected download: {' '.join(command)}")
        return run_tool(command, **kwargs)

    def programs(self) -> list[str]:
        return [command[0] if command[1:3] != ["-m", "pip"] else "pip" for command in self.commands]


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> CommandLog:
    log = CommandLog()
    monkeypatch.setattr(fetch_module, "run_tool", log)
    return log


def _touch(directory: Path, *names: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(b"")


def test_fetch_second_run_downloads_nothing(
    real_debs: dict[str, Path], real_wheel: Path, real_npm_tarball: Path, commands: CommandLog
) -> None:
    debs = fetch_debs(REAL_DEBS, DEFAULT_CACHE_DIR)
    wheels = fetch_wheels([REAL_WHEEL], DEFAULT_CACHE_DIR)
    tarballs = fetch_npm([REAL_NPM_PACKAGE], DEFAULT_CACHE_DIR)

    assert debs == list(real_debs.values())
    assert wheels == [real_wheel]
    assert tarballs == [real_npm_tarball]
    assert not {"apt-get", "pip", "npm"} & set(commands.programs())


def test_fetch_debs_picks_pinned_or_highest_version(tmp_path: Path, commands: CommandLog) -> None:
    _touch(tmp_path / "debs", "libc6_2.36-9_amd64.deb", "libc6_2.36-10_amd64.deb",
           "libc6-dev_2.36-11_amd64.deb", "libc6_2.36-12_arm64.deb",
           "login_1%3a4.13+dfsg1-1_amd64.deb", "tzdata_2024a-0_all.deb")  # fmt: skip

    latest, pinned, epoch, independent = fetch_debs(
        ["libc6", "libc6=2.36-9", "login=1:4.13+dfsg1-1", "tzdata"], tmp_path
    )

    assert latest.name == "libc6_2.36-10_amd64.deb"
    assert pinned.name == "libc6_2.36-9_amd64.deb"
    assert epoch.name == "login_1%3a4.13+dfsg1-1_amd64.deb"
    assert independent.name == "tzdata_2024a-0_all.deb"


def test_fetch_debs_updates_lists_only_when_missing(
    tmp_path: Path, commands: CommandLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch_module, "APT_LISTS_DIR", tmp_path / "no-lists")
    monkeypatch.setattr(fetch_module.os, "geteuid", lambda: 0)
    downloads = []

    def apt_get(command: list[str], cwd: Path | None = None, **_: Any) -> Any:
        if command[1] == "download":
            downloads.append(command)
            if len(downloads) == 1:
                raise ImageBuildError("E: Unable to locate package hello")
            assert cwd is not None
            (cwd / "hello_2.10-3_amd64.deb").write_bytes(b"")
        return subprocess.CompletedProcess(command, 0, "", "")

    commands.handlers["apt-get"] = apt_get

    paths = fetch_debs(["hello"], tmp_path / "cache")

    apt_commands = [command[1] for command in commands.commands if command[0] == "apt-get"]
    assert apt_commands == ["download", "update", "download"]
    assert paths == [tmp_path / "cache" / "debs" / "hello_2.10-3_amd64.deb"]


def test_fetch_debs_with_lists_does_not_update(
    tmp_path: Path, commands: CommandLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _touch(tmp_path / "lists", "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages")
    monkeypatch.setattr(fetch_module, "APT_LISTS_DIR", tmp_path / "lists")

    def apt_get(command: list[str], **_: Any) -> Any:
        raise ImageBuildError("E: Unable to locate package no-such-package")

    commands.handlers["apt-get"] = apt_get

    with pytest.raises(ImageBuildError, match="no-such-package"):
        fetch_debs(["no-such-package"], tmp_path / "cache")
    assert [command[1] for command in commands.commands if command[0] == "apt-get"] == ["download"]


def test_fetch_wheels_matches_name_and_specifier(tmp_path: Path, commands: CommandLog) -> None:
    _touch(tmp_path / "wheels", "Flask-0.12.2-py2.py3-none-any.whl",
           "requests-2.18.0-py2.py3-none-any.whl", "requests-2.19.1-py2.py3-none-any.whl",
           "requests-2.20.0-py2.py3-none-any.whl", "not-a-wheel.whl")  # fmt: skip

    flask, requests = fetch_wheels(["flask==0.12.2", "requests>=2.18,<2.20"], tmp_path)

    assert flask.name == "Flask-0.12.2-py2.py3-none-any.whl"
    assert requests.name == "requests-2.19.1-py2.py3-none-any.whl"


def test_fetch_wheels_downloads_missing_for_python_311(
    tmp_path: Path, commands: CommandLog
) -> None:
    def pip(command: list[str], **_: Any) -> Any:
        destination = Path(command[command.index("--dest") + 1])
        (destination / "six-1.11.0-py2.py3-none-any.whl").write_bytes(b"")
        return subprocess.CompletedProcess(command, 0, "", "")

    commands.handlers["pip"] = pip

    paths = fetch_wheels(["six==1.11.0"], tmp_path)

    pip_command = commands.commands[-1]
    assert paths == [tmp_path / "wheels" / "six-1.11.0-py2.py3-none-any.whl"]
    assert {"--no-deps", "--only-binary=:all:"} <= set(pip_command)
    assert pip_command[pip_command.index("--python-version") + 1] == "3.11"


def test_fetch_wheels_rejects_invalid_requirement(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="invalid requirement"):
        fetch_wheels(["requests=2.19.1"], tmp_path)


def test_fetch_npm_finds_scoped_tarball(tmp_path: Path, commands: CommandLog) -> None:
    _touch(tmp_path / "npm", "hapi-hoek-9.0.0.tgz", "lodash-4.17.4.tgz")

    scoped, plain = fetch_npm(["@hapi/hoek@9.0.0", "lodash@4.17.4"], tmp_path)

    assert scoped.name == "hapi-hoek-9.0.0.tgz"
    assert plain.name == "lodash-4.17.4.tgz"


def test_fetch_npm_range_always_packs(tmp_path: Path, commands: CommandLog) -> None:
    _touch(tmp_path / "npm", "lodash-4.17.4.tgz")

    def npm(command: list[str], **_: Any) -> Any:
        destination = Path(command[command.index("--pack-destination") + 1])
        (destination / "lodash-4.17.21.tgz").write_bytes(b"")
        return subprocess.CompletedProcess(command, 0, "", "")

    commands.handlers["npm"] = npm

    paths = fetch_npm(["lodash@^4"], tmp_path)

    assert paths == [tmp_path / "npm" / "lodash-4.17.21.tgz"]
    assert commands.programs() == ["npm"]
