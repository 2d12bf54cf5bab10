"""Tests of npm versions and ranges against node-semver's cases and hand-picked hard cases."""

from __future__ import annotations

import json
from typing import Literal

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import npm
from tests.vulns.versions.tables import TableRow, table_params

INVALID_RANGE = "<INVALID>"
"""What the range-parse table expects for a range that node-semver rejects."""
DIRECTIONS: dict[str, Literal[">", "<"]] = {"gtr": ">", "ltr": "<"}
"""The direction argument of `outside` for the table's `gtr` and `ltr` relations."""


def parse_options(options: str) -> dict[str, bool]:
    """Turn the table's `options` column (`loose,includePrerelease`) into keyword arguments."""
    names = set(filter(None, options.split(",")))
    unknown = names - {"loose", "includePrerelease"}
    if unknown:
        raise ValueError(f"unknown npm options {sorted(unknown)} in a table row")
    return {"loose": "loose" in names, "include_prerelease": "includePrerelease" in names}


@pytest.mark.parametrize("table_row", table_params("npm_compare"), indirect=True)
def test_npm_compare_matches_table(table_row: TableRow) -> None:
    loose = parse_options(table_row["options"])["loose"]
    expected = int(table_row["expected"])

    assert npm.compare(table_row["a"], table_row["b"], loose=loose) == expected
    assert npm.compare(table_row["b"], table_row["a"], loose=loose) == -expected


@pytest.mark.parametrize("table_row", table_params("npm_range"), indirect=True)
def test_npm_satisfies_matches_table(table_row: TableRow) -> None:
    options = parse_options(table_row["options"])

    result = npm.satisfies(table_row["range"], table_row["version"], **options)

    assert result is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("npm_range_parse"), indirect=True)
def test_npm_parse_range_matches_table(table_row: TableRow) -> None:
    options = parse_options(table_row["options"])
    expected = table_row["expected_normalized"]

    if expected == INVALID_RANGE:
        with pytest.raises(InvalidVersionError, match="invalid npm range"):
            npm.parse_range(table_row["range"], **options)
    else:
        assert npm.parse_range(table_row["range"], **options).normalized == expected


@pytest.mark.parametrize("table_row", table_params("npm_valid_versions"), indirect=True)
def test_npm_parse_version_matches_table(table_row: TableRow) -> None:
    version = npm.parse_version(table_row["version"])

    assert version.major == int(table_row["major"])
    assert version.minor == int(table_row["minor"])
    assert version.patch == int(table_row["patch"])
    assert list(version.prerelease) == json.loads(table_row["prerelease_json"])
    assert list(version.build) == json.loads(table_row["build_json"])


@pytest.mark.parametrize("table_row", table_params("npm_outside_range"), indirect=True)
def test_npm_outside_matches_table(table_row: TableRow) -> None:
    options = parse_options(table_row["options"])
    direction = DIRECTIONS[table_row["relation"]]

    result = npm.outside(table_row["range"], table_row["version"], direction, **options)

    assert result is (table_row["expected"] == "true")


def test_npm_prerelease_needs_same_core_comparator() -> None:
    assert npm.satisfies(">=1.2.3-beta.1", "1.2.3-beta.2")
    assert not npm.satisfies(">=1.2.3-beta.1", "1.2.4-alpha")
    assert not npm.satisfies("^1.2.3", "1.3.0-rc.1")
    assert npm.satisfies(">=1.2.3-beta.1 <1.3.0", "1.2.3-rc.1")


def test_npm_include_prerelease_admits_any_prerelease() -> None:
    assert npm.satisfies(">=1.2.3-beta.1", "1.2.4-alpha", include_prerelease=True)
    assert npm.satisfies("^1.2.3", "1.3.0-rc.1", include_prerelease=True)
    assert not npm.satisfies("^1.2.3", "2.0.0-rc.1", include_prerelease=True)


def test_npm_caret_keeps_leftmost_nonzero_field() -> None:
    assert npm.parse_range("^1.2.3").normalized == ">=1.2.3 <2.0.0-0"
    assert npm.parse_range("^0.2.3").normalized == ">=0.2.3 <0.3.0-0"
    assert npm.parse_range("^0.0.3").normalized == ">=0.0.3 <0.0.4-0"
    # `>=0.0.0` admits every version, so node-semver drops it.
    assert npm.parse_range("^0.0").normalized == "<0.1.0-0"


def test_npm_tilde_and_xrange_expansion() -> None:
    assert npm.parse_range("~1.2.3").normalized == ">=1.2.3 <1.3.0-0"
    assert npm.parse_range("~1").normalized == ">=1.0.0 <2.0.0-0"
    assert npm.parse_range("1.2.x").normalized == ">=1.2.0 <1.3.0-0"
    assert npm.parse_range(">1.2").normalized == ">=1.3.0"
    assert npm.parse_range("<=1.2").normalized == "<1.3.0-0"


def test_npm_loose_partial_keeps_field_text() -> None:
    # node-semver keeps `00` as written, so `>=00` is not dropped the way `>=0` is.
    assert npm.parse_range(">=00", loose=True).normalized == ">=0.0.0"
    assert npm.parse_range(">=0").normalized == "*"
    assert npm.parse_range("<=01.2", loose=True).normalized == "<1.3.0-0"
    assert npm.parse_range(">01", loose=True).normalized == ">=2.0.0"


def test_npm_hyphen_range_widens_partial_end() -> None:
    assert npm.parse_range("1.2.3 - 2.3").normalized == ">=1.2.3 <2.4.0-0"
    assert npm.parse_range("1.2 - 2.3.4").normalized == ">=1.2.0 <=2.3.4"
    assert npm.satisfies("1.2.3 - 2.3", "2.3.9")
    assert not npm.satisfies("1.2.3 - 2.3", "2.4.0")


def test_npm_build_metadata_is_ignored() -> None:
    assert npm.compare("1.2.3+build.1", "1.2.3+build.2") == 0
    assert npm.satisfies("=1.2.3+other", "1.2.3+build")


def test_npm_null_set_matches_nothing() -> None:
    assert npm.parse_range("<0.0.0-0").normalized == "<0.0.0-0"
    assert not npm.satisfies("<*", "0.0.0")
    assert npm.satisfies("<* || 1.x", "1.5.0")


def test_npm_comma_and_double_equals_extension() -> None:
    assert npm.parse_range(">= 1.0.0, < 2.0.0").normalized == ">=1.0.0 <2.0.0"
    assert npm.parse_range("==1.0.0").normalized == "1.0.0"
    assert npm.satisfies(">= 1.0.0, < 2.0.0", "1.5.0")
    assert not npm.satisfies(">= 1.0.0, < 2.0.0", "2.0.0")


def test_npm_invalid_range_error_names_comparator() -> None:
    with pytest.raises(InvalidVersionError) as caught:
        npm.parse_range(">=1.0.0 <banana")

    message = str(caught.value)
    assert "invalid npm range '>=1.0.0 <banana'" in message
    assert "'<banana'" in message


def test_npm_satisfies_is_false_for_invalid_input() -> None:
    assert not npm.satisfies(">=1.0.0 <banana", "1.0.0")
    assert not npm.satisfies(">=1.0.0", "banana")


def test_npm_loose_mode_accepts_sloppy_versions() -> None:
    assert not npm.is_valid("=1.2.3")
    assert npm.is_valid("=1.2.3", loose=True)
    assert npm.compare("01.02.03", "1.2.3", loose=True) == 0
    assert npm.parse_version("1.2.3beta", loose=True).prerelease == ("beta",)


def test_npm_version_limits() -> None:
    assert npm.is_valid(f"{npm.MAX_SAFE_INTEGER}.0.0")
    assert not npm.is_valid(f"{npm.MAX_SAFE_INTEGER + 1}.0.0")
    assert not npm.is_valid("1.2.3-" + "a" * 300)


def test_npm_outside_distinguishes_gap_from_beyond() -> None:
    assert npm.outside("1.x || 3.x", "4.0.0", ">")
    assert not npm.outside("1.x || 3.x", "2.0.0", ">")
    assert npm.outside("1.x || 3.x", "0.9.0", "<")
    assert not npm.outside("1.x || 3.x", "1.5.0", "<")


def test_npm_outside_rejects_invalid_version() -> None:
    with pytest.raises(InvalidVersionError, match="invalid npm version 'banana'"):
        npm.outside("1.x", "banana", ">")


def test_npm_scheme_is_strict_by_default() -> None:
    strict, loose = npm.NpmScheme(), npm.NpmScheme(loose=True)

    assert strict.name == "npm"
    assert not strict.is_valid("v 1.2.3")
    assert loose.is_valid("v 1.2.3")
    with pytest.raises(InvalidVersionError):
        strict.compare("=1.2.3", "1.2.3")
    assert loose.compare("=1.2.3", "1.2.3") == 0
