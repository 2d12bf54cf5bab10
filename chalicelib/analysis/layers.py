"""Reading one layer: file metadata, hashes, kept content and secret matches, in one pass."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, BinaryIO, Protocol

from chalicelib.analysis.executables import GoBuildInfoSearch, is_executable_format
from chalicelib.analysis.interface import FileEntry, FileType, SecretMatch, Unknown
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.tarstream import (
    BLOCK_DEVICE,
    CHAR_DEVICE,
    DIRECTORY,
    FIFO,
    HARDLINK,
    REGULAR_TYPES,
    SYMLINK,
    LayerByteStream,
    LayerError,
    TarMember,
    iter_members,
)

if TYPE_CHECKING:
    from chalicelib.analysis.squash import SquashedView

logger = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
_AUFS_META_PREFIX = "/" + WHITEOUT_PREFIX + WHITEOUT_PREFIX
_WHOLE_READ_SIZE = 1024 * 1024
"""Regular files up to this size are read in one piece; larger ones are hashed in chunks."""
_HEAD_SIZE = 4096
"""Bytes of a larger file read first, to see whether it is an executable format."""
_WHOLE_BINARY_SIZE = 16 * 1024 * 1024
"""Executable-format files without an execute bit up to this size are read whole for the
summarizer. Debian images have many larger shared libraries (libLLVM is over 100 MB), and
reading those whole would raise the peak memory of an analysis by their size."""

_TYPES = {
    DIRECTORY: FileType.DIR,
    SYMLINK: FileType.SYMLINK,
    HARDLINK: FileType.HARDLINK,
    CHAR_DEVICE: FileType.CHAR_DEVICE,
    BLOCK_DEVICE: FileType.BLOCK_DEVICE,
    FIFO: FileType.FIFO,
}


class Summarizer(Protocol):
    """Reduces files that no glob names, such as executables, to the few bytes catalogers need.

    The layer reader reads each file that `wants` accepts whole, calls the summarizer, and keeps
    only the summary, so a 100 MB binary costs its size in memory only while it is summarized.
    A file without an execute bit that starts like an ELF, Mach-O or PE file is offered with the
    execute bits added to its mode. When such a file is over `_WHOLE_BINARY_SIZE` bytes, the
    summarizer gets only the bytes from its Go build info magic on, if it has one.
    """

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Return True when the regular file at `path` with `mode` and `size` is summarized."""
        ...

    def __call__(self, path: str, content: bytes) -> bytes | None:
        """Return the summary to keep for `path`, or None to keep nothing."""
        ...


_ALL_FILE_ENTRY_FIELDS = set(FileEntry.model_fields)
"""The `model_fields_set` of every `FileEntry` built here, since all fields are given.

Setting a field of an entry adds its name to this shared set, which already contains every name."""


class LayerEntry:
    """One path written by a layer; a lighter twin of `FileEntry` for the hot loop."""

    __slots__ = ("path", "type", "mode", "uid", "gid", "size", "sha256", "link_target", "layer")

    def __init__(
        self,
        path: str,
        type: FileType,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        sha256: str | None,
        link_target: str | None,
        layer: str,
    ) -> None:
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.sha256 = sha256
        self.link_target = link_target
        self.layer = layer

    @property
    def has_content(self) -> bool:
        """True for regular files and hard links, the entries whose content can be read."""
        return self.type is FileType.FILE or self.type is FileType.HARDLINK

    def to_file_entry(self) -> FileEntry:
        """Return the entry as the analysis document stores it.

        The fields were checked when the tar entry was read, so the model is built without
        validation, the way `FileEntry.model_construct` builds it, but without its loop over
        the fields: 60,000 entries take 0.04 s instead of 0.18 s. Every entry shares one set of
        field names as its `model_fields_set`. A set per entry took about 700 of the 1,100 bytes
        that each entry cost, which is 40 MiB for an image of 60,000 files.
        """
        entry = _new_model(FileEntry)
        _set_attribute(
            entry,
            "__dict__",
            {
                "path": self.path,
                "type": self.type,
                "mode": self.mode,
                "uid": self.uid,
                "gid": self.gid,
                "size": self.size,
                "sha256": self.sha256,
                "link_target": self.link_target,
                "layer_digest": self.layer,
            },
        )
        _set_attribute(entry, "__pydantic_fields_set__", _ALL_FILE_ENTRY_FIELDS)
        _set_attribute(entry, "__pydantic_extra__", None)
        _set_attribute(entry, "__pydantic_private__", None)
        return entry


_new_model = FileEntry.__new__
_set_attribute = object.__setattr__


@dataclasses.dataclass
class LayerContents:
    """The paths one layer writes and deletes, before it is applied to the squashed view."""

    digest: str
    entries: dict[str, LayerEntry] = dataclasses.field(default_factory=dict)
    """Paths the layer writes; a path written twice keeps its last entry."""
    whiteouts: list[str] = dataclasses.field(default_factory=list)
    """Paths that `.wh.NAME` entries delete from lower layers."""
    opaque_dirs: list[str] = dataclasses.field(default_factory=list)
    """Directories whose lower-layer content is hidden: by `.wh..wh..opq` entries, or because an
    earlier entry of this layer replaced the directory with a non-directory."""
    kept: dict[str, bytes] = dataclasses.field(default_factory=dict)
    """Content of the files that a cataloger asked for."""
    secrets: dict[str, list[SecretMatch]] = dataclasses.field(default_factory=dict)
    unknowns: list[Unknown] = dataclasses.field(default_factory=list)
    uncompressed_size: int = 0


def path_bytes(contents: LayerContents) -> int:
    """Return the size in bytes of UTF-8 of the paths that a layer writes."""
    return sum(len(path) if path.isascii() else len(path.encode()) for path in contents.entries)


def path_limit_message(options: AnalysisOptions, where: str) -> str:
    """Return the error for an image whose paths pass `options.max_image_path_bytes`."""
    return (
        f"{where} brings the paths that the image's layers write to more than "
        f"{options.max_image_path_bytes} bytes, the limit for one image; if the image is "
        "genuine, raise the limit with `plimsoll analyze --max-image-path-bytes` or the "
        "MAX_IMAGE_PATH_BYTES setting of the service"
    )


def normalize_path(name: str) -> str:
    """Return `name` from a tar entry as an absolute image path.

    `./` prefixes and duplicate slashes go, and `..` cannot climb above `/`.
    """
    path = "/" + name.lstrip("/")
    if "//" not in path and "/." not in path:
        # Most names have no empty, `.` or `..` component, so only a final "/" needs to go.
        return path.rstrip("/") or "/"
    path = posixpath.normpath(path)
    # normpath keeps a leading "//" (POSIX leaves its meaning to the implementation).
    return "/" + path.lstrip("/") if path.startswith("//") else path


def read_layer(
    blob: BinaryIO,
    digest: str,
    *,
    options: AnalysisOptions,
    wants: Callable[[str], bool],
    scanner: SecretScanner,
    lower: SquashedView | None = None,
    summarizer: Summarizer | None = None,
    path_budget: int | None = None,
) -> LayerContents:
    """Read the layer blob `blob` once and return what it writes and deletes.

    `path_budget` is how many bytes of paths the layer may write, by default
    `options.max_image_path_bytes`; `analyze_image` passes what the lower layers left of it.

    `wants(path)` decides, before a file is read, whether its content is kept for a cataloger.
    Files up to `options.secret_max_file_size` bytes are scanned by `scanner` while streaming and
    then dropped. `lower` is the view of the layers below, where hard links may point. The blob is
    read to its end so that the source can verify its digest. Files that `summarizer` wants and
no glob keeps are kept as their summaries. Raises `LayerError` for a corrupt,
    truncated or unsupported blob and for a layer over `max_layer_bytes` or `max_layer_entries`.
    """
    stream = LayerByteStream(blob, digest, options.max_layer_bytes, options.max_layer_entries)
    reader = _LayerReader(stream, digest, options, wants, scanner, lower, summarizer)
    if path_budget is not None:
        reader.path_budget = path_budget
    interrupted = False
    try:
        reader.read_all()
        stream.drain()
    except KeyboardInterrupt:
        # A reading thread may be blocked in a read of a stalled registry download, which can
        # last as long as the socket timeout. The threads are daemons, so they are not awaited.
        interrupted = True
        raise
    finally:
        stream.close(wait=not interrupted)
    reader.contents.uncompressed_size = stream.total
    logger.debug(
        "read layer=%s entries=%d kept=%d bytes=%d",
        digest,
        len(reader.contents.entries),
        len(reader.contents.kept),
        stream.total,
    )
    return reader.contents


class _LayerReader:
    def __init__(
        self,
        stream: LayerByteStream,
        digest: str,
        options: AnalysisOptions,
        wants: Callable[[str], bool],
        scanner: SecretScanner,
        lower: SquashedView | None,
        summarizer: Summarizer | None = None,
    ) -> None:
        self.summarizer = summarizer
        self.stream = stream
        self.digest = digest
        self.options = options
        self.wants = wants
        self.scanner = scanner
        self.lower = lower
        self.contents = LayerContents(digest=digest)
        self.path_budget = options.max_image_path_bytes
        """Bytes of paths this layer may write before `read_all` raises `LayerError`."""
        self._aufs_files: dict[str, LayerEntry] = {}
        """Files under AUFS `/.wh..wh.*` directories: only hard link targets, not image paths."""

    def read_all(self) -> None:
        entries = self.contents.entries
        max_entries = self.options.max_layer_entries
        count = 0
        path_bytes = 0
        for member in iter_members(self.stream):
            count += 1
            if count > max_entries:
                raise LayerError(
                    f"layer {self.digest} has more than {max_entries} tar entries, the limit "
                    "for one layer; if the image is genuine, raise the limit with "
                    "`plimsoll analyze --max-layer-entries` or the MAX_LAYER_ENTRIES setting of "
                    "the service"
                )
            path = normalize_path(member.name)
            path_bytes += len(path) if path.isascii() else len(path.encode())
            if path_bytes > self.path_budget:
                raise LayerError(path_limit_message(self.options, f"layer {self.digest}"))
            slash = path.rfind("/")
            name = path[slash + 1 :]
            if name.startswith(WHITEOUT_PREFIX):
                self._add_whiteout(path[:slash] or "/", name)
                continue
            if member.type in REGULAR_TYPES:
                entry = self._read_file(member, path)
            elif member.type == HARDLINK:
                entry = self._link_hard(member, path)
            else:
                file_type = _TYPES.get(member.type, FileType.FILE)
                link = member.linkname if file_type is FileType.SYMLINK else None
                entry = LayerEntry(
                    path, file_type, member.mode, member.uid, member.gid, 0, None, link,
                    self.digest,
                )
                self._forget(path)
                if file_type is FileType.DIR:
                    self._replace_with_directory(path)
            if path.startswith(_AUFS_META_PREFIX):
                self._aufs_files[path] = entry
                continue
            entries[path] = entry

    def _add_whiteout(self, directory: str, name: str) -> None:
        if name == OPAQUE_WHITEOUT:
            self.contents.opaque_dirs.append(directory)
        elif not name.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            # `.wh..wh.*` names other than the opaque marker are AUFS metadata, not deletions.
            target = name[len(WHITEOUT_PREFIX) :]
            self.contents.whiteouts.append(
                directory + target if directory == "/" else directory + "/" + target
            )

    def _replace_with_directory(self, path: str) -> None:
        """Empty the directory at `path` when an earlier entry of this layer wrote a non-directory.

        That entry removed what the lower layers and this layer had below `path`, so the new
        directory starts empty, as if it were opaque.
        """
        old = self.contents.entries.get(path)
        if old is None or old.type is FileType.DIR:
            return
        self.contents.opaque_dirs.append(path)
        prefix = path + "/"
        for below in [key for key in self.contents.entries if key.startswith(prefix)]:
            del self.contents.entries[below]
            self._forget(below)

    def _forget(self, path: str) -> None:
        """Drop kept content and secret matches of an earlier entry of this layer at `path`."""
        self.contents.kept.pop(path, None)
        self.contents.secrets.pop(path, None)

    def _read_file(self, member: TarMember, path: str) -> LayerEntry:
        options = self.options
        stream = self.stream
        size = member.size
        self._forget(path)
        if member.sparse:
            # TODO: sparse entries are listed without a hash or content, because rebuilding the
            # file from the sparse map is not implemented. Container layers rarely contain them.
            logger.debug("skipping content of sparse file %s in layer=%s", path, self.digest)
            if self.wants(path):
                self.contents.unknowns.append(
                    Unknown(
                        location=path,
                        reason="file is stored sparse in the layer, and the analysis does not "
                        "read sparse files, so no cataloger reads it",
                    )
                )
            return LayerEntry(
                path, FileType.FILE, member.mode, member.uid, member.gid, size, None, None,
                self.digest,
            )

        keep = self.wants(path)
        limit, option = options.kept_size_limit(path) if keep else (0, "")
        if keep and size > limit:
            keep = False
            self.contents.unknowns.append(
                Unknown(
                    location=path,
                    reason=f"file is {size} bytes, over the limit of {limit} bytes kept for "
                    f"catalogers; to catalog it, raise the limit with `plimsoll analyze "
                    f"--{option.replace('_', '-')}` or the {option.upper()} setting of the "
                    "service",
                )
            )
        summarizer = None
        if not keep and self.summarizer is not None and self.summarizer.wants(
            path, member.mode, size
        ):
            summarizer = self.summarizer
        if keep or summarizer or size <= _WHOLE_READ_SIZE or size <= options.secret_max_file_size:
            data = stream.read(size)
            if len(data) < size:
                raise LayerError(
                    f"layer {self.digest} is truncated inside {path}; pull or build the image "
                    "again"
                )
            sha256 = hashlib.sha256(data).hexdigest()
            if keep:
                self.contents.kept[path] = data
            else:
                summarizer = self._binary_summarizer(path, member.mode, size, data) or summarizer
                if summarizer is not None:
                    self._keep_summary(path, summarizer(path, data))
            if size <= options.secret_max_file_size:
                matches = self.scanner.scan(path, data)
                if matches:
                    self.contents.secrets[path] = matches
        else:
            sha256 = self._read_large_file(path, member.mode, size)
        return LayerEntry(
            path, FileType.FILE, member.mode, member.uid, member.gid, size, sha256, None,
            self.digest,
        )

    def _binary_summarizer(
        self, path: str, mode: int, size: int, head: bytes
    ) -> Summarizer | None:
        """Return the summarizer when it wants the file as an executable, judged by content.

        Syft catalogs Go and Rust binaries by MIME type, whatever their mode, so a file without
        an execute bit whose first bytes `head` are ELF, Mach-O or PE is offered to the
        summarizer as if it had one.
        """
        if self.summarizer is None or mode & 0o111 or not is_executable_format(head):
            return None
        return self.summarizer if self.summarizer.wants(path, mode | 0o111, size) else None

    def _keep_summary(self, path: str, summary: bytes | None) -> None:
        if summary is not None:
            self.contents.kept[path] = summary

    def _read_large_file(self, path: str, mode: int, size: int) -> str:
        """Hash a file over `_WHOLE_READ_SIZE` bytes that nothing keeps, and return its SHA-256.

        A binary without an execute bit is read whole for the summarizer up to
        `_WHOLE_BINARY_SIZE` bytes. Larger ones, typically shared libraries, stream by, and
        only the Go build info found on the way is summarized.
        """
        stream = self.stream
        head = stream.read(_HEAD_SIZE)
        if len(head) < _HEAD_SIZE:
            raise LayerError(
                f"layer {self.digest} is truncated inside {path}; pull or build the image again"
            )
        digest = hashlib.sha256(head)
        summarizer = self._binary_summarizer(path, mode, size, head)
        if summarizer is not None and size <= _WHOLE_BINARY_SIZE:
            rest = stream.read(size - len(head))
            if len(rest) < size - len(head):
                raise LayerError(
                    f"layer {self.digest} is truncated inside {path}; pull or build the image "
                    "again"
                )
            digest.update(rest)
            self._keep_summary(path, summarizer(path, head + rest))
            return digest.hexdigest()

        # NOTE: Go build info from before Go 1.18 points into the read-only data that has
        # streamed by, and cargo-auditable data is found through the section headers at the
        # end of the file, so neither is read from these files.
        search = GoBuildInfoSearch(head, size) if summarizer is not None else None
        if search is not None:
            search.feed(head)
        for chunk in stream.chunks(size - len(head)):
            digest.update(chunk)
            if search is not None:
                search.feed(chunk)
        if summarizer is not None and search is not None and search.excerpt is not None:
            self._keep_summary(path, summarizer(path, bytes(search.excerpt)))
        return digest.hexdigest()

    def _link_hard(self, member: TarMember, path: str) -> LayerEntry:
        """Record a hard link with the hash, content and secrets of the entry it names."""
        target = normalize_path(member.linkname)
        self._forget(path)
        source = self.contents.entries.get(target) or self._aufs_files.get(target)
        from_lower = source is None and self.lower is not None
        if from_lower and self.lower is not None:
            source = self.lower.get(target)
        if source is None or not source.has_content:
            self.contents.unknowns.append(
                Unknown(location=path, reason=f"hard link to {target}, which is not a file")
            )
            return LayerEntry(
                path, FileType.HARDLINK, member.mode, member.uid, member.gid, 0, None, target,
                self.digest,
            )

        if self.wants(path):
            content = self._content_of(target, from_lower)
            if content is None:
                self.contents.unknowns.append(
                    Unknown(
                        location=path,
                        reason=f"hard link to {target}, whose content was not kept",
                    )
                )
            else:
                self.contents.kept[path] = content
        elif self.summarizer is not None and self.summarizer.wants(path, member.mode, source.size):
            # The target's summary, if it has one, describes this path's content too.
            content = self._content_of(target, from_lower)
            if content is not None:
                self.contents.kept[path] = content
        matches = self._secrets_of(target, from_lower)
        if matches:
            self.contents.secrets[path] = [
                match.model_copy(update={"path": path}) for match in matches
            ]
        return LayerEntry(
            path, FileType.HARDLINK, member.mode, member.uid, member.gid, source.size,
            source.sha256, target, self.digest,
        )

    def _content_of(self, target: str, from_lower: bool) -> bytes | None:
        if not from_lower:
            return self.contents.kept.get(target)
        return self.lower.content(target) if self.lower is not None else None

    def _secrets_of(self, target: str, from_lower: bool) -> list[SecretMatch]:
        if not from_lower:
            return self.contents.secrets.get(target, [])
        return self.lower.secrets_at(target) if self.lower is not None else []
