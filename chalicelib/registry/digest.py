"""Content digests: parsing, computing and checking them, in memory and while streaming."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable

from chalicelib.registry.errors import DigestMismatchError, InvalidManifestError

logger = logging.getLogger(__name__)

DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
"""Digest algorithms that registries and OCI layouts use, with the length of their hex part."""

_HEX_RE = re.compile(r"[a-f0-9]+")


def parse_digest(digest: object, where: str) -> tuple[str, str]:
    """Split `algorithm:hex` into its parts, raising `InvalidManifestError` naming `where`."""
    if isinstance(digest, str):
        algorithm, _, hex_part = digest.partition(":")
        length = DIGEST_HEX_LENGTHS.get(algorithm)
        if length is not None and len(hex_part) == length and _HEX_RE.fullmatch(hex_part):
            return algorithm, hex_part
    raise InvalidManifestError(
        f"invalid digest {digest!r} in {where}: expected sha256:, sha384: or sha512: and the "
        "lower-case hex digest; the image was written by a broken tool, so rebuild or re-push it"
    )


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    """Return the digest `algorithm:hex` of `data`."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_content(data: bytes, digest: str, size: int | None, label: str) -> None:
    """Raise `DigestMismatchError` unless `data` has `digest` and, when given, `size` bytes.

    `label` names the content and where it came from, for the message.
    """
    algorithm, _ = parse_digest(digest, label)
    if size is not None and len(data) != size:
        raise DigestMismatchError(
            f"{label} is {len(data)} bytes long but its descriptor gives {size} bytes; "
            "the content is corrupt or was replaced, so push the image again"
        )
    actual = compute_digest(data, algorithm)
    if actual != digest:
        raise DigestMismatchError(
            f"{label} has digest {actual}, not the expected {digest}; "
            "the content is corrupt or was replaced, so push the image again"
        )


class VerifyingReader(io.RawIOBase):
    """A read-only stream that checks the digest and size of the bytes it passes through.

    When the source is exhausted, the next read raises `DigestMismatchError` if the digest or the
    byte count differs from the expected values. The error is raised again by every later read,
    so a caller never sees a clean end of stream for bad content. A source that yields more bytes
    than `size` fails as soon as the extra bytes arrive.

    NOTE: the check runs only when the caller reads to the end of the stream. A caller that stops
    early (for example at a tar end-of-archive marker) must read the rest to get it.
    """

    def __init__(
        self,
        read_chunk: Callable[[int], bytes],
        digest: str,
        size: int | None,
        label: str,
        close_source: Callable[[], None] | None = None,
    ) -> None:
        """Wrap a source.

        `read_chunk(n)` returns up to `n` bytes and `b""` at the end of the source. `digest` is
        the expected `algorithm:hex` and `size` the expected length in bytes, or None when
        unknown. `label` names the content for error messages. `close_source`, when given, is
        called once when this stream closes.
        """
        super().__init__()
        algorithm, _ = parse_digest(digest, label)
        self._read_chunk = read_chunk
        self._close_source = close_source
        self._digest = digest
        self._size = size
        self._label = label
        self._hash = hashlib.new(algorithm)
        self._count = 0
        self._verified = False
        self._failure: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Read up to `len(buffer)` bytes into `buffer`, checking the content at the end."""
        chunk = self._next_chunk(len(buffer))
        length = len(chunk)
        memoryview(buffer)[:length] = chunk
        return length

    def read(self, size: int | None = -1) -> bytes:
        """Return up to `size` bytes, or the rest when `size` is negative, checking at the end.

        The source's chunk is returned as it is, without the copy that `readinto` makes.
        """
        if size is None or size < 0:
            return self.readall()
        return self._next_chunk(size)

    def _next_chunk(self, want: int) -> bytes:
        """Return the next chunk of at most `want` bytes from the source, hashed and counted."""
        if self._failure is not None:
            raise DigestMismatchError(self._failure)
        if self._verified or want == 0:
            return b""
        if self._size is not None:
            # Ask for one byte past the expected size so that an oversized source is caught.
            want = min(want, self._size - self._count + 1)
        chunk = self._read_chunk(want)
        if not chunk:
            self._finish()
            return b""

        self._count += len(chunk)
        if self._size is not None and self._count > self._size:
            self._fail(f"{self._label} is longer than the {self._size} bytes its descriptor gives")
        self._hash.update(chunk)
        return chunk

    def close(self) -> None:
        """Close this stream and its source."""
        if not self.closed and self._close_source is not None:
            self._close_source()
        super().close()

    def _finish(self) -> None:
        if self._size is not None and self._count != self._size:
            self._fail(
                f"{self._label} is {self._count} bytes long but its descriptor gives "
                f"{self._size} bytes"
            )
        algorithm = self._digest.partition(":")[0]
        actual = f"{algorithm}:{self._hash.hexdigest()}"
        if actual != self._digest:
            self._fail(f"{self._label} has digest {actual}, not the expected {self._digest}")
        self._verified = True
        logger.debug("verified %s (%s bytes)", self._label, self._count)

    def _fail(self, reason: str) -> None:
        self._failure = f"{reason}; the content is corrupt or was replaced, so push the image again"
        raise DigestMismatchError(self._failure)


def open_verified(
    read_chunk: Callable[[int], bytes],
    digest: str,
    size: int | None,
    label: str,
    close_source: Callable[[], None] | None = None,
    buffer_size: int = 1024 * 1024,
) -> io.BufferedReader:
    """Wrap a source in a buffered `VerifyingReader`, which takes the same arguments."""
    raw = VerifyingReader(read_chunk, digest, size, label, close_source)
    return io.BufferedReader(raw, buffer_size=buffer_size)
