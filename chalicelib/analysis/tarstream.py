"""Forward-only reading of layer blobs: decompression with limits, and tar headers.

`tarfile` in stream mode spends about 40 microseconds per entry, which alone takes most of a
second for a layer of 10,000 small files, so this module parses ustar, GNU and PAX headers itself.
It reads the blob once, never seeks and never writes to disk.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import queue
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol
from zlib import adler32

from chalicelib.analysis.interface import AnalysisError

logger = logging.getLogger(__name__)

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_FIRST_READ_SIZE = 256 * 1024
"""Bytes of the blob read to detect its compression, kept small so a hostile blob costs little."""
_READ_SIZE = 1024 * 1024
_OUTPUT_SIZE = 4 * 1024 * 1024
"""Largest uncompressed chunk. With the reading thread, larger chunks take the GIL less often."""
_FIRST_SLICE = 64
"""Compressed bytes handed to the inflater at the start of each gzip member; see `_inflate`."""
_QUEUED_CHUNKS = 2
"""Uncompressed chunks that the reading thread may hold ready, each at most `_OUTPUT_SIZE`."""

PATH_MAX = 4096
"""Linux's limit on a path, in bytes with its closing NUL; runtimes cannot create longer names."""
MAX_EXTENSION_SIZE = 1024 * 1024
"""Largest PAX or GNU long-name header, in bytes (Go's `archive/tar` has the same limit)."""
_PAX_KEYS = frozenset(
    (
        "path", "linkpath", "size", "uid", "gid",
        "GNU.sparse.name", "GNU.sparse.major", "GNU.sparse.realsize", "GNU.sparse.size",
    )
)
"""PAX keys that `_apply_pax` reads; other records are dropped so that headers cannot pile up."""

GZIP_MAGIC = b"\x1f\x8b"
_GZIP_WBITS = 16 + zlib.MAX_WBITS
"""Window bits that make `decompressobj` read a gzip header and trailer around the deflate data."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_OTHER_COMPRESSIONS = ((b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_MAGIC_SIZE = 6
"""Bytes needed to tell every compression above from a plain tar (xz's magic is the longest)."""

_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s6s2s32s32s8s8s155s12x")

REGULAR_TYPES = frozenset((b"0", b"\0", b"7"))
"""Type flags of regular files: `0`, NUL (pre-POSIX) and `7` (contiguous file)."""
HARDLINK, SYMLINK, CHAR_DEVICE, BLOCK_DEVICE, DIRECTORY, FIFO = (b"1", b"2", b"3", b"4", b"5", b"6")
_PAX_HEADER, _PAX_GLOBAL, _GNU_LONGNAME, _GNU_LONGLINK = (b"x", b"g", b"L", b"K")
_GNU_SPARSE, _VOLUME = (b"S", b"V")
_NO_DATA_TYPES = frozenset((HARDLINK, SYMLINK, CHAR_DEVICE, BLOCK_DEVICE, DIRECTORY, FIFO))


class LayerError(AnalysisError):
    """A layer blob that cannot be read: corrupt, truncated, unsupported or over a limit."""


class Inflater(Protocol):
    """The part of a `zlib.decompressobj` object that `LayerByteStream` uses."""

    eof: bool
    unused_data: bytes
    unconsumed_tail: bytes

    def decompress(self, data: memoryview, max_length: int = 0) -> bytes: ...

    def flush(self) -> bytes: ...


def load_inflater() -> tuple[str, Callable[[int], Inflater], tuple[type[Exception], ...]]:
    """Return the name, `decompressobj` function and error types of the gzip decoder to use.

    `isal_zlib` from python-isal (Intel ISA-L) takes the same arguments as `zlib` and inflated
    the layers of the large image of `benchmarks/analyze_vs_syft.py` 2 to 4 times faster.
    `zlib` is the fallback when isal is not installed, such as on a platform without a wheel.
    """
    try:
        from isal import isal_zlib
    except ImportError:
        return "zlib", zlib.decompressobj, (zlib.error,)
    return "isal", isal_zlib.decompressobj, (isal_zlib.error, zlib.error)


INFLATER_NAME, _decompressobj, _INFLATE_ERRORS = load_inflater()


def _use_reading_thread() -> bool:
    """Return True when this process may run on more than one CPU."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:
        return (os.cpu_count() or 1) > 1


READ_IN_THREAD = _use_reading_thread()
"""Whether a second thread reads, verifies and inflates the blob while the caller parses it."""

_M_ARENA_MAX = -8
"""The `mallopt` parameter of glibc's `malloc.h` that caps the number of malloc arenas."""


@functools.cache
def _share_malloc_arena() -> None:
    """Make threads started from now on allocate from glibc's main malloc arena.

    glibc gives a second thread its own arena. The chunks that the reading thread allocates and
    the caller frees left that arena holding memory, so the peak RSS of the large image of
    `benchmarks/analyze_vs_syft.py` was 198 MiB instead of 160 MiB. An explicit
    `MALLOC_ARENA_MAX` in the environment is left alone, and other C libraries are not changed.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return
        ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1)
    except (ValueError, OSError, AttributeError) as error:
        logger.debug("malloc arenas left unchanged: %s", error)


_POLL_SECONDS = 0.1
"""How often a reading thread blocked on its queue checks whether its stream was closed."""


class _Stopped(Exception):
    """Raised in a reading thread whose stream was closed while it waited for a chunk."""


class _ChunkThread:
    """Chunks that `produce` returns, made on a thread up to `depth` chunks ahead of `next`.

    `produce` returns b"" at the end. Its exception is raised by `next`, then and on every later
    call. Setting `stop` ends the thread once its current `produce` call returns.
    """

    def __init__(
        self, produce: Callable[[], bytes], depth: int, name: str, stop: threading.Event
    ) -> None:
        self._produce = produce
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(depth)
        self._stop = stop
        self._ended = False
        self._error: BaseException | None = None
        _share_malloc_arena()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                chunk = self._produce()
                if not self._put(chunk) or not chunk:
                    return
        except BaseException as error:  # noqa: BLE001 - raised again by `next`
            self._put(error)

    def _put(self, item: bytes | BaseException) -> bool:
        """Queue `item` unless the stream is closed first; return whether it was queued."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                pass
        return False

    def next(self) -> bytes:
        """Return the next chunk, or b"" at the end.

        Raises `_Stopped` when the stream is closed while this waits.
        """
        if self._error is not None:
            raise self._error
        if self._ended:
            return b""
        while True:
            try:
                item = self._queue.get(timeout=_POLL_SECONDS)
                break
            except queue.Empty:
                if self._stop.is_set():
                    raise _Stopped() from None
        if isinstance(item, BaseException):
            self._error = item
            raise item
        if not item:
            self._ended = True
        return item

    def join(self) -> None:
        """Wait for the thread to end."""
        self._thread.join()


class LayerByteStream:
    """The uncompressed bytes of one layer blob, read forward once.

    Gzip is detected by its magic bytes and anything else that is not a known compression is
    read as a plain tar. Reading more than `max_bytes` uncompressed bytes, or more than
    `max_members` concatenated gzip members, raises `LayerError`.

    When `READ_IN_THREAD` is true, a thread inflates the blob up to `_QUEUED_CHUNKS` chunks ahead
    of the caller, and for a gzip blob another thread reads it (which also checks its digest,
    when the blob is a verifying stream). Reading, hashing and inflating release the GIL, so on
    two CPUs they overlap with the caller's parsing. Errors of those threads are raised by the
    caller's next read. Call `close` before closing the blob.
    """

    def __init__(
        self, raw: BinaryIO, layer: str, max_bytes: int, max_members: int = 2_000_000
    ) -> None:
        """Wrap `raw`, the blob of the layer whose digest is `layer`, and detect its compression.

        Raises `LayerError` for zstd, bzip2 and xz blobs.
        """
        self.layer = layer
        self.total = 0
        """Uncompressed bytes handed out of the chunk source so far."""
        self._raw = raw
        self._max_bytes = max_bytes
        self._max_members = max_members
        self._members = 1
        self._produced = 0
        self._buffer = b""
        self._position = 0
        self._pending = self._read_blob(_FIRST_READ_SIZE)
        self._raw_done = False
        while 0 < len(self._pending) < _MAGIC_SIZE:
            # A source may return fewer bytes than asked for, even fewer than a magic number.
            more = self._read_blob(_FIRST_READ_SIZE)
            self._raw_done = not more
            if self._raw_done:
                break
            self._pending += more
        self._offset = 0
        """Bytes of `_pending` already handed to the inflater."""
        self._slice = _FIRST_SLICE
        self._gzip = self._pending.startswith(GZIP_MAGIC)
        self._inflater: Inflater | None = None
        self._ended = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._inflated: _ChunkThread | None = None
        """Thread that runs `_produce`, started by the first read when `READ_IN_THREAD` is true."""
        self._raw_chunks: _ChunkThread | None = None
        """Thread that reads a gzip blob for the thread that inflates it."""
        if self._pending.startswith(ZSTD_MAGIC):
            raise LayerError(
                f"layer {layer} is compressed with zstd, which is not supported; "
                "push the image with gzip-compressed layers"
            )
        for magic, name in _OTHER_COMPRESSIONS:
            if self._pending.startswith(magic):
                raise LayerError(
                    f"layer {layer} is compressed with {name}, which is not supported; "
                    "push the image with gzip-compressed layers"
                )
        if self._gzip:
            self._inflater = _decompressobj(_GZIP_WBITS)

    def close(self, wait: bool = True) -> None:
        """Stop the reading threads, and wait for them to end unless `wait` is False.

        The blob stays open. A thread ends once its current read of the blob returns, so do not
        close the blob after `close(wait=False)`: closing a buffered stream waits for that read.
        """
        self._stop.set()
        if wait:
            for pipe in (self._inflated, self._raw_chunks):
                if pipe is not None:
                    pipe.join()

    @property
    def offset(self) -> int:
        """Uncompressed bytes handed to the reader so far."""
        return self.total - (len(self._buffer) - self._position)

    def _read_raw(self) -> bytes:
        if self._raw_chunks is not None:
            return self._raw_chunks.next()
        return self._read_blob(_READ_SIZE)

    def _read_blob(self, size: int) -> bytes:
        try:
            return self._raw.read(size)
        except OSError as error:
            raise LayerError(f"layer {self.layer} could not be read: {error}") from error

    def _next_chunk(self) -> bytes:
        """Return the next piece of uncompressed data, or b"" at the end of the blob."""
        if self._error is not None:
            raise self._error
        if self._ended:
            return b""
        try:
            if not READ_IN_THREAD:
                chunk = self._produce()
            else:
                if self._inflated is None:
                    self._start_threads()
                    assert self._inflated is not None
                chunk = self._inflated.next()
        except Exception as error:
            self._error = error
            raise
        if chunk:
            self.total += len(chunk)
        else:
            self._ended = True
        return chunk

    def _start_threads(self) -> None:
        if self._gzip and not self._raw_done:
            self._raw_chunks = _ChunkThread(
                functools.partial(self._read_blob, _READ_SIZE),
                2,
                f"layer-reader {self.layer}",
                self._stop,
            )
        self._inflated = _ChunkThread(
            self._produce, _QUEUED_CHUNKS, f"layer-inflater {self.layer}", self._stop
        )

    def _produce(self) -> bytes:
        """Return the next uncompressed chunk, or b"" after reading the blob to its end.

        Reading the blob to its end lets a verifying source check the digest.
        """
        chunk = self._inflate() if self._gzip else self._next_plain()
        if not chunk:
            while not self._raw_done:
                self._raw_done = not self._read_raw()
            return b""
        self._produced += len(chunk)
        if self._produced > self._max_bytes:
            raise LayerError(
                f"layer {self.layer} expands to more than {self._max_bytes} bytes "
                "uncompressed, the limit for one layer; if the image is genuine, raise the "
                "limit with `plimsoll analyze --max-layer-bytes` or the MAX_LAYER_BYTES "
                "setting of the service"
            )
        return chunk

    def _next_plain(self) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending, b""
            return chunk
        chunk = self._read_raw()
        self._raw_done = not chunk
        return chunk

    def _inflate(self) -> bytes:
        while self._inflater is not None:
            inflater = self._inflater
            if self._offset == len(self._pending) and not self._raw_done:
                self._pending = self._read_raw()
                self._offset = 0
                self._raw_done = not self._pending
                continue
            # At the end of a member the inflater copies the rest of its input into `unused_data`. Handing
            # it a slice that starts small and doubles while the member lasts keeps that copy
            # near the member's size, where whole reads would copy each read once per member.
            piece = memoryview(self._pending)[self._offset : self._offset + self._slice]
            try:
                if piece:
                    # One byte over the limit is enough to raise, so a bomb inflates no further.
                    allowed = self._max_bytes - self._produced + 1
                    output = inflater.decompress(piece, min(_OUTPUT_SIZE, allowed))
                else:
                    # The input is used up, but the inflater may still hold output of the last symbols.
                    output = inflater.flush()
                    if not inflater.eof:
                        raise LayerError(
                            f"layer {self.layer} is truncated: its gzip stream ends early; "
                            "pull or build the image again"
                        )
            except _INFLATE_ERRORS as error:
                raise LayerError(
                    f"layer {self.layer} has invalid gzip data ({error}); "
                    "pull or build the image again"
                ) from error
            unused = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            self._offset += len(piece) - len(unused)
            if inflater.eof:
                self._start_next_member()
            elif not unused:
                self._slice = min(2 * self._slice, _READ_SIZE)
            if output:
                return output
        return b""

    def _start_next_member(self) -> None:
        """Continue with the gzip member that starts at `_offset`, or end the stream."""
        while len(self._pending) - self._offset < len(GZIP_MAGIC) and not self._raw_done:
            more = self._read_raw()
            self._raw_done = not more
            self._pending = self._pending[self._offset :] + more
            self._offset = 0
        if self._pending.startswith(GZIP_MAGIC, self._offset):
            self._members += 1
            if self._members > self._max_members:
                raise LayerError(
                    f"layer {self.layer} has more than {self._max_members} gzip members, the "
                    "limit for one layer; if the image is genuine, raise the limit with "
                    "`plimsoll analyze --max-layer-entries` or the MAX_LAYER_ENTRIES setting "
                    "of the service"
                )
            self._inflater = _decompressobj(_GZIP_WBITS)
            self._slice = _FIRST_SLICE
            return
        rest = len(self._pending) - self._offset
        if rest:
            logger.warning(
                "ignoring %d bytes after the gzip stream of layer=%s", rest, self.layer
            )
        self._inflater = None

    def read(self, size: int) -> bytes:
        """Return the next `size` bytes, or fewer only at the end of the blob."""
        buffer = self._buffer
        start = self._position
        end = start + size
        if end <= len(buffer):
            self._position = end
            return buffer[start:end]
        parts = [buffer[start:]]
        have = len(buffer) - start
        self._buffer = b""
        self._position = 0
        while have < size:
            chunk = self._next_chunk()
            if not chunk:
                break
            need = size - have
            if len(chunk) > need:
                parts.append(chunk[:need])
                self._buffer = chunk
                self._position = need
                break
            parts.append(chunk)
            have += len(chunk)
        return b"".join(parts)

    def chunks(self, size: int) -> Iterator[memoryview]:
        """Yield the next `size` bytes in pieces without copying them.

        Raises `LayerError` when the blob ends first.
        """
        while size > 0:
            if self._position >= len(self._buffer):
                self._buffer = self._next_chunk()
                self._position = 0
                if not self._buffer:
                    raise LayerError(
                        f"layer {self.layer} is truncated inside a tar entry; "
                        "pull or build the image again"
                    )
            take = min(size, len(self._buffer) - self._position)
            yield memoryview(self._buffer)[self._position : self._position + take]
            self._position += take
            size -= take

    def skip(self, size: int) -> None:
        """Discard the next `size` bytes; raises `LayerError` when the blob ends first."""
        if self._position + size <= len(self._buffer):
            self._position += size
            return
        for _ in self.chunks(size):
            pass

    def drain(self) -> None:
        """Read the rest of the blob so that the source verifies its digest."""
        self._buffer = b""
        self._position = 0
        while self._next_chunk():
            pass


class TarMember:
    """One tar entry after PAX and GNU extension headers have been applied."""

    __slots__ = ("name", "type", "mode", "uid", "gid", "size", "linkname", "data_size", "sparse")

    def __init__(
        self,
        name: str,
        type: bytes,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        linkname: str,
        data_size: int,
        sparse: bool,
    ) -> None:
        self.name = name
        self.type = type
        """Type flag as one byte, such as `b"0"` or `b"5"`."""
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        """Size of the file's content; for sparse files, the size with holes filled."""
        self.linkname = linkname
        self.data_size = data_size
        """Bytes stored in the archive after the header."""
        self.sparse = sparse


def iter_members(stream: LayerByteStream) -> Iterator[TarMember]:
    """Yield the entries of the tar archive in `stream`.

    The caller may read up to `member.data_size` bytes of each entry's data from `stream` before
    it requests the next entry. Data it leaves unread is skipped. Raises `LayerError` for a header
    with a bad checksum or a number that cannot be parsed, and for an archive cut short.
    """
    layer = stream.layer
    global_pax: dict[str, str] = {}
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            if block:
                raise LayerError(
                    f"layer {layer} is truncated inside a tar header; "
                    "pull or build the image again"
                )
            return
        if block == _ZERO_BLOCK:
            return
        fields = _HEADER.unpack(block)
        _check_checksum(block, fields[6], layer)
        type_flag = fields[7]
        try:
            # The common case of `_number`, inlined because it runs for every entry.
            size = int(fields[4].rstrip(b"\0"), 8)
        except ValueError:
            size = _number(fields[4], layer, "size")
        if size < 0:
            # A negative size would move the stream back and read the same header forever.
            raise LayerError(f"layer {layer} has a tar header with the negative size {size}")
        padding = -size % BLOCK

        if type_flag in (_PAX_HEADER, _PAX_GLOBAL, _GNU_LONGNAME, _GNU_LONGLINK):
            if size > MAX_EXTENSION_SIZE:
                raise LayerError(
                    f"layer {layer} has a tar extended header of {size} bytes, over the "
                    f"{MAX_EXTENSION_SIZE}-byte limit; the layer is corrupt or hostile"
                )
            data = stream.read(size)
            if len(data) < size:
                raise LayerError(f"layer {layer} is truncated inside a tar extended header")
            stream.skip(padding)
            if type_flag == _PAX_HEADER:
                pax.update(_parse_pax(data, layer))
            elif type_flag == _PAX_GLOBAL:
                global_pax.update(_parse_pax(data, layer))
            elif type_flag == _GNU_LONGNAME:
                long_name = _text(data.split(b"\0", 1)[0])
            else:
                long_link = _text(data.split(b"\0", 1)[0])
            continue

        member = _build_member(fields, block, size, global_pax, pax, long_name, long_link, layer)
        pax = {}
        long_name = long_link = None
        if type_flag == _GNU_SPARSE:
            _skip_sparse_extensions(stream, block, layer)
        if member.type in _NO_DATA_TYPES:
            member.data_size = 0
        if type_flag == _VOLUME:
            stream.skip(size + padding)
            continue

        data_start = stream.offset
        yield member
        consumed = stream.offset - data_start
        remaining = member.data_size - consumed
        if remaining < 0:
            raise LayerError(
                f"layer {layer}: the reader overran the tar entry whose data starts at {data_start}"
            )
        stream.skip(remaining + (-member.data_size % BLOCK))


def _build_member(
    fields: tuple[bytes, ...],
    block: bytes,
    size: int,
    global_pax: dict[str, str],
    pax: dict[str, str],
    long_name: str | None,
    long_link: str | None,
    layer: str,
) -> TarMember:
    """Combine one ustar header with the extension headers that preceded it."""
    (name, mode, uid, gid, _, _, _, type_flag, linkname, magic, _, _, _, _, _, prefix) = fields
    path = _text(name.split(b"\0", 1)[0])
    # GNU tar keeps other data where POSIX ustar has the name prefix.
    if magic == b"ustar\0" and prefix[0:1] != b"\0":
        path = _text(prefix.split(b"\0", 1)[0]) + "/" + path
    link = _text(linkname.split(b"\0", 1)[0])
    try:
        # The common case of `_number`, inlined because it runs for every entry.
        mode_value = int(mode.rstrip(b"\0"), 8)
        uid_value = int(uid.rstrip(b"\0"), 8)
        gid_value = int(gid.rstrip(b"\0"), 8)
    except ValueError:
        mode_value = _number(mode, layer, "mode")
        uid_value = _number(uid, layer, "uid")
        gid_value = _number(gid, layer, "gid")
    member = TarMember(
        name=long_name if long_name is not None else path,
        type=type_flag,
        mode=mode_value & 0o7777,
        uid=uid_value,
        gid=gid_value,
        size=size,
        linkname=long_link if long_link is not None else link,
        data_size=size,
        sparse=type_flag == _GNU_SPARSE,
    )
    if type_flag == _GNU_SPARSE:
        member.size = _number(block[483:495], layer, "sparse real size")
        if member.size < 0:
            raise LayerError(f"layer {layer} has a GNU sparse header with a negative size")
    for values in (global_pax, pax):
        if values:
            _apply_pax(member, values, layer)
    _check_names(member, layer)
    if member.type not in _NO_DATA_TYPES and member.type not in REGULAR_TYPES:
        if member.type not in (_GNU_SPARSE, _VOLUME):
            # POSIX readers treat unknown entry types as regular files.
            member.type = b"0"
    return member


def _apply_pax(member: TarMember, values: dict[str, str], layer: str) -> None:
    """Apply PAX keys (`path`, `linkpath`, `size`, `uid`, `gid`, GNU sparse keys) to `member`."""
    if "path" in values:
        member.name = values["path"]
    if "linkpath" in values:
        member.linkname = values["linkpath"]
    for key in ("path", "linkpath", "GNU.sparse.name"):
        if "\0" in values.get(key, ""):
            # Go's archive/tar rejects these records, so no container runtime unpacks the layer.
            raise LayerError(
                f"layer {layer} has a PAX {key} with a NUL byte, which no file name can contain"
            )
    try:
        if "size" in values:
            member.size = member.data_size = int(values["size"])
        if "uid" in values:
            member.uid = int(values["uid"])
        if "gid" in values:
            member.gid = int(values["gid"])
        if "GNU.sparse.name" in values or "GNU.sparse.major" in values:
            member.sparse = True
            member.name = values.get("GNU.sparse.name", member.name)
            real_size = values.get("GNU.sparse.realsize") or values.get("GNU.sparse.size")
            if real_size is not None:
                member.size = int(real_size)
        if member.size < 0 or member.data_size < 0:
            raise ValueError(f"negative size {member.size}")
    except ValueError as error:
        raise LayerError(
            f"layer {layer} has an invalid number in the PAX header of {member.name!r}"
        ) from error


def _check_names(member: TarMember, layer: str) -> None:
    """Raise `LayerError` for a name or link target that Linux cannot create.

    Runtimes unpack layers with the usual system calls, which fail with ENAMETOOLONG on such
    names, so no container ever sees them; rejecting them also bounds the memory and path
    resolution work that hostile names could cost.
    """
    for what, name in (("name", member.name), ("link target", member.linkname)):
        if len(name) >= PATH_MAX // 4 and len(name.encode()) >= PATH_MAX:
            raise LayerError(
                f"layer {layer} has a tar entry whose {what} is {len(name.encode())} bytes "
                f"long, over the {PATH_MAX - 1}-byte limit of Linux; no runtime can unpack "
                f"it: {name[:80]!r}..."
            )


def _skip_sparse_extensions(stream: LayerByteStream, block: bytes, layer: str) -> None:
    """Skip the extension blocks of an old GNU sparse header; the sparse map is not needed."""
    extended = block[482]
    while extended:
        extension = stream.read(BLOCK)
        if len(extension) < BLOCK:
            raise LayerError(f"layer {layer} is truncated inside a GNU sparse header")
        extended = extension[504]


def _byte_sum(block: bytes) -> int:
    """Return the sum of the 512 bytes of `block`, as `sum(block)` would, in a fifth of its time.

    Adler-32's low 16 bits are 1 plus the byte sum modulo 65521. A 256-byte half sums to at most
    65,280, so the modulo never applies to a half.
    """
    view = memoryview(block)
    return (adler32(view[:256]) & 0xFFFF) + (adler32(view[256:]) & 0xFFFF) - 2


def _check_checksum(block: bytes, field: bytes, layer: str) -> None:
    expected = _number(field, layer, "checksum")
    # The checksum counts its own 8-byte field as spaces (8 * 32 = 256).
    unsigned = _byte_sum(block) - sum(field) + 256
    if expected == unsigned:
        return
    signed = unsigned - 2 * sum(byte for byte in block[:148] + block[156:] if byte > 127)
    if expected != signed:
        raise LayerError(
            f"layer {layer} has a tar header with a bad checksum; the blob is corrupt "
            "or not a tar archive"
        )


def _number(field: bytes, layer: str, what: str) -> int:
    """Parse a numeric header field: octal text, or GNU base-256 when the high bit is set."""
    # Most fields are octal digits padded with NULs or spaces, which `int` parses directly
    # (it ignores surrounding spaces); anything else takes the slower path below.
    try:
        return int(field.rstrip(b"\0"), 8)
    except ValueError:
        pass
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError as error:
        raise LayerError(
            f"layer {layer} has a tar header with an invalid {what} field {text!r}"
        ) from error


def _parse_pax(data: bytes, layer: str) -> dict[str, str]:
    """Parse PAX records of the form `LENGTH KEY=VALUE\\n`."""
    values: dict[str, str] = {}
    position = 0
    while position < len(data):
        space = data.find(b" ", position)
        try:
            length = int(data[position:space]) if space != -1 else 0
        except ValueError:
            length = 0
        if length <= 0 or position + length > len(data):
            if not data[position:].strip(b"\0\n "):
                break
            raise LayerError(f"layer {layer} has a malformed PAX header record")
        record = data[space + 1 : position + length - 1]
        key, _, value = record.partition(b"=")
        name = _text(key)
        if name in _PAX_KEYS:
            values[name] = _text(value)
        position += length
    return values


def _text(raw: bytes) -> str:
    # NOTE: names that are not UTF-8 get U+FFFD in place of the bad bytes, so two such names that
    # differ only in those bytes map to one path.
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode(errors="replace")
