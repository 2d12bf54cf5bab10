"""Tests of the PHP Composer cataloger on real installed.json files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.php import composer_purl, parse_installed_json
from chalicelib.api import render
from tests.analysis.builders import file, image

SYFT = "acceptance-fixtures/syft/php/testdata"
LOCATION = "/var/www/vendor/composer/installed.json"


def parse(content: bytes | str, location: str = LOCATION) -> ParseResult:
    data = content.encode() if isinstance(content, str) else content
    return parse_installed_json(location, data, ParseContext(None, {}.get))


@pytest.mark.parametrize("form", ["composer_1", "composer_2"])
def test_installed_json_both_forms(shared_dir: Path, form: str) -> None:
    result = parse((shared_dir / SYFT / "vendor" / form / "installed.json").read_bytes())
    assert result.unknowns == []
    packages = {package.name: package for package in result.packages}
    assert sorted(packages) == ["asm89/stack-cors", "behat/mink"]
    cors = packages["asm89/stack-cors"]
    assert cors.version == "1.3.0"
    assert cors.type is PackageType.COMPOSER
    assert cors.licenses == ["MIT"]
    assert cors.purl == "pkg:composer/asm89/stack-cors@1.3.0"
    assert cors.origin == "Alexander <iam.asm89@gmail.com>"
    assert cors.location == LOCATION
    mink = packages["behat/mink"]
    assert mink.version == "v1.8.1"
    assert mink.purl == "pkg:composer/behat/mink@v1.8.1"


def test_installed_json_source_and_dist_refs(shared_dir: Path) -> None:
    path = shared_dir / SYFT / "vendor/composer_2/installed.json"
    cors = next(p for p in parse(path.read_bytes()).packages if p.name == "asm89/stack-cors")
    reference = "b9c31def6a83f84b4d4a40d35996d375755f0e08"
    assert cors.metadata["source"] == {
        "type": "git",
        "url": "https://github.com/asm89/stack-cors.git",
        "reference": reference,
    }
    assert cors.metadata["dist"]["type"] == "zip"
    assert cors.metadata["dist"]["reference"] == reference
    assert cors.metadata["type"] == "library"
    assert cors.metadata["require"]["php"] == ">=5.5.9"
    assert "install-path" not in cors.metadata


def test_installed_json_dirscan_licenses(shared_dir: Path) -> None:
    path = "acceptance-fixtures/dirscan/syft-image-pkg-coverage/pkgs/php/vendor/composer"
    result = parse((shared_dir / path / "installed.json").read_bytes())
    found = {(p.name, p.version, tuple(p.licenses)) for p in result.packages}
    assert found == {
        ("nikic/fast-route", "v1.3.0", ("BSD-3-Clause",)),
        ("psr/container", "2.0.2", ("MIT",)),
        ("psr/http-factory", "1.0.1", ("MIT",)),
    }


def test_installed_json_trivy_vendor(shared_dir: Path) -> None:
    path = "acceptance-fixtures/trivy/vulnmatch/repo/composer-vendor/installed.json"
    result = parse((shared_dir / path).read_bytes())
    found = {(p.name, p.version) for p in result.packages}
    assert found == {
        ("guzzlehttp/psr7", "1.8.3"),
        ("psr/http-message", "1.1"),
        ("ralouphie/getallheaders", "3.0.3"),
    }
    psr7 = next(p for p in result.packages if p.name == "guzzlehttp/psr7")
    assert psr7.origin is not None
    assert psr7.origin.startswith("Graham Campbell <hello@gjcampbell.co.uk>, Michael Dowling")


def test_installed_json_invalid_in_composer_dir_unknown(shared_dir: Path) -> None:
    content = (shared_dir / SYFT / "glob-paths/src/installed.json").read_bytes()
    result = parse(content)
    assert result.packages == []
    [unknown] = result.unknowns
    assert unknown.location == LOCATION
    assert "not valid JSON" in unknown.reason


def test_installed_json_elsewhere_skipped_quietly(shared_dir: Path) -> None:
    content = (shared_dir / SYFT / "glob-paths/src/installed.json").read_bytes()
    result = parse(content, "/src/installed.json")
    assert result.packages == []
    assert result.unknowns == []
    assert parse('{"extensions": []}', "/opt/tool/installed.json").unknowns == []


def test_installed_json_object_without_packages_unknown() -> None:
    [unknown] = parse('{"dev": true}').unknowns
    assert "'packages'" in unknown.reason


def test_installed_json_bad_entries_unknown() -> None:
    document = {
        "packages": [
            "not an object",
            {"name": "a/b"},
            {"name": "c/d", "version": "1.0.0", "license": "Apache-2.0"},
        ]
    }
    result = parse(json.dumps(document))
    [package] = result.packages
    assert package.name == "c/d"
    assert package.licenses == ["Apache-2.0"]
    reasons = [unknown.reason for unknown in result.unknowns]
    assert reasons == [
        "package entry 0 is not a JSON object",
        "package entry 1 has no name or version",
    ]


def test_installed_json_dev_packages_marked() -> None:
    document = {
        "packages": [
            {"name": "a/runtime", "version": "1.0.0"},
            {"name": "a/test", "version": "2.0.0"},
        ],
        "dev": True,
        "dev-package-names": ["a/test"],
    }
    packages = {p.name: p for p in parse(json.dumps(document)).packages}
    assert "dev" not in packages["a/runtime"].metadata
    assert packages["a/test"].metadata["dev"] is True


@pytest.mark.parametrize(
    ("name", "purl"),
    [
        ("monolog/monolog", "pkg:composer/monolog/monolog@1.0"),
        ("single", "pkg:composer/single@1.0"),
        ("a/b/c", "pkg:composer/a/b-c@1.0"),
    ],
)
def test_composer_purl(name: str, purl: str) -> None:
    assert composer_purl(name, "1.0") == purl


def test_installed_json_in_image_content_rows(shared_dir: Path) -> None:
    content = (shared_dir / SYFT / "vendor/composer_2/installed.json").read_bytes()
    source = image(
        [file("var/www/vendor/composer/installed.json", content), file("opt/x/installed.json", "{")]
    )
    report = analyze_image(source)
    assert [p.name for p in report.packages] == ["asm89/stack-cors", "behat/mink"]
    assert report.problems == []
    rows = render.content(report, "composer")
    assert [(row["package"], row["version"], row["type"]) for row in rows] == [
        ("asm89/stack-cors", "1.3.0", "COMPOSER"),
        ("behat/mink", "v1.8.1", "COMPOSER"),
    ]
    assert rows[0]["location"] == LOCATION
    assert rows[0]["licenses"] == ["MIT"]
    assert rows[0]["purl"] == "pkg:composer/asm89/stack-cors@1.3.0"
