"""Digest parsing, checking, and the stream that checks content at end of stream."""

from __future__ import annotations

import hashlib
import io

import pytest

from chalicelib.registry.digest import (
    VerifyingReader,
    compute_digest,
    open_verified,
    parse_digest,
    verify_content,
)
from chalicelib.registry.errors import DigestMismatchError, InvalidManifestError

CONTENT = b"layer bytes " * 1000
DIGEST = "sha256:" + hashlib.sha256(CONTENT).hexdigest()


def _stream(
    data: bytes, digest: str = DIGEST, size: int | None = len(CONTENT)
) -> io.BufferedReader:
    source = io.BytesIO(data)
    return open_verified(source.read, digest, size, "blob under test", buffer_size=4096)


def test_parse_digest_splits_algorithm_and_hex() -> None:
    assert parse_digest(DIGEST, "test") == ("sha256", DIGEST[7:])


@pytest.mark.parametrize(
    "digest",
    ["sha256:abc", "md5:" + "a" * 32, "sha256:" + "A" * 64, "sha256" + "a" * 64, None, 42],
)
def test_parse_digest_rejects_invalid(digest: object) -> None:
    with pytest.raises(InvalidManifestError, match="in the manifest of x"):
        parse_digest(digest, "the manifest of x")


def test_compute_digest_supports_sha512() -> None:
    assert compute_digest(b"x", "sha512") == "sha512:" + hashlib.sha512(b"x").hexdigest()


def test_verify_content_accepts_match() -> None:
    verify_content(CONTENT, DIGEST, len(CONTENT), "blob under test")


def test_verify_content_rejects_other_digest() -> None:
    with pytest.raises(DigestMismatchError, match="blob under test has digest sha256:"):
        verify_content(CONTENT + b"x", DIGEST, None, "blob under test")


def test_verify_content_rejects_other_size() -> None:
    with pytest.raises(DigestMismatchError, match="gives 5 bytes"):
        verify_content(CONTENT, DIGEST, 5, "blob under test")


def test_verified_stream_returns_content() -> None:
    with _stream(CONTENT) as stream:
        assert stream.read() == CONTENT


def test_verified_stream_reads_in_chunks() -> None:
    chunks = []
    with _stream(CONTENT) as stream:
        while chunk := stream.read(777):
            chunks.append(chunk)

    assert b"".join(chunks) == CONTENT


def test_verified_stream_raises_at_end_on_mismatch() -> None:
    corrupt = b"X" + CONTENT[1:]
    stream = _stream(corrupt)

    first = stream.read(100)

    assert first == corrupt[:100]
    with pytest.raises(DigestMismatchError, match="not the expected " + DIGEST):
        stream.read()


def test_verified_stream_raises_again_after_mismatch() -> None:
    stream = _stream(b"X" + CONTENT[1:])
    with pytest.raises(DigestMismatchError):
        stream.read()

    with pytest.raises(DigestMismatchError):
        stream.read()
    with pytest.raises(DigestMismatchError):
        stream.read(1)


def test_verified_stream_rejects_truncated_content() -> None:
    with pytest.raises(
        DigestMismatchError, match=f"is 100 bytes long but its descriptor gives {len(CONTENT)}"
    ):
        _stream(CONTENT[:100]).read()


def test_verified_stream_rejects_oversized_content_early() -> None:
    oversized = CONTENT + b"extra" * 10_000
    stream = _stream(oversized)

    with pytest.raises(DigestMismatchError, match="longer than the"):
        stream.read()


def test_verified_stream_without_size_checks_digest() -> None:
    with pytest.raises(DigestMismatchError):
        _stream(CONTENT + b"x", size=None).read()
    assert _stream(CONTENT, size=None).read() == CONTENT


def test_verified_stream_checks_empty_blob() -> None:
    empty_digest = compute_digest(b"")

    assert _stream(b"", digest=empty_digest, size=0).read() == b""
    with pytest.raises(DigestMismatchError):
        _stream(b"", digest=DIGEST, size=0).read()


def test_verifying_reader_closes_source() -> None:
    closed = []
    reader = VerifyingReader(
        io.BytesIO(CONTENT).read, DIGEST, None, "blob", lambda: closed.append(1)
    )

    reader.close()
    reader.close()

    assert closed == [1]


def test_verifying_reader_read_hands_chunks_through() -> None:
    source = io.BytesIO(CONTENT)
    reader = VerifyingReader(source.read, DIGEST, len(CONTENT), "blob under test")

    chunks = []
    while chunk := reader.read(5000):
        chunks.append(chunk)

    assert [len(chunk) for chunk in chunks] == [5000, 5000, 2000]
    assert b"".join(chunks) == CONTENT
    assert reader.read(10) == b""


def test_verifying_reader_read_raises_at_end_on_mismatch() -> None:
    corrupt = b"X" + CONTENT[1:]
    reader = VerifyingReader(io.BytesIO(corrupt).read, DIGEST, len(CONTENT), "blob under test")

    assert reader.read(len(CONTENT)) == corrupt
    with pytest.raises(DigestMismatchError, match="not the expected " + DIGEST):
        reader.read(1)
    with pytest.raises(DigestMismatchError):
        reader.read()
