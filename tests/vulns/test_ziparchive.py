"""Tests of the bounded zip reader: valid archives as `zipfile` writes them, and hostile ones."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from chalicelib.vulns import ziparchive
from chalicelib.vulns.ziparchive import (
    ZipArchiveError,
    is_zip_archive,
    iter_zip_members,
    read_zip_member,
)

# Offsets of fields inside a central directory file header.
CD_FLAGS = 8
CD_SIZE = 24
CD_HEADER_OFFSET = 42


def _archive(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


def _read_all(data: bytes) -> dict[str, bytes]:
    stream = io.BytesIO(data)
    return {
        member.name: read_zip_member(stream, len(data), member)
        for member in iter_zip_members(stream, len(data))
        if not member.is_dir()
    }


def _patch_central(data: bytearray, field: int, fmt: str, value: int, entry: int = 0) -> None:
    position = -1
    for _ in range(entry + 1):
        position = data.index(b"PK\x01\x02", position + 1)
    struct.pack_into(fmt, data, position + field, value)


def test_zip_reads_stored_and_deflated_members() -> None:
    members = {"b.json": b'{"id": "B"}' * 100, "dir/": b"", "a.yaml": b"id: A\n"}
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        data = _archive(members, compression)

        read = _read_all(bytes(data))

        assert list(read) == ["b.json", "a.yaml"]
        assert read["b.json"] == members["b.json"]
        assert read["a.yaml"] == members["a.yaml"]


def test_zip_reads_utf8_names() -> None:
    data = _archive({"vulns/ünïcode.json": b"{}"})

    assert list(_read_all(bytes(data))) == ["vulns/ünïcode.json"]


def test_zip_reads_archive_with_prefix() -> None:
    # A self-extracting archive starts with a program; zipfile finds members past it too.
    data = b"#!/bin/sh\nexit 0\n" + bytes(_archive({"a.json": b"[1]", "b.json": b"[2]"}))

    assert _read_all(data) == {"a.json": b"[1]", "b.json": b"[2]"}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("b.json") == b"[2]"


def test_zip_reads_zip64_records() -> None:
    data = _zip64_archive(b'{"id": "GO-1"}')

    assert _read_all(data) == {"big.json": b'{"id": "GO-1"}'}
    # zipfile reads the crafted archive too, which shows that it is a valid Zip64 archive.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.read("big.json") == b'{"id": "GO-1"}'


def _zip64_archive(content: bytes) -> bytes:
    """Build a one-member archive whose sizes and offsets all live in Zip64 fields."""
    name = b"big.json"
    crc = zlib.crc32(content)
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 0, 0, 0, crc, len(content),
                        len(content), len(name), 0) + name + content
    extra = struct.pack("<2H3Q", 1, 24, len(content), len(content), 0)
    central = struct.pack(
        "<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
        len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF,
    ) + name + extra
    cd_offset = len(local)
    zip64_offset = cd_offset + len(central)
    zip64_end = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, len(central), cd_offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_offset, 1)
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0
    )
    return local + central + zip64_end + locator + end


def test_zip_walk_yields_before_reading_directory() -> None:
    data = _archive({"a.json": b"{}", "b.json": b"{}"})
    _patch_central(data, 0, "<4s", b"XXXX", entry=1)
    members = iter_zip_members(io.BytesIO(bytes(data)), len(data))

    first = next(members)

    assert first.name == "a.json"
    with pytest.raises(ZipArchiveError, match="invalid central directory entry"):
        next(members)


def test_zip_rejects_truncated_archive(tmp_path: Path) -> None:
    data = bytes(_archive({"a.json": b"{}" * 1000}))
    whole = tmp_path / "whole.zip"
    whole.write_bytes(data)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[:-1])

    for length in (10, len(data) // 2, len(data) - 1):
        with pytest.raises(ZipArchiveError, match="not a zip archive or is truncated"):
            _read_all(data[:length])
    assert is_zip_archive(whole)
    assert not is_zip_archive(cut)


def test_zip_rejects_header_offset_past_end() -> None:
    data = _archive({"a.json": b"{}"})
    _patch_central(data, CD_HEADER_OFFSET, "<L", 0x7FFFFFF0)

    with pytest.raises(ZipArchiveError, match="member a.json has its local header at offset"):
        _read_all(bytes(data))


def test_zip_rejects_header_offset_without_header() -> None:
    data = _archive({"a.json": b"{}", "b.json": b"[]"})
    _patch_central(data, CD_HEADER_OFFSET, "<L", 3, entry=1)

    with pytest.raises(ZipArchiveError, match="member b.json has no local header"):
        _read_all(bytes(data))


def test_zip_rejects_huge_declared_size() -> None:
    data = _archive({"a.json": b"{}"})
    _patch_central(data, CD_SIZE, "<L", 0xFFFFFFF0)

    with pytest.raises(ZipArchiveError, match="member a.json declares 4294967280 bytes"):
        _read_all(bytes(data))


def test_zip_rejects_member_over_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _archive({"a.json": b"[" + b"0," * 5000 + b"0]"})
    monkeypatch.setattr(ziparchive, "MAX_MEMBER_SIZE", 1000)

    with pytest.raises(ZipArchiveError, match="more than the 1000 bytes"):
        _read_all(bytes(data))


def test_zip_rejects_bomb_past_declared_size() -> None:
    # 64 MiB of zeros deflate to about 64 KiB; the entry claims 1 KiB.
    data = _archive({"bomb.json": bytes(64 << 20)})
    _patch_central(data, CD_SIZE, "<L", 1024)

    with pytest.raises(ZipArchiveError, match="bomb.json inflates to more than its declared"):
        _read_all(bytes(data))


def test_zip_rejects_unsupported_method() -> None:
    data = _archive({"a.json": b"{}" * 100}, zipfile.ZIP_BZIP2)

    with pytest.raises(ZipArchiveError, match="member a.json uses compression method 12"):
        _read_all(bytes(data))


def test_zip_rejects_encrypted_member() -> None:
    data = _archive({"a.json": b"{}"})
    _patch_central(data, CD_FLAGS, "<H", 1)

    with pytest.raises(ZipArchiveError, match="member a.json is encrypted"):
        _read_all(bytes(data))


def test_zip_rejects_crc_mismatch() -> None:
    data = _archive({"a.json": b'{"id": "A"}'}, zipfile.ZIP_STORED)
    data[data.index(b'"A"') + 1] = ord("B")

    with pytest.raises(ZipArchiveError, match="member a.json fails its CRC-32 check"):
        _read_all(bytes(data))


def test_zip_rejects_truncated_member_data() -> None:
    data = _archive({"a.json": bytes(range(256)) * 64}, zipfile.ZIP_STORED)
    # The archive keeps its end records, but the member's data is cut short.
    _patch_central(data, CD_SIZE, "<L", 1 << 20)
    _patch_central(data, CD_SIZE - 4, "<L", 1 << 20)

    with pytest.raises(ZipArchiveError, match="past the end of the"):
        _read_all(bytes(data))


def test_zip_rejects_overlapping_directory() -> None:
    data = _archive({"a.json": b"{}"})
    end = data.rindex(b"PK\x05\x06")
    struct.pack_into("<L", data, end + 12, len(data))  # central directory size

    with pytest.raises(ZipArchiveError, match="overlaps the end record"):
        _read_all(bytes(data))


def test_zip_mutations_raise_only_archive_errors() -> None:
    original = bytes(_archive({f"{index}.json": b'{"id": %d}' % index for index in range(20)}))
    chooser = random.Random(7)
    outcomes = {"read": 0, "rejected": 0}

    for _ in range(400):
        data = bytearray(original)
        for _ in range(chooser.randint(1, 4)):
            data[chooser.randrange(len(data))] = chooser.randrange(256)
        try:
            _read_all(bytes(data))
        except ZipArchiveError:
            outcomes["rejected"] += 1
        else:
            outcomes["read"] += 1

    assert outcomes["rejected"] > 0
    assert outcomes["read"] + outcomes["rejected"] == 400
