"""The rpm header blob: index entries, typed tag values, the region trailer and i18n strings.

A header as the package database stores it has no lead and no magic. It starts with the count
of index entries `il` and the length `dl` of the data store. Then come `il` entries of 16 bytes
(tag, type, offset into the store, count), and then the store. rpm writes every number
big-endian whatever the machine, so one parser reads headers from all three database formats.
"""

from __future__ import annotations

import array
import enum
import struct
import sys
from collections.abc import Iterable

from chalicelib.analysis.rpmdb.errors import RpmdbError

MAX_HEADER_BYTES = 256 * 1024 * 1024
"""Largest header that rpm itself accepts (its `HEADER_MAX_BYTES`), so larger blobs are corrupt."""

_ENTRY = struct.Struct(">iIiI")
_INTRO = struct.Struct(">II")


class Tag(enum.IntEnum):
    """rpm header tags that the cataloger reads (numbers from rpm's `rpmtag.h`)."""

    HEADER_IMAGE = 61
    HEADER_SIGNATURES = 62
    HEADER_IMMUTABLE = 63
    NAME = 1000
    VERSION = 1001
    RELEASE = 1002
    EPOCH = 1003
    SIZE = 1009
    VENDOR = 1011
    LICENSE = 1014
    PACKAGER = 1015
    ARCH = 1022
    OLDFILENAMES = 1027
    FILESIZES = 1028
    FILESTATES = 1029
    FILEMODES = 1030
    FILEDIGESTS = 1035
    FILEFLAGS = 1037
    SOURCERPM = 1044
    DIRINDEXES = 1116
    BASENAMES = 1117
    DIRNAMES = 1118
    LONGFILESIZES = 5008
    LONGSIZE = 5009
    FILEDIGESTALGO = 5011
    MODULARITYLABEL = 5096


class TagType(enum.IntEnum):
    """Data types of header entries."""

    NULL = 0
    CHAR = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    STRING = 6
    BIN = 7
    STRING_ARRAY = 8
    I18NSTRING = 9


_REGION_TAGS = frozenset((Tag.HEADER_IMAGE, Tag.HEADER_SIGNATURES, Tag.HEADER_IMMUTABLE))
_INT_CODES = {TagType.INT16: "H", TagType.INT32: "I", TagType.INT64: "Q"}
_STRING_TYPES = frozenset((TagType.STRING, TagType.STRING_ARRAY, TagType.I18NSTRING))
_INT_SIZES = {TagType.INT16: 2, TagType.INT32: 4, TagType.INT64: 8}

TagValue = str | list[str] | list[int] | bytes


class Header:
    """The index of one header blob, decoding a tag's value only when it is read.

    Entries outside the immutable region (rpm adds them at install time, for example install
    time and file states) replace region entries with the same tag, as rpm does on import.
    """

    def __init__(self, blob: bytes) -> None:
        """Index `blob`; raises `RpmdbError` when the intro, the index or the region is invalid."""
        if len(blob) < _INTRO.size:
            raise RpmdbError(f"header blob of {len(blob)} bytes is shorter than its intro")
        if len(blob) > MAX_HEADER_BYTES:
            raise RpmdbError(f"header blob of {len(blob)} bytes is over rpm's limit")
        index_count, data_length = _INTRO.unpack_from(blob, 0)
        store_start = _INTRO.size + index_count * _ENTRY.size
        if index_count == 0 or store_start + data_length > len(blob):
            raise RpmdbError(
                f"header declares {index_count} index entries and {data_length} data bytes, "
                f"more than its {len(blob)} bytes contain"
            )
        self._blob = blob
        self._store_start = store_start
        self._data_length = data_length
        self._entries: dict[int, tuple[int, int, int]] = {}
        index = _ENTRY.iter_unpack(blob[_INTRO.size : store_start])
        for number, (tag, tag_type, offset, count) in enumerate(index):
            if offset < 0 or offset > data_length:
                raise RpmdbError(f"header tag {tag} has offset {offset} outside the data store")
            if number == 0 and tag in _REGION_TAGS:
                self._check_region(tag, tag_type, offset, count, index_count)
                continue
            self._entries[tag] = (tag_type, offset, count)

    def _check_region(self, tag: int, tag_type: int, offset: int, count: int, total: int) -> None:
        """Check the region entry and its trailer, which gives the entries the region covers."""
        if tag_type != TagType.BIN or count != _ENTRY.size:
            raise RpmdbError(f"header region tag {tag} has type {tag_type} and count {count}")
        if offset + _ENTRY.size > self._data_length:
            raise RpmdbError(f"header region trailer at {offset} is outside the data store")
        _, trailer_type, trailer_offset, _ = _ENTRY.unpack_from(
            self._blob, self._store_start + offset
        )
        region_entries = -trailer_offset // _ENTRY.size
        if trailer_type != TagType.BIN or trailer_offset > 0 or region_entries > total:
            raise RpmdbError(
                f"header region trailer of tag {tag} covers {region_entries} entries of {total}"
            )

    def __contains__(self, tag: int) -> bool:
        return tag in self._entries

    def tags(self) -> Iterable[int]:
        """Return the tags present, region tags excluded."""
        return self._entries.keys()

    def get(self, tag: int) -> TagValue | None:
        """Return the decoded value of `tag`, or None when the header lacks it.

        Strings come back as `str` (UTF-8, invalid bytes replaced) and string arrays as lists.
        An i18n string is the list of its translations, the untranslated text first. Integer
        types come back as lists of unsigned ints, and `CHAR`, `INT8` and `BIN` as bytes.
        Raises `RpmdbError` when the value runs past the end of the data store.
        """
        found = self._entries.get(tag)
        if found is None:
            return None
        tag_type, offset, count = found
        start = self._store_start + offset
        end = self._store_start + self._data_length
        if tag_type in _STRING_TYPES:
            strings = self._strings(tag, start, end, 1 if tag_type == TagType.STRING else count)
            return strings[0] if tag_type == TagType.STRING else strings
        if tag_type in _INT_CODES:
            return self._integers(tag, TagType(tag_type), start, end, count)
        if tag_type in (TagType.CHAR, TagType.INT8, TagType.BIN):
            if start + count > end:
                raise RpmdbError(f"header tag {tag} has {count} bytes past the data store")
            return self._blob[start : start + count]
        raise RpmdbError(f"header tag {tag} has unknown type {tag_type}")

    def _strings(self, tag: int, start: int, end: int, count: int) -> list[str]:
        # Each string needs at least its NUL byte, so a count over the store size is corrupt
        # and would otherwise make the loop below run for billions of rounds.
        if count > end - start:
            raise RpmdbError(f"header tag {tag} declares {count} strings in {end - start} bytes")
        parts = self._blob[start:end].split(b"\0", count)
        if len(parts) <= count:
            raise RpmdbError(f"header tag {tag} has a string without its NUL terminator")
        del parts[count]
        return [part.decode(errors="replace") for part in parts]

    def _integers(self, tag: int, tag_type: TagType, start: int, end: int, count: int) -> list[int]:
        size = _INT_SIZES[tag_type]
        if start + count * size > end:
            raise RpmdbError(f"header tag {tag} has {count} integers past the data store")
        values = array.array(_INT_CODES[tag_type])
        if values.itemsize != size:
            return list(struct.unpack_from(f">{count}{_INT_CODES[tag_type]}", self._blob, start))
        values.frombytes(self._blob[start : start + count * size])
        if sys.byteorder == "little":
            values.byteswap()
        return values.tolist()

    def string(self, tag: int) -> str | None:
        """Return a string tag, the first item of an array or i18n string, or None."""
        value = self.get(tag)
        if isinstance(value, str):
            return value
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
        return None

    def integer(self, tag: int) -> int | None:
        """Return the first value of an integer tag, or None."""
        value = self.get(tag)
        if isinstance(value, list) and value and isinstance(value[0], int):
            return value[0]
        return None

    def strings(self, tag: int) -> list[str]:
        """Return a string array tag (a lone string as a list of one), or an empty list."""
        found = self._entries.get(tag)
        if found is None or found[0] not in _STRING_TYPES:
            return []
        tag_type, offset, count = found
        start = self._store_start + offset
        end = self._store_start + self._data_length
        return self._strings(tag, start, end, 1 if tag_type == TagType.STRING else count)

    def integers(self, tag: int) -> list[int]:
        """Return an integer array tag, or an empty list when absent or of another type."""
        found = self._entries.get(tag)
        if found is None or found[0] not in _INT_CODES:
            return []
        tag_type, offset, count = found
        start = self._store_start + offset
        end = self._store_start + self._data_length
        return self._integers(tag, TagType(tag_type), start, end, count)
