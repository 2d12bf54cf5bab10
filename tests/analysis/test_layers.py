"""Tests of reading one layer into entries, kept content and secret matches."""

from __future__ import annotations

import _thread
import gzip
import hashlib
import io
import posixpath
import threading
import time
from collections.abc import Callable

import pytest

from chalicelib.analysis.interface import FileType
from chalicelib.analysis.layers import LayerContents, normalize_path, read_layer
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis import tarstream
from chalicelib.analysis.squash import SquashedView
from chalicelib.analysis.tarstream import LayerError
from tests.analysis.builders import (
    Item,
    directory,
    file,
    hardlink,
    layer_bytes,
    opaque,
    symlink,
    whiteout,
)

LAYER = "sha256:" + "01" * 32
SECRET_LINE = "aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"


def read(
    items: list[Item],
    *,
    wants: Callable[[str], bool] = lambda path: False,
    options: AnalysisOptions | None = None,
    lower: SquashedView | None = None,
    compress: bool = True,
) -> LayerContents:
    options = options or AnalysisOptions()
    return read_layer(
        io.BytesIO(layer_bytes(items, compress=compress)),
        LAYER,
        options=options,
        wants=wants,
        scanner=SecretScanner(options.secret_patterns),
        lower=lower,
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./usr/bin/env", "/usr/bin/env"),
        ("usr//lib///x", "/usr/lib/x"),
        ("/etc/passwd", "/etc/passwd"),
        ("//etc/passwd", "/etc/passwd"),
        ("../../etc/shadow", "/etc/shadow"),
        ("usr/../../../../root/.ssh/id_rsa", "/root/.ssh/id_rsa"),
        ("./", "/"),
        ("etc/", "/etc"),
        ("a/./b/../c", "/a/c"),
    ],
)
def test_normalize_path(name: str, expected: str) -> None:
    assert normalize_path(name) == expected


def test_layer_records_metadata_and_hash() -> None:
    content = b"#!/bin/sh\necho hi\n"
    contents = read(
        [
            directory("usr/bin", mode=0o755),
            Item("usr/bin/tool", "file", content, mode=0o4755, uid=1000, gid=50),
            symlink("usr/bin/alias", "tool"),
            Item("dev/null", "chardev", mode=0o666),
            Item("run/pipe", "fifo", mode=0o600),
        ]
    )
    tool = contents.entries["/usr/bin/tool"]
    assert tool.type is FileType.FILE
    assert tool.mode == 0o4755
    assert (tool.uid, tool.gid) == (1000, 50)
    assert tool.size == len(content)
    assert tool.sha256 == hashlib.sha256(content).hexdigest()
    assert tool.layer == LAYER
    assert contents.entries["/usr/bin"].type is FileType.DIR
    assert contents.entries["/usr/bin"].sha256 is None
    assert contents.entries["/usr/bin/alias"].type is FileType.SYMLINK
    assert contents.entries["/usr/bin/alias"].link_target == "tool"
    assert contents.entries["/dev/null"].type is FileType.CHAR_DEVICE
    assert contents.entries["/run/pipe"].type is FileType.FIFO


def test_layer_hashes_large_file_in_chunks() -> None:
    content = bytes(range(256)) * 20_000
    contents = read([file("big.bin", content)], compress=False)
    assert contents.entries["/big.bin"].sha256 == hashlib.sha256(content).hexdigest()
    assert contents.entries["/big.bin"].size == len(content)


def test_layer_keeps_only_wanted_content() -> None:
    contents = read(
        [file("etc/passwd", "root:x:0:0\n"), file("etc/group", "root:x:0:\n")],
        wants=lambda path: path == "/etc/passwd",
    )
    assert contents.kept == {"/etc/passwd": b"root:x:0:0\n"}


def test_layer_skips_wanted_file_over_kept_limit() -> None:
    options = AnalysisOptions(max_kept_file_size=10)
    contents = read([file("etc/passwd", "x" * 11)], wants=lambda path: True, options=options)
    assert contents.kept == {}
    assert [unknown.location for unknown in contents.unknowns] == ["/etc/passwd"]
    assert "MAX_KEPT_FILE_SIZE" in contents.unknowns[0].reason
    assert contents.entries["/etc/passwd"].sha256 == hashlib.sha256(b"x" * 11).hexdigest()


def test_layer_path_escape_stays_in_root() -> None:
    contents = read([file("../../../etc/cron.d/evil", "x"), file("./a/../../b", "y")])
    assert sorted(contents.entries) == ["/b", "/etc/cron.d/evil"]


def test_layer_duplicate_entry_last_wins() -> None:
    contents = read(
        [
            file("etc/passwd", "first\n"),
            file("etc/passwd", SECRET_LINE),
            file("etc/motd", SECRET_LINE),
            file("etc/motd", "clean\n"),
        ],
        wants=lambda path: True,
    )
    assert contents.kept["/etc/passwd"] == SECRET_LINE.encode()
    expected = hashlib.sha256(SECRET_LINE.encode()).hexdigest()
    assert contents.entries["/etc/passwd"].sha256 == expected
    assert "/etc/passwd" in contents.secrets
    assert "/etc/motd" not in contents.secrets


def test_layer_duplicate_file_then_directory() -> None:
    contents = read([file("opt/x", "data"), directory("opt/x")], wants=lambda path: True)
    assert contents.entries["/opt/x"].type is FileType.DIR
    assert "/opt/x" not in contents.kept


def test_layer_records_whiteouts_and_opaque_dirs() -> None:
    contents = read(
        [
            whiteout("etc/old.conf"),
            whiteout("gone"),
            opaque("var/cache"),
            file(".wh..wh.plnk/1", "x"),
            hardlink("usr/bin/x", ".wh..wh.plnk/1"),
        ]
    )
    assert contents.whiteouts == ["/etc/old.conf", "/gone"]
    assert contents.opaque_dirs == ["/var/cache"]
    assert list(contents.entries) == ["/usr/bin/x"]
    assert contents.entries["/usr/bin/x"].sha256 == hashlib.sha256(b"x").hexdigest()


def test_layer_hardlink_same_layer() -> None:
    contents = read(
        [
            file("usr/bin/python3.11", SECRET_LINE),
            hardlink("usr/bin/python3", "usr/bin/python3.11"),
        ],
        wants=lambda path: path == "/usr/bin/python3" or path == "/usr/bin/python3.11",
    )
    link = contents.entries["/usr/bin/python3"]
    target = contents.entries["/usr/bin/python3.11"]
    assert link.type is FileType.HARDLINK
    assert link.link_target == "/usr/bin/python3.11"
    assert link.sha256 == target.sha256
    assert link.size == target.size
    assert contents.kept["/usr/bin/python3"] == SECRET_LINE.encode()
    assert [match.path for match in contents.secrets["/usr/bin/python3"]] == ["/usr/bin/python3"]


def test_layer_hardlink_to_unkept_target() -> None:
    contents = read(
        [file("a", "data"), hardlink("etc/passwd", "a")],
        wants=lambda path: path == "/etc/passwd",
    )
    assert "/etc/passwd" not in contents.kept
    assert [unknown.location for unknown in contents.unknowns] == ["/etc/passwd"]
    assert contents.entries["/etc/passwd"].sha256 == hashlib.sha256(b"data").hexdigest()


def test_layer_hardlink_to_lower_layer() -> None:
    lower = SquashedView()
    lower.apply(read([file("etc/os-release", "ID=alpine\n")], wants=lambda path: True))
    contents = read(
        [hardlink("usr/lib/os-release", "etc/os-release")], wants=lambda path: True, lower=lower
    )
    assert contents.kept["/usr/lib/os-release"] == b"ID=alpine\n"
    expected = hashlib.sha256(b"ID=alpine\n").hexdigest()
    assert contents.entries["/usr/lib/os-release"].sha256 == expected


def test_layer_hardlink_to_missing_target() -> None:
    contents = read([hardlink("a", "nowhere")])
    assert contents.entries["/a"].sha256 is None
    assert "not a file" in contents.unknowns[0].reason


def test_layer_secret_scan_respects_size_limit() -> None:
    options = AnalysisOptions(secret_max_file_size=100)
    contents = read(
        [file("small.env", SECRET_LINE), file("large.env", SECRET_LINE + "#" * 200)],
        options=options,
    )
    assert list(contents.secrets) == ["/small.env"]
    assert contents.secrets["/small.env"][0].name == "AWS_ACCESS_KEY"


def test_layer_entry_limit_raises() -> None:
    options = AnalysisOptions(max_layer_entries=5)
    with pytest.raises(LayerError, match="more than 5 tar entries"):
        read([file(f"f{index}") for index in range(6)], options=options)


def test_layer_uncompressed_size() -> None:
    data = layer_bytes([file("a", "x")], compress=False)
    contents = read([file("a", "x")])
    assert contents.uncompressed_size == len(data)


@pytest.mark.parametrize(
    "name",
    [
        "", "/", "./", ".", "..", "../..", "usr/lib/", "./usr/lib/x", "usr//lib", "//usr/lib",
        "usr/./lib", "usr/../../etc/passwd", "usr/.hidden/x", "usr/lib/.", "a/b/..", "...",
        "usr/lib/x.so.1", "/usr/lib/", "a/.../b", "a/..b/c", "a//", "///",
    ],
)
def test_normalize_path_agrees_with_normpath(name: str) -> None:
    expected = posixpath.normpath("/" + name.lstrip("/"))
    expected = "/" + expected.lstrip("/")
    assert normalize_path(name) == expected


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_read_layer_error_stops_reading_threads(
    compress: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tarstream, "READ_IN_THREAD", True)
    # A 24 MiB file is followed by a corrupt header, so the reader raises while the reading
    # threads are still ahead of it.
    blob = bytearray(layer_bytes([file("big", bytes(range(256)) * (96 * 1024))], compress=False))
    end_of_data = 512 + 24 * 1024 * 1024
    blob[end_of_data : end_of_data + 512] = b"X" * 512
    blob += bytes(8 * 1024 * 1024)
    data = gzip.compress(bytes(blob), 1) if compress else bytes(blob)
    with pytest.raises(LayerError, match="checksum"):
        read_layer(
            io.BytesIO(data),
            LAYER,
            options=AnalysisOptions(),
            wants=lambda path: False,
            scanner=SecretScanner(AnalysisOptions().secret_patterns),
        )
    alive = [thread.name for thread in threading.enumerate() if thread.name.startswith("layer-")]
    assert alive == []


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_read_layer_interrupt_skips_stalled_read(
    compress: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tarstream, "READ_IN_THREAD", True)
    content = layer_bytes([file("big", bytes(range(256)) * (32 * 1024))], compress=False)
    data = gzip.compress(content, 1) if compress else content
    stall_at = len(data) // 2
    stalled = threading.Event()
    release = threading.Event()

    class StalledBlob(io.RawIOBase):
        """A download whose connection stops sending halfway, as a stalled registry does."""

        position = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            if self.position >= stall_at:
                stalled.set()
                release.wait(30)
                return b""
            chunk = data[self.position : min(stall_at, self.position + size)]
            self.position += len(chunk)
            return chunk

    def interrupt_when_stalled() -> None:
        if stalled.wait(10):
            _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_when_stalled)
    interrupter.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            read_layer(
                StalledBlob(),  # type: ignore[arg-type]
                LAYER,
                options=AnalysisOptions(),
                wants=lambda path: False,
                scanner=SecretScanner(AnalysisOptions().secret_patterns),
            )
        elapsed = time.monotonic() - started
    finally:
        release.set()
        interrupter.join()
    assert stalled.is_set()
    assert elapsed < 5


def test_read_layer_path_budget_stops_early() -> None:
    items = [file(f"{'d' * 200}/{index:05}") for index in range(1000)]
    with pytest.raises(LayerError, match="brings the paths") as raised:
        read(items, options=AnalysisOptions(max_image_path_bytes=20_000))
    assert "--max-image-path-bytes" in str(raised.value)
    assert len(read(items[:90], options=AnalysisOptions(max_image_path_bytes=20_000)).entries) == 90
