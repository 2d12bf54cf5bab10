"""rpm package databases read in pure Python: BerkeleyDB, NDB and SQLite, and the header blobs.

`read_blobs` picks the reader by the file's magic bytes, not its name, because images copy
databases between paths and formats keep their names across rpm versions.
"""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.analysis.rpmdb.bdb import is_bdb, read_bdb
from chalicelib.analysis.rpmdb.errors import RpmdbError
from chalicelib.analysis.rpmdb.header import Header, Tag, TagType
from chalicelib.analysis.rpmdb.ndb import is_ndb, read_ndb
from chalicelib.analysis.rpmdb.sqlite import is_sqlite, read_sqlite

__all__ = [
    "Header",
    "RpmdbError",
    "Tag",
    "TagType",
    "database_format",
    "read_blobs",
]


def database_format(content: bytes) -> str | None:
    """Return `sqlite`, `ndb` or `bdb` for a package database's content, or None."""
    if is_sqlite(content):
        return "sqlite"
    if is_ndb(content):
        return "ndb"
    if is_bdb(content):
        return "bdb"
    return None


def read_blobs(content: bytes, wal: bytes | None = None) -> Iterator[bytes | RpmdbError]:
    """Yield the header blobs of the package database `content`, of any of the three formats.

    `wal` is the SQLite write-ahead log, ignored for the other formats. A record that cannot be
    read is yielded as an `RpmdbError` and the next one follows. Raises `RpmdbError` when the
    format is unknown or the database structure is corrupt, after the blobs read before it.
    """
    kind = database_format(content)
    if kind == "sqlite":
        return read_sqlite(content, wal)
    if kind == "ndb":
        return read_ndb(content)
    if kind == "bdb":
        return read_bdb(content)
    raise RpmdbError("file is not a BerkeleyDB, NDB or SQLite rpm database (unknown magic)")
