"""Tests of the cargo-auditable cataloger on ELF files built in the tests."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.rust import MAX_INFLATED, parse_rust_binary, summarize_rust_binary
from tests.analysis.builders import file, image
from tests.analysis.test_golang import elf

AUDIT = {
    "packages": [
        {"name": "auditable-demo", "version": "0.1.0", "source": "local", "root": True,
         "dependencies": [1, 2]},
        {"name": "serde", "version": "1.0.197", "source": "crates.io", "dependencies": []},
        {"name": "cc", "version": "1.0.90", "source": "crates.io", "kind": "build"},
    ]
}


def audited(document: object = AUDIT) -> bytes:
    return elf({".text": b"\x90" * 32, ".dep-v0": zlib.compress(json.dumps(document).encode())})


def parse(content: bytes) -> ParseResult:
    return parse_rust_binary("/usr/local/bin/demo", content, ParseContext(None, {}.get))


def test_rust_runtime_packages() -> None:
    result = parse(audited())
    found = {(p.name, p.version, p.purl) for p in result.packages}
    assert found == {
        ("auditable-demo", "0.1.0", "pkg:cargo/auditable-demo@0.1.0"),
        ("serde", "1.0.197", "pkg:cargo/serde@1.0.197"),
    }
    assert result.unknowns == []


def test_rust_package_fields() -> None:
    serde = next(p for p in parse(audited()).packages if p.name == "serde")
    assert serde.type is PackageType.RUST
    assert serde.location == "/usr/local/bin/demo"
    assert serde.metadata == {"source": "crates.io", "kind": "runtime"}


def test_rust_build_dependency_left_out() -> None:
    assert "cc" not in {p.name for p in parse(audited()).packages}


def test_rust_binary_without_section() -> None:
    result = parse(elf({".text": b"\x90" * 32}))
    assert result.packages == []
    assert result.unknowns == []


def test_rust_corrupt_section_is_unknown() -> None:
    result = parse(elf({".dep-v0": b"not zlib at all"}))
    assert result.packages == []
    assert "not zlib-compressed" in result.unknowns[0].reason


def test_rust_section_bomb_is_unknown() -> None:
    bomb = zlib.compress(b" " * (MAX_INFLATED + 1024), 9)
    result = parse(elf({".dep-v0": bomb}))
    assert result.packages == []
    assert "inflates to more than" in result.unknowns[0].reason


def test_rust_entry_without_version_is_unknown() -> None:
    result = parse(audited({"packages": [{"name": "serde"}, {"name": "log", "version": "0.4"}]}))
    assert [p.name for p in result.packages] == ["log"]
    assert "without a name or version" in result.unknowns[0].reason


def test_rust_binary_in_image() -> None:
    report = analyze_image(image([file("usr/local/bin/demo", audited(), mode=0o755)]))
    found = {(p.name, p.location) for p in report.packages if p.type is PackageType.RUST}
    assert found == {
        ("auditable-demo", "/usr/local/bin/demo"),
        ("serde", "/usr/local/bin/demo"),
    }


def test_rust_section_name_outside_headers_ignored() -> None:
    # Only the section headers name `.dep-v0`; the same bytes in a string table mean nothing.
    content = elf({".rodata": b"\x00.dep-v0\x00" + zlib.compress(json.dumps(AUDIT).encode())})
    assert summarize_rust_binary("/usr/local/bin/demo", content) is None


def test_rust_damaged_elf_with_section_is_error() -> None:
    content = bytearray(audited())
    content[0x28:0x30] = (10**9).to_bytes(8, "little")  # section header offset past the end
    summary = summarize_rust_binary("/usr/local/bin/demo", bytes(content))
    assert summary is not None
    assert "invalid ELF headers" in summary["error"]


def test_rust_trivy_binary(shared_dir: Path) -> None:
    path = shared_dir / "acceptance-fixtures/trivy/parsers/rust/binary/testdata/test.elf"
    content = path.read_bytes()
    summary = summarize_rust_binary(str(path), content)
    assert summary is not None
    summarized = parse(SUMMARY_PREFIX + json.dumps(summary).encode())
    found = {(p.name, p.version) for p in summarized.packages}
    assert found == {("crate_with_features", "0.1.0"), ("library_crate", "0.1.0")}
    assert found == {(p.name, p.version) for p in parse(content).packages}


def test_rust_binary_without_execute_bit_in_image() -> None:
    report = analyze_image(image([file("usr/lib/libdemo.so", audited(), mode=0o444)]))
    found = {p.name for p in report.packages if p.type is PackageType.RUST}
    assert found == {"auditable-demo", "serde"}


def test_rust_trivy_binary_without_execute_bit(shared_dir: Path) -> None:
    path = shared_dir / "acceptance-fixtures/trivy/parsers/rust/binary/testdata/test.elf"
    report = analyze_image(image([file("testdata/test.elf", path.read_bytes(), mode=0o444)]))
    found = {(p.name, p.version) for p in report.packages if p.type is PackageType.RUST}
    assert found == {("crate_with_features", "0.1.0"), ("library_crate", "0.1.0")}
