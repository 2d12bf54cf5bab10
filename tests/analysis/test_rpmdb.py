"""Tests of the rpm database readers and header parser, on real and on damaged databases."""

from __future__ import annotations

import random
import shutil
import sqlite3
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.rpm import parse_rpmdb
from chalicelib.analysis.rpmdb import Header, RpmdbError, Tag, TagType, read_blobs
from chalicelib.analysis.rpmdb import sqlite as rpmdb_sqlite
from chalicelib.analysis.rpmdb.sqlite import read_sqlite

RPM_FIXTURES = Path("acceptance-fixtures/pkgdb/rpm")
PAGE_SIZE = 4096
DB_LOAD_NAMES = ("db5.3_load", "db_load")


def parse(content: bytes, location: str = "/var/lib/rpm/Packages") -> ParseResult:
    return parse_rpmdb(location, content, ParseContext(distro=None, read={}.get))


def blobs_and_errors(content: bytes) -> tuple[list[bytes], list[RpmdbError]]:
    blobs: list[bytes] = []
    errors: list[RpmdbError] = []
    for record in read_blobs(content):
        if isinstance(record, RpmdbError):
            errors.append(record)
        else:
            blobs.append(record)
    return blobs, errors


def names(result: ParseResult) -> list[str]:
    return [package.name for package in result.packages]


@pytest.fixture(scope="module")
def libuuid_db(shared_dir: Path) -> bytes:
    return (shared_dir / RPM_FIXTURES / "libuuid/Packages").read_bytes()


@pytest.fixture(scope="module")
def sle_db(shared_dir: Path) -> bytes:
    return (shared_dir / RPM_FIXTURES / "sle15-bci/Packages.db").read_bytes()


@pytest.fixture(scope="module")
def mariner_db(shared_dir: Path) -> bytes:
    return (shared_dir / RPM_FIXTURES / "cbl-mariner-2.0/rpmdb.sqlite").read_bytes()


@pytest.fixture(scope="module")
def mariner_rows(shared_dir: Path) -> list[tuple[int, bytes]]:
    path = shared_dir / RPM_FIXTURES / "cbl-mariner-2.0/rpmdb.sqlite"
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    rows = connection.execute("SELECT hnum, blob FROM Packages ORDER BY hnum").fetchall()
    connection.close()
    return rows


# Header blobs built by hand.


def build_header(entries: list[tuple[int, int, bytes, int]], region: bool = False) -> bytes:
    """Build a header blob from (tag, type, data, count) entries, data laid out in order.

    With `region`, an immutable region entry whose trailer covers all entries comes first.
    """
    index = b""
    store = b""
    count = len(entries) + (1 if region else 0)
    for tag, tag_type, data, items in entries:
        index += struct.pack(">iIiI", tag, tag_type, len(store), items)
        store += data
    if region:
        trailer = struct.pack(">iIiI", Tag.HEADER_IMMUTABLE, TagType.BIN, -count * 16, 16)
        region_entry = struct.pack(">iIiI", Tag.HEADER_IMMUTABLE, TagType.BIN, len(store), 16)
        index = region_entry + index
        store += trailer
    return struct.pack(">II", count, len(store)) + index + store


def string_entry(tag: int, text: str) -> tuple[int, int, bytes, int]:
    return (tag, TagType.STRING, text.encode() + b"\0", 1)


def test_header_decodes_each_type() -> None:
    blob = build_header(
        [
            string_entry(Tag.NAME, "bash"),
            (Tag.EPOCH, TagType.INT32, struct.pack(">I", 2), 1),
            (Tag.FILEMODES, TagType.INT16, struct.pack(">2H", 0o100755, 0o40755), 2),
            (Tag.LONGSIZE, TagType.INT64, struct.pack(">Q", 5 << 32), 1),
            (Tag.BASENAMES, TagType.STRING_ARRAY, b"a\0bc\0", 2),
            (Tag.LICENSE, TagType.I18NSTRING, b"GPL\0GPL-fr\0", 2),
            (Tag.FILEDIGESTALGO, TagType.BIN, b"\x01\x02", 2),
        ]
    )
    header = Header(blob)

    assert header.get(Tag.NAME) == "bash"
    assert header.integer(Tag.EPOCH) == 2
    assert header.integers(Tag.FILEMODES) == [0o100755, 0o40755]
    assert header.integer(Tag.LONGSIZE) == 5 << 32
    assert header.strings(Tag.BASENAMES) == ["a", "bc"]
    assert header.get(Tag.LICENSE) == ["GPL", "GPL-fr"]
    assert header.string(Tag.LICENSE) == "GPL"
    assert header.get(Tag.FILEDIGESTALGO) == b"\x01\x02"
    assert header.get(Tag.VERSION) is None
    assert header.integer(Tag.NAME) is None


def test_header_region_entries_and_dribble() -> None:
    blob = build_header(
        [string_entry(Tag.NAME, "old"), string_entry(Tag.NAME, "new")], region=True
    )
    header = Header(blob)

    assert header.string(Tag.NAME) == "new"
    assert Tag.HEADER_IMMUTABLE not in header


def test_header_invalid_region_trailer() -> None:
    blob = bytearray(build_header([string_entry(Tag.NAME, "bash")], region=True))
    trailer_offset = len(blob) - 16
    struct.pack_into(">i", blob, trailer_offset + 8, -1600)

    with pytest.raises(RpmdbError, match="region trailer"):
        Header(bytes(blob))


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\0\0\0", "shorter than its intro"),
        (struct.pack(">II", 0xFFFFFFFF, 16) + bytes(16), "more than its"),
        (struct.pack(">II", 1, 0x7FFFFFFF) + bytes(16), "more than its"),
        (struct.pack(">II", 0, 0), "more than its"),
        (struct.pack(">II", 1, 4) + struct.pack(">iIiI", 1000, 6, 99, 1) + b"abc\0", "offset"),
    ],
)
def test_header_rejects_bad_intro(blob: bytes, message: str) -> None:
    with pytest.raises(RpmdbError, match=message):
        Header(blob)


def test_header_absurd_string_count() -> None:
    header = Header(build_header([(Tag.BASENAMES, TagType.STRING_ARRAY, b"a\0", 0x7FFFFFFF)]))

    with pytest.raises(RpmdbError, match="declares"):
        header.get(Tag.BASENAMES)


def test_header_string_without_terminator() -> None:
    header = Header(build_header([(Tag.NAME, TagType.STRING, b"bash", 1)]))

    with pytest.raises(RpmdbError, match="NUL"):
        header.get(Tag.NAME)


def test_header_integers_past_store() -> None:
    header = Header(build_header([(Tag.FILESIZES, TagType.INT32, b"\0\0\0\1", 1000)]))

    with pytest.raises(RpmdbError, match="past the data store"):
        header.get(Tag.FILESIZES)


def test_rpm_header_without_version_is_unknown() -> None:
    blob = build_header([string_entry(Tag.NAME, "broken")])
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    connection.execute("INSERT INTO Packages VALUES (1, ?)", (blob,))
    content = connection.serialize()
    result = parse(content, "/var/lib/rpm/rpmdb.sqlite")

    assert result.packages == []
    assert len(result.unknowns) == 1
    assert "broken has no NAME or VERSION" in result.unknowns[0].reason


def test_rpm_mismatched_file_lists_are_unknown() -> None:
    blob = build_header(
        [
            string_entry(Tag.NAME, "bash"),
            string_entry(Tag.VERSION, "5.1"),
            string_entry(Tag.RELEASE, "1"),
            (Tag.BASENAMES, TagType.STRING_ARRAY, b"bash\0sh\0", 2),
            (Tag.DIRNAMES, TagType.STRING_ARRAY, b"/bin/\0", 1),
            (Tag.DIRINDEXES, TagType.INT32, struct.pack(">2I", 0, 0), 2),
            (Tag.FILESIZES, TagType.INT32, struct.pack(">I", 7), 1),
        ]
    )
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    connection.execute("INSERT INTO Packages VALUES (1, ?)", (blob,))
    result = parse(connection.serialize(), "/var/lib/rpm/rpmdb.sqlite")

    bash = result.packages[0]
    assert bash.files == ["/bin/bash", "/bin/sh"]
    assert "file_sizes" not in bash.metadata
    assert bash.metadata["file_digest_algorithm"] == "md5"
    assert [unknown.reason for unknown in result.unknowns] == [
        "package bash has 1 file_sizes for 2 files"
    ]


# BerkeleyDB.


def swap_bdb_byte_order(content: bytes) -> bytes:
    """Return a little-endian BerkeleyDB hash database rewritten in big-endian byte order."""
    data = bytearray(content)

    def swap(offset: int, code: str, count: int = 1) -> None:
        values = struct.unpack_from(f"<{count}{code}", data, offset)
        struct.pack_into(f">{count}{code}", data, offset, *values)

    swap(0, "I", 5)
    swap(20, "I")
    swap(28, "I", 6)
    swap(72, "I", 6 + 32)
    for page in range(1, len(data) // PAGE_SIZE):
        start = page * PAGE_SIZE
        entries = struct.unpack_from("<H", data, start + 20)[0]
        page_type = data[start + 25]
        if page_type == 13:
            offsets = struct.unpack_from(f"<{entries}H", data, start + 26)
            for item in offsets:
                if data[start + item] == 3:
                    swap(start + item + 4, "I", 2)
            swap(start + 26, "H", entries)
        swap(start, "I", 5)
        swap(start + 20, "H", 2)
    return bytes(data)


def test_bdb_reads_both_byte_orders(libuuid_db: bytes) -> None:
    big_endian = swap_bdb_byte_order(libuuid_db)

    assert big_endian[12:16] == b"\x00\x06\x15\x61"
    assert blobs_and_errors(big_endian) == blobs_and_errors(libuuid_db)
    assert names(parse(big_endian)) == ["libuuid"]


def db_load_binary() -> str:
    for name in DB_LOAD_NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("db_load of Berkeley DB is not installed (Debian package db5.3-util)")


@pytest.mark.parametrize("byte_order", ["1234", "4321"])
def test_bdb_from_db_load_matches_sqlite(
    byte_order: str, mariner_rows: list[tuple[int, bytes]], tmp_path: Path
) -> None:
    db_load = db_load_binary()
    native = "<" if byte_order == "1234" else ">"
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    lines += [" " + struct.pack(native + "I", 0).hex(), " " + struct.pack("<I", 130).hex()]
    for number, blob in mariner_rows:
        lines += [" " + struct.pack(native + "I", number).hex(), " " + blob.hex()]
    lines.append("DATA=END")
    dump = tmp_path / "packages.dump"
    dump.write_text("\n".join(lines) + "\n")
    database = tmp_path / "Packages"
    subprocess.run(
        [db_load, "-c", f"db_lorder={byte_order}", "-f", str(dump), str(database)], check=True
    )
    blobs, errors = blobs_and_errors(database.read_bytes())

    assert errors == []
    assert len(blobs) == len(mariner_rows) == 129
    assert sorted(blobs) == sorted(blob for _, blob in mariner_rows)


def set_next_page(content: bytes, page: int, next_page: int) -> bytes:
    data = bytearray(content)
    struct.pack_into("<I", data, page * PAGE_SIZE + 16, next_page)
    return bytes(data)


def test_bdb_overflow_loop_is_unknown(libuuid_db: bytes) -> None:
    result = parse(set_next_page(libuuid_db, 10, 5))

    assert result.packages == []
    assert len(result.unknowns) == 1
    assert "reaches page 5 twice" in result.unknowns[0].reason


def test_bdb_bucket_chain_loop_is_unknown(libuuid_db: bytes) -> None:
    result = parse(set_next_page(libuuid_db, 2, 2))

    assert names(result) == ["libuuid"]
    assert len(result.unknowns) == 1
    assert "corrupt after 1 packages" in result.unknowns[0].reason
    assert "twice" in result.unknowns[0].reason


def test_bdb_overflow_chain_outside_file(libuuid_db: bytes) -> None:
    result = parse(set_next_page(libuuid_db, 10, 0xFFFFFF))

    assert result.packages == []
    assert "outside the file" in result.unknowns[0].reason


@pytest.mark.parametrize(("offset", "value"), [(72, 0xFFFFFFFF), (20, 3000), (16, 99)])
def test_bdb_absurd_metadata_is_unknown(libuuid_db: bytes, offset: int, value: int) -> None:
    data = bytearray(libuuid_db)
    struct.pack_into("<I", data, offset, value)
    result = parse(bytes(data))

    assert result.packages == []
    assert len(result.unknowns) == 1
    assert "corrupt after 0 packages" in result.unknowns[0].reason


def test_bdb_absurd_overflow_length(libuuid_db: bytes) -> None:
    data = bytearray(libuuid_db)
    page = 2 * PAGE_SIZE
    entries = struct.unpack_from("<H", data, page + 20)[0]
    offsets = struct.unpack_from(f"<{entries}H", data, page + 26)
    item = page + offsets[1]
    assert data[item] == 3
    struct.pack_into("<I", data, item + 8, 0xFFFFFFF0)
    result = parse(bytes(data))

    assert result.packages == []
    assert "larger than the file" in result.unknowns[0].reason


# NDB.


def test_ndb_checksum_mismatch_skips_one_blob(sle_db: bytes) -> None:
    data = bytearray(sle_db)
    _, _, block_offset, _ = struct.unpack_from("<4I", data, 32)
    data[block_offset * 16 + 100] ^= 0xFF
    result = parse(bytes(data), "/var/lib/rpm/Packages.db")

    assert len(result.packages) == 34
    assert "system-user-root" not in names(result)
    assert len(result.unknowns) == 1
    assert "Adler-32" in result.unknowns[0].reason


@pytest.mark.parametrize(("offset", "value"), [(4, 7), (12, 0xFFFFFFFF), (12, 0), (32, 0)])
def test_ndb_bad_header_or_slot_is_unknown(sle_db: bytes, offset: int, value: int) -> None:
    data = bytearray(sle_db)
    struct.pack_into("<I", data, offset, value)
    result = parse(bytes(data), "/var/lib/rpm/Packages.db")

    assert result.packages == []
    assert len(result.unknowns) == 1


def test_ndb_overlapping_blobs_are_unknown(sle_db: bytes) -> None:
    data = bytearray(sle_db)
    slot_count = struct.unpack_from("<I", data, 12)[0] * 4096 // 16 - 2
    slots = [struct.unpack_from("<4sIII", data, 32 + slot * 16) for slot in range(slot_count)]
    largest = max(slots, key=lambda slot: slot[3])
    for slot in range(slot_count):
        struct.pack_into("<4sIII", data, 32 + slot * 16, *largest)
    result = parse(bytes(data), "/var/lib/rpm/Packages.db")

    assert 0 < len(result.packages) < slot_count
    assert len(set(names(result))) == 1
    assert "overlapping" in result.unknowns[-1].reason


def test_ndb_blob_outside_file(sle_db: bytes) -> None:
    data = bytearray(sle_db)
    struct.pack_into("<I", data, 32 + 8, 0xFFFFFFF)
    result = parse(bytes(data), "/var/lib/rpm/Packages.db")

    assert len(result.packages) == 34
    assert "outside the file" in result.unknowns[0].reason


# SQLite.


def sqlite_bytes(statements: list[str], rows: list[tuple[int, object]] | None = None) -> bytes:
    connection = sqlite3.connect(":memory:")
    for statement in statements:
        connection.execute(statement)
    if rows:
        connection.executemany("INSERT INTO Packages VALUES (?, ?)", rows)
    connection.commit()
    content = connection.serialize()
    connection.close()
    return content


def view_database() -> bytes:
    """Return a database whose `Packages` is an endless recursive view, not a table."""
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIEW Packages AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
        "SELECT x + 1 FROM c) SELECT x AS hnum, x AS blob FROM c"
    )
    content = connection.serialize()
    connection.close()
    return content


def test_sqlite_view_instead_of_table_is_unknown() -> None:
    result = parse(view_database(), "/var/lib/rpm/rpmdb.sqlite")

    assert result.packages == []
    assert "no Packages table" in result.unknowns[0].reason


def test_sqlite_row_without_blob(mariner_rows: list[tuple[int, bytes]]) -> None:
    content = sqlite_bytes(
        ["CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)"],
        [(1, mariner_rows[0][1]), (2, "not a blob")],
    )
    result = parse(content, "/var/lib/rpm/rpmdb.sqlite")

    assert names(result) == ["mariner-release"]
    assert "row 2 has no header blob" in result.unknowns[0].reason


def test_sqlite_blobs_larger_than_file(mariner_rows: list[tuple[int, bytes]]) -> None:
    content = sqlite_bytes(
        ["CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB)"], mariner_rows[:2]
    )
    connection = sqlite3.connect(":memory:")
    connection.deserialize(content)
    first_size = len(mariner_rows[0][1])
    rows = rpmdb_sqlite._rows(connection, first_size + 1)

    assert next(rows) == mariner_rows[0][1]
    with pytest.raises(RpmdbError, match="larger in total than the file"):
        next(rows)


def test_sqlite_without_packages_table() -> None:
    content = sqlite_bytes(["CREATE TABLE Other (x)"])
    result = parse(content, "/var/lib/rpm/rpmdb.sqlite")

    assert result.packages == []
    assert "no Packages table" in result.unknowns[0].reason


def wal_database(rows: list[tuple[int, bytes]], directory: Path) -> tuple[bytes, bytes]:
    """Return a database with an empty `Packages` table and a write-ahead log that commits `rows`
    in one transaction and then writes one more row without committing it."""
    path = directory / "rpmdb.sqlite"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob BLOB NOT NULL)")
    writer.commit()
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.executemany("INSERT INTO Packages VALUES (?, ?)", rows[:-1])
    writer.commit()
    writer.execute("INSERT INTO Packages VALUES (?, ?)", rows[-1])
    content = path.read_bytes()
    wal = (directory / "rpmdb.sqlite-wal").read_bytes()
    writer.close()
    return content, wal


def test_sqlite_applies_committed_wal_frames(
    mariner_rows: list[tuple[int, bytes]], tmp_path: Path
) -> None:
    content, wal = wal_database(mariner_rows[:4], tmp_path)

    assert list(read_sqlite(content)) == []
    assert len(list(read_sqlite(content, wal))) == 3
    kept = {"/var/lib/rpm/rpmdb.sqlite-wal": wal}
    result = parse_rpmdb(
        "/var/lib/rpm/rpmdb.sqlite", content, ParseContext(distro=None, read=kept.get)
    )
    assert names(result) == ["mariner-release", "filesystem", "glibc"]


def rewrite_commit_size(wal: bytes, commit_size: int | None) -> bytes:
    """Return `wal` with the first commit frame's database size set to `commit_size` (None
    keeps it), and the running checksums recomputed from that frame on."""
    data = bytearray(wal)
    order = "<" if struct.unpack_from(">I", data, 0)[0] == 0x377F0682 else ">"
    frame_size = 24 + struct.unpack_from(">I", data, 8)[0]
    starts = list(range(32, len(data) - frame_size + 1, frame_size))
    commit = next(
        index for index, start in enumerate(starts) if data[start + 4 : start + 8] != bytes(4)
    )
    if commit_size is not None:
        struct.pack_into(">I", data, starts[commit] + 4, commit_size)
    checksum_offset = starts[commit - 1] + 16 if commit else 24
    checksum = struct.unpack_from(">2I", data, checksum_offset)
    for start in starts[commit:]:
        body = bytes(data[start : start + 8] + data[start + 24 : start + frame_size])
        checksum = rpmdb_sqlite._wal_checksum(order, body, checksum)
        struct.pack_into(">2I", data, start + 16, *checksum)
    return bytes(data)


def test_sqlite_wal_absurd_commit_size_ignored(
    mariner_rows: list[tuple[int, bytes]], tmp_path: Path
) -> None:
    content, wal = wal_database(mariner_rows[:4], tmp_path)

    assert len(list(read_sqlite(content, rewrite_commit_size(wal, None)))) == 3
    assert list(read_sqlite(content, rewrite_commit_size(wal, 0x7FFFFFFF))) == []


def test_sqlite_temporary_file_without_deserialize(
    mariner_db: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(rpmdb_sqlite, "_CAN_DESERIALIZE", False)
    monkeypatch.setattr(rpmdb_sqlite.tempfile, "tempdir", str(tmp_path))
    blobs = list(read_sqlite(mariner_db))

    assert len(blobs) == 129
    assert all(isinstance(blob, bytes) for blob in blobs)
    assert list(tmp_path.iterdir()) == []


def test_sqlite_ignores_corrupt_wal(mariner_db: bytes) -> None:
    assert len(list(read_sqlite(mariner_db, b"\x37\x7f\x06\x82" + bytes(60)))) == 129
    assert len(list(read_sqlite(mariner_db, b"junk"))) == 129


# Damaged databases of every format.

Corruptor = Callable[[bytes, random.Random], bytes]


def truncate(content: bytes, rng: random.Random) -> bytes:
    return content[: rng.randrange(16, len(content))]


def flip_bytes(content: bytes, rng: random.Random) -> bytes:
    data = bytearray(content)
    for _ in range(50):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


def keep_magic_then_noise(content: bytes, rng: random.Random) -> bytes:
    return content[:64] + rng.randbytes(len(content) - 64)


@pytest.mark.parametrize("corrupt", [truncate, flip_bytes, keep_magic_then_noise])
@pytest.mark.parametrize("fixture", ["libuuid_db", "sle_db", "mariner_db"])
def test_rpmdb_damaged_gives_unknown_not_crash(
    corrupt: Corruptor, fixture: str, request: pytest.FixtureRequest
) -> None:
    content: bytes = request.getfixturevalue(fixture)
    rng = random.Random(f"{fixture}-{corrupt.__name__}")
    for _ in range(15):
        result = parse(corrupt(content, rng))
        for package in result.packages:
            assert package.name
        assert len(result.unknowns) <= 101


@pytest.mark.parametrize(
    "prefix",
    [b"SQLite format 3\0", b"RpmP\0\0\0\0", bytes(12) + b"\x61\x15\x06\x00", b""],
)
def test_rpmdb_random_bytes_give_unknown(prefix: bytes) -> None:
    rng = random.Random(prefix)
    for _ in range(20):
        content = prefix + rng.randbytes(rng.randrange(0, 20_000))
        result = parse(content)
        assert result.packages == []
        assert len(result.unknowns) == 1
