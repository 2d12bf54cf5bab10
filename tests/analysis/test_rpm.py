"""Tests of the rpm cataloger on real package databases of Mariner, SUSE and RHEL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chalicelib.analysis import AnalysisOptions, analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.analysis.rpm import MANIFEST_PATH, parse_rpm_manifest, parse_rpmdb
from chalicelib.api.render import os_package
from tests.analysis.builders import file, image

RPM_FIXTURES = Path("acceptance-fixtures/pkgdb/rpm")
REDHAT_TESTDATA = Path("acceptance-fixtures/syft/redhat/testdata")
MARINER = Distro(id="mariner", version_id="2.0")
MARINER_OS_RELEASE = 'NAME="Common Base Linux Mariner"\nVERSION="2.0.20220527"\nID=mariner\n'
MARINER_OS_RELEASE += 'VERSION_ID="2.0"\n'


def parse(
    content: bytes,
    location: str = "/var/lib/rpm/rpmdb.sqlite",
    distro: Distro | None = MARINER,
    files: dict[str, bytes] | None = None,
) -> ParseResult:
    kept = files or {}
    return parse_rpmdb(location, content, ParseContext(distro=distro, read=kept.get))


def by_name(result: ParseResult) -> dict[str, Package]:
    return {package.name: package for package in result.packages}


@pytest.fixture(scope="module")
def mariner_db(shared_dir: Path) -> bytes:
    return (shared_dir / RPM_FIXTURES / "cbl-mariner-2.0/rpmdb.sqlite").read_bytes()


def test_rpm_mariner_sqlite_packages(mariner_db: bytes) -> None:
    result = parse(mariner_db)

    assert result.unknowns == []
    assert len(result.packages) == 129
    assert all(package.type is PackageType.RPM for package in result.packages)
    sqlite = by_name(result)["sqlite"]
    assert sqlite.version == "3.34.1-2.cm2"
    assert sqlite.architecture == "x86_64"
    assert sqlite.source_name == "sqlite"
    assert sqlite.source_version == "3.34.1-2.cm2"
    assert sqlite.origin == "Microsoft Corporation"
    assert sqlite.licenses == ["Public Domain"]
    assert sqlite.size == 1582413
    assert sqlite.location == "/var/lib/rpm/rpmdb.sqlite"
    assert sqlite.metadata["epoch"] is None
    assert sqlite.metadata["release"] == "2.cm2"
    assert sqlite.metadata["source_rpm"] == "sqlite-3.34.1-2.cm2.src.rpm"


def test_rpm_epoch_in_metadata_and_purl(mariner_db: bytes) -> None:
    tools = by_name(parse(mariner_db))["ca-certificates-tools"]

    assert tools.version == "2.0.0-1.cm2"
    assert tools.metadata["epoch"] == 1
    assert tools.metadata["version"] == "2.0.0"
    assert tools.source_name == "ca-certificates"
    assert tools.purl == (
        "pkg:rpm/mariner/ca-certificates-tools@2.0.0-1.cm2?arch=noarch&distro=mariner-2.0"
        "&epoch=1&upstream=ca-certificates-2.0.0-1.cm2.src.rpm"
    )


def test_rpm_file_digest_matches_content(mariner_db: bytes) -> None:
    grep = by_name(parse(mariner_db))["grep"]
    index = grep.files.index("/bin/egrep")
    script = b'#!/bin/sh\nexec grep -E "$@"\n'

    assert grep.metadata["file_digest_algorithm"] == "sha256"
    assert grep.metadata["file_digests"][index] == hashlib.sha256(script).hexdigest()
    assert grep.metadata["file_sizes"][index] == len(script)
    assert grep.metadata["file_modes"][index] == 0o100755


def test_rpm_per_file_lists_parallel_to_files(mariner_db: bytes) -> None:
    for package in parse(mariner_db).packages:
        count = len(package.files)
        assert len(package.metadata.get("file_digests", [])) == count, package.name
        assert len(package.metadata.get("file_modes", [])) == count, package.name
        assert len(package.metadata.get("file_sizes", [])) == count, package.name


def test_rpm_config_files_from_file_flags(mariner_db: bytes) -> None:
    packages = by_name(parse(mariner_db))

    assert packages["vim"].metadata["config_files"] == ["/etc/vimrc"]
    assert "/etc/ld.so.conf" in packages["glibc"].metadata["config_files"]
    assert "/usr/bin/sqlite3" in packages["sqlite"].files
    assert packages["sqlite"].metadata["config_files"] == []


def test_rpm_directory_entries_have_empty_digest(mariner_db: bytes) -> None:
    sqlite = by_name(parse(mariner_db))["sqlite"]
    index = sqlite.files.index("/usr/share/licenses/sqlite")

    assert sqlite.metadata["file_digests"][index] == ""
    assert sqlite.metadata["file_modes"][index] & 0o170000 == 0o040000


def test_rpm_sle15_ndb_packages(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "sle15-bci/Packages.db").read_bytes()
    suse = Distro(id="sles", version_id="15.3")
    result = parse(content, "/usr/lib/sysimage/rpm/Packages.db", suse)

    assert result.unknowns == []
    assert len(result.packages) == 35
    packages = by_name(result)
    libcap = packages["libcap2"]
    assert libcap.version == "2.26-4.6.1"
    assert libcap.source_name == "libcap"
    assert libcap.source_version == "2.26-4.6.1"
    assert libcap.licenses == ["BSD-3-Clause or GPL-2.0"]
    assert libcap.origin == "SUSE LLC <https://www.suse.com/>"
    assert libcap.purl is not None
    assert libcap.purl.startswith("pkg:rpm/sles/libcap2@2.26-4.6.1?arch=x86_64&distro=sles-15.3")
    assert packages["libreadline7"].source_name == "bash"
    assert packages["libreadline7"].source_version == "4.4-19.6.1"


def test_rpm_sle15_digest_of_known_file(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "sle15-bci/Packages.db").read_bytes()
    release = by_name(parse(content, distro=None))["sles-release"]
    index = release.files.index("/usr/lib/issue.d/90-SUSE")

    assert release.metadata["file_digests"][index] == hashlib.sha256(b"\n\n").hexdigest()
    assert "/etc/os-release" in release.metadata["config_files"]


def test_rpm_rhel8_berkeleydb_package(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "libuuid/Packages").read_bytes()
    rhel = Distro(id="rhel", version_id="8.8")
    result = parse(content, "/var/lib/rpm/Packages", rhel)

    assert result.unknowns == []
    assert len(result.packages) == 1
    libuuid = result.packages[0]
    assert libuuid.name == "libuuid"
    assert libuuid.version == "2.32.1-42.el8_8"
    assert libuuid.architecture == "x86_64"
    assert libuuid.source_name == "util-linux"
    assert libuuid.source_version == "2.32.1-42.el8_8"
    assert libuuid.licenses == ["BSD"]
    assert libuuid.origin == "Red Hat, Inc."
    assert libuuid.size == 35104
    assert "/usr/lib64/libuuid.so.1" in libuuid.files
    assert libuuid.purl == (
        "pkg:rpm/rhel/libuuid@2.32.1-42.el8_8?arch=x86_64&distro=rhel-8.8"
        "&upstream=util-linux-2.32.1-42.el8_8.src.rpm"
    )


def test_rpm_syft_berkeleydb_without_vendor(shared_dir: Path) -> None:
    content = (shared_dir / REDHAT_TESTDATA / "Packages").read_bytes()
    result = parse(content, "/var/lib/rpm/Packages", distro=None)

    assert result.unknowns == []
    assert len(result.packages) == 1
    dive = result.packages[0]
    assert (dive.name, dive.version, dive.architecture) == ("dive", "0.9.2-1", "x86_64")
    assert dive.metadata["vendor"] is None
    assert dive.origin == "Alex Goodman"
    assert dive.licenses == ["MIT"]
    assert dive.files == ["/usr/local/bin/dive"]
    assert dive.metadata["file_sizes"] == [12406784]
    assert dive.purl == "pkg:rpm/dive@0.9.2-1?arch=x86_64&upstream=dive-0.9.2-1.src.rpm"


def test_rpm_syft_glob_paths_are_not_databases(shared_dir: Path) -> None:
    root = shared_dir / REDHAT_TESTDATA / "glob-paths"
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.suffix == ".rpm" or path.name.startswith("container"):
            continue
        location = "/" + path.relative_to(root).as_posix()
        result = parse(path.read_bytes(), location)
        assert result.packages == [], location
        if path.stat().st_size:
            assert len(result.unknowns) == 1, location
            assert "unknown magic" in result.unknowns[0].reason
        else:
            assert result.unknowns == [], location


def test_rpm_manifest_packages(shared_dir: Path) -> None:
    content = (shared_dir / REDHAT_TESTDATA / "container-manifest-2").read_bytes()
    result = parse_rpm_manifest(MANIFEST_PATH, content, ParseContext(MARINER, {}.get))

    assert result.unknowns == []
    assert [package.name for package in result.packages] == [
        "mariner-release", "filesystem", "glibc", "openssl-libs", "vim",
    ]
    vim = result.packages[-1]
    assert vim.version == "9.0-1.cm2"
    assert vim.metadata["epoch"] == 2
    assert vim.source_name == "vim"
    assert vim.size == 45000
    assert vim.origin == "Microsoft Corporation"
    openssl = result.packages[3]
    assert openssl.metadata["epoch"] is None
    assert openssl.source_name == "openssl"
    assert openssl.source_version == "1.1.1k-15.cm2"


def test_rpm_manifest_skipped_beside_database(shared_dir: Path, mariner_db: bytes) -> None:
    content = (shared_dir / REDHAT_TESTDATA / "container-manifest-2").read_bytes()
    kept = {"/var/lib/rpm/rpmdb.sqlite": mariner_db}
    result = parse(content, MANIFEST_PATH, files=kept)

    assert result.packages == []
    assert result.unknowns == []


def test_rpm_manifest_bad_line_is_unknown() -> None:
    content = b"name-only\nbash\t5.1-1\t1\t2\tVendor\t(none)\t10\tx86_64\t0\tbash-5.1-1.src.rpm\n"
    result = parse(content, MANIFEST_PATH)

    assert [package.name for package in result.packages] == ["bash"]
    assert len(result.unknowns) == 1
    assert "line 1" in result.unknowns[0].reason


def test_rpm_analyze_mariner_image(mariner_db: bytes) -> None:
    source = image(
        [file("etc/os-release", MARINER_OS_RELEASE)],
        [file("var/lib/rpm/rpmdb.sqlite", mariner_db)],
    )
    report = analyze_image(source)

    assert report.distro is not None
    assert (report.distro.id, report.distro.version_id) == ("mariner", "2.0")
    rpms = [package for package in report.packages if package.type is PackageType.RPM]
    assert len(rpms) == 129
    assert {package.layer_digest for package in rpms} == {source.layers[1].digest}
    bash = next(package for package in rpms if package.name == "bash")
    assert bash.purl is not None
    assert "distro=mariner-2.0" in bash.purl
    assert report.problems == []


def test_rpm_analyze_sysimage_database(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "sle15-bci/Packages.db").read_bytes()
    source = image([file("usr/lib/sysimage/rpm/Packages.db", content)])
    report = analyze_image(source)

    assert len(report.packages) == 35
    assert {package.location for package in report.packages} == {
        "/usr/lib/sysimage/rpm/Packages.db"
    }


def test_rpm_database_kept_over_file_limit(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "libuuid/Packages").read_bytes()
    source = image(
        [file("var/lib/rpm/Packages", content), file("var/lib/dpkg/status", "x" * 2000)]
    )
    options = AnalysisOptions(max_kept_file_size=1000)
    report = analyze_image(source, options=options)

    assert [package.name for package in report.packages] == ["libuuid"]
    assert [problem.location for problem in report.problems] == ["/var/lib/dpkg/status"]
    assert "--max-kept-file-size` or the MAX_KEPT_FILE_SIZE setting" in report.problems[0].reason


def test_rpm_database_over_its_own_limit(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "libuuid/Packages").read_bytes()
    source = image([file("usr/lib/sysimage/rpm/Packages", content)])
    report = analyze_image(source, options=AnalysisOptions(max_kept_rpmdb_size=1000))

    assert report.packages == []
    assert len(report.problems) == 1
    assert "--max-kept-rpmdb-size` or the MAX_KEPT_RPMDB_SIZE setting" in report.problems[0].reason


def test_rpm_os_content_row(mariner_db: bytes) -> None:
    row = os_package(by_name(parse(mariner_db))["openssl-libs"])

    assert row["type"] == "rpm"
    assert row["version"] == "1.1.1k-7.cm2"
    assert row["sourcepkg"] == "openssl-1.1.1k-7.cm2.src.rpm"
    assert row["origin"] == "Microsoft Corporation"
    assert row["location"] == "/var/lib/rpm/rpmdb.sqlite"
