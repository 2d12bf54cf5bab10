"""Image layers as ordered lists of tar entries, and their deterministic tar serialization."""

from __future__ import annotations

import dataclasses
import enum
import io
import posixpath
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

from tools.imagebuild.errors import ImageBuildError

FIXED_MTIME = 1704067200
"""Modification time (2024-01-01T00:00:00Z) of entries that do not set their own, so that
building the same content twice gives the same digests."""

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


class EntryType(enum.Enum):
    """Kind of a layer entry; whiteouts and opaque markers are empty regular files."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"


@dataclasses.dataclass(frozen=True)
class LayerEntry:
    """One tar entry of a layer."""

    path: str
    """Path inside the image, relative and normalized (`usr/bin/passwd`)."""
    type: EntryType
    mode: int = 0o644
    """Permission and special bits, for example `0o4755`."""
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    """Content of a regular file; empty for every other type."""
    link_target: str = ""
    """Target of a symbolic link as written, or the normalized image path a hard link names."""
    mtime: int = FIXED_MTIME


def normalize_path(path: str) -> str:
    """Return `path` relative to the image root and normalized, as tar layers store it.

    Raises `ImageBuildError` for the root itself and for paths that leave it through `..`.
    """
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise ImageBuildError(f"path {path!r} contains '..'; give a path inside the image")
        parts.append(part)
    if not parts:
        raise ImageBuildError(f"path {path!r} names the image root; give a file or directory")
    return "/".join(parts)


class Layer:
    """An ordered set of entries that becomes one layer tar.

    A path appears at most once: adding a directory that is already there keeps the first
    entry, and adding anything else at a taken path replaces the earlier entry. Parent
    directories that were not added are written as `0o755` root directories before their first
    child. Paths must not pass through a symbolic link, because the written parent directory
    would replace the link in the unpacked image.
    """

    def __init__(self, created_by: str | None = None, comment: str | None = None) -> None:
        """Create an empty layer.

        `created_by` is the command shown in the image history; None lets the builder write
        an `ADD file:<diff id> in /` step. `comment` is the optional history comment.
        """
        self.created_by = created_by
        self.comment = comment
        self._entries: dict[str, LayerEntry] = {}

    @property
    def entries(self) -> list[LayerEntry]:
        """The entries in the order they were first added."""
        return list(self._entries.values())

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and normalize_path(path) in self._entries

    def get(self, path: str) -> LayerEntry | None:
        """Return the entry at `path`, or None."""
        return self._entries.get(normalize_path(path))

    def add(self, entry: LayerEntry) -> None:
        """Add `entry`, normalizing its path (see the class docstring for duplicates)."""
        entry = dataclasses.replace(entry, path=normalize_path(entry.path))
        existing = self._entries.get(entry.path)
        if existing is not None and existing.type is EntryType.DIR and entry.type is EntryType.DIR:
            return
        self._entries[entry.path] = entry

    def add_file(
        self,
        path: str,
        data: bytes,
        mode: int = 0o644,
        uid: int = 0,
        gid: int = 0,
        mtime: int = FIXED_MTIME,
    ) -> None:
        """Add a regular file with content `data`."""
        self.add(LayerEntry(path, EntryType.FILE, mode, uid, gid, data=data, mtime=mtime))

    def add_dir(
        self, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = FIXED_MTIME
    ) -> None:
        """Add a directory."""
        self.add(LayerEntry(path, EntryType.DIR, mode, uid, gid, mtime=mtime))

    def add_symlink(self, path: str, target: str, mtime: int = FIXED_MTIME) -> None:
        """Add a symbolic link; `target` is written as given, relative or absolute."""
        self.add(LayerEntry(path, EntryType.SYMLINK, 0o777, link_target=target, mtime=mtime))

    def add_hardlink(self, path: str, target: str, mtime: int = FIXED_MTIME) -> None:
        """Add a hard link to the image path `target`, a regular file in this or a lower layer."""
        self.add(
            LayerEntry(
                path, EntryType.HARDLINK, 0o644, link_target=normalize_path(target), mtime=mtime
            )
        )

    def add_whiteout(self, path: str) -> None:
        """Delete `path` (and everything under it) of the lower layers, with a `.wh.` file."""
        parent, name = posixpath.split(normalize_path(path))
        self.add_file(posixpath.join(parent, WHITEOUT_PREFIX + name), b"", mode=0o600)

    def add_opaque(self, directory: str) -> None:
        """Hide everything that lower layers put in `directory`; this layer's entries stay."""
        self.add_file(posixpath.join(normalize_path(directory), OPAQUE_MARKER), b"", mode=0o600)

    def write_tar(self, fileobj: BinaryIO) -> None:
        """Write the layer as an uncompressed tar stream to `fileobj`."""
        with tarfile.open(fileobj=fileobj, mode="w|", format=tarfile.PAX_FORMAT) as archive:
            for entry in self._entries_with_parents():
                info = _tar_info(entry)
                data = io.BytesIO(entry.data) if entry.type is EntryType.FILE else None
                archive.addfile(info, data)

    def _entries_with_parents(self) -> Iterator[LayerEntry]:
        written: set[str] = set()
        for entry in self._entries.values():
            if entry.path in written:
                continue
            parts = entry.path.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                explicit = self._entries.get(parent)
                if explicit is not None and explicit.type is not EntryType.DIR:
                    raise ImageBuildError(
                        f"layer entry {entry.path!r} lies under {parent!r}, which this layer "
                        f"adds as a {explicit.type.value}, not a directory"
                    )
                if parent in written:
                    continue
                written.add(parent)
                yield explicit or LayerEntry(parent, EntryType.DIR, 0o755)
            written.add(entry.path)
            yield entry


_TAR_TYPES = {
    EntryType.FILE: tarfile.REGTYPE,
    EntryType.DIR: tarfile.DIRTYPE,
    EntryType.SYMLINK: tarfile.SYMTYPE,
    EntryType.HARDLINK: tarfile.LNKTYPE,
}


def _tar_info(entry: LayerEntry) -> tarfile.TarInfo:
    name = entry.path + "/" if entry.type is EntryType.DIR else entry.path
    info = tarfile.TarInfo(name)
    info.type = _TAR_TYPES[entry.type]
    info.mode = entry.mode
    info.uid = entry.uid
    info.gid = entry.gid
    info.uname = ""
    info.gname = ""
    info.mtime = entry.mtime
    info.linkname = entry.link_target
    info.size = len(entry.data) if entry.type is EntryType.FILE else 0
    return info
