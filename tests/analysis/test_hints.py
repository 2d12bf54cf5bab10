"""Tests of the hints file, `/anchore_hints.json`, merged into the found packages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import ParseResult
from chalicelib.analysis.hints import HINTS_PATH, parse_hints
from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.analysis.options import AnalysisOptions
from tests.analysis.builders import file, image

HINTS_ON = AnalysisOptions(enable_hints=True)
DEBIAN = Distro(id="debian", version_id="12")


def hints(*records: Any) -> bytes:
    return json.dumps({"packages": list(records)}).encode()


def parse(
    content: bytes, found: list[Package] | None = None, distro: Distro | None = DEBIAN
) -> ParseResult:
    return parse_hints(content, found or [], distro, "sha256:layer")


def test_hints_off_by_default() -> None:
    source = image(
        [file("anchore_hints.json", hints({"name": "a", "version": "1", "type": "npm"}))]
    )
    assert analyze_image(source).packages == []


def test_hints_add_packages_when_enabled() -> None:
    content = hints(
        {
            "name": "wicked",
            "version": "0.6.1",
            "type": "gem",
            "license": "MIT",
            "origin": "schneems",
        },
        {"name": "react", "version": "2.0", "location": "/src/pkg/react", "type": "npm"},
    )
    report = analyze_image(image([file("anchore_hints.json", content)]), options=HINTS_ON)
    packages = {package.name: package for package in report.packages}
    wicked = packages["wicked"]
    assert (wicked.type, wicked.version) == (PackageType.GEM, "0.6.1")
    assert wicked.location == "/virtual/gempkg/wicked-0.6.1"
    assert wicked.licenses == ["MIT"]
    assert wicked.origin == "schneems"
    assert wicked.purl == "pkg:gem/wicked@0.6.1"
    assert wicked.layer_digest == report.layers[0].digest
    assert packages["react"].location == "/src/pkg/react"
    assert report.problems == []


def test_hints_do_not_replace_found_packages() -> None:
    package_json = json.dumps({"name": "react", "version": "16.0.0", "license": "MIT"})
    layer = [
        file("app/node_modules/react/package.json", package_json),
        file(
            "anchore_hints.json",
            hints(
                {"name": "react", "version": "16.0.0", "type": "npm"},
                {"name": "react", "version": "17.0.0", "type": "npm"},
            ),
        ),
    ]
    report = analyze_image(image(layer), options=HINTS_ON)
    found = sorted((p.name, p.version, p.location) for p in report.packages)
    assert found == [
        ("react", "16.0.0", "/app/node_modules/react/package.json"),
        ("react", "17.0.0", "/virtual/npmpkg/react-17.0.0"),
    ]


def test_hints_os_package_found_by_name() -> None:
    found = [
        Package(
            name="tzdata", version="2024a-0", type=PackageType.DPKG, location="/var/lib/dpkg/status"
        )
    ]
    result = parse(hints({"name": "tzdata", "version": "2021a-1", "type": "dpkg"}), found)
    assert result.packages == []
    assert result.unknowns == []


@pytest.mark.parametrize(
    ("record", "version", "purl"),
    [
        (
            {"name": "tzdata", "version": "2021a-1", "arch": "all", "type": "dpkg"},
            "2021a-1",
            "pkg:deb/debian/tzdata@2021a-1?arch=all&distro=debian-12",
        ),
        (
            {"name": "musl", "version": "1.2.4", "release": "r2", "type": "APKG"},
            "1.2.4-r2",
            "pkg:apk/debian/musl@1.2.4-r2?distro=debian-12",
        ),
        (
            {
                "name": "bash",
                "version": "5.1.8",
                "release": "6.el9",
                "arch": "x86_64",
                "type": "rpm",
            },
            "5.1.8-6.el9",
            "pkg:rpm/debian/bash@5.1.8-6.el9?arch=x86_64&distro=debian-12",
        ),
        ({"name": "Flask", "version": "2.0.0", "type": "python"}, "2.0.0", "pkg:pypi/flask@2.0.0"),
        (
            {"name": "github.com/a/b", "version": "v1.2.3", "type": "go"},
            "v1.2.3",
            "pkg:golang/github.com/a/b@v1.2.3",
        ),
        ({"name": "@s/n", "version": "1.0.0", "type": "npm"}, "1.0.0", "pkg:npm/%40s/n@1.0.0"),
        ({"name": "a/b", "version": "1.0", "type": "composer"}, "1.0", "pkg:composer/a/b@1.0"),
        ({"name": "N.J", "version": "1.0", "type": "nuget"}, "1.0", "pkg:nuget/N.J@1.0"),
        ({"name": "serde", "version": "1.0", "type": "rust"}, "1.0", "pkg:cargo/serde@1.0"),
        ({"name": "app", "version": "1.0", "type": "java-jar"}, "1.0", None),
        ({"name": "tool", "version": "1.0", "type": "binary"}, "1.0", None),
    ],
)
def test_hints_types_versions_and_purls(record: dict, version: str, purl: str | None) -> None:
    [package] = parse(hints(record)).packages
    assert package.version == version
    assert package.purl == purl


def test_hints_field_mapping() -> None:
    record = {
        "name": "openssl",
        "version": "3.0.11",
        "type": "binary",
        "location": "/usr/local/bin/openssl",
        "licenses": ["Apache-2.0"],
        "origins": ["OpenSSL", "Project"],
        "files": ["/usr/local/bin/openssl"],
        "metadata": {"built": "from source"},
        "size": 4096,
        "purl": "pkg:generic/openssl@3.0.11",
    }
    [package] = parse(hints(record)).packages
    assert package.location == "/usr/local/bin/openssl"
    assert package.licenses == ["Apache-2.0"]
    assert package.origin == "OpenSSL,Project"
    assert package.files == ["/usr/local/bin/openssl"]
    assert package.metadata == {"built": "from source"}
    assert package.size == 4096
    assert package.purl == "pkg:generic/openssl@3.0.11"
    assert package.layer_digest == "sha256:layer"


def test_hints_default_locations() -> None:
    content = hints(
        {"name": "six", "version": "1.0", "type": "python"},
        {"name": "app", "version": "2.0", "type": "java"},
        {"name": "zlib", "version": "1.3", "type": "dpkg"},
    )
    locations = {p.name: p.location for p in parse(content).packages}
    assert locations == {
        "six": "/virtual/pypkg/site-packages",
        "app": "/virtual/javapkg/app-2.0.jar",
        "zlib": HINTS_PATH,
    }


def test_hints_bad_records_unknown() -> None:
    content = hints(
        "not an object",
        {"name": "a", "type": "npm"},
        {"name": "b", "version": "1", "type": "cobol"},
        {"name": "c", "version": "1", "type": "npm", "files": "not-a-list"},
        {"name": "d", "versions": ["2.0", "1.0"], "type": "gem"},
    )
    result = parse(content)
    assert [(p.name, p.version) for p in result.packages] == [("d", "2.0")]
    reasons = [unknown.reason for unknown in result.unknowns]
    assert reasons[0] == "hint record 0: record is not a JSON object"
    assert reasons[1] == "hint record 1: a hint needs a name, a version and a type"
    assert reasons[2].startswith("hint record 2: type 'cobol' is not supported; use one of ")
    assert reasons[3] == "hint record 3: files of c must be a list of paths"
    assert all(unknown.location == HINTS_PATH for unknown in result.unknowns)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "hints file is not valid JSON"),
        (b"[]", "hints file has no 'packages' list"),
        (b'{"packages": {}}', "hints file has no 'packages' list"),
    ],
)
def test_hints_malformed_file_unknown(content: bytes, reason: str) -> None:
    result = parse(content)
    assert result.packages == []
    [unknown] = result.unknowns
    assert unknown.reason.startswith(reason)


def test_hints_malformed_file_in_image_is_problem() -> None:
    report = analyze_image(image([file("anchore_hints.json", "{")]), options=HINTS_ON)
    [problem] = report.problems
    assert problem.location == HINTS_PATH
