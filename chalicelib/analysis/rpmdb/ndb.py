"""NDB databases: the `Packages.db` file of rpm's own "ndb" backend, used by SUSE.

The file starts with a 32-byte header (magic `RpmP`, format version 0, generation, number of
4 KiB slot pages). The rest of the slot pages are 16-byte slots of magic `Slot`, package index,
block offset and block count, and a package index of 0 marks a free slot. A package's blocks
(16 bytes each) contain a blob head (magic `BlbS`, package index, generation, blob length),
the header blob, padding, and a tail (Adler-32 of everything before the tail, blob length, magic
`BlbE`). All numbers are little-endian, as rpm writes them on every machine.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from chalicelib.analysis.rpmdb.errors import RpmdbError

NDB_MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_BLOB_HEAD_MAGIC = b"BlbS"
_BLOB_TAIL_MAGIC = b"BlbE"
_SLOT_PAGE_SIZE = 4096
_SLOT_SIZE = 16
_BLOCK_SIZE = 16
_HEADER_SIZE = 32
_BLOB_HEAD_SIZE = 16
_BLOB_TAIL_SIZE = 12


def is_ndb(content: bytes) -> bool:
    """Return True when `content` starts with the NDB package database magic."""
    return content[:4] == NDB_MAGIC


def read_ndb(content: bytes) -> Iterator[bytes | RpmdbError]:
    """Yield the header blobs of an NDB `Packages.db` in slot order.

    A blob outside the file, with a wrong magic or a checksum that does not match is yielded as
    an `RpmdbError` in its place. Raises `RpmdbError` for an unknown version, slot pages past the
    end of the file, a slot with a wrong magic, or slots whose blobs overlap, after the blobs read
    before it.
    """
    if len(content) < _HEADER_SIZE or not is_ndb(content):
        raise RpmdbError("file is not an NDB package database (wrong magic)")
    version, _generation, slot_pages = struct.unpack_from("<III", content, 4)
    if version != 0:
        raise RpmdbError(f"NDB format version {version} is not supported")
    slots_end = slot_pages * _SLOT_PAGE_SIZE
    if slot_pages == 0 or slots_end > len(content):
        raise RpmdbError(
            f"NDB header lists {slot_pages} slot pages, which a file of {len(content)} bytes "
            "cannot hold"
        )
    # Blobs of a valid file never overlap, so their sizes add up to at most the file size. A
    # crafted file whose slots all name one large blob would otherwise be checksummed per slot.
    budget = len(content)
    for slot in range(_HEADER_SIZE, slots_end, _SLOT_SIZE):
        magic = content[slot : slot + 4]
        package_index, block_offset, block_count = struct.unpack_from("<III", content, slot + 4)
        if magic != _SLOT_MAGIC:
            raise RpmdbError(f"NDB slot at byte {slot} has a wrong magic")
        if package_index == 0:
            continue
        budget -= block_count * _BLOCK_SIZE
        if budget < 0:
            raise RpmdbError("NDB slots name blobs larger in total than the file (overlapping)")
        try:
            yield _blob(content, package_index, block_offset, block_count)
        except RpmdbError as error:
            yield error


def _blob(content: bytes, package_index: int, block_offset: int, block_count: int) -> bytes:
    start = block_offset * _BLOCK_SIZE
    end = start + block_count * _BLOCK_SIZE
    if end > len(content) or block_count * _BLOCK_SIZE < _BLOB_HEAD_SIZE + _BLOB_TAIL_SIZE:
        raise RpmdbError(f"NDB blob of package {package_index} lies outside the file")
    magic = content[start : start + 4]
    head_index, _generation, length = struct.unpack_from("<III", content, start + 4)
    checksum, tail_length = struct.unpack_from("<II", content, end - _BLOB_TAIL_SIZE)
    tail_magic = content[end - 4 : end]
    if magic != _BLOB_HEAD_MAGIC or tail_magic != _BLOB_TAIL_MAGIC or head_index != package_index:
        raise RpmdbError(f"NDB blob of package {package_index} has a wrong head or tail")
    data_end = start + _BLOB_HEAD_SIZE + length
    if tail_length != length or data_end > end - _BLOB_TAIL_SIZE:
        raise RpmdbError(f"NDB blob of package {package_index} has an invalid length {length}")
    if zlib.adler32(content[start : end - _BLOB_TAIL_SIZE]) != checksum:
        raise RpmdbError(f"NDB blob of package {package_index} fails its Adler-32 checksum")
    return content[start + _BLOB_HEAD_SIZE : data_end]
