"""Tests of the apk cataloger on real `installed` databases."""

from __future__ import annotations

from pathlib import Path

from chalicelib.analysis.apk import parse_apk_installed
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Distro, PackageType

LOCATION = "/lib/apk/db/installed"


def parse(path: Path, distro: Distro | None = None) -> ParseResult:
    return parse_apk_installed(LOCATION, path.read_bytes(), ParseContext(distro, lambda p: None))


def alpine(shared_dir: Path, name: str) -> Path:
    return shared_dir / "acceptance-fixtures/syft/alpine/testdata" / name


def test_apk_single_package_fields(shared_dir: Path) -> None:
    result = parse(alpine(shared_dir, "single"), Distro(id="alpine", version_id="3.12.0"))
    assert result.unknowns == []
    [package] = result.packages
    assert package.name == "musl-utils"
    assert package.version == "1.1.24-r2"
    assert package.type is PackageType.APK
    assert package.architecture == "x86_64"
    assert package.source_name == "musl"
    assert package.source_version == "1.1.24-r2"
    assert package.origin == "Timo Teräs <timo.teras@iki.fi>"
    assert package.licenses == ["MIT", "BSD", "GPL2+"]
    assert package.size == 151552
    assert package.location == LOCATION
    assert package.purl == (
        "pkg:apk/alpine/musl-utils@1.1.24-r2?arch=x86_64&distro=alpine-3.12.0"
    )


def test_apk_files_under_directories(shared_dir: Path) -> None:
    [package] = parse(alpine(shared_dir, "single")).packages
    assert package.files == [
        "/sbin",
        "/sbin/ldconfig",
        "/usr",
        "/usr/bin",
        "/usr/bin/iconv",
        "/usr/bin/ldd",
        "/usr/bin/getconf",
        "/usr/bin/getent",
    ]


def test_apk_base_layout(shared_dir: Path) -> None:
    [package] = parse(alpine(shared_dir, "base")).packages
    assert (package.name, package.version) == ("alpine-baselayout", "3.2.0-r6")
    assert package.licenses == ["GPL-2.0-only"]
    assert "/etc/fstab" in package.files
    assert "/var/spool/cron/crontabs" in package.files


def test_apk_multiple_packages(shared_dir: Path) -> None:
    result = parse(alpine(shared_dir, "multiple-2/lib/apk/db/installed"))
    assert len(result.packages) == 14
    names = {package.name: package for package in result.packages}
    assert names["busybox"].version == "1.35.0-r17"
    assert names["musl"].version == "1.2.3-r0"
    assert names["alpine-baselayout-data"].source_name == "alpine-baselayout"


def test_apk_corrupt_record_is_unknown(shared_dir: Path) -> None:
    result = parse(alpine(shared_dir, "corrupt/lib/apk/db/installed"))
    assert [package.name for package in result.packages] == ["alpine-baselayout-data"]
    assert len(result.unknowns) == 1
    assert "this is a corrupt db" in result.unknowns[0].reason


def test_apk_missing_version_is_unknown(shared_dir: Path) -> None:
    result = parse(shared_dir / "acceptance-fixtures/trivy/apk/installed")
    assert len(result.packages) == 15
    assert [unknown.reason for unknown in result.unknowns] == [
        "record at line 23: package invalidPackageWithoutAVersion has no version (V:)"
    ]
    musl = next(package for package in result.packages if package.name == "musl")
    assert musl.version == "1.1.14-r10"
    assert musl.files == ["/lib", "/lib/libc.musl-x86_64.so.1", "/lib/ld-musl-x86_64.so.1"]


def test_apk_empty_fields(shared_dir: Path) -> None:
    [package] = parse(alpine(shared_dir, "empty-deps-and-provides")).packages
    assert (package.name, package.version) == ("alpine-baselayout-data", "3.4.0-r0")


def test_apk_spdx_expression_stays_whole() -> None:
    content = b"P:dual\nV:1.0-r0\nL:MIT OR Apache-2.0\n"
    [package] = parse_apk_installed(LOCATION, content, ParseContext(None, lambda p: None)).packages
    assert package.licenses == ["MIT OR Apache-2.0"]
