"""Tests of layer decompression and tar header parsing."""

from __future__ import annotations

import bz2
import gzip
import io
import sys
import tarfile
import threading
import zlib

import pytest

from chalicelib.analysis.interface import AnalysisError
from chalicelib.analysis import tarstream
from chalicelib.analysis.tarstream import LayerByteStream, LayerError, iter_members
from tests.analysis.builders import Item, directory, file, hardlink, symlink, tar_bytes

LAYER = "sha256:" + "ab" * 32


def members(blob: bytes, max_bytes: int = 1 << 30) -> list[tuple[str, bytes, int, bytes]]:
    """Return (name, type, size, data) for each entry, reading every entry's data."""
    stream = LayerByteStream(io.BytesIO(blob), LAYER, max_bytes)
    found = []
    for member in iter_members(stream):
        found.append((member.name, member.type, member.size, stream.read(member.data_size)))
    stream.drain()
    return found


def test_tarstream_reads_plain_and_gzip_tar() -> None:
    data = tar_bytes([directory("etc"), file("etc/hosts", b"127.0.0.1 localhost\n")])
    for blob in (data, gzip.compress(data)):
        assert members(blob) == [
            ("etc/", b"5", 0, b""),
            ("etc/hosts", b"0", 20, b"127.0.0.1 localhost\n"),
        ]


def test_tarstream_skips_unread_data() -> None:
    data = tar_bytes([file("a", b"x" * 3000), file("b", b"second")])
    stream = LayerByteStream(io.BytesIO(data), LAYER, 1 << 30)
    names = []
    for member in iter_members(stream):
        names.append(member.name)
        if member.name == "b":
            assert stream.read(member.data_size) == b"second"
    assert names == ["a", "b"]


def test_tarstream_reads_links_and_modes() -> None:
    data = tar_bytes(
        [
            file("bin/su", b"elf", mode=0o4755),
            symlink("bin/sh", "busybox"),
            hardlink("bin/su2", "bin/su"),
        ]
    )
    stream = LayerByteStream(io.BytesIO(data), LAYER, 1 << 30)
    found = {member.name: member for member in iter_members(stream)}
    assert found["bin/su"].mode == 0o4755
    assert found["bin/sh"].type == b"2"
    assert found["bin/sh"].linkname == "busybox"
    assert found["bin/su2"].type == b"1"
    assert found["bin/su2"].linkname == "bin/su"


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_tarstream_reads_long_names(tar_format: int) -> None:
    long_dir = "/".join(["directory-with-a-long-name"] * 8)
    long_name = f"{long_dir}/file.txt"
    long_target = f"{long_dir}/target.txt"
    data = tar_bytes(
        [file(long_name, b"content"), Item(f"{long_dir}/link", "symlink", target=long_target)],
        tar_format=tar_format,
    )
    found = members(data)
    assert found[0][0] == long_name
    assert found[0][3] == b"content"
    stream = LayerByteStream(io.BytesIO(data), LAYER, 1 << 30)
    links = [member.linkname for member in iter_members(stream) if member.type == b"2"]
    assert links == [long_target]


def test_tarstream_reads_ustar_prefix() -> None:
    name = "a" * 90 + "/" + "b" * 90 + "/file"
    data = tar_bytes([file(name, b"x")], tar_format=tarfile.USTAR_FORMAT)
    assert members(data)[0][0] == name


def test_tarstream_reads_pax_uid_over_octal_range() -> None:
    data = tar_bytes([Item("big", "file", b"", uid=10_000_000_000)])
    stream = LayerByteStream(io.BytesIO(data), LAYER, 1 << 30)
    assert [member.uid for member in iter_members(stream)] == [10_000_000_000]


def test_tarstream_reads_gnu_base256_numbers() -> None:
    data = tar_bytes([Item("big", "file", b"", uid=10_000_000_000)], tar_format=tarfile.GNU_FORMAT)
    stream = LayerByteStream(io.BytesIO(data), LAYER, 1 << 30)
    assert [member.uid for member in iter_members(stream)] == [10_000_000_000]


def test_tarstream_reads_multi_member_gzip() -> None:
    data = tar_bytes([file("a", b"1" * 5000), file("b", b"2")])
    blob = gzip.compress(data[:4096]) + gzip.compress(data[4096:])
    assert [name for name, *_ in members(blob)] == ["a", "b"]


def test_tarstream_drain_reads_whole_blob() -> None:
    blob = gzip.compress(tar_bytes([file("a", b"1")]) + bytes(4096))
    raw = io.BytesIO(blob)
    stream = LayerByteStream(raw, LAYER, 1 << 30)
    list(iter_members(stream))
    stream.drain()
    assert raw.tell() == len(blob)


def test_tarstream_rejects_zstd_naming_layer() -> None:
    blob = b"\x28\xb5\x2f\xfd" + bytes(100)
    with pytest.raises(LayerError, match=f"layer {LAYER} is compressed with zstd"):
        LayerByteStream(io.BytesIO(blob), LAYER, 1 << 30)


def test_tarstream_rejects_bzip2() -> None:
    blob = bz2.compress(tar_bytes([file("a")]))
    with pytest.raises(LayerError, match="bzip2"):
        LayerByteStream(io.BytesIO(blob), LAYER, 1 << 30)


def test_tarstream_truncated_gzip_names_layer() -> None:
    blob = gzip.compress(tar_bytes([file("a", bytes(range(256)) * 200)]))
    with pytest.raises(LayerError, match=f"layer {LAYER} is truncated"):
        members(blob[: len(blob) // 2])


def test_tarstream_truncated_plain_tar() -> None:
    data = tar_bytes([file("a", b"x" * 4000)])
    with pytest.raises(LayerError, match="truncated"):
        members(data[:2000])


def test_tarstream_corrupt_gzip() -> None:
    blob = bytearray(gzip.compress(tar_bytes([file("a", b"x" * 4000)])))
    blob[20:40] = bytes(20)
    with pytest.raises(LayerError, match=f"layer {LAYER}"):
        members(bytes(blob))


def test_tarstream_bad_header_checksum() -> None:
    data = bytearray(tar_bytes([file("a", b"x")]))
    data[0] = ord("b")
    with pytest.raises(LayerError, match="bad checksum"):
        members(bytes(data))


def test_tarstream_rejects_non_tar_data() -> None:
    with pytest.raises(LayerError):
        members(b"this is not a tar archive at all" * 40)


def test_tarstream_decompression_bomb_raises() -> None:
    # 64 MiB of zeros compress to about 64 KiB; the tar ends at the first zero block, so the
    # limit is hit while draining the rest of the blob.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    blob = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64)) + compressor.flush()
    with pytest.raises(LayerError, match="more than 1048576 bytes uncompressed"):
        members(blob, max_bytes=1 << 20)


def test_tarstream_bomb_inside_one_file_raises() -> None:
    data = tar_bytes([file("zeros", bytes(8 << 20))])
    with pytest.raises(LayerError, match="--max-layer-bytes"):
        members(gzip.compress(data), max_bytes=1 << 20)


def test_tarstream_error_is_analysis_error() -> None:
    assert issubclass(LayerError, AnalysisError)


def test_tarstream_empty_blob_has_no_members() -> None:
    assert members(b"") == []


def test_tarstream_falls_back_to_zlib_without_isal(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import isal` raise ImportError.
    monkeypatch.setitem(sys.modules, "isal", None)
    name, decompressobj, errors = tarstream.load_inflater()
    assert name == "zlib"
    assert decompressobj is zlib.decompressobj
    assert errors == (zlib.error,)


def test_tarstream_uses_isal_when_installed() -> None:
    pytest.importorskip("isal", reason="python-isal is not installed")
    assert tarstream.INFLATER_NAME == "isal"


def _gzip_cases() -> dict[str, bytes]:
    data = tar_bytes([file("a", bytes(range(256)) * 200), file("b", b"second")])
    whole = gzip.compress(data)
    corrupt = bytearray(whole)
    corrupt[20:40] = bytes(20)
    return {
        "whole": whole,
        "members": gzip.compress(data[:4096]) + gzip.compress(data[4096:]),
        "empty members": whole + gzip.compress(b"", mtime=0) * 50,
        "trailing garbage": whole + b"garbage" * 10,
        "truncated": whole[: len(whole) // 2],
        "corrupt": bytes(corrupt),
        "fake member": whole + b"\x1f\x8bnot deflate data",
    }


def _outcome(blob: bytes) -> object:
    try:
        return members(blob)
    except LayerError as error:
        # Only zlib's and isal's wording of the decoder error differ; keep the text before it.
        return str(error).split(" (")[0]


@pytest.mark.parametrize("case", sorted(_gzip_cases()))
def test_tarstream_zlib_fallback_same_result(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("isal", reason="python-isal is not installed")
    blob = _gzip_cases()[case]
    with_isal = _outcome(blob)
    monkeypatch.setitem(sys.modules, "isal", None)
    _, decompressobj, errors = tarstream.load_inflater()
    monkeypatch.setattr(tarstream, "_decompressobj", decompressobj)
    monkeypatch.setattr(tarstream, "_INFLATE_ERRORS", errors)
    assert _outcome(blob) == with_isal


@pytest.fixture(autouse=True, params=[True, False], ids=["thread", "inline"])
def reader_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Run a test with the blob read on a second thread and on the caller's thread."""
    monkeypatch.setattr(tarstream, "READ_IN_THREAD", request.param)
    return bool(request.param)


def _reader_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(("layer-reader", "layer-inflater"))]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_tarstream_both_modes_read_same(reader_mode: bool, compress: bool) -> None:
    data = tar_bytes(
        [file(f"dir/file{index}", bytes([index % 256]) * (index * 997)) for index in range(60)]
    )
    blob = gzip.compress(data) if compress else data
    found = members(blob)
    assert [name for name, *_ in found] == [f"dir/file{index}" for index in range(60)]
    for index, (_, _, _, content) in enumerate(found):
        assert content == bytes([index % 256]) * (index * 997)


def test_tarstream_close_stops_blocked_thread(reader_mode: bool) -> None:
    # The first header is corrupt, so the caller stops at once while the reading thread still
    # has 32 MiB to inflate and is blocked on its full queue.
    data = bytearray(tar_bytes([file("big", bytes(range(256)) * (128 * 1024))]))
    data[0] = ord("X")
    stream = LayerByteStream(io.BytesIO(gzip.compress(bytes(data), 1)), LAYER, 1 << 30)
    with pytest.raises(LayerError, match="bad checksum"):
        list(iter_members(stream))
    stream.close()
    assert _reader_threads() == []


def test_tarstream_thread_error_raised_again(reader_mode: bool) -> None:
    blob = gzip.compress(tar_bytes([file("a", bytes(range(256)) * 200)]))
    stream = LayerByteStream(io.BytesIO(blob[: len(blob) // 2]), LAYER, 1 << 30)
    with pytest.raises(LayerError, match="truncated"):
        stream.drain()
    with pytest.raises(LayerError, match="truncated"):
        stream.read(1)
    stream.close()


def test_tarstream_source_error_reaches_caller(reader_mode: bool) -> None:
    class FailingBlob(io.RawIOBase):
        def __init__(self) -> None:
            self.reads = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads > 2:
                raise OSError("connection reset by peer")
            return bytes(512 * 4)

    stream = LayerByteStream(FailingBlob(), LAYER, 1 << 30)  # type: ignore[arg-type]
    with pytest.raises(LayerError, match="could not be read: connection reset by peer"):
        stream.drain()
    stream.close()


def test_tarstream_byte_sum_equals_sum() -> None:
    blocks = [bytes(512), b"\xff" * 512, bytes(range(256)) * 2, b"\xff" * 256 + bytes(256)]
    for block in blocks:
        assert tarstream._byte_sum(block) == sum(block)


class TrickleBlob(io.RawIOBase):
    """A source that returns at most `limit` bytes per read, as a socket may."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._data = io.BytesIO(data)
        self._limit = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(self._limit, size if size >= 0 else self._limit))


@pytest.mark.parametrize("limit", [1, 2, 5, 4096])
def test_tarstream_short_reads_same_entries(limit: int) -> None:
    data = tar_bytes([file(f"f{index}", bytes([index]) * 700) for index in range(20)])
    blob = gzip.compress(data[:5120]) + gzip.compress(data[5120:])
    stream = LayerByteStream(TrickleBlob(blob, limit), LAYER, 1 << 30)  # type: ignore[arg-type]
    names = [member.name for member in iter_members(stream)]
    stream.drain()
    stream.close()
    assert names == [f"f{index}" for index in range(20)]


def test_tarstream_short_first_read_detects_xz() -> None:
    blob = b"\xfd7zXZ\x00" + bytes(100)
    with pytest.raises(LayerError, match="xz"):
        LayerByteStream(TrickleBlob(blob, 1), LAYER, 1 << 30)  # type: ignore[arg-type]
