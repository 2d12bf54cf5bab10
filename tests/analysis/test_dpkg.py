"""Tests of the dpkg cataloger on real status files."""

from __future__ import annotations

from pathlib import Path

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.dpkg import parse_dpkg_status
from chalicelib.analysis.interface import Distro, PackageType
from tests.analysis.builders import directory_reader

STATUS = "/var/lib/dpkg/status"
DEBIAN_12 = Distro(id="debian", version_id="12")


def parse(root: Path, location: str = STATUS, distro: Distro | None = None) -> ParseResult:
    content = (root / location.lstrip("/")).read_bytes()
    return parse_dpkg_status(location, content, ParseContext(distro, directory_reader(root)))


def fixtures(shared_dir: Path) -> Path:
    return shared_dir / "acceptance-fixtures"


def test_dpkg_status_installed_packages(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "trivy/dpkg/valid")
    packages = {package.name: package for package in result.packages}
    assert len(result.packages) == 90
    assert result.unknowns == []
    tar = packages["tar"]
    assert tar.version == "1.29b-2"
    assert tar.type is PackageType.DPKG
    assert tar.architecture == "amd64"
    assert tar.source_name == "tar"
    assert tar.source_version == "1.29b-2"
    assert tar.size == 864 * 1024
    assert tar.origin == "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
    assert tar.location == STATUS
    assert packages["fdisk"].source_name == "util-linux"


def test_dpkg_status_skips_not_installed(shared_dir: Path) -> None:
    path = fixtures(shared_dir) / "syft/debian/testdata/var/lib/dpkg/status.d/deinstall"
    result = parse_dpkg_status(str(path), path.read_bytes(), ParseContext(None, lambda p: None))
    assert [package.name for package in result.packages] == ["linux-image-6.14.0-1012-aws"]
    assert result.packages[0].source_name == "linux-signed-aws-6.14"


def test_dpkg_source_with_version(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "trivy/dpkg/corrupsed")
    libgcc = next(package for package in result.packages if package.name == "libgcc1")
    assert libgcc.version == "1:5.1.1-12ubuntu1"
    assert libgcc.source_name == "gcc-5"
    assert libgcc.source_version == "5.1.1-12ubuntu1"


def test_dpkg_broken_paragraphs_become_unknowns(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "trivy/dpkg/corrupsed")
    assert [package.name for package in result.packages] == [
        "libpam-runtime",
        "libpam-modules-bin",
        "makedev",
        "libgcc1",
    ]
    reasons = [unknown.reason for unknown in result.unknowns]
    assert reasons == [
        "package brokenPackageWithNoVersionThatShouldGetThrownOut has no Version",
        "package invalidpkg has an invalid Version '1:5.#'",
    ]


def test_dpkg_malformed_file_is_unknown(shared_dir: Path) -> None:
    status_d = fixtures(shared_dir) / "syft/debian/testdata"
    result = parse(status_d, "/var/lib/dpkg/status.d/corrupt")
    assert result.packages == []
    assert len(result.unknowns) == 1
    assert result.unknowns[0].location == "/var/lib/dpkg/status.d/corrupt"
    assert "not a 'Field: value' line" in result.unknowns[0].reason


def test_dpkg_status_d_single(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "syft/debian/testdata", "/var/lib/dpkg/status.d/single")
    assert len(result.packages) == 1
    apt = result.packages[0]
    assert (apt.name, apt.version, apt.source_name) == ("apt", "1.8.2", "apt-dev")
    assert apt.size == 4064 * 1024
    assert apt.origin == "APT Development Team <deity@lists.debian.org>"


def test_dpkg_status_d_multiple_skips_empty_names(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "syft/debian/testdata", "/var/lib/dpkg/status.d/multiple")
    assert [package.name for package in result.packages] == ["tzdata", "util-linux"]
    assert result.packages[0].source_name == "tzdata-dev"
    assert [unknown.reason for unknown in result.unknowns] == ["package no-version has no Version"]


def test_dpkg_installed_size_with_unit(shared_dir: Path) -> None:
    root = fixtures(shared_dir) / "syft/debian/testdata"
    result = parse(root, "/var/lib/dpkg/status.d/installed-size-4KB")
    assert result.packages[0].size == 4 * 1024


def test_dpkg_distroless_files_and_licenses(shared_dir: Path) -> None:
    root = fixtures(shared_dir) / "syft/debian/testdata/image-distroless-deb"
    result = parse(root, "/var/lib/dpkg/status.d/libsqlite3-0", distro=DEBIAN_12)
    sqlite = result.packages[0]
    assert (sqlite.name, sqlite.version) == ("libsqlite3-0", "3.34.1-3")
    assert sqlite.architecture == "arm64"
    assert (sqlite.source_name, sqlite.source_version) == ("sqlite3", "3.34.1-3")
    assert sqlite.licenses == ["public-domain", "GPL-2+", "GPL-2"]
    assert "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6" in sqlite.files
    assert sqlite.purl == "pkg:deb/debian/libsqlite3-0@3.34.1-3?arch=arm64&distro=debian-12"


def test_dpkg_licenses_from_copyright(shared_dir: Path) -> None:
    result = parse(fixtures(shared_dir) / "syft/debian/testdata/image-dpkg")
    assert [package.name for package in result.packages] == ["libpam-runtime"]
    assert result.packages[0].licenses == ["GPL-2", "LGPL-2.1", "GPL-1"]


def test_dpkg_files_from_info_list(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg/info").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(
        "Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.10-3\n\n"
        "Package: libfoo\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n"
    )
    (tmp_path / "var/lib/dpkg/info/hello.list").write_text("/.\n/usr\n/usr/bin/hello\n")
    (tmp_path / "var/lib/dpkg/info/libfoo:amd64.list").write_text("/usr/lib/libfoo.so.1\n")
    result = parse(tmp_path)
    files = {package.name: package.files for package in result.packages}
    assert files == {"hello": ["/usr", "/usr/bin/hello"], "libfoo": ["/usr/lib/libfoo.so.1"]}


def test_dpkg_purl_uses_distro(shared_dir: Path) -> None:
    ubuntu = Distro(id="ubuntu", version_id="18.04")
    result = parse(fixtures(shared_dir) / "trivy/dpkg/third-party", distro=ubuntu)
    docker = next(package for package in result.packages if package.name == "docker-ce")
    assert docker.purl == (
        "pkg:deb/ubuntu/docker-ce@5:20.10.7~3-0~debian-buster?arch=amd64&distro=ubuntu-18.04"
    )


def test_dpkg_continuation_before_field_is_unknown() -> None:
    context = ParseContext(None, dict().get)
    result = parse_dpkg_status(STATUS, b" orphan line\nPackage: x\n", context)
    assert result.packages == []
    assert "continuation line" in result.unknowns[0].reason
