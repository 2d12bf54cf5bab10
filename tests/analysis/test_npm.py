"""Tests of the npm cataloger on real package.json files."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis.catalog import Cataloger, ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.npm import EXCLUDE_PATTERNS, PACKAGE_JSON_PATTERNS, parse_package_json

PKG_JSON = "acceptance-fixtures/syft/javascript/testdata/pkg-json"
LOCATION = "/usr/lib/node_modules/npm/package.json"


def parse(path: Path, location: str = LOCATION) -> ParseResult:
    return parse_package_json(location, path.read_bytes(), ParseContext(None, dict().get))


def test_npm_package_fields(shared_dir: Path) -> None:
    result = parse(shared_dir / PKG_JSON / "package.json")
    [package] = result.packages
    assert (package.name, package.version) == ("npm", "6.14.6")
    assert package.type is PackageType.NPM
    assert package.origin == "Isaac Z. Schlueter <i@izs.me> (http://blog.izs.me)"
    assert package.licenses == ["Artistic-2.0"]
    assert package.location == LOCATION
    assert package.purl == "pkg:npm/npm@6.14.6"


def test_npm_scoped_package_purl(shared_dir: Path) -> None:
    path = shared_dir / "acceptance-fixtures/syft/javascript/testdata/pkg-lock/node_modules"
    [package] = parse(path / "@actions/core/package.json").packages
    assert (package.name, package.version) == ("@actions/core", "1.6.0")
    assert package.purl == "pkg:npm/%40actions/core@1.6.0"
    assert package.licenses == ["MIT"]


@pytest.mark.parametrize(
    ("fixture", "origin"),
    [
        ("package-nested-author.json", "Isaac Z. Schlueter <i@izs.me> (http://blog.izs.me)"),
        ("package-author-non-standard.json", "npm Inc. (https://www.npmjs.com/)"),
        (
            "package-authors-array.json",
            "Harry Potter <hp@hogwards.com> (http://youknowwho.com/), "
            "John Smith <j.smith@something.com> (http://awebsite.com/)",
        ),
        (
            "package-authors-objects.json",
            "Harry Potter <hp@hogwards.com> (http://youknowwho.com/), "
            "John Smith <j.smith@something.com> (http://awebsite.com/)",
        ),
        ("package-authors-string.json", "Harry Potter <hp@hogwards.com> (http://youknowwho.com/)"),
        (
            "package-both-author-and-authors.json",
            "Isaac Z. Schlueter <i@izs.me> (http://blog.izs.me)",
        ),
        ("package-maintainers-object.json", "Charlie Maintainer <charlie@example.com>"),
        (
            "package-maintainers.json",
            "Charlie Maintainer <charlie@example.com>, Diana Keeper <diana@example.com>",
        ),
        ("package-contributors.json", None),
    ],
)
def test_npm_origin_forms(shared_dir: Path, fixture: str, origin: str | None) -> None:
    [package] = parse(shared_dir / PKG_JSON / fixture).packages
    assert package.origin == origin


@pytest.mark.parametrize(
    ("fixture", "licenses"),
    [
        ("package-license-object.json", ["ISC"]),
        ("package-license-objects.json", ["MIT", "Apache-2.0"]),
        ("package-malformed-license.json", ["MIT"]),
        ("package-no-license.json", []),
        ("package-private.json", ["Artistic-2.0"]),
    ],
)
def test_npm_license_forms(shared_dir: Path, fixture: str, licenses: list[str]) -> None:
    [package] = parse(shared_dir / PKG_JSON / fixture).packages
    assert package.licenses == licenses


def test_npm_partial_package_is_unknown(shared_dir: Path) -> None:
    result = parse(shared_dir / PKG_JSON / "package-partial.json")
    assert result.packages == []
    assert result.unknowns[0].reason == "package.json has no name or version"


def test_npm_invalid_json_is_unknown(shared_dir: Path) -> None:
    result = parse(shared_dir / "acceptance-fixtures/syft/javascript/testdata/corrupt/package.json")
    assert result.packages == []
    assert result.unknowns[0].location == LOCATION
    assert result.unknowns[0].reason.startswith("package.json is not valid JSON")


def test_npm_json_array_is_unknown() -> None:
    result = parse_package_json(LOCATION, b"[1, 2]", ParseContext(None, dict().get))
    assert result.unknowns[0].reason == "package.json is not a JSON object"


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("/app/node_modules/express/package.json", True),
        ("/app/node_modules/@types/node/package.json", True),
        ("/app/node_modules/a/node_modules/b/package.json", True),
        ("/app/node_modules/express/test/fixtures/package.json", False),
        ("/app/node_modules/@types/node/lib/package.json", False),
        ("/app/node_modules/@types/package.json", False),
        ("/app/package.json", False),
    ],
)
def test_npm_patterns_select_package_roots(path: str, parsed: bool) -> None:
    cataloger = Cataloger(
        id="npm-test",
        parser=parse_package_json,
        patterns=PACKAGE_JSON_PATTERNS,
        exclude=EXCLUDE_PATTERNS,
    )
    assert cataloger.parses(path) is parsed
