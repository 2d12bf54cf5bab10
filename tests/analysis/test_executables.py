"""Tests of the executable format test and the streaming Go build info search."""

from __future__ import annotations

import struct

import pytest

from chalicelib.analysis.executables import (
    GO_BUILD_INFO_MAGIC,
    GO_BUILD_INFO_WINDOW,
    GoBuildInfoSearch,
    elf_writable_segments,
    is_executable_format,
)


def elf_head(elf_type: int = 3, segments: tuple[tuple[int, int, int], ...] = ()) -> bytes:
    """An ELF64 header and program headers: `segments` are (flags, offset, size) of PT_LOAD."""
    header = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    header += struct.pack("<HHIQQQIHHHHHH", elf_type, 62, 1, 0, 64, 0, 0, 64, 56,
                          len(segments), 64, 0, 0)
    for flags, offset, size in segments:
        header += struct.pack("<IIQQQQQQ", 1, flags, offset, offset, offset, size, size, 0x1000)
    return header


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (elf_head(2), True),  # executable
        (elf_head(3), True),  # shared library
        (elf_head(1), False),  # relocatable object
        (elf_head(4), False),  # core dump
        (b"\x7fELF\x02", True),  # too short for a type: plain application/x-elf
        (b"MZ\x90\x00", True),
        (b"\xcf\xfa\xed\xfe\x07\x00\x00\x01", True),  # Mach-O 64-bit, little-endian
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", True),  # universal Mach-O, 2 architectures
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x3d", False),  # Java class file, version 61
        (b"#!/bin/sh\n", False),
        (b"", False),
    ],
)
def test_executables_format_by_magic(head: bytes, expected: bool) -> None:
    assert is_executable_format(head) is expected


def test_executables_writable_segments() -> None:
    head = elf_head(3, ((5, 0, 0x1000), (6, 0x2000, 0x800), (7, 0x3000, 0x100)))
    assert elf_writable_segments(head) == [(0x2000, 0x2800)]


def test_executables_program_headers_outside_head() -> None:
    head = elf_head(3, ((6, 0x2000, 0x800),))
    assert elf_writable_segments(head[:100]) == []


def feed_in_chunks(search: GoBuildInfoSearch, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        search.feed(memoryview(data)[start : start + size])


@pytest.mark.parametrize("chunk_size", [7, 4096, 1 << 20])
def test_executables_search_in_writable_segment(chunk_size: int) -> None:
    head = elf_head(3, ((5, 0, 0x1000), (6, 0x2000, 0x1000)))
    data = bytearray(head + b"\x00" * (0x4000 - len(head)) + b"\x01" * GO_BUILD_INFO_WINDOW)
    data[0x800 : 0x800 + 14] = GO_BUILD_INFO_MAGIC  # aligned, but in the executable segment
    data[0x2008 : 0x2008 + 14] = GO_BUILD_INFO_MAGIC  # in the data segment, but not aligned
    data[0x2400 : 0x2400 + 14] = GO_BUILD_INFO_MAGIC
    data[0x2400 + 14 : 0x2400 + 16] = b"\x08\x02"
    search = GoBuildInfoSearch(bytes(data[:4096]), len(data))
    feed_in_chunks(search, bytes(data), chunk_size)
    assert search.excerpt is not None
    assert len(search.excerpt) == GO_BUILD_INFO_WINDOW
    assert bytes(search.excerpt[:16]) == GO_BUILD_INFO_MAGIC + b"\x08\x02"


def test_executables_search_excerpt_ends_with_file() -> None:
    data = b"MZ" + b"\x00" * 30 + GO_BUILD_INFO_MAGIC + b"tail"
    search = GoBuildInfoSearch(data[:16], len(data))
    feed_in_chunks(search, data, 5)
    assert search.excerpt == GO_BUILD_INFO_MAGIC + b"tail"


def test_executables_search_without_magic() -> None:
    data = elf_head(3, ((6, 0, 0x1000),)) + b"\xff" * 0x1000
    search = GoBuildInfoSearch(data, len(data))
    feed_in_chunks(search, data, 100)
    assert search.excerpt is None
