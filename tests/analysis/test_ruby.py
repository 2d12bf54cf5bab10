"""Tests of the Ruby gem cataloger on real gemspec files and hand-written edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult, glob_to_regex
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.ruby import SPECIFICATION_PATTERNS, parse_gemspec
from chalicelib.api import render
from tests.analysis.builders import file, image

SYFT = "acceptance-fixtures/syft/ruby/testdata"
TRIVY = "acceptance-fixtures/trivy/parsers/ruby/gemspec/testdata"
DIRSCAN = "acceptance-fixtures/dirscan/syft-image-pkg-coverage/pkgs/ruby/specifications"
LOCATION = "/usr/local/bundle/specifications/bundler-2.1.4.gemspec"


def parse(content: bytes | str, location: str = LOCATION) -> ParseResult:
    data = content.encode() if isinstance(content, str) else content
    return parse_gemspec(location, data, ParseContext(None, {}.get))


def spec(*lines: str, variable: str = "s") -> str:
    body = "\n".join(f"  {line}" for line in lines)
    return f"Gem::Specification.new do |{variable}|\n{body}\nend\n"


def test_gemspec_bundler_fields(shared_dir: Path) -> None:
    [package] = parse((shared_dir / SYFT / "bundler.gemspec").read_bytes()).packages
    assert (package.name, package.version) == ("bundler", "2.1.4")
    assert package.type is PackageType.GEM
    assert package.licenses == ["MIT"]
    assert package.purl == "pkg:gem/bundler@2.1.4"
    assert package.location == LOCATION
    assert package.metadata["homepage"] == "https://bundler.io"
    assert package.metadata["files"] == ["exe/bundle", "exe/bundler"]


def test_gemspec_unicode_escapes_in_authors(shared_dir: Path) -> None:
    [package] = parse((shared_dir / SYFT / "bundler.gemspec").read_bytes()).packages
    authors = package.metadata["authors"]
    assert len(authors) == 15
    assert authors[0] == "André Arko"
    assert authors[4] == "David Rodríguez"
    assert package.origin is not None
    assert package.origin.startswith("André Arko,Samuel Giddins,")


def test_gemspec_interpolated_homepage(shared_dir: Path) -> None:
    [package] = parse((shared_dir / SYFT / "formatador.gemspec").read_bytes()).packages
    assert (package.name, package.version) == ("formatador", "1.1.0")
    assert package.metadata["homepage"] == "https://github.com/geemus/formatador"
    assert package.origin == "geemus (Wesley Beary)"


@pytest.mark.parametrize(
    ("fixture", "name", "version", "licenses"),
    [
        ("normal00.gemspec", "rake", "13.0.3", ["MIT"]),
        ("normal01.gemspec", "async", "1.25.0", ["MIT"]),
        ("license.gemspec", "async", "1.25.0", ["MIT"]),
        ("multiple_licenses.gemspec", "test-unit", "3.3.7", ["Ruby", "BSDL", "PSFL"]),
    ],
)
def test_gemspec_trivy_fixtures(
    shared_dir: Path, fixture: str, name: str, version: str, licenses: list[str]
) -> None:
    result = parse((shared_dir / TRIVY / fixture).read_bytes())
    [package] = result.packages
    assert (package.name, package.version) == (name, version)
    assert package.licenses == licenses
    assert result.unknowns == []


def test_gemspec_block_variable_spec(shared_dir: Path) -> None:
    # `spec.name = "async".freeze # comment` is read past its comment.
    [package] = parse((shared_dir / TRIVY / "normal01.gemspec").read_bytes()).packages
    assert package.name == "async"


def test_gemspec_wrong_variable_unknown(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "malformed00.gemspec").read_bytes())
    assert result.packages == []
    [unknown] = result.unknowns
    assert unknown.location == LOCATION
    assert "spec.name" in unknown.reason


def test_gemspec_missing_version_unknown(shared_dir: Path) -> None:
    result = parse((shared_dir / TRIVY / "malformed01.gemspec").read_bytes())
    assert result.packages == []
    [unknown] = result.unknowns
    assert "async" in unknown.reason
    assert "s.version" in unknown.reason


@pytest.mark.parametrize("fixture", ["root.gemspec", "pkg/nested.gemspec"])
def test_gemspec_bogus_file_unknown(shared_dir: Path, fixture: str) -> None:
    result = parse((shared_dir / SYFT / "glob-paths/specifications" / fixture).read_bytes())
    assert result.packages == []
    [unknown] = result.unknowns
    assert "Gem::Specification.new" in unknown.reason


def test_gemspec_dirscan_default_gem(shared_dir: Path) -> None:
    # The stub comment names 2.1.4, but RubyGems loads the assigned version, 3.1.4.
    path = shared_dir / DIRSCAN / "default/unbundler.gemspec"
    [package] = parse(path.read_bytes()).packages
    assert (package.name, package.version) == ("unbundler", "3.1.4")
    assert package.licenses == ["MIT"]


def test_gemspec_truncated_authors_line_ignored(shared_dir: Path) -> None:
    # The authors array of this fixture is cut off mid-line and never closed.
    [package] = parse((shared_dir / DIRSCAN / "bundler.gemspec").read_bytes()).packages
    assert (package.name, package.version) == ("bundler", "2.1.4")
    assert package.origin is None
    assert package.licenses == ["MIT"]


def test_gemspec_word_array_licenses() -> None:
    [package] = parse(
        spec('s.name = "x"', 's.version = "1.0"', "s.licenses = %w[MIT Ruby]")
    ).packages
    assert package.licenses == ["MIT", "Ruby"]


@pytest.mark.parametrize(
    "value",
    ['"MIT".freeze', "'MIT'", '["MIT"]', "%q(MIT)", "%Q{MIT}", "%w(MIT)"],
)
def test_gemspec_license_literal_forms(value: str) -> None:
    [package] = parse(spec('s.name = "x"', 's.version = "1.0"', f"s.license = {value}")).packages
    assert package.licenses == ["MIT"]


def test_gemspec_multiline_array() -> None:
    text = spec(
        's.name = "x"',
        's.version = "2.0.0.pre.1"',
        's.authors = ["Ann".freeze, # first',
        '             "Bob".freeze,',
        "]",
    )
    [package] = parse(text).packages
    assert package.version == "2.0.0.pre.1"
    assert package.metadata["authors"] == ["Ann", "Bob"]
    assert package.origin == "Ann,Bob"


def test_gemspec_last_assignment_wins() -> None:
    [package] = parse(spec('s.name = "old"', 's.name = "new"', 's.version = "1"')).packages
    assert package.name == "new"


def test_gemspec_trailing_if_modifier() -> None:
    text = spec('s.name = "x"', 's.version = "1.2" if s.respond_to? :version=')
    [package] = parse(text).packages
    assert package.version == "1.2"


def test_gemspec_escapes_in_strings() -> None:
    text = spec(
        's.name = "x"',
        's.version = "1"',
        r's.authors = ["Ren\u{e9}", "a\"b", "c\\d", "\x41\101"]',
        r"s.homepage = 'https://e.org/it\'s'",
    )
    [package] = parse(text).packages
    assert package.metadata["authors"] == ["René", 'a"b', "c\\d", "AA"]
    assert package.metadata["homepage"] == "https://e.org/it's"


def test_gemspec_comparison_is_not_assignment() -> None:
    text = spec('s.name = "x"', 's.version = "1"', 's.version == "2"')
    [package] = parse(text).packages
    assert package.version == "1"


def test_gemspec_constant_version_unknown() -> None:
    result = parse(spec('s.name = "x"', "s.version = X::VERSION"))
    assert result.packages == []
    [unknown] = result.unknowns
    assert "s.version" in unknown.reason


def test_gemspec_invalid_version_unknown() -> None:
    result = parse(spec('s.name = "x"', 's.version = "not a version"'))
    assert result.packages == []
    [unknown] = result.unknowns
    assert "'not a version'" in unknown.reason


def test_gemspec_brace_block_and_author() -> None:
    text = (
        'Gem::Specification.new { |g|\n  g.name = "y"\n  g.version = "3"\n  g.author = "Ann"\n}\n'
    )
    [package] = parse(text).packages
    assert (package.name, package.version, package.origin) == ("y", "3", "Ann")


def test_gemspec_unclosed_string_unknown() -> None:
    result = parse(spec('s.name = "x', 's.version = "1"'))
    assert result.packages == []
    assert len(result.unknowns) == 1


def test_gemspec_invalid_utf8_is_read() -> None:
    text = spec('s.name = "x"', 's.version = "1"').encode() + b"# \xff\xfe\n"
    [package] = parse(text).packages
    assert package.name == "x"


@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("/usr/local/lib/ruby/gems/3.1.0/specifications/json-2.6.1.gemspec", True),
        ("/usr/local/lib/ruby/gems/3.1.0/specifications/default/json-2.6.1.gemspec", True),
        ("/app/vendor/json/json.gemspec", False),
        ("/usr/local/lib/ruby/gems/3.1.0/specifications/json.gemspec.bak", False),
    ],
)
def test_gemspec_pattern(path: str, matches: bool) -> None:
    import re

    regex = re.compile("|".join(glob_to_regex(p) for p in SPECIFICATION_PATTERNS))
    assert (regex.fullmatch(path) is not None) is matches


def test_gemspec_in_image_content_rows(shared_dir: Path) -> None:
    root = "usr/local/lib/ruby/gems/3.1.0/specifications"
    source = image(
        [
            file(
                f"{root}/bundler-2.1.4.gemspec",
                (shared_dir / SYFT / "bundler.gemspec").read_bytes(),
            )
        ],
        [
            file(
                f"{root}/default/rake-13.0.3.gemspec",
                (shared_dir / TRIVY / "normal00.gemspec").read_bytes(),
            )
        ],
    )
    report = analyze_image(source)
    gems = {package.name: package for package in report.packages}
    assert sorted(gems) == ["bundler", "rake"]
    assert gems["bundler"].layer_digest == report.layers[0].digest
    assert gems["rake"].layer_digest == report.layers[1].digest
    assert report.problems == []
    rows = {row["package"]: row for row in render.content(report, "gem")}
    assert rows["rake"] == {
        "package": "rake",
        "version": "13.0.3",
        "type": "GEM",
        "location": f"/{root}/default/rake-13.0.3.gemspec",
        "origin": "Hiroshi SHIBATA,Eric Hodel,Jim Weirich",
        "license": "MIT",
        "licenses": ["MIT"],
        "cpes": [
            "cpe:2.3:a:ruby-lang:rake:13.0.3:*:*:*:*:*:*:*",
            "cpe:2.3:a:rake:rake:13.0.3:*:*:*:*:*:*:*",
            "cpe:2.3:a:ruby:rake:13.0.3:*:*:*:*:*:*:*",
        ],
        "purl": "pkg:gem/rake@13.0.3",
    }
