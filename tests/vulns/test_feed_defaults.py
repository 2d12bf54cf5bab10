"""Tests of the default feed sources: each public location's format, served from 127.0.0.1.

No test reaches the public hosts. A local HTTP server serves archives built from the real
samples, in the layout each host publishes. For Red Hat, that is `archive_latest.txt` and a
dated `.tar.zst` of CSAF files. For the Ubuntu CVE tracker and the Node.js security WG, it is
a tar snapshot of the git repository, as cgit and GitHub make them. The samples contain Red Hat CSAF advisories
but no VEX file, so the archive holds advisories: both are CSAF 2.0 documents with a product
tree, read by the same importer.
"""

from __future__ import annotations

import functools
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zstandard

from chalicelib.config import DEFAULT_FEED_SOURCES
from chalicelib.vulns.interface import FeedError
from chalicelib.vulns.nvd import is_nvd_api_url
from chalicelib.vulns.redhat_csaf import is_archive_pointer
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records, parse_feed_sources

VEX_PATH = "/data/csaf/v2/vex"
VEX_ARCHIVE = "csaf_vex_2024-12-01.tar.zst"
EXPECTED_RHEL = {
    ("CVE-2021-25220", "rhel:6", "bind"),
    ("CVE-2024-8088", "rhel:9", "python3.9"),
    ("CVE-2025-40778", "rhel:6", "bind"),
}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


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


def write_tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def read(source: FeedSource) -> tuple[list, FeedReadStats]:
    stats = FeedReadStats()
    return list(iter_records(source, stats)), stats


def test_default_sources_cover_every_format() -> None:
    sources = parse_feed_sources(DEFAULT_FEED_SOURCES)

    by_format = {source.format: source.location for source in sources}
    assert set(by_format) == {
        "osv",
        "alpine-secdb",
        "debian-tracker",
        "nvd",
        "redhat-csaf",
        "ubuntu-cve-tracker",
        "node-security",
    }
    assert all(source.is_url for source in sources)
    assert by_format["nvd"] == "https://services.nvd.nist.gov/rest/json/cves/2.0"
    assert is_nvd_api_url(by_format["nvd"])
    assert is_archive_pointer(by_format["redhat-csaf"])
    assert by_format["ubuntu-cve-tracker"].endswith("ubuntu-cve-tracker-master.tar.gz")
    assert by_format["node-security"].endswith("/main.tar.gz")


@pytest.fixture
def vex_site(http_root: tuple[Path, str], feeds_dir: Path) -> str:
    """Publish the real CSAF samples as Red Hat does: a pointer and a dated zstd tar."""
    root, base_url = http_root
    samples = feeds_dir / "samples" / "rhel"
    members = {
        path.name.removeprefix("vunnel-csaf_advisories_").replace("_", "/", 1): path.read_bytes()
        for path in sorted(samples.glob("vunnel-csaf_advisories_*.json"))
    }
    folder = root / VEX_PATH.strip("/")
    tar_path = folder / "plain.tar"
    write_tar(tar_path, members, "w")
    (folder / VEX_ARCHIVE).write_bytes(zstandard.ZstdCompressor().compress(tar_path.read_bytes()))
    tar_path.unlink()
    (folder / "archive_latest.txt").write_text(VEX_ARCHIVE + "\n")
    return base_url


@pytest.mark.parametrize("pointer", ["archive_latest.txt", ""])
def test_redhat_pointer_followed(vex_site: str, pointer: str) -> None:
    url = f"{vex_site}{VEX_PATH}/{pointer}"

    records, stats = read(FeedSource("redhat-csaf", url))

    assert stats.files_read == 3
    assert stats.files_failed == 0
    assert {(r.id, r.namespace, r.package) for r in records} == EXPECTED_RHEL


def test_redhat_archive_url_read_directly(vex_site: str) -> None:
    records, _ = read(FeedSource("redhat-csaf", f"{vex_site}{VEX_PATH}/{VEX_ARCHIVE}"))

    assert {(r.id, r.namespace, r.package) for r in records} == EXPECTED_RHEL


def test_redhat_pointer_without_archive_raises(
    http_root: tuple[Path, str], vex_site: str
) -> None:
    root, _ = http_root
    (root / VEX_PATH.strip("/") / "archive_latest.txt").write_text("<html>moved</html>\n")

    with pytest.raises(FeedError, match="names no tar archive"):
        read(FeedSource("redhat-csaf", f"{vex_site}{VEX_PATH}/archive_latest.txt"))


def test_redhat_missing_pointer_raises(http_root: tuple[Path, str]) -> None:
    _, base_url = http_root

    with pytest.raises(FeedError, match="could not be read"):
        read(FeedSource("redhat-csaf", f"{base_url}{VEX_PATH}/archive_latest.txt"))


def test_ubuntu_tracker_snapshot(http_root: tuple[Path, str], feeds_dir: Path) -> None:
    root, base_url = http_root
    tracker = feeds_dir / "ubuntu" / "ubuntu-cve-tracker"
    members = {
        f"ubuntu-cve-tracker-master/{path.relative_to(tracker).as_posix()}": path.read_bytes()
        for path in sorted(tracker.rglob("CVE-*"))
    }
    # The repository also contains scripts and a README, which are not CVE files.
    members["ubuntu-cve-tracker-master/README"] = b"Ubuntu CVE Tracker\n"
    members["ubuntu-cve-tracker-master/scripts/check-syntax"] = b"#!/bin/sh\n"
    snapshot = "ubuntu-cve-tracker/snapshot/ubuntu-cve-tracker-master.tar.gz"
    write_tar(root / snapshot, members)

    from_url, url_stats = read(FeedSource("ubuntu-cve-tracker", f"{base_url}/{snapshot}"))
    from_folder, folder_stats = read(FeedSource("ubuntu-cve-tracker", str(tracker)))

    assert url_stats.files_read == len(members) - 2
    assert url_stats.files_failed == 0
    assert len(from_url) == len(from_folder)
    assert url_stats.files_read == folder_stats.files_read
    assert {r.namespace for r in from_url} == {r.namespace for r in from_folder}


def test_node_security_snapshot(http_root: tuple[Path, str], feeds_dir: Path) -> None:
    root, base_url = http_root
    npm = feeds_dir / "npm" / "nodejs-security-wg" / "vuln" / "npm"
    members = {
        f"security-wg-main/vuln/npm/{path.name}": path.read_bytes()
        for path in sorted(npm.glob("*.json"))
    }
    # Other JSON of the repository: Node.js core advisories (another format, here a copy of
    # an npm advisory so that reading it would change the count) and tool files.
    first = (npm / "1.json").read_bytes()
    members["security-wg-main/vuln/core/1.json"] = first
    members["security-wg-main/vuln/deps/1.json"] = first
    members["security-wg-main/package.json"] = b'{"name": "security-wg"}'
    members["security-wg-main/tools/vex/node.openvex.json"] = b"{}"
    path = urlsplit("https://github.com/nodejs/security-wg/archive/refs/heads/main.tar.gz").path
    write_tar(root / path.strip("/"), members)

    records, stats = read(FeedSource("node-security", f"{base_url}{path}"))

    assert stats.files_read == 467
    assert stats.files_failed == 0
    assert len(records) == 467
