"""Tests of layer entries and their tar serialization."""

from __future__ import annotations

import io
import tarfile

import pytest

from tests.tools.imagebuild.layouts import entry_at
from tools.imagebuild import FIXED_MTIME, EntryType, ImageBuildError, Layer, normalize_path


def _members(layer: Layer) -> list[tarfile.TarInfo]:
    buffer = io.BytesIO()
    layer.write_tar(buffer)
    buffer.seek(0)
    with tarfile.open(fileobj=buffer) as archive:
        return archive.getmembers()


@pytest.mark.parametrize(
    ("given", "expected"),
    [("/usr/bin/bash", "usr/bin/bash"), ("./etc//passwd", "etc/passwd"), ("app/", "app")],
)
def test_normalize_path_makes_relative_paths(given: str, expected: str) -> None:
    assert normalize_path(given) == expected


@pytest.mark.parametrize("given", ["/", "./", "", "usr/../../etc", "../x"])
def test_normalize_path_rejects_root_and_parent(given: str) -> None:
    with pytest.raises(ImageBuildError):
        normalize_path(given)


def test_layer_writes_parents_before_children() -> None:
    layer = Layer()
    layer.add_file("/usr/local/bin/tool", b"#!/bin/sh\n", mode=0o755)

    members = _members(layer)

    assert [member.name for member in members] == [
        "usr",
        "usr/local",
        "usr/local/bin",
        "usr/local/bin/tool",
    ]
    assert all(member.isdir() and member.mode == 0o755 for member in members[:3])
    assert members[3].isfile()
    assert members[3].mode == 0o755
    assert members[3].mtime == FIXED_MTIME


def test_layer_uses_explicit_parent_directory_entry() -> None:
    layer = Layer()
    layer.add_file("tmp/file", b"x")
    layer.add_dir("tmp", mode=0o1777, uid=0, gid=0)

    members = _members(layer)

    assert members[0].name == "tmp"
    assert members[0].mode == 0o1777
    assert [member.name for member in members] == ["tmp", "tmp/file"]


def test_layer_keeps_first_directory_and_last_file() -> None:
    layer = Layer()
    layer.add_dir("etc", mode=0o755)
    layer.add_dir("etc", mode=0o700)
    layer.add_file("etc/motd", b"first")
    layer.add_file("etc/motd", b"second")

    assert entry_at(layer, "etc").mode == 0o755
    assert entry_at(layer, "/etc/motd").data == b"second"
    assert len(layer.entries) == 2


def test_layer_writes_links_setuid_and_owner() -> None:
    layer = Layer()
    layer.add_file("usr/bin/passwd", b"elf", mode=0o4755)
    layer.add_file("usr/bin/chage", b"elf", mode=0o2755, gid=42)
    layer.add_symlink("bin", "usr/bin")
    layer.add_hardlink("usr/bin/passwd2", "/usr/bin/passwd")

    members = {member.name: member for member in _members(layer)}

    assert members["usr/bin/passwd"].mode == 0o4755
    assert members["usr/bin/chage"].mode == 0o2755
    assert members["usr/bin/chage"].gid == 42
    assert members["bin"].issym()
    assert members["bin"].linkname == "usr/bin"
    assert members["usr/bin/passwd2"].islnk()
    assert members["usr/bin/passwd2"].linkname == "usr/bin/passwd"


def test_layer_whiteout_and_opaque_marker_names() -> None:
    layer = Layer()
    layer.add_whiteout("/usr/lib/python3/dist-packages/requests")
    layer.add_whiteout("/topfile")
    layer.add_opaque("/app/node_modules")

    names = [entry.path for entry in layer.entries]

    assert names == [
        "usr/lib/python3/dist-packages/.wh.requests",
        ".wh.topfile",
        "app/node_modules/.wh..wh..opq",
    ]
    assert all(entry.type is EntryType.FILE and entry.data == b"" for entry in layer.entries)


def test_layer_rejects_entry_below_a_file() -> None:
    layer = Layer()
    layer.add_file("etc", b"not a directory")
    layer.add_file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")

    with pytest.raises(ImageBuildError, match="not a directory"):
        _members(layer)


def test_layer_tar_is_identical_on_rewrite() -> None:
    layer = Layer()
    layer.add_file("a/b", b"content")
    layer.add_symlink("a/c", "b")
    first, second = io.BytesIO(), io.BytesIO()

    layer.write_tar(first)
    layer.write_tar(second)

    assert first.getvalue() == second.getvalue()
