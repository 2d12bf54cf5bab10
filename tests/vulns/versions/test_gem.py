"""Tests of RubyGems versions and requirements against go-gem-version's and RubyGems' cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import gem
from tests.vulns.versions.tables import TableRow, table_params

RELATIONS: dict[str, Callable[[int], bool]] = {
    "=": lambda result: result == 0,
    "<": lambda result: result < 0,
    ">": lambda result: result > 0,
}
FUNCTIONS: dict[str, Callable[[str], str]] = {"release": gem.release, "bump": gem.bump}
"""The functions named in the release-and-bump table's `function` column."""


@pytest.mark.parametrize("table_row", table_params("gem_compare"), indirect=True)
def test_gem_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert gem.compare(table_row["a"], table_row["b"]) == expected
    assert gem.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("gem_relation"), indirect=True)
def test_gem_relation_matches_table(table_row: TableRow) -> None:
    satisfied = RELATIONS[table_row["op"]](gem.compare(table_row["a"], table_row["b"]))

    assert satisfied is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("gem_valid"), indirect=True)
def test_gem_is_valid_matches_table(table_row: TableRow) -> None:
    version = table_row["version"]
    expected = table_row["valid"] == "true"

    assert gem.is_valid(version) is expected
    if not expected:
        with pytest.raises(InvalidVersionError, match="invalid gem version"):
            gem.parse_version(version)


@pytest.mark.parametrize("table_row", table_params("gem_constraint"), indirect=True)
def test_gem_satisfies_matches_table(table_row: TableRow) -> None:
    result = gem.satisfies(table_row["constraint"], table_row["version"])

    assert result is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("gem_constraint_valid"), indirect=True)
def test_gem_requirement_valid_matches_table(table_row: TableRow) -> None:
    requirement = table_row["constraint"]
    expected = table_row["valid"] == "true"

    assert gem.is_valid_requirement(requirement) is expected
    if not expected:
        with pytest.raises(InvalidVersionError, match="invalid gem"):
            gem.parse_requirement(requirement)


@pytest.mark.parametrize("table_row", table_params("gem_release_bump"), indirect=True)
def test_gem_release_and_bump_match_table(table_row: TableRow) -> None:
    function = FUNCTIONS[table_row["function"]]

    assert function(table_row["version"]) == table_row["expected"]


def test_gem_hyphen_reads_as_pre() -> None:
    version = gem.parse_version("1.0.0-rc1")

    assert version.text == "1.0.0.pre.rc1"
    assert version.segments == (1, 0, 0, "pre", "rc", 1)
    assert version.is_prerelease


def test_gem_trailing_zeros_are_ignored() -> None:
    assert gem.compare("1.2", "1.2.0.0") == 0
    assert gem.compare("1.0.a", "1.a") == 0
    assert gem.parse_version("1.2.0.a.0").canonical_segments == (1, 2, "a")


def test_gem_string_segments_compare_by_byte() -> None:
    assert gem.compare("1.0.A", "1.0.a") == -1
    assert gem.compare("1.0.rc10", "1.0.rc9") == 1


def test_gem_blank_version_is_zero() -> None:
    assert gem.compare("", "0") == 0
    assert gem.compare(" \t", "0.0") == 0
    assert gem.compare(" 1.2 ", "1.2") == 0


def test_gem_pessimistic_excludes_prerelease_of_bound() -> None:
    assert gem.satisfies("~> 1.4.4", "1.4.9")
    assert not gem.satisfies("~> 1.4.4", "1.5.0")
    assert not gem.satisfies("~> 1.4.4", "1.5.0.rc1")
    assert gem.satisfies("~> 1.4.4", "1.4.5.rc1")


def test_gem_requirement_alternatives() -> None:
    assert gem.satisfies("< 1.0 || >= 2.0, < 2.1", "0.9")
    assert gem.satisfies("< 1.0 || >= 2.0, < 2.1", "2.0.5")
    assert not gem.satisfies("< 1.0 || >= 2.0, < 2.1", "1.5")


@pytest.mark.parametrize("requirement", ["", " , ", "> 1.0 ||", ">> 1.0", "> 1.0-", "=> 1.0"])
def test_gem_rejects_malformed_requirement(requirement: str) -> None:
    assert not gem.is_valid_requirement(requirement)
    with pytest.raises(InvalidVersionError, match="invalid gem requirement"):
        gem.satisfies(requirement, "1.0")


def test_gem_invalid_version_in_requirement() -> None:
    with pytest.raises(InvalidVersionError) as caught:
        gem.satisfies(">= 1.0", "1..0")

    assert "invalid gem version '1..0'" in str(caught.value)


def test_gem_scheme_delegates_to_module() -> None:
    scheme = gem.GemScheme()

    assert scheme.name == "gem"
    assert scheme.compare("1.0.0.rc1", "1.0.0") == -1
    assert scheme.is_valid("1.2.3-beta.1")
    assert not scheme.is_valid("v1.2")
