"""Tests of the Go binary cataloger on ELF files built in the tests, and on a real Go binary."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from chalicelib.analysis import CATALOGERS, analyze_image
from chalicelib.analysis.catalog import (
    SUMMARY_PREFIX,
    ExecutableSummarizer,
    ParseContext,
    ParseResult,
)
from chalicelib.analysis.executables import GO_BUILD_INFO_MAGIC
from chalicelib.analysis.golang import (
    main_module_version,
    parse_go_binary,
    read_build_info,
    summarize_go_binary,
)
from chalicelib.analysis.interface import AnalysisReport, PackageType
from tests.analysis.builders import file, image

BASE_ADDRESS = 0x400000
MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
MODINFO = (
    "path\tgithub.com/example/tool/cmd/tool\n"
    "mod\tgithub.com/example/tool\t(devel)\t\n"
    "dep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n"
    "dep\tgolang.org/x/sys\tv0.1.0\th1:old=\n"
    "=>\tgithub.com/fork/sys\tv0.2.0\th1:new=\n"
    "build\t-compiler=gc\n"
    'build\t-ldflags="-s -w"\n'
    "build\tGOARCH=arm64\n"
    "build\tGOOS=linux\n"
)


def elf(sections: dict[str, bytes], *, prefix: bytes = b"") -> bytes:
    """Build a little-endian ELF64 file with `sections`, loaded whole at `BASE_ADDRESS`.

    `prefix` is placed right after the headers, before the sections.
    """
    header_size, program_size = 64, 56
    body = bytearray(prefix)
    offsets = {}
    names = bytearray(b"\x00")
    name_offsets = {}
    for name, data in {**sections, ".shstrtab": b""}.items():
        name_offsets[name] = len(names)
        names += name.encode() + b"\x00"
    for name, data in sections.items():
        while (header_size + program_size + len(body)) % 16:
            body += b"\x00"
        offsets[name] = header_size + program_size + len(body)
        body += data
    offsets[".shstrtab"] = header_size + program_size + len(body)
    body += names
    while len(body) % 8:
        body += b"\x00"
    shoff = header_size + program_size + len(body)
    all_sections = [*sections, ".shstrtab"]
    total = shoff + 64 * (len(all_sections) + 1)

    out = bytearray(b"\x7fELF\x02\x01\x01" + b"\x00" * 9)
    out += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, BASE_ADDRESS, header_size, shoff, 0,
                       header_size, program_size, 1, 64, len(all_sections) + 1,
                       len(all_sections))
    out += struct.pack("<IIQQQQQQ", 1, 5, 0, BASE_ADDRESS, BASE_ADDRESS, total, total, 0x1000)
    out += body
    out += b"\x00" * 64
    for name in all_sections:
        size = len(names) if name == ".shstrtab" else len(sections[name])
        address = BASE_ADDRESS + offsets[name]
        out += struct.pack("<IIQQQQIIQQ", name_offsets[name], 1, 0, address, offsets[name], size,
                           0, 0, 1, 0)
    return bytes(out)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def inline_blob(version: str = "go1.22.1", modinfo: str = MODINFO) -> bytes:
    """The Go 1.18+ build info: header, then varint-prefixed version and module info."""
    header = GO_BUILD_INFO_MAGIC + bytes([8, 2])
    header += b"\x00" * (32 - len(header))
    wrapped = MODINFO_START + modinfo.encode() + MODINFO_END
    return header + varint(len(version)) + version.encode() + varint(len(wrapped)) + wrapped


def pointer_format_binary(version: str = "go1.16.15", modinfo: str = MODINFO) -> bytes:
    """A pre-1.18 binary: the header points to Go string headers elsewhere in the file."""
    wrapped = MODINFO_START + modinfo.encode() + MODINFO_END
    # Layout after the ELF and program headers: strings, then string headers, then the blob.
    start = BASE_ADDRESS + 64 + 56
    version_at = start
    modinfo_at = version_at + len(version)
    headers_at = modinfo_at + len(wrapped)
    string_headers = struct.pack("<QQQQ", version_at, len(version), modinfo_at, len(wrapped))
    data = version.encode() + wrapped + string_headers
    padding = b"\x00" * (-(len(data)) % 16)
    blob = GO_BUILD_INFO_MAGIC + bytes([8, 0])
    blob += struct.pack("<QQ", headers_at, headers_at + 16)
    return elf({".go.buildinfo": blob}, prefix=data + padding)


def parse(content: bytes, location: str = "/usr/bin/tool") -> ParseResult:
    return parse_go_binary(location, content, ParseContext(None, {}.get))


def by_name(result: ParseResult) -> dict[str, tuple[str, str | None]]:
    return {package.name: (package.version, package.purl) for package in result.packages}


def test_golang_inline_build_info() -> None:
    result = parse(elf({".text": b"\x90" * 64, ".go.buildinfo": inline_blob()}))
    packages = by_name(result)
    assert result.unknowns == []
    assert packages["github.com/example/tool"] == (
        "(devel)", "pkg:golang/github.com/example/tool@%28devel%29"
    )
    uuid_purl = "pkg:golang/github.com/google/uuid@v1.6.0"
    assert packages["github.com/google/uuid"] == ("v1.6.0", uuid_purl)
    assert packages["stdlib"] == ("go1.22.1", "pkg:golang/stdlib@1.22.1")
    assert all(package.type is PackageType.GO for package in result.packages)
    assert all(package.location == "/usr/bin/tool" for package in result.packages)


def test_golang_replacement_replaces_dependency() -> None:
    packages = by_name(parse(elf({".go.buildinfo": inline_blob()})))
    assert "golang.org/x/sys" not in packages
    assert packages["github.com/fork/sys"] == ("v0.2.0", "pkg:golang/github.com/fork/sys@v0.2.0")


def test_golang_metadata_fields() -> None:
    result = parse(elf({".go.buildinfo": inline_blob()}))
    main = next(p for p in result.packages if p.name == "github.com/example/tool")
    uuid = next(p for p in result.packages if p.name == "github.com/google/uuid")
    stdlib = next(p for p in result.packages if p.name == "stdlib")
    assert main.metadata["build_settings"]["-ldflags"] == "-s -w"
    assert main.metadata["architecture"] == "arm64"
    assert main.metadata["package_path"] == "github.com/example/tool/cmd/tool"
    assert uuid.metadata["h1_digest"] == "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
    assert uuid.metadata["go_compiled_version"] == "go1.22.1"
    assert stdlib.cpes == ["cpe:2.3:a:golang:go:1.22.1:-:*:*:*:*:*:*"]


def test_golang_pointer_format_build_info() -> None:
    packages = by_name(parse(pointer_format_binary()))
    assert packages["stdlib"] == ("go1.16.15", "pkg:golang/stdlib@1.16.15")
    assert packages["github.com/google/uuid"][0] == "v1.6.0"


def test_golang_build_info_found_without_sections() -> None:
    # Mach-O and PE files are not parsed; the aligned magic is found by scanning.
    content = b"\xcf\xfa\xed\xfe" + b"\x00" * 28 + inline_blob() + b"\x00" * 100
    info = read_build_info(content)
    assert info is not None
    assert info.go_version == "go1.22.1"
    assert info.main is not None
    assert info.main.path == "github.com/example/tool"


def test_golang_not_a_go_binary() -> None:
    result = parse(elf({".text": b"\x90" * 64}))
    assert result.packages == []
    assert result.unknowns == []


def test_golang_truncated_blob_is_unknown() -> None:
    blob = inline_blob()[:40]
    result = parse(elf({".go.buildinfo": blob}))
    assert result.packages == []
    assert "Go build info not readable" in result.unknowns[0].reason


def test_golang_bad_pointer_is_unknown() -> None:
    blob = GO_BUILD_INFO_MAGIC + bytes([8, 0]) + struct.pack("<QQ", 0xDEAD0000, 0xDEAD0010)
    result = parse(elf({".go.buildinfo": blob}))
    assert result.packages == []
    assert "pointer leads nowhere" in result.unknowns[0].reason


def test_golang_main_version_from_ldflags() -> None:
    settings = {"-ldflags": "-w -s -X main.version=1.18.1 -X main.gitCommit=abc"}
    assert main_module_version(settings) == "v1.18.1"
    assert main_module_version({"-ldflags": "-X github.com/a/b/internal.Tag=v2.0.1"}) == "v2.0.1"


def test_golang_main_version_from_vcs() -> None:
    settings = {
        "vcs.revision": "5e16e5031a13f8a11057feb8544decebfc43b4ed",
        "vcs.time": "2024-12-13T18:30:11Z",
    }
    assert main_module_version(settings) == "v0.0.0-20241213183011-5e16e5031a13"
    assert main_module_version({"-ldflags": "-s -w"}) is None


def test_golang_summary_parses_like_binary() -> None:
    content = elf({".go.buildinfo": inline_blob()})
    summarizer = ExecutableSummarizer(CATALOGERS, 1 << 20)
    summary = summarizer("/usr/bin/tool", content)
    assert summary is not None
    assert len(summary) < len(content)
    direct = image([file("usr/bin/tool", content, mode=0o755)])
    report = analyze_image(direct)
    found = {(p.name, p.version) for p in report.packages if p.type is PackageType.GO}
    assert found == {(p.name, p.version) for p in parse(content).packages}


def go_packages(report: AnalysisReport) -> set[tuple[str, str, str]]:
    return {(p.name, p.version, p.location) for p in report.packages if p.type is PackageType.GO}


def test_golang_binary_without_execute_bit_found() -> None:
    report = analyze_image(image([file("srv/tool", elf({".go.buildinfo": inline_blob()}))]))
    names = {name for name, _, _ in go_packages(report)}
    assert names == {"github.com/example/tool", "github.com/google/uuid", "github.com/fork/sys",
                     "stdlib"}


def test_golang_object_file_not_searched() -> None:
    content = bytearray(elf({".go.buildinfo": inline_blob()}))
    content[16:18] = (1).to_bytes(2, "little")  # ET_REL: an object file, not an executable
    report = analyze_image(image([file("srv/tool.o", bytes(content))]))
    assert go_packages(report) == set()


def test_golang_large_nonexecutable_binary_streamed() -> None:
    # Over the size read whole, a non-executable binary streams by and only its build info
    # is summarized.
    content = elf({".go.buildinfo": inline_blob()}) + b"\x00" * (17 * 1024 * 1024)
    report = analyze_image(image([file("usr/lib/libtool.so", content)]))
    assert ("github.com/google/uuid", "v1.6.0", "/usr/lib/libtool.so") in go_packages(report)
    assert ("stdlib", "go1.22.1", "/usr/lib/libtool.so") in go_packages(report)
    assert report.problems == []


def test_golang_large_old_binary_unknown() -> None:
    content = pointer_format_binary() + b"\x00" * (17 * 1024 * 1024)
    report = analyze_image(image([file("usr/lib/libold.so", content)]))
    assert go_packages(report) == set()
    reasons = [problem.reason for problem in report.problems]
    assert any("before 1.18" in reason for reason in reasons), reasons


def test_golang_large_binary_no_build_info() -> None:
    content = elf({".text": b"\x90" * 64}) + b"\x00" * (17 * 1024 * 1024)
    report = analyze_image(image([file("usr/lib/libplain.so", content)]))
    assert report.packages == []
    assert report.problems == []


@pytest.mark.skipif(shutil.which("go") is None, reason="the Go toolchain (go) is not installed")
def test_golang_real_binary(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/hello\n\ngo 1.18\n")
    (tmp_path / "main.go").write_text('package main\n\nfunc main() { println("hello") }\n')
    subprocess.run(
        ["go", "build", "-o", "hello", "."], cwd=tmp_path, check=True, capture_output=True,
        env={"PATH": "/usr/bin:/bin:/usr/local/go/bin", "HOME": str(tmp_path),
             "GOFLAGS": "-mod=mod", "GOPROXY": "off", "CGO_ENABLED": "0"},
    )
    packages = by_name(parse((tmp_path / "hello").read_bytes()))
    assert "example.com/hello" in packages
    assert packages["stdlib"][0].startswith("go1.")


def test_golang_damaged_non_go_elf_not_reported() -> None:
    content = bytearray(elf({".text": b"\x90" * 64}))
    content[0x28:0x30] = (10**9).to_bytes(8, "little")  # section header offset past the end
    report = analyze_image(image([file("usr/bin/odd", bytes(content), mode=0o755)]))
    assert report.problems == []
    assert report.packages == []


def test_golang_magic_outside_section_ignored() -> None:
    # The Go linker always writes `.go.buildinfo`, so an ELF file with section headers but
    # without that section is no Go binary, whatever bytes its other sections contain.
    content = elf({".rodata": inline_blob()})
    assert summarize_go_binary("/usr/bin/tool", content) is None


def test_golang_damaged_elf_with_magic_is_error() -> None:
    content = bytearray(elf({".go.buildinfo": inline_blob()}))
    content[0x28:0x30] = (10**9).to_bytes(8, "little")  # section header offset past the end
    summary = summarize_go_binary("/usr/bin/tool", bytes(content))
    assert summary is not None
    assert "Go build info not readable" in summary["error"]


@pytest.mark.parametrize(
    ("name", "go_version", "main_version", "deps"),
    [
        ("test.elf", "go1.15.2", "(devel)", 3),
        ("main-version-via-ldflags.elf", "go1.22.1", "v1.0.0", 0),
    ],
)
def test_golang_trivy_binaries(
    shared_dir: Path, name: str, go_version: str, main_version: str, deps: int
) -> None:
    path = shared_dir / "acceptance-fixtures/trivy/parsers/golang/binary/testdata" / name
    content = path.read_bytes()
    summary = summarize_go_binary(str(path), content)
    assert summary is not None
    assert summary["go_version"] == go_version
    summarized = by_name(parse(SUMMARY_PREFIX + json.dumps(summary).encode()))
    assert summarized == by_name(parse(content))
    assert summarized["github.com/aquasecurity/test"][0] == main_version
    assert summarized["stdlib"][0] == go_version
    assert len(summarized) == deps + 2


def test_golang_trivy_binaries_without_execute_bit(shared_dir: Path) -> None:
    directory = shared_dir / "acceptance-fixtures/trivy/parsers/golang/binary/testdata"
    items = [file(f"testdata/{path.name}", path.read_bytes(), mode=0o444)
             for path in sorted(directory.iterdir())]
    found = go_packages(analyze_image(image(items)))
    assert len(found) == 7
    assert ("github.com/aquasecurity/test", "v1.0.0",
            "/testdata/main-version-via-ldflags.elf") in found
    assert ("stdlib", "go1.15.2", "/testdata/test.elf") in found
