"""Feed sources: the `FEED_SOURCES` setting, and reading records from each source's location.

A source is a format (one of `FEED_FORMATS`) and a location: a file, a directory searched
recursively, a `.zip` archive, a tar archive, or an http(s) URL to a file or archive. Tar
archives may be plain or compressed with gzip, bzip2, xz or zstd (Red Hat's `.tar.zst`).
Records are yielded one file at a time, so memory stays bounded by the largest file, not by the
feed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO, cast
from urllib.parse import urlsplit

import requests
import yaml
import zstandard

from chalicelib.registry.transport import describe_request_error
from chalicelib.vulns.alpine_secdb import parse_alpine_secdb
from chalicelib.vulns.debian_tracker import parse_debian_tracker
from chalicelib.vulns.interface import FeedError, VulnRecord
from chalicelib.vulns.node_security import INDEX_FILE as NODE_SECURITY_INDEX
from chalicelib.vulns.node_security import parse_node_security
from chalicelib.vulns.nvd import is_nvd_api_url, iter_nvd_api_records, parse_nvd
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.redhat_csaf import (
    is_archive_pointer,
    parse_redhat_csaf,
    resolve_archive_pointer,
)
from chalicelib.vulns.ubuntu_tracker import parse_ubuntu_tracker
from chalicelib.vulns.ziparchive import (
    ZipArchiveError,
    ZipMember,
    is_zip_archive,
    iter_zip_members,
    read_zip_member,
)

logger = logging.getLogger(__name__)

_RawParser = Callable[[str, bytes], Iterable[VulnRecord]]
"""An importer that reads one document's name and bytes. It returns a list, or an iterator
that parses while it is consumed and raises `FeedError` when the rest of the document is
invalid."""

_RAW_PARSERS: dict[str, _RawParser] = {
    "debian-tracker": parse_debian_tracker,
    "ubuntu-cve-tracker": parse_ubuntu_tracker,
    "node-security": parse_node_security,
    "redhat-csaf": parse_redhat_csaf,
    "nvd": parse_nvd,
}
"""Importers of the formats that decode their documents themselves (text lists, JSON)."""

FEED_FORMATS = ("osv", "alpine-secdb", *_RAW_PARSERS)
"""Formats accepted in `FEED_SOURCES`."""

DEBIAN_LIST_FOLDERS = ("DSA", "DLA", "DTSA")
"""Folders of the Debian tracker's advisory lists, each a file named `list`."""

_UBUNTU_CVE_FILE = re.compile(r"^CVE-\d{4}-\d+$")
_UBUNTU_SKIPPED_FOLDERS = frozenset({"ignored", "embargoed"})
_NODE_ADVISORY_FILE = re.compile(r"^\d+\.json$")

DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")
"""File name suffixes read when a directory or archive is searched."""

ALPINE_SECDB_REPOSITORIES = ("main", "community")
"""Secdb file stems read when a directory or archive is searched for `alpine-secdb`."""

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
"""First bytes of a Zstandard frame."""

DOWNLOAD_TIMEOUT = (30.0, 300.0)
"""Connect and read timeouts in seconds for downloading a feed over http(s)."""

DOWNLOAD_CHUNK_SIZE = 1 << 20

MAX_RECORDED_FAILURES = 100
"""Number of failed files whose reasons `FeedReadStats.failures` keeps and whose warnings are
logged; later failures are only counted and logged at debug level."""

_ACCEPTED_FORMS = (
    f"expected comma-separated FORMAT=LOCATION entries, where FORMAT is one of "
    f"{', '.join(FEED_FORMATS)} and LOCATION is a file, a directory, a zip archive, a tar "
    "archive (plain or compressed with gzip, bzip2, xz or zstd) or an http(s) URL of one"
)

# NOTE: YAML documents are loaded with the base loader, which keeps every scalar a string.
# The safe loader would turn an unquoted version such as `1.10` into the float 1.1.
_YamlLoader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


_Document = tuple[str, str, Callable[[], bytes]]
"""A document to parse: the location shown in messages, the name whose suffix and folders tell
its type and release, and a function that reads its bytes."""


@dataclasses.dataclass(frozen=True)
class FeedSource:
    """One entry of `FEED_SOURCES`."""

    format: str
    """One of `FEED_FORMATS`."""
    location: str
    """A local path (file, directory, `.zip` or tar archive) or an http(s) URL."""

    @property
    def is_url(self) -> bool:
        """Whether the location is an http(s) URL."""
        return urlsplit(self.location).scheme.lower() in ("http", "https")

    def __str__(self) -> str:
        return f"{self.format}={self.location}"


@dataclasses.dataclass
class FeedReadStats:
    """Counts of one read of a feed source, filled in while `iter_records` runs."""

    files_read: int = 0
    """Files parsed, including those that gave no records."""
    files_failed: int = 0
    """Files that failed to parse and were skipped."""
    records: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    """`location: reason` of the first `MAX_RECORDED_FAILURES` failed files."""


def parse_feed_sources(text: str) -> list[FeedSource]:
    """Parse the `FEED_SOURCES` setting into sources, in the order written.

    Entries are `FORMAT=LOCATION`, separated by commas; each format may appear more than once,
    and empty entries (a trailing comma) are ignored. Raises `FeedError` naming the first invalid
    entry and the accepted forms.
    """
    sources = []
    for raw_entry in text.split(","):
        entry = raw_entry.strip()
        if not entry:
            continue
        feed_format, separator, location = entry.partition("=")
        feed_format = feed_format.strip().lower()
        location = location.strip()
        if not separator or not location:
            raise FeedError(f"FEED_SOURCES entry {entry!r} is invalid: {_ACCEPTED_FORMS}")
        if feed_format not in FEED_FORMATS:
            raise FeedError(
                f"FEED_SOURCES entry {entry!r} has unknown format {feed_format!r}: "
                f"{_ACCEPTED_FORMS}"
            )
        scheme = urlsplit(location).scheme.lower()
        if "://" in location and scheme not in ("http", "https"):
            raise FeedError(
                f"FEED_SOURCES entry {entry!r} has unsupported URL scheme {scheme!r}: "
                f"{_ACCEPTED_FORMS}"
            )
        sources.append(FeedSource(format=feed_format, location=location))
    return sources


def iter_records(source: FeedSource, stats: FeedReadStats | None = None) -> Iterator[VulnRecord]:
    """Yield the records of every document at the source's location, one file at a time.

    A file that fails to parse is logged, counted in `stats` and skipped. Raises `FeedError`
    naming the location when it is missing, unreachable or an invalid archive. Because this is a
    generator, the error comes from the first `next()`, not from the call.
    """
    stats = stats if stats is not None else FeedReadStats()
    logger.info("reading feed source %s", source)
    if source.is_url and source.format == "nvd" and is_nvd_api_url(source.location):
        yield from _nvd_api_records(source, stats)
    elif source.is_url:
        location = source.location
        if source.format == "redhat-csaf" and is_archive_pointer(location):
            location = resolve_archive_pointer(location)
        with _downloaded(location) as path:
            name = urlsplit(location).path or location
            yield from _iter_location(source, path, name, stats)
    else:
        path = Path(source.location).expanduser()
        if not path.exists():
            raise FeedError(
                f"feed location {source.location} does not exist; fix the path in FEED_SOURCES "
                "or create it"
            )
        yield from _iter_location(source, path, path.as_posix(), stats)

    logger.log(
        logging.WARNING if stats.files_failed else logging.INFO,
        "read feed source %s: %d files, %d records, %d files skipped",
        source,
        stats.files_read,
        stats.records,
        stats.files_failed,
    )


def _iter_location(
    source: FeedSource, path: Path, name: str, stats: FeedReadStats
) -> Iterator[VulnRecord]:
    if path.is_dir():
        documents = _directory_documents(source.format, path)
    elif name.lower().endswith(".zip") or is_zip_archive(path):
        documents = _archive_documents(source, path)
    elif _is_zstd(path) or tarfile.is_tarfile(path):
        documents = _tar_documents(source, path)
    else:
        location = source.location if source.is_url else str(path)
        documents = iter([(location, name, path.read_bytes)])

    for location, document_name, read in documents:
        yield from _parse_document(source.format, location, document_name, read, stats)


def _directory_documents(feed_format: str, root: Path) -> Iterator[_Document]:
    found = 0
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not _is_hidden(d))
        for file_name in sorted(files):
            relative = PurePosixPath(Path(directory, file_name).relative_to(root).as_posix())
            if _is_document(feed_format, relative):
                found += 1
                file_path = Path(directory, file_name)
                yield str(file_path), file_path.as_posix(), file_path.read_bytes
    if not found:
        logger.warning("feed directory %s contains no %s documents", root, feed_format)


def _archive_documents(source: FeedSource, path: Path) -> Iterator[_Document]:
    """Yield the documents of a zip archive in central directory order, one member at a time.

    Members are not sorted, because that would keep every entry in memory. Order matters only
    when two members contain a record with the same key, and then the later one wins, as it
    does in a tar archive.
    """
    try:
        with path.open("rb") as stream:
            size = os.fstat(stream.fileno()).st_size
            for member in iter_zip_members(stream, size):
                member_path = PurePosixPath(member.name)
                if member.is_dir() or not _is_document(source.format, member_path):
                    continue
                location = f"{source.location}!{member.name}"
                yield location, member.name, _member_reader(stream, size, member)
    except (ZipArchiveError, OSError) as error:
        raise FeedError(
            f"feed location {source.location} is not a readable zip archive ({error}); "
            "point FEED_SOURCES at a valid .zip, a directory or a single file"
        ) from error


def _is_zstd(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(len(ZSTD_MAGIC)) == ZSTD_MAGIC


def _tar_documents(source: FeedSource, path: Path) -> Iterator[_Document]:
    """Yield the documents of a tar archive in archive order, reading one member at a time.

    The archive is read as a stream, so each member is read before the next one is reached and
    memory stays bounded by the largest member. A zstd-compressed archive is decompressed while
    it is read.
    """
    try:
        with contextlib.ExitStack() as stack:
            stream: IO[bytes] = stack.enter_context(path.open("rb"))
            if _is_zstd(path):
                decompressor = zstandard.ZstdDecompressor()
                stream = cast(IO[bytes], stack.enter_context(decompressor.stream_reader(stream)))
            archive = stack.enter_context(tarfile.open(fileobj=stream, mode="r|*"))
            for member in archive:
                member_path = PurePosixPath(member.name)
                if not member.isfile() or not _is_document(source.format, member_path):
                    continue
                extracted = archive.extractfile(member)
                data = extracted.read() if extracted is not None else b""
                yield f"{source.location}!{member.name}", member.name, _bytes_reader(data)
    except (tarfile.TarError, zstandard.ZstdError, OSError, EOFError) as error:
        raise FeedError(
            f"feed location {source.location} is not a readable tar archive ({error}); "
            "point FEED_SOURCES at a valid archive, a directory or a single file"
        ) from error


def _bytes_reader(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _member_reader(stream: BinaryIO, size: int, member: ZipMember) -> Callable[[], bytes]:
    return lambda: read_zip_member(stream, size, member)


def _is_hidden(part: str) -> bool:
    return part.startswith(".") or part == "__MACOSX"


def _is_document(feed_format: str, path: PurePosixPath) -> bool:
    if any(_is_hidden(part) for part in path.parts):
        return False
    if feed_format == "debian-tracker" and path.name == "list":
        return len(path.parts) > 1 and path.parts[-2] in DEBIAN_LIST_FOLDERS
    if feed_format == "ubuntu-cve-tracker":
        # Files under ignored/ and embargoed/ are CVEs that the tracker does not follow.
        return bool(_UBUNTU_CVE_FILE.match(path.name)) and not (
            _UBUNTU_SKIPPED_FOLDERS & set(path.parts[:-1])
        )
    if feed_format == "node-security" and path.name == NODE_SECURITY_INDEX:
        return False
    if feed_format == "node-security" and not _is_npm_advisory(path):
        return False
    if feed_format in _RAW_PARSERS:
        return path.suffix.lower() == ".json"
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        return False
    if feed_format == "alpine-secdb":
        return path.stem in ALPINE_SECDB_REPOSITORIES
    return True


def _is_npm_advisory(path: PurePosixPath) -> bool:
    """Return whether a path is a file of the Node.js security WG's npm advisories.

    They are named `<number>.json`. The repository also keeps Node.js core and dependency
    advisories, in another format, under `vuln/core` and `vuln/deps`, and other JSON files.
    """
    if not _NODE_ADVISORY_FILE.match(path.name):
        return False
    return "vuln" not in path.parts[:-1] or path.parts[-2] == "npm"


def _parse_document(
    feed_format: str, location: str, name: str, read: Callable[[], bytes], stats: FeedReadStats
) -> Iterator[VulnRecord]:
    try:
        records = _records_of(feed_format, name, read())
    except (FeedError, OSError, ValueError, yaml.YAMLError, zipfile.BadZipFile) as error:
        stats.files_failed += 1
        if len(stats.failures) < MAX_RECORDED_FAILURES:
            stats.failures.append(f"{location}: {error}")
            logger.warning("skipped feed file %s that failed to parse: %s", location, error)
        else:
            # A folder of documents in another format would otherwise log one warning each.
            logger.debug("skipped feed file %s that failed to parse: %s", location, error)
        return
    if not isinstance(records, list):
        yield from _stream_records(location, records, stats)
        return
    stats.files_read += 1
    stats.records += len(records)
    logger.debug("parsed feed file %s: %d records", location, len(records))
    yield from records


def _stream_records(
    location: str, records: Iterable[VulnRecord], stats: FeedReadStats
) -> Iterator[VulnRecord]:
    """Yield the records of a document parsed while they are consumed.

    A parse error part way fails the whole source with `FeedError`, because the records before
    it were already passed on and the file cannot be skipped as a whole any more.
    """
    count = 0
    try:
        for record in records:
            count += 1
            yield record
    except (FeedError, ValueError) as error:
        raise FeedError(
            f"feed file {location} failed to parse after {count} records: {error}; fix or "
            "replace the file, then sync again"
        ) from error
    stats.files_read += 1
    stats.records += count
    logger.debug("parsed feed file %s: %d records", location, count)


def _decode(name: str, data: bytes) -> Any:
    """Decode a JSON or YAML document; a name without a known suffix is tried as JSON first."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".json":
        return json.loads(data)
    if suffix in (".yaml", ".yml"):
        return yaml.load(data, Loader=_YamlLoader)
    try:
        return json.loads(data)
    except ValueError:
        return yaml.load(data, Loader=_YamlLoader)


def _records_of(feed_format: str, name: str, data: bytes) -> Iterable[VulnRecord]:
    raw_parser = _RAW_PARSERS.get(feed_format)
    if raw_parser is not None:
        return raw_parser(name, data)
    document = _decode(name, data)
    if feed_format == "alpine-secdb":
        return parse_alpine_secdb(document, name)
    # An OSV file contains one record, but a file with a list of records is accepted too.
    if isinstance(document, list):
        return [record for item in document for record in parse_osv(item)]
    return parse_osv(document)


def _nvd_api_records(source: FeedSource, stats: FeedReadStats) -> Iterator[VulnRecord]:
    """Yield the records of the NVD API endpoint through its local mirror; see `nvd.py`."""
    for record in iter_nvd_api_records(source.location):
        stats.records += 1
        yield record
    stats.files_read += 1


@contextlib.contextmanager
def _downloaded(url: str) -> Iterator[Path]:
    """Download `url` into a temporary file, removed on exit, and yield its path."""
    with tempfile.TemporaryDirectory(prefix="plimsoll-feed-") as directory:
        target = Path(directory) / "download"
        try:
            with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT) as response:
                response.raise_for_status()
                with target.open("wb") as output:
                    for chunk in response.iter_content(chunk_size=DOWNLOAD_CHUNK_SIZE):
                        output.write(chunk)
        except requests.RequestException as error:
            raise FeedError(
                f"feed location {url} could not be downloaded ({_request_problem(error)}); "
                "check the URL in FEED_SOURCES and that this host can reach it"
            ) from error
        logger.info("downloaded feed %s: %d bytes", url, target.stat().st_size)
        yield target


def _request_problem(error: requests.RequestException) -> str:
    """Return a short cause of a failed download: the HTTP status, or the connection failure."""
    response = getattr(error, "response", None)
    if response is not None:
        return f"HTTP {response.status_code} {response.reason}"
    return describe_request_error(error)
