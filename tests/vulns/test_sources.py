"""Tests of `FEED_SOURCES` parsing and of reading records from files, folders, archives and
URLs."""

from __future__ import annotations

import functools
import http.server
import logging
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from chalicelib.vulns.interface import FeedError
from chalicelib.vulns.sources import (
    MAX_RECORDED_FAILURES,
    FeedReadStats,
    FeedSource,
    iter_records,
    parse_feed_sources,
)

URLLIB3_IDS = {
    "PYSEC-2017-98",
    "PYSEC-2018-32",
    "PYSEC-2019-132",
    "PYSEC-2019-133",
    "PYSEC-2020-148",
    "PYSEC-2020-149",
    "PYSEC-2021-108",
    "PYSEC-2021-59",
    "PYSEC-2023-192",
    "PYSEC-2023-207",
    "PYSEC-2023-212",
}


@pytest.fixture(scope="module")
def urllib3_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "pypi" / "pypa-advisory-database" / "vulns" / "urllib3"


@pytest.fixture(scope="module")
def ghsa_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "npm" / "ghsa"


@pytest.fixture(scope="module")
def secdb_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "alpine" / "alpine-secdb"


@pytest.fixture
def osv_zip(tmp_path: Path, urllib3_dir: Path, ghsa_dir: Path) -> Path:
    """Build a zip of real OSV files, plus members that must be skipped or counted as failed."""
    path = tmp_path / "osv.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(urllib3_dir.glob("*.yaml")):
            archive.write(file, f"PyPI/urllib3/{file.name}")
        for file in sorted(ghsa_dir.glob("*.json")):
            archive.write(file, f"npm/{file.name}")
        archive.writestr("README.txt", "not a record")
        archive.writestr("__MACOSX/npm/._GHSA-jf85-cpcp-j695.json", b"\x00\x05\x16\x07")
        archive.writestr("npm/broken.json", "{not json")
    return path


@pytest.fixture
def secdb_zip(tmp_path: Path, secdb_dir: Path) -> Path:
    path = tmp_path / "secdb.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(secdb_dir / "v3.10" / "main.yaml", "secdb/v3.10/main.yaml")
        archive.write(secdb_dir / "v3.11" / "community.yaml", "secdb/v3.11/community.yaml")
        archive.writestr("secdb/v3.11/last-update", "2020-06-08")
    return path


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Serve a temporary folder over plain HTTP on 127.0.0.1 and return it with its base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def read_all(source: FeedSource) -> tuple[list, FeedReadStats]:
    stats = FeedReadStats()
    return list(iter_records(source, stats)), stats


def test_parse_feed_sources_several_entries() -> None:
    text = (
        " osv=/data/pypi.zip, alpine-secdb=/data/secdb ,OSV=https://feeds.example/npm/all.zip,"
        "osv=/data/more,"
    )

    assert parse_feed_sources(text) == [
        FeedSource("osv", "/data/pypi.zip"),
        FeedSource("alpine-secdb", "/data/secdb"),
        FeedSource("osv", "https://feeds.example/npm/all.zip"),
        FeedSource("osv", "/data/more"),
    ]


def test_parse_feed_sources_url_with_query() -> None:
    [source] = parse_feed_sources("osv=https://feeds.example/all.zip?token=a=b")

    assert source.location == "https://feeds.example/all.zip?token=a=b"
    assert source.is_url


def test_parse_feed_sources_empty_text() -> None:
    assert parse_feed_sources("") == []
    assert parse_feed_sources("  , ") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/data/osv", "'/data/osv' is invalid"),
        ("osv=", "'osv=' is invalid"),
        ("cve5=/data/cves", "unknown format 'cve5'"),
        ("osv=ftp://feeds.example/all.zip", "unsupported URL scheme 'ftp'"),
        ("osv=/data/a,secdb=/data/b", "unknown format 'secdb'"),
    ],
)
def test_parse_feed_sources_invalid_entry(text: str, message: str) -> None:
    with pytest.raises(FeedError, match=message) as raised:
        parse_feed_sources(text)

    assert "FORMAT=LOCATION" in str(raised.value)
    assert "osv, alpine-secdb, debian-tracker" in str(raised.value)


def test_iter_records_single_file(urllib3_dir: Path) -> None:
    records, stats = read_all(FeedSource("osv", str(urllib3_dir / "PYSEC-2019-132.yaml")))

    assert [record.id for record in records] == ["PYSEC-2019-132"]
    assert stats.files_read == 1


def test_iter_records_directory_recursive(
    tmp_path: Path, urllib3_dir: Path, ghsa_dir: Path
) -> None:
    nested = tmp_path / "PyPI" / "u" / "urllib3"
    nested.mkdir(parents=True)
    for file in urllib3_dir.glob("*.yaml"):
        (nested / file.name).write_bytes(file.read_bytes())
    (tmp_path / "npm").mkdir()
    for file in ghsa_dir.glob("*.json"):
        (tmp_path / "npm" / file.name).write_bytes(file.read_bytes())
    (tmp_path / "npm" / "LICENSE").write_text("not a record", encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.json").write_text("{}", encoding="utf-8")

    records, stats = read_all(FeedSource("osv", str(tmp_path)))

    assert {record.id for record in records} == URLLIB3_IDS | {
        "GHSA-jf85-cpcp-j695",
        "GHSA-vh95-rmgr-6w4m",
    }
    assert stats.files_read == 13
    assert stats.files_failed == 0


def test_iter_records_alpine_layout(secdb_dir: Path) -> None:
    records, stats = read_all(FeedSource("alpine-secdb", str(secdb_dir)))

    assert stats.files_read == 18
    assert stats.files_failed == 0
    namespaces = {record.namespace for record in records}
    assert namespaces == {f"alpine:3.{minor}" for minor in range(3, 12)}


def test_iter_records_alpine_single_json(feeds_dir: Path) -> None:
    path = feeds_dir / "samples" / "alpine" / "vuln-list-update-secdb-311-main.json"
    records, stats = read_all(FeedSource("alpine-secdb", str(path)))

    assert stats.files_read == 1
    assert [record.id for record in records] == ["CVE-2018-1333", "CVE-2018-8011"]
    assert {record.namespace for record in records} == {"alpine:3.11"}


def test_iter_records_alpine_empty_packages(feeds_dir: Path) -> None:
    # This sample writes `"packages": {}` for a repository without advisories.
    path = feeds_dir / "samples" / "alpine" / "vuln-list-update-secdb-311-community.json"
    records, stats = read_all(FeedSource("alpine-secdb", str(path)))

    assert records == []
    assert stats.files_read == 1
    assert stats.files_failed == 0


def test_iter_records_skips_unparsable_file(tmp_path: Path, ghsa_dir: Path) -> None:
    (tmp_path / "a-broken.json").write_text('{"id": "GHSA-x", "affected": ', encoding="utf-8")
    (tmp_path / "b-list.yaml").write_text("- just\n- a list\n", encoding="utf-8")
    good = ghsa_dir / "GHSA-vh95-rmgr-6w4m.json"
    (tmp_path / "c-good.json").write_bytes(good.read_bytes())

    records, stats = read_all(FeedSource("osv", str(tmp_path)))

    assert [record.id for record in records] == ["GHSA-vh95-rmgr-6w4m"]
    assert stats.files_read == 1
    assert stats.files_failed == 2
    assert stats.failures[0].startswith(str(tmp_path / "a-broken.json"))


def test_iter_records_yields_lazily(tmp_path: Path, ghsa_dir: Path) -> None:
    for file in ghsa_dir.glob("*.json"):
        (tmp_path / file.name).write_bytes(file.read_bytes())
    stats = FeedReadStats()

    records = iter_records(FeedSource("osv", str(tmp_path)), stats)
    first = next(records)

    assert first.id == "GHSA-jf85-cpcp-j695"
    assert stats.files_read == 1
    assert len(list(records)) == 4
    assert stats.files_read == 2


def test_iter_records_zip_archive(osv_zip: Path) -> None:
    records, stats = read_all(FeedSource("osv", str(osv_zip)))

    ids = {record.id for record in records}
    assert ids == URLLIB3_IDS | {"GHSA-jf85-cpcp-j695", "GHSA-vh95-rmgr-6w4m"}
    assert stats.files_read == 13
    assert stats.files_failed == 1
    assert stats.failures[0].startswith(f"{osv_zip}!npm/broken.json")


def test_iter_records_zip_alpine_layout(secdb_zip: Path) -> None:
    records, stats = read_all(FeedSource("alpine-secdb", str(secdb_zip)))

    assert stats.files_read == 2
    assert {record.namespace for record in records} == {"alpine:3.10", "alpine:3.11"}


def test_iter_records_zip_skips_unreadable_member(tmp_path: Path, urllib3_dir: Path) -> None:
    path = tmp_path / "osv.zip"
    files = sorted(urllib3_dir.glob("*.yaml"))
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(files[1], f"b/{files[1].name}", compress_type=zipfile.ZIP_BZIP2)
        archive.write(files[0], f"a/{files[0].name}", compress_type=zipfile.ZIP_DEFLATED)

    records, stats = read_all(FeedSource("osv", str(path)))

    assert [record.id for record in records] == [files[0].stem]
    assert stats.files_failed == 1
    assert stats.failures[0].startswith(f"{path}!b/{files[1].name}: member b/")
    assert "compression method 12" in stats.failures[0]


def test_iter_records_truncated_zip_raises(osv_zip: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.zip"
    path.write_bytes(osv_zip.read_bytes()[:-100])

    with pytest.raises(FeedError, match="not a zip archive or is truncated"):
        list(iter_records(FeedSource("osv", str(path))))


def test_iter_records_invalid_zip_raises(tmp_path: Path) -> None:
    path = tmp_path / "feed.zip"
    path.write_text("not a zip archive", encoding="utf-8")

    with pytest.raises(FeedError, match="not a readable zip archive"):
        list(iter_records(FeedSource("osv", str(path))))


def test_iter_records_missing_location_raises(tmp_path: Path) -> None:
    missing = tmp_path / "absent"

    with pytest.raises(FeedError, match=f"{missing} does not exist"):
        list(iter_records(FeedSource("osv", str(missing))))


def test_iter_records_http_file(http_root: tuple[Path, str], ghsa_dir: Path) -> None:
    root, base_url = http_root
    (root / "lodash.json").write_bytes((ghsa_dir / "GHSA-jf85-cpcp-j695.json").read_bytes())

    records, stats = read_all(FeedSource("osv", f"{base_url}/lodash.json"))

    assert {record.package for record in records} == {
        "lodash",
        "lodash-es",
        "lodash-amd",
        "lodash.defaultsdeep",
    }
    assert stats.files_read == 1


def test_iter_records_http_zip(http_root: tuple[Path, str], osv_zip: Path) -> None:
    root, base_url = http_root
    (root / "all.zip").write_bytes(osv_zip.read_bytes())

    records, stats = read_all(FeedSource("osv", f"{base_url}/all.zip"))

    assert {record.id for record in records} >= URLLIB3_IDS
    assert stats.files_read == 13
    assert stats.files_failed == 1


def test_iter_records_http_secdb_path(http_root: tuple[Path, str], secdb_dir: Path) -> None:
    root, base_url = http_root
    (root / "v3.10").mkdir()
    (root / "v3.10" / "main.yaml").write_bytes((secdb_dir / "v3.10" / "main.yaml").read_bytes())

    records, _ = read_all(FeedSource("alpine-secdb", f"{base_url}/v3.10/main.yaml"))

    assert {record.namespace for record in records} == {"alpine:3.10"}


def test_iter_records_http_not_found_raises(http_root: tuple[Path, str]) -> None:
    _, base_url = http_root

    with pytest.raises(FeedError, match="404"):
        list(iter_records(FeedSource("osv", f"{base_url}/absent.zip")))


def test_iter_records_unreachable_url_raises() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing listens on it now.
    url = f"http://127.0.0.1:{port}/all.zip"

    with pytest.raises(FeedError, match="could not be downloaded"):
        list(iter_records(FeedSource("osv", url)))


def test_iter_records_failures_capped(feeds_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The Node security WG advisories are JSON in another format, so every file fails as OSV.
    folder = feeds_dir / "npm" / "nodejs-security-wg" / "vuln" / "npm"
    files = len(list(folder.glob("*.json")))

    with caplog.at_level(logging.WARNING, logger="chalicelib.vulns.sources"):
        records, stats = read_all(FeedSource("osv", str(folder)))

    assert records == []
    assert stats.files_read == 0
    assert stats.files_failed == files
    assert len(stats.failures) == MAX_RECORDED_FAILURES
    skipped_warnings = [r for r in caplog.records if r.getMessage().startswith("skipped feed")]
    assert len(skipped_warnings) == MAX_RECORDED_FAILURES
    assert f"{files} files skipped" in caplog.records[-1].getMessage()


def write_tar(path: Path, files: list[Path], root: Path, mode: str) -> None:
    with tarfile.open(path, mode) as archive:
        for file in files:
            archive.add(file, arcname=f"security-wg-main/{file.relative_to(root).as_posix()}")


@pytest.mark.parametrize("mode", ["w:gz", "w:xz", "w"])
def test_iter_records_tar_archive(feeds_dir: Path, tmp_path: Path, mode: str) -> None:
    root = feeds_dir / "npm" / "nodejs-security-wg"
    files = sorted((root / "vuln" / "npm").glob("*.json"))
    archive = tmp_path / "security-wg.tar"
    write_tar(archive, files, root, mode)
    stats = FeedReadStats()

    records = list(iter_records(FeedSource("node-security", str(archive)), stats))

    # index.json is in the archive and is not read.
    assert stats.files_read == 467
    assert stats.files_failed == 0
    assert len(records) == 467
    assert records[0].id.startswith("NSWG-ECO-")


def test_iter_records_tar_zstd(feeds_dir: Path, tmp_path: Path) -> None:
    root = feeds_dir / "samples" / "rhel"
    tar_path = tmp_path / "csaf.tar"
    write_tar(tar_path, sorted(root.glob("vunnel-csaf_advisories_*.json")), root, "w")
    archive = tmp_path / "csaf_advisories.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor().compress(tar_path.read_bytes()))

    records = list(iter_records(FeedSource("redhat-csaf", str(archive))))

    assert sorted((r.id, r.namespace, r.package) for r in records) == [
        ("CVE-2021-25220", "rhel:6", "bind"),
        ("CVE-2024-8088", "rhel:9", "python3.9"),
        ("CVE-2025-40778", "rhel:6", "bind"),
    ]


def test_iter_records_truncated_tar(feeds_dir: Path, tmp_path: Path) -> None:
    root = feeds_dir / "npm" / "nodejs-security-wg"
    archive = tmp_path / "security-wg.tar.gz"
    write_tar(archive, sorted((root / "vuln" / "npm").glob("*.json")), root, "w:gz")
    archive.write_bytes(archive.read_bytes()[:20_000])

    with pytest.raises(FeedError, match="is not a readable tar archive"):
        list(iter_records(FeedSource("node-security", str(archive))))


def test_download_failure_names_cause_briefly() -> None:
    # A port on loopback that nothing listens on refuses the connection at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [source] = parse_feed_sources(f"osv=http://127.0.0.1:{port}/all.zip")

    with pytest.raises(FeedError) as raised:
        list(iter_records(source))

    message = str(raised.value)
    assert f"connection refused (127.0.0.1:{port})" in message
    assert "HTTPConnectionPool" not in message
