"""Read-only access to the files of an image layout: in a directory, or in a tar archive.

A tar archive (plain, gzip, bzip2 or xz) is read in place: members are streamed from the archive
and nothing is extracted to disk.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import tarfile
from pathlib import Path
from typing import IO, Protocol

from chalicelib.registry.errors import BlobNotFoundError, InvalidImageLayoutError

logger = logging.getLogger(__name__)

_MAX_LINK_HOPS = 16
MAX_ARCHIVE_MEMBERS = 100_000
"""Members indexed in an archive; layouts have a few per image, and each costs memory."""


class BlobStore(Protocol):
    """Files of an image layout, named by their `/`-separated path inside it."""

    description: str
    """Name of the store in error messages: `OCI layout /path` or `docker archive /path`."""

    def exists(self, name: str) -> bool:
        """Return whether `name` is a regular file (or a link to one)."""
        ...

    def size(self, name: str) -> int:
        """Return the size of `name` in bytes, raising `BlobNotFoundError` when it is missing."""
        ...

    def open(self, name: str) -> IO[bytes]:
        """Open `name` for reading, raising `BlobNotFoundError` when it is missing."""
        ...

    def close(self) -> None:
        """Release the open archive, if any; streams opened before then stop working."""
        ...


def read_limited(store: BlobStore, name: str, limit: int) -> bytes:
    """Read a whole file of at most `limit` bytes, raising `InvalidImageLayoutError` if larger."""
    size = store.size(name)
    if size > limit:
        raise InvalidImageLayoutError(
            f"{name} in {store.description} is {size} bytes, more than the {limit} bytes "
            "accepted for a JSON document"
        )
    with store.open(name) as stream:
        return stream.read()


def open_store(path: Path, kind: str) -> BlobStore:
    """Open a directory or a tar archive as a `BlobStore`; `kind` names it in messages."""
    description = f"{kind} {path}"
    if path.is_dir():
        return DirectoryStore(path, description)
    if path.is_file():
        return TarStore(path, description)
    raise InvalidImageLayoutError(
        f"{description} does not exist; give the path of an image layout directory or archive"
    )


class DirectoryStore:
    """Files of an image layout in a directory.

    Symbolic links are followed only while they stay inside the directory, so a layout cannot
    make the reader open a file elsewhere on the machine.
    """

    def __init__(self, root: Path, description: str) -> None:
        """Read the layout at `root`; `description` names it in messages."""
        self.root = root
        self.description = description
        self._real_root = root.resolve()

    def exists(self, name: str) -> bool:
        return self._inside(self.root / _normalize(name)) is not None

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def open(self, name: str) -> IO[bytes]:
        return self._path(name).open("rb")

    def close(self) -> None:
        """Do nothing, because a directory store keeps no file open."""

    def _path(self, name: str) -> Path:
        path = self._inside(self.root / _normalize(name))
        if path is None:
            raise BlobNotFoundError(
                f"{name} is missing from {self.description} or links outside it; the layout is "
                "incomplete, so write it again (for example with `skopeo copy` to an oci: "
                "destination)"
            )
        return path

    def _inside(self, path: Path) -> Path | None:
        """Return the real path of the regular file `path`, or None if it is elsewhere."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not real.is_relative_to(self._real_root) or not real.is_file():
            logger.debug("%s in %s is not a file inside it", path, self.description)
            return None
        return real


class TarStore:
    """Files of an image layout in a tar archive, read without extracting it.

    Symbolic and hard links between members are followed, as `docker save` links repeated
    layers to their first copy.

    NOTE: reading members of a compressed archive out of order decompresses the archive again up
    to each member, so read layers one after another rather than interleaved.
    """

    def __init__(self, path: Path, description: str) -> None:
        """Open the archive at `path` and index its members; `description` names it."""
        self.description = description
        self._path = path
        try:
            self._tar = tarfile.open(path, mode="r:*")
        except tarfile.ReadError as error:
            # The error lists each compression tried, one per line, so only its gist is shown.
            raise InvalidImageLayoutError(
                f"{description} is not a tar archive (plain, gzip, bzip2 or xz); give a "
                "`docker save` or OCI layout archive, a directory, or a registry reference"
            ) from error
        except (tarfile.TarError, OSError) as error:
            raise InvalidImageLayoutError(f"{description} cannot be read: {error}") from error
        try:
            members = self._index_members()
        except (tarfile.TarError, OSError, EOFError) as error:
            self._tar.close()
            raise InvalidImageLayoutError(
                f"{description} is a truncated or corrupt tar archive ({error}); "
                "write the archive again"
            ) from error
        except InvalidImageLayoutError:
            self._tar.close()
            raise
        self._members = {_normalize(member.name): member for member in members}
        logger.debug("indexed %s members of %s", len(self._members), description)

    def _index_members(self) -> list[tarfile.TarInfo]:
        members = []
        for member in self._tar:
            members.append(member)
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise InvalidImageLayoutError(
                    f"{self.description} has more than {MAX_ARCHIVE_MEMBERS} members, far more "
                    "than an image layout needs; give a `docker save` or OCI layout archive"
                )
        return members

    def exists(self, name: str) -> bool:
        try:
            self._resolve(name)
        except BlobNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        return self._resolve(name).size

    def open(self, name: str) -> IO[bytes]:
        member = self._resolve(name)
        if self._tar.fileobj is not None and type(self._tar.fileobj) is io.BufferedReader:
            # A plain archive: read the member's bytes from the file itself. `extractfile`
            # passes them through two more buffers, which cost more than hashing them.
            if not member.issparse():
                return _MemberReader(self._path, member.offset_data, member.size)
        stream = self._tar.extractfile(member)
        if stream is None:
            raise InvalidImageLayoutError(f"{name} in {self.description} is not a regular file")
        return stream

    def close(self) -> None:
        """Close the archive."""
        self._tar.close()

    def _resolve(self, name: str) -> tarfile.TarInfo:
        """Return the regular-file member that `name` is or links to."""
        current = _normalize(name)
        for _ in range(_MAX_LINK_HOPS):
            member = self._members.get(current)
            if member is None:
                raise BlobNotFoundError(
                    f"{current} is missing from {self.description}; the archive is incomplete, "
                    "so write it again"
                )
            if member.isreg():
                return member
            if member.issym():
                current = _normalize(posixpath.join(posixpath.dirname(current), member.linkname))
            elif member.islnk():
                current = _normalize(member.linkname)
            else:
                raise InvalidImageLayoutError(
                    f"{current} in {self.description} is not a regular file"
                )
        raise InvalidImageLayoutError(
            f"{name} in {self.description} is a chain of more than {_MAX_LINK_HOPS} links"
        )


class _MemberReader(io.RawIOBase):
    """The `size` bytes at `offset` of the file at `path`, read with no buffer of its own."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(offset)
        self._remaining = size

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` bytes of the member, or the rest when `size` is negative."""
        want = self._remaining if size is None or size < 0 else min(size, self._remaining)
        if want <= 0:
            return b""
        chunk = self._file.read(want)
        self._remaining -= len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read up to `len(buffer)` bytes of the member into `buffer`."""
        view = memoryview(buffer)[: self._remaining]
        count = self._file.readinto(view) or 0
        self._remaining -= count
        return count

    def close(self) -> None:
        """Close the file."""
        self._file.close()
        super().close()


def _normalize(name: str) -> str:
    """Normalize a member name: no leading `./` or `/`, no `..` above the root."""
    return posixpath.normpath("/" + name).lstrip("/")
