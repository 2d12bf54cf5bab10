"""Tests of the binary classifiers, the ELF reader and the summaries kept for executables."""

from __future__ import annotations

import pytest

from chalicelib.analysis import AnalysisOptions, analyze_image
from chalicelib.analysis.binary import classify, parse_binary, read_elf
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from tests.analysis.builders import Item, file, hardlink, image
from tests.analysis.test_golang import elf


def parse(location: str, content: bytes) -> ParseResult:
    return parse_binary(location, content, ParseContext(None, {}.get))


@pytest.mark.parametrize(
    ("path", "content", "name", "version"),
    [
        ("/usr/bin/python3.11", b"\x00Python 3.11.2 (main, Mar 13 2023)\x00", "python", "3.11.2"),
        ("/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0", b"junk\x003.11.9\x00", "python",
         "3.11.9"),
        ("/usr/local/bin/node", b"\x00https://nodejs.org/download/release/node.js/v18.19.1\x00",
         "node", "18.19.1"),
        ("/usr/local/bin/node", b"\x00v20.1.0\x00", "node", "20.1.0"),
        ("/usr/lib/x86_64-linux-gnu/libcrypto.so.3", b"\x00OpenSSL 3.0.11 19 Sep 2023\x00",
         "openssl", "3.0.11"),
        ("/lib/libssl.so.1.1", b"\x00OpenSSL 1.1.1w  11 Sep 2023\x00", "openssl", "1.1.1w"),
        ("/bin/busybox", b"\x00BusyBox v1.36.1 (2023-11-07 18:53:09 UTC)\x00", "busybox",
         "1.36.1"),
        ("/usr/local/go/bin/go", b"\x00go1.21.5\x00", "go", "1.21.5"),
    ],
)
def test_binary_classifier_versions(path: str, content: bytes, name: str, version: str) -> None:
    [package] = parse(path, content).packages
    assert (package.name, package.version) == (name, version)
    assert package.type is PackageType.BINARY
    assert package.location == path
    assert package.purl == f"pkg:generic/{name}@{version}"


def test_binary_python_version_follows_file_name() -> None:
    # A python3.11 binary mentions other versions; only 3.11.x is its own.
    content = b"\x003.9.18\x00built with 3.11.4+\x00"
    assert classify("/usr/bin/python3.11", content) == {
        "classifier": "python-binary", "package": "python", "version": "3.11.4"
    }


def test_binary_cpes() -> None:
    [node] = parse("/usr/bin/node", b"node.js/v18.19.1").packages
    [go] = parse("/usr/bin/go", b"go1.21.5\x00").packages
    assert node.cpes == ["cpe:2.3:a:nodejs:node.js:18.19.1:*:*:*:*:*:*:*"]
    assert go.cpes == ["cpe:2.3:a:golang:go:1.21.5:-:*:*:*:*:*:*"]


def test_binary_name_without_version_string() -> None:
    assert parse("/bin/busybox", b"\x7fELF no version here").packages == []


def test_binary_unknown_name_not_classified() -> None:
    assert classify("/usr/bin/bash", b"\x00OpenSSL 3.0.11 x\x00BusyBox v1.36.1") is None


def test_binary_elf_sections() -> None:
    parsed = read_elf(elf({".text": b"\x90" * 8, ".note": b"abc"}))
    assert parsed is not None
    assert parsed.section_data(".note") == b"abc"
    assert parsed.section_data(".missing") is None
    assert read_elf(b"#!/bin/sh\necho hi\n") is None


def test_binary_elf_header_out_of_range() -> None:
    content = bytearray(elf({".text": b"\x90" * 8}))
    content[0x28:0x30] = (10**9).to_bytes(8, "little")  # section header offset past the end
    with pytest.raises(ValueError, match="outside the file"):
        read_elf(bytes(content))


def test_binary_in_image_kept_as_summary() -> None:
    big = b"\x00" * 2_000_000 + b"\x00BusyBox v1.36.1 (2023)\x00"
    source = image(
        [
            file("bin/busybox", big, mode=0o755),
            hardlink("bin/sh", "bin/busybox"),
            file("usr/lib/libcrypto.so.3", b"\x00OpenSSL 3.0.11 19 Sep 2023\x00"),
        ]
    )
    report = analyze_image(source)
    found = {(p.name, p.version, p.location) for p in report.packages}
    assert ("busybox", "1.36.1", "/bin/busybox") in found
    assert ("openssl", "3.0.11", "/usr/lib/libcrypto.so.3") in found


def test_binary_over_size_limit_not_read() -> None:
    content = b"\x00node.js/v18.19.1\x00" + b"\x00" * 5000
    source = image([file("usr/bin/node", content, mode=0o755)])
    report = analyze_image(source, options=AnalysisOptions(max_executable_size=1000))
    assert [p for p in report.packages if p.type is PackageType.BINARY] == []


def test_binary_owned_by_os_package_excluded() -> None:
    installed = "P:busybox\nV:1.36.1-r15\nA:x86_64\nF:bin\nR:busybox\n\n"
    source = image(
        [
            file("lib/apk/db/installed", installed),
            file("bin/busybox", b"\x00BusyBox v1.36.1 (2023)\x00", mode=0o755),
            file("usr/local/bin/busybox", b"\x00BusyBox v1.37.0 (2024)\x00", mode=0o755),
        ]
    )
    report = analyze_image(source)
    binaries = {(p.version, p.location) for p in report.packages if p.type is PackageType.BINARY}
    assert binaries == {("1.37.0", "/usr/local/bin/busybox")}
    assert ("busybox", PackageType.APK) in {(p.name, p.type) for p in report.packages}


def test_binary_hard_link_shares_summary() -> None:
    node = b"\x00node.js/v18.19.1\x00"
    source = image(
        [
            file("usr/local/bin/node", node, mode=0o755),
            Item("usr/bin/node", "hardlink", target="usr/local/bin/node", mode=0o755),
        ]
    )
    report = analyze_image(source)
    locations = {p.location for p in report.packages if p.name == "node"}
    assert locations == {"/usr/local/bin/node", "/usr/bin/node"}
