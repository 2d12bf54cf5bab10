"""SQLite databases: the `rpmdb.sqlite` file of rpm 4.16 and later (Fedora 33+, RHEL 9, Mariner).

rpm keeps each header blob in table `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`. The file is
opened from memory with `sqlite3.Connection.deserialize`, so nothing is written to disk. Only
when the sqlite3 module lacks `deserialize` (SQLite before 3.23, or built without it) is a copy
written to a private temporary file, which is removed right after reading. Frames that a
write-ahead log (`rpmdb.sqlite-wal`) commits are applied to the in-memory copy first.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import tempfile
from collections.abc import Iterator

from chalicelib.analysis.rpmdb.errors import RpmdbError

logger = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\0"
_WAL_MAGICS = {0x377F0682: "<", 0x377F0683: ">"}
"""Write-ahead log magics and the byte order of the words their checksums add up."""
_WAL_HEADER_SIZE = 32
_WAL_FRAME_HEADER_SIZE = 24
_CAN_DESERIALIZE = hasattr(sqlite3.Connection, "deserialize")
"""Whether this sqlite3 module opens databases from memory (Python 3.11 on SQLite 3.23+)."""
_PROGRESS_STEP = 1000
"""SQLite virtual machine instructions between two calls of the progress handler."""


def is_sqlite(content: bytes) -> bool:
    """Return True when `content` starts with the SQLite file magic."""
    return content[:16] == SQLITE_MAGIC


def read_sqlite(content: bytes, wal: bytes | None = None) -> Iterator[bytes | RpmdbError]:
    """Yield the header blobs of an `rpmdb.sqlite` database in `hnum` order.

    `wal` is the content of the database's write-ahead log, if the image has one. A row whose
    blob is not a BLOB is yielded as an `RpmdbError` in its place. Raises `RpmdbError` when the
    file is not a SQLite database, has no `Packages` table, is corrupt, or takes more steps or
    blob bytes to read than its size justifies, after the blobs read before it.
    """
    if not is_sqlite(content) or len(content) < 100:
        raise RpmdbError("file is not a SQLite database (wrong magic)")
    image = bytearray(content)
    if wal:
        _apply_wal(image, wal)
    # Bytes 18 and 19 are 2 in WAL mode, which an in-memory database cannot open. A
    # rollback-journal database has the same pages, so the image is marked as one.
    image[18] = image[19] = 1
    size = len(image)
    connection, temporary = _open(image)
    # SQLite keeps its own copy, so the image is dropped before the rows are read.
    del image
    try:
        yield from _rows(connection, size)
    except sqlite3.Error as error:
        raise RpmdbError(f"SQLite rpm database cannot be read: {error}") from error
    finally:
        connection.close()
        if temporary is not None:
            os.unlink(temporary)


def _open(image: bytearray) -> tuple[sqlite3.Connection, str | None]:
    """Open `image` read-only and return the connection and the temporary file it needed."""
    if _CAN_DESERIALIZE:
        connection = sqlite3.connect(":memory:")
        try:
            connection.deserialize(image)
        except sqlite3.Error as error:
            connection.close()
            raise RpmdbError(f"SQLite rpm database cannot be loaded: {error}") from error
        return connection, None
    logger.debug("sqlite3 has no deserialize; reading the rpm database from a temporary file")
    descriptor, path = tempfile.mkstemp(prefix="plimsoll-rpmdb-", suffix=".sqlite")
    with os.fdopen(descriptor, "wb") as file:
        file.write(image)
    try:
        return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True), path
    except sqlite3.Error as error:
        os.unlink(path)
        raise RpmdbError(f"SQLite rpm database cannot be opened: {error}") from error


def _rows(connection: sqlite3.Connection, size: int) -> Iterator[bytes | RpmdbError]:
    connection.execute("PRAGMA trusted_schema = OFF")
    connection.execute("PRAGMA query_only = ON")
    found = connection.execute(
        "SELECT type FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE"
    ).fetchone()
    if found is None or found[0] != "table":
        raise RpmdbError("SQLite rpm database has no Packages table")

    # A table scan needs a few instructions per byte, but a crafted schema could loop forever.
    budget = [64 * size // _PROGRESS_STEP + 10_000]

    def spend() -> int:
        budget[0] -= 1
        return 1 if budget[0] < 0 else 0

    connection.set_progress_handler(spend, _PROGRESS_STEP)
    try:
        cursor = connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
        # Rows of a crafted file can share overflow pages, so that each reads as a blob almost
        # as large as the file. Blobs of a valid file fit in it together.
        remaining = size
        for number, blob in cursor:
            if isinstance(blob, bytes):
                remaining -= len(blob)
                if remaining < 0:
                    raise RpmdbError("SQLite rpm database has blobs larger in total than the file")
                yield blob
            else:
                yield RpmdbError(f"SQLite rpm database row {number} has no header blob")
    except sqlite3.OperationalError as error:
        if budget[0] < 0:
            raise RpmdbError("SQLite rpm database took too many steps to read") from error
        raise


def _apply_wal(image: bytearray, wal: bytes) -> None:
    """Apply the frames of every transaction that `wal` commits to the database `image`.

    As SQLite does, a log with an invalid header or a page size other than the database's is
    ignored, and reading stops at the first frame whose salt or checksum does not match.
    """
    if len(wal) < _WAL_HEADER_SIZE:
        return
    magic, _, page_size, _, salt1, salt2 = struct.unpack_from(">6I", wal, 0)
    order = _WAL_MAGICS.get(magic)
    database_page_size = struct.unpack_from(">H", image, 16)[0]
    if database_page_size == 1:
        database_page_size = 65536
    if order is None or page_size != database_page_size:
        logger.debug("ignoring a write-ahead log with magic %#x, page size %d", magic, page_size)
        return
    checksum = _wal_checksum(order, wal[:24], (0, 0))
    if checksum != struct.unpack_from(">2I", wal, 24):
        logger.debug("ignoring a write-ahead log whose header checksum does not match")
        return

    # Each page after a commit comes from the database or from a frame, so a larger commit size
    # is corrupt, and honouring it could allocate gigabytes.
    frame_size = _WAL_FRAME_HEADER_SIZE + page_size
    max_pages = len(image) // page_size + (len(wal) - _WAL_HEADER_SIZE) // frame_size
    pending: dict[int, bytes] = {}
    frame = _WAL_HEADER_SIZE
    while frame + _WAL_FRAME_HEADER_SIZE + page_size <= len(wal):
        page, commit_size, frame_salt1, frame_salt2, sum1, sum2 = struct.unpack_from(
            ">6I", wal, frame
        )
        data = wal[frame + _WAL_FRAME_HEADER_SIZE : frame + _WAL_FRAME_HEADER_SIZE + page_size]
        if (frame_salt1, frame_salt2) != (salt1, salt2) or page == 0 or commit_size > max_pages:
            break
        checksum = _wal_checksum(order, wal[frame : frame + 8] + data, checksum)
        if checksum != (sum1, sum2):
            break
        pending[page] = data
        if commit_size:
            _write_pages(image, pending, commit_size, page_size)
            pending.clear()
        frame += _WAL_FRAME_HEADER_SIZE + page_size


def _write_pages(image: bytearray, pages: dict[int, bytes], size: int, page_size: int) -> None:
    """Write committed `pages` into `image`, whose new length is `size` pages."""
    length = size * page_size
    if len(image) < length:
        image.extend(bytes(length - len(image)))
    else:
        del image[length:]
    for page, data in pages.items():
        if page <= size:
            image[(page - 1) * page_size : page * page_size] = data


def _wal_checksum(order: str, data: bytes, seed: tuple[int, int]) -> tuple[int, int]:
    """Return SQLite's write-ahead log checksum of `data`, continuing from `seed`."""
    words = struct.unpack(f"{order}{len(data) // 4}I", data)
    first, second = seed
    for index in range(0, len(words), 2):
        first = (first + words[index] + second) & 0xFFFFFFFF
        second = (second + words[index + 1] + first) & 0xFFFFFFFF
    return first, second
