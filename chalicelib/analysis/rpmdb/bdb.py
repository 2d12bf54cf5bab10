"""BerkeleyDB hash databases: the `Packages` file of rpm before version 4.16.

The file is an array of pages. Page 0 is the hash metadata page, and the pages of each hash
bucket form a chain of hash pages whose items alternate key and data. rpm's key is the 4-byte header
instance and its data, the header blob, is almost always too large for a hash page, so the item
points to a chain of overflow pages. Every number is in the byte order of the machine that
created the file, which the metadata magic reveals.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator

from chalicelib.analysis.rpmdb.errors import RpmdbError

logger = logging.getLogger(__name__)

HASH_MAGIC = 0x061561
_HASH_VERSIONS = (7, 8, 9)
"""Hash access method versions of Berkeley DB 3.x to 6.x; the page layout is the same in all."""

_PAGE_HEADER_SIZE = 26
_META_MIN_SIZE = 224

# Page types (Berkeley DB `db_page.h`).
_P_HASH_UNSORTED = 2
_P_OVERFLOW = 7
_P_HASHMETA = 8
_P_HASH = 13

# Hash item types.
_H_KEYDATA = 1
_H_OFFPAGE = 3

_DBMETA_CHKSUM = 0x01


def is_bdb(content: bytes) -> bool:
    """Return True when `content` starts with a BerkeleyDB hash metadata page."""
    if len(content) < 16:
        return False
    return HASH_MAGIC in struct.unpack_from("<I", content, 12) + struct.unpack_from(
        ">I", content, 12
    )


def read_bdb(content: bytes) -> Iterator[bytes | RpmdbError]:
    """Yield the header blobs of a BerkeleyDB hash `Packages` database, bucket by bucket.

    A blob whose overflow chain is broken is yielded as an `RpmdbError` in its place. Raises
    `RpmdbError` when the metadata is invalid, the database is encrypted or checksummed, or a
    bucket's page chain points outside the file, loops or has the wrong page type, after the
    blobs read before it.
    """
    reader = _HashReader(content)
    yield from reader.blobs()


class _HashReader:
    def __init__(self, content: bytes) -> None:
        if len(content) < _META_MIN_SIZE:
            raise RpmdbError(f"BerkeleyDB file of {len(content)} bytes is too short")
        if struct.unpack_from("<I", content, 12)[0] == HASH_MAGIC:
            self.order = "<"
        elif struct.unpack_from(">I", content, 12)[0] == HASH_MAGIC:
            self.order = ">"
        else:
            raise RpmdbError("file is not a BerkeleyDB hash database (wrong magic)")

        version, page_size = struct.unpack_from(self.order + "II", content, 16)
        encrypt_algorithm, page_type, meta_flags = content[24], content[25], content[26]
        if version not in _HASH_VERSIONS:
            raise RpmdbError(f"BerkeleyDB hash version {version} is not supported")
        if page_type != _P_HASHMETA:
            raise RpmdbError(f"BerkeleyDB page 0 has type {page_type}, not hash metadata")
        if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
            raise RpmdbError(f"BerkeleyDB page size {page_size} is not a power of 2 in 512-64K")
        if encrypt_algorithm or meta_flags & _DBMETA_CHKSUM:
            # NOTE: rpm never turns on encryption or page checksums, which move the page data.
            raise RpmdbError("BerkeleyDB database is encrypted or checksummed; not supported")

        self.content = content
        self.page_size = page_size
        self.page_count = len(content) // page_size
        self.max_bucket = struct.unpack_from(self.order + "I", content, 72)[0]
        self.spares = struct.unpack_from(self.order + "32I", content, 96)
        """Page offsets per doubling of the buckets: bucket B starts on page
        B + spares[ceil(log2(B + 1))]."""
        if self.max_bucket >= self.page_count:
            raise RpmdbError(
                f"BerkeleyDB metadata lists {self.max_bucket + 1} buckets in "
                f"{self.page_count} pages"
            )
        self.visited: set[int] = set()
        """Pages already read; every page belongs to at most one chain."""

    def blobs(self) -> Iterator[bytes | RpmdbError]:
        for bucket in range(self.max_bucket + 1):
            page = bucket + self.spares[bucket.bit_length()]
            while page:
                header = self._page(page, (_P_HASH, _P_HASH_UNSORTED), f"bucket {bucket}")
                yield from self._page_items(page, header[1])
                page = header[0]

    def _page(self, number: int, types: tuple[int, ...], chain: str) -> tuple[int, int, int]:
        """Return the next page, item count and free-area offset of page `number`."""
        if number >= self.page_count or number == 0:
            raise RpmdbError(f"BerkeleyDB {chain} points to page {number} outside the file")
        if number in self.visited:
            raise RpmdbError(f"BerkeleyDB {chain} reaches page {number} twice (a loop)")
        self.visited.add(number)
        start = number * self.page_size
        next_page, entries, offset = struct.unpack_from(
            self.order + "IHH", self.content, start + 16
        )
        page_type = self.content[start + 25]
        if page_type not in types:
            raise RpmdbError(f"BerkeleyDB {chain} page {number} has type {page_type}")
        return next_page, entries, offset

    def _page_items(self, page: int, entries: int) -> Iterator[bytes | RpmdbError]:
        start = page * self.page_size
        if _PAGE_HEADER_SIZE + entries * 2 > self.page_size:
            raise RpmdbError(
                f"BerkeleyDB page {page} lists {entries} items, more than fit on a page"
            )
        offsets = struct.unpack_from(f"{self.order}{entries}H", self.content, start + 26)
        for index in range(0, entries - 1, 2):
            key = self._item(page, offsets, index)
            data = self._item(page, offsets, index + 1)
            if key[0] != _H_KEYDATA or key[1:] == b"\0\0\0\0":
                # Instance 0 contains rpm's counter of header instances, not a header.
                continue
            if data[0] == _H_OFFPAGE:
                if len(data) < 12:
                    raise RpmdbError(f"BerkeleyDB page {page} has a truncated overflow item")
                first, length = struct.unpack_from(self.order + "II", data, 4)
                try:
                    yield self._overflow(first, length)
                except RpmdbError as error:
                    yield error
            elif data[0] == _H_KEYDATA:
                yield data[1:]
            else:
                logger.debug("skipping item of type %d on BerkeleyDB page %d", data[0], page)

    def _item(self, page: int, offsets: tuple[int, ...], index: int) -> bytes:
        """Return item `index` of a hash page; items fill the page from its end backwards."""
        end = self.page_size if index == 0 else offsets[index - 1]
        begin = offsets[index]
        if not _PAGE_HEADER_SIZE <= begin < end <= self.page_size:
            raise RpmdbError(f"BerkeleyDB page {page} item {index} has invalid bounds")
        start = page * self.page_size
        return self.content[start + begin : start + end]

    def _overflow(self, first: int, length: int) -> bytes:
        """Join the overflow page chain that starts at page `first` into `length` bytes."""
        capacity = self.page_size - _PAGE_HEADER_SIZE
        if length > capacity * self.page_count:
            raise RpmdbError(f"BerkeleyDB overflow item of {length} bytes is larger than the file")
        parts: list[bytes] = []
        collected = 0
        page = first
        while collected < length:
            if page == 0:
                raise RpmdbError(
                    f"BerkeleyDB overflow chain from page {first} ends after {collected} of "
                    f"{length} bytes"
                )
            next_page, _, used = self._page(page, (_P_OVERFLOW,), f"overflow chain of {first}")
            if used > capacity:
                raise RpmdbError(f"BerkeleyDB overflow page {page} claims {used} bytes")
            start = page * self.page_size + _PAGE_HEADER_SIZE
            parts.append(self.content[start : start + used])
            collected += used
            page = next_page
        if collected != length:
            raise RpmdbError(
                f"BerkeleyDB overflow chain from page {first} contains {collected} bytes, "
                f"not {length}"
            )
        return b"".join(parts)
