"""Reading the members of a zip archive one at a time, in bounded memory.

`zipfile.ZipFile` reads the whole central directory into a `ZipInfo` per member up front (about
0.7 KiB each in `benchmarks.vulns_sync_memory`), so a feed archive of a million records would
cost most of a GiB before the first record. `iter_zip_members` walks the central directory with
seeks and small reads instead, and `read_zip_member` reads and inflates one member when the
caller asks for its bytes. The structures read are the end of central directory record, its
Zip64 form and locator, central directory headers with the Zip64 extended information extra
field, and local file headers. Only the stored and deflate methods are read, and encrypted or
multi-disk archives are rejected.

Every size comes from the archive and is checked before it is trusted. A member is read only up
to its declared compressed size, and its output stops at its declared size and at
`MAX_MEMBER_SIZE`. Its CRC-32 is checked too. So a zip bomb, bad offsets or a truncated archive
raise `ZipArchiveError` instead of exhausting memory or hanging.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from chalicelib.vulns.interface import FeedError

MAX_MEMBER_SIZE = 1 << 30
"""Largest uncompressed member read, in bytes. A member declaring more is rejected, because its
bytes are returned whole to a parser."""

READ_CHUNK_SIZE = 1 << 16
"""Compressed bytes read and inflated per step."""

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3L2H")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_MAX_COMMENT = 0xFFFF
_ZIP64_EXTRA_ID = 0x0001
_FLAG_ENCRYPTED = 0x1
_FLAG_UTF8 = 0x800
_STORED = 0
_DEFLATED = 8


class ZipArchiveError(FeedError):
    """A zip archive or one of its members cannot be read."""


@dataclasses.dataclass(frozen=True)
class ZipMember:
    """One file or directory entry of a zip archive's central directory."""

    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    """Offset of the local file header from the start of the archive's first member."""

    def is_dir(self) -> bool:
        """Return whether the entry is a directory, named with a trailing slash."""
        return self.name.endswith("/")


def is_zip_archive(path: Path) -> bool:
    """Return whether the file ends with a zip end of central directory record."""
    try:
        with path.open("rb") as stream:
            _find_eocd(stream, os.fstat(stream.fileno()).st_size)
    except (ZipArchiveError, OSError):
        return False
    return True


def iter_zip_members(stream: BinaryIO, size: int) -> Iterator[ZipMember]:
    """Yield the entries of the zip archive in `stream` (`size` bytes) in central directory order.

    Only the entry being yielded is kept in memory. Raises `ZipArchiveError` when the archive's
    end records or central directory are invalid.
    """
    cd_offset, cd_size, prefix = _central_directory(stream, size)
    position = cd_offset
    end = cd_offset + cd_size
    while position < end:
        stream.seek(position)
        header = stream.read(_CENTRAL.size)
        if len(header) < _CENTRAL.size or header[:4] != _CENTRAL_SIGNATURE:
            raise ZipArchiveError(
                f"invalid central directory entry at offset {position}; the archive is "
                "corrupt or truncated"
            )
        (
            _,
            _version_made,
            _version_needed,
            flags,
            method,
            _time,
            _date,
            crc,
            compressed_size,
            member_size,
            name_length,
            extra_length,
            comment_length,
            disk,
            _internal,
            _external,
            header_offset,
        ) = _CENTRAL.unpack(header)
        variable = stream.read(name_length + extra_length)
        if len(variable) < name_length + extra_length:
            raise ZipArchiveError("the archive is truncated inside its central directory")
        raw_name = variable[:name_length]
        name = raw_name.decode("utf-8" if flags & _FLAG_UTF8 else "cp437", errors="replace")
        member_size, compressed_size, header_offset, disk = _zip64_values(
            variable[name_length:], member_size, compressed_size, header_offset, disk
        )
        if disk not in (0, 0xFFFF):
            raise ZipArchiveError(
                f"member {name} is on disk {disk}; multi-disk archives are not supported"
            )
        position += _CENTRAL.size + name_length + extra_length + comment_length
        yield ZipMember(
            name=name,
            method=method,
            flags=flags,
            crc=crc,
            compressed_size=compressed_size,
            size=member_size,
            header_offset=header_offset + prefix,
        )
    if position != end:
        raise ZipArchiveError("a central directory entry runs past the directory's declared end")


def read_zip_member(stream: BinaryIO, size: int, member: ZipMember) -> bytes:
    """Return the uncompressed bytes of `member`, checked against its size and CRC-32.

    Raises `ZipArchiveError` naming the member for an unsupported method, encryption, a local
    header outside the archive, data that ends early, output larger than declared or than
    `MAX_MEMBER_SIZE`, or a CRC-32 mismatch.
    """
    where = f"member {member.name}"
    if member.flags & _FLAG_ENCRYPTED:
        raise ZipArchiveError(f"{where} is encrypted; store the feed unencrypted")
    if member.method not in (_STORED, _DEFLATED):
        raise ZipArchiveError(
            f"{where} uses compression method {member.method}; only stored (0) and deflate "
            "(8) members can be read, so repack the archive with deflate"
        )
    if member.size > MAX_MEMBER_SIZE:
        raise ZipArchiveError(
            f"{where} declares {member.size} bytes, more than the {MAX_MEMBER_SIZE} bytes "
            "a feed document may have"
        )
    data_offset = _data_offset(stream, size, member, where)
    if data_offset + member.compressed_size > size:
        raise ZipArchiveError(
            f"{where} declares {member.compressed_size} compressed bytes at offset "
            f"{data_offset}, past the end of the {size}-byte archive; it is truncated or corrupt"
        )
    stream.seek(data_offset)
    if member.method == _STORED:
        if member.compressed_size != member.size:
            raise ZipArchiveError(
                f"{where} is stored with {member.compressed_size} bytes but declares "
                f"{member.size}"
            )
        data = _read_exact(stream, member.size, where)
    else:
        data = _inflate(stream, member, where)
    if zlib.crc32(data) != member.crc:
        raise ZipArchiveError(f"{where} fails its CRC-32 check; the archive is corrupt")
    return data


def _find_eocd(stream: BinaryIO, size: int) -> tuple[int, tuple[int, ...]]:
    """Return the offset and fields of the end of central directory record."""
    tail_size = min(size, _EOCD.size + _MAX_COMMENT)
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    index = tail.rfind(_EOCD_SIGNATURE)
    while index >= 0:
        if index + _EOCD.size <= len(tail):
            fields = _EOCD.unpack_from(tail, index)
            # The comment length must reach the end of the file, or the signature is data.
            if index + _EOCD.size + fields[-1] == len(tail):
                return size - tail_size + index, fields
        index = tail.rfind(_EOCD_SIGNATURE, 0, index)
    raise ZipArchiveError(
        "no end of central directory record found; the file is not a zip archive or is truncated"
    )


def _central_directory(stream: BinaryIO, size: int) -> tuple[int, int, int]:
    """Return the central directory's offset and size in the file, and the prefix length.

    The prefix is data before the first member, as in a self-extracting archive, by which
    every stored offset is shifted.
    """
    eocd_offset, fields = _find_eocd(stream, size)
    _, disk, cd_disk, _, _, cd_size, cd_offset, _ = fields
    record_offset = eocd_offset
    zip64 = eocd_offset >= _ZIP64_LOCATOR.size and (
        cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF or 0xFFFF in fields[1:5]
    )
    if zip64:
        stream.seek(eocd_offset - _ZIP64_LOCATOR.size)
        locator = _ZIP64_LOCATOR.unpack(stream.read(_ZIP64_LOCATOR.size))
        if locator[0] == _ZIP64_LOCATOR_SIGNATURE:
            record_offset = eocd_offset - _ZIP64_LOCATOR.size - _ZIP64_EOCD.size
            if record_offset < 0:
                raise ZipArchiveError("the Zip64 end of central directory record is truncated")
            stream.seek(record_offset)
            record = _ZIP64_EOCD.unpack(stream.read(_ZIP64_EOCD.size))
            if record[0] != _ZIP64_EOCD_SIGNATURE:
                raise ZipArchiveError("the Zip64 end of central directory record is invalid")
            disk, cd_disk = record[4], record[5]
            cd_size, cd_offset = record[8], record[9]
    if disk != 0 or cd_disk != 0:
        raise ZipArchiveError("the archive spans several disks, which is not supported")
    prefix = record_offset - cd_size - cd_offset
    if prefix < 0:
        raise ZipArchiveError(
            f"the central directory of {cd_size} bytes at offset {cd_offset} overlaps the end "
            "record; the archive is corrupt"
        )
    return cd_offset + prefix, cd_size, prefix


def _zip64_values(
    extra: bytes,
    member_size: int,
    compressed_size: int,
    header_offset: int,
    disk: int,
) -> tuple[int, int, int, int]:
    """Replace the central directory values saturated at their maximum by their Zip64 values."""
    needed = [
        member_size == 0xFFFFFFFF,
        compressed_size == 0xFFFFFFFF,
        header_offset == 0xFFFFFFFF,
        disk == 0xFFFF,
    ]
    if not any(needed):
        return member_size, compressed_size, header_offset, disk
    position = 0
    while position + 4 <= len(extra):
        field_id, length = struct.unpack_from("<2H", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if field_id != _ZIP64_EXTRA_ID:
            continue
        values = [member_size, compressed_size, header_offset, disk]
        offset = 0
        for index, missing in enumerate(needed):
            if not missing:
                continue
            width = 4 if index == 3 else 8
            if offset + width > len(body):
                break
            values[index] = int.from_bytes(body[offset : offset + width], "little")
            offset += width
        else:
            return values[0], values[1], values[2], values[3]
        break
    raise ZipArchiveError("a central directory entry has a missing or short Zip64 extra field")


def _data_offset(stream: BinaryIO, size: int, member: ZipMember, where: str) -> int:
    """Return the offset of the member's data, after its local file header."""
    if member.header_offset + _LOCAL.size > size:
        raise ZipArchiveError(
            f"{where} has its local header at offset {member.header_offset}, past the end of "
            f"the {size}-byte archive"
        )
    stream.seek(member.header_offset)
    header = _LOCAL.unpack(stream.read(_LOCAL.size))
    if header[0] != _LOCAL_SIGNATURE:
        raise ZipArchiveError(
            f"{where} has no local header at offset {member.header_offset}; the archive is "
            "corrupt"
        )
    name_length, extra_length = header[-2], header[-1]
    return member.header_offset + _LOCAL.size + name_length + extra_length


def _read_exact(stream: BinaryIO, count: int, where: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ZipArchiveError(f"{where} is truncated: {len(data)} of {count} bytes present")
    return data


def _inflate(stream: BinaryIO, member: ZipMember, where: str) -> bytes:
    """Inflate the member's raw deflate data, stopping at its declared size."""
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    output = bytearray()
    remaining = member.compressed_size
    try:
        while remaining > 0 and not decompressor.eof:
            chunk = stream.read(min(READ_CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            data = chunk
            while data and not decompressor.eof:
                # One byte past the declared size is enough to know it is exceeded.
                output += decompressor.decompress(data, member.size - len(output) + 1)
                if len(output) > member.size:
                    raise ZipArchiveError(
                        f"{where} inflates to more than its declared {member.size} bytes; it "
                        "is corrupt or a zip bomb"
                    )
                data = decompressor.unconsumed_tail
    except zlib.error as error:
        raise ZipArchiveError(f"{where} has invalid deflate data ({error})") from error
    if not decompressor.eof:
        raise ZipArchiveError(f"{where} is truncated: its deflate stream does not end")
    if len(output) != member.size:
        raise ZipArchiveError(
            f"{where} inflates to {len(output)} bytes but declares {member.size}"
        )
    return bytes(output)
