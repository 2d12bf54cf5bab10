"""Tests of the .NET deps.json cataloger on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.dotnet import parse_deps_json
from chalicelib.analysis.interface import PackageType
from chalicelib.api import render
from tests.analysis.builders import file, image

TRIVY = "acceptance-fixtures/trivy/parsers/dotnet/core_deps/testdata"
DIRSCAN = "acceptance-fixtures/dirscan/syft-image-pkg-coverage/pkgs/dotnet"
LOCATION = "/app/ExampleApp1.deps.json"


def parse(content: bytes | str, location: str = LOCATION) -> ParseResult:
    data = content.encode() if isinstance(content, str) else content
    return parse_deps_json(location, data, ParseContext(None, {}.get))


def test_deps_json_test_library(shared_dir: Path) -> None:
    result = parse((shared_dir / DIRSCAN / "TestLibrary.deps.json").read_bytes())
    assert result.unknowns == []
    found = {(p.name, p.version) for p in result.packages}
    assert found == {
        ("AWSSDK.Core", "3.7.10.6"),
        ("Microsoft.Extensions.DependencyInjection", "6.0.0"),
        ("Microsoft.Extensions.DependencyInjection.Abstractions", "6.0.0"),
        ("Microsoft.Extensions.Logging", "6.0.0"),
        ("Microsoft.Extensions.Logging.Abstractions", "6.0.0"),
        ("Microsoft.Extensions.Options", "6.0.0"),
        ("Microsoft.Extensions.Primitives", "6.0.0"),
        ("Newtonsoft.Json", "13.0.1"),
        ("Serilog", "2.10.0"),
        ("Serilog.Sinks.Console", "4.0.1"),
        ("System.Diagnostics.DiagnosticSource", "6.0.0"),
        ("System.Runtime.CompilerServices.Unsafe", "6.0.0"),
    }


def test_deps_json_package_fields(shared_dir: Path) -> None:
    result = parse((shared_dir / DIRSCAN / "TestLibrary.deps.json").read_bytes())
    logging = next(p for p in result.packages if p.name == "Microsoft.Extensions.Logging")
    assert logging.type is PackageType.NUGET
    assert logging.purl == "pkg:nuget/Microsoft.Extensions.Logging@6.0.0"
    assert logging.location == LOCATION
    assert logging.metadata["path"] == "microsoft.extensions.logging/6.0.0"
    assert logging.metadata["hashPath"] == "microsoft.extensions.logging.6.0.0.nupkg.sha512"
    assert logging.metadata["sha512"].startswith("sha512-")
    assert logging.metadata["dependencies"]["Microsoft.Extensions.Options"] == "6.0.0"
    assert logging.metadata["runtime"] == ["lib/netstandard2.1/Microsoft.Extensions.Logging.dll"]


def test_deps_json_projects_are_not_packages(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "multi-project.deps.json").read_bytes())
    assert [(p.name, p.version) for p in result.packages] == [("Newtonsoft.Json", "13.0.3")]


def test_deps_json_ambiguous_root(shared_dir: Path) -> None:
    # Two projects and neither is named after the file: Syft 1.18 reports nothing here.
    result = parse((shared_dir / TRIVY / "ambiguous-root.deps.json").read_bytes())
    assert [(p.name, p.version) for p in result.packages] == [("Newtonsoft.Json", "13.0.3")]
    assert result.unknowns == []


def test_deps_json_runtime_packs(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "self-contained.deps.json").read_bytes())
    found = {(p.name, p.version, p.metadata["type"]) for p in result.packages}
    assert found == {
        ("Newtonsoft.Json", "13.0.1", "package"),
        ("runtimepack.Microsoft.NETCore.App.Runtime.linux-x64", "8.0.0", "runtimepack"),
        ("runtimepack.Microsoft.AspNetCore.App.Runtime.linux-x64", "8.0.0", "runtimepack"),
    }


def test_deps_json_library_outside_targets(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "without-runtime.deps.json").read_bytes())
    packages = {p.name: p for p in result.packages}
    assert len(packages) == 7
    assert packages["System.Collections.Immutable"].version == "1.3.0"
    assert "dependencies" not in packages["System.Collections.Immutable"].metadata
    assert packages["Microsoft.NETCore.App"].metadata["dependencies"] == {
        "Libuv": "1.9.1",
        "System.Collections.Immutable": "1.3.0",
    }


def test_deps_json_missing_runtime_target(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "missing-target.deps.json").read_bytes())
    [package] = result.packages
    assert (package.name, package.version) == ("Newtonsoft.Json", "13.0.1")
    assert package.metadata["runtime"] == ["lib/netstandard2.0/Newtonsoft.Json.dll"]


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("invalid.deps.json", "deps.json is not valid JSON"),
        ("no-libraries.deps.json", "deps.json has no 'libraries' object"),
    ],
)
def test_deps_json_malformed_unknown(shared_dir: Path, fixture: str, reason: str) -> None:
    result = parse((shared_dir / TRIVY / fixture).read_bytes())
    assert result.packages == []
    [unknown] = result.unknowns
    assert unknown.location == LOCATION
    assert unknown.reason.startswith(reason)


def test_deps_json_bad_library_entries_unknown() -> None:
    document = {
        "libraries": {
            "NoVersion": {"type": "package"},
            "A/1.0/extra": {"type": "package"},
            "B/2.0": "not an object",
            "C/3.0": {"type": "package"},
        }
    }
    result = parse(json.dumps(document))
    assert [(p.name, p.version) for p in result.packages] == [("C", "3.0")]
    assert [u.reason for u in result.unknowns] == [
        "library key 'NoVersion' is not 'Name/Version'",
        "library key 'A/1.0/extra' is not 'Name/Version'",
        "library 'B/2.0' is not a JSON object",
    ]


def test_deps_json_not_object_unknown() -> None:
    [unknown] = parse("[]").unknowns
    assert unknown.reason == "deps.json is not a JSON object"


def test_deps_json_in_image_content_rows(shared_dir: Path) -> None:
    happy = (shared_dir / TRIVY / "happy.deps.json").read_bytes()
    invalid = (shared_dir / TRIVY / "invalid.deps.json").read_bytes()
    source = image([file("app/ExampleApp1.deps.json", happy), file("app/bad.deps.json", invalid)])
    report = analyze_image(source)
    [package] = report.packages
    assert (package.name, package.version) == ("Newtonsoft.Json", "13.0.1")
    [problem] = report.problems
    assert problem.location == "/app/bad.deps.json"
    [row] = render.content(report, "nuget")
    assert row["type"] == "NUGET"
    assert row["location"] == "/app/ExampleApp1.deps.json"
    assert row["purl"] == "pkg:nuget/Newtonsoft.Json@13.0.1"
    assert row["licenses"] == ["Unknown"]
