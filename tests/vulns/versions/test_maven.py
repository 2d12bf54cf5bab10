"""Tests of Maven versions and ranges against Maven's and go-mvn-version's cases."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import maven
from tests.vulns.versions.tables import TableRow, table_params

RELATIONS: dict[str, Callable[[int], bool]] = {
    "=": lambda result: result == 0,
    "<": lambda result: result < 0,
    ">": lambda result: result > 0,
}
QUALIFIER_ORDER = [
    "1-alpha1",
    "1-beta1",
    "1-milestone1",
    "1-rc1",
    "1-SNAPSHOT",
    "1",
    "1-sp1",
    "1-abc",
    "1-xyz",
    "1-1",
    "1.1",
]


def range_syntax(table_row: TableRow) -> maven.RangeSyntax:
    """Return the syntax a range row is written in.

    The range table names it in its `syntax` column. The validity table names the go-mvn-version
    test the row comes from: requirement tests parse Maven ranges, constraint tests parse
    constraints, and comparer tests accept both.
    """
    described = table_row.fields.get("syntax", "")
    source = table_row["source"]
    if described.startswith("maven range") or "requirement_test" in source:
        return "range"
    if described.startswith("constraint") or "constraint_test" in source:
        return "constraint"
    return "auto"


@pytest.mark.parametrize("table_row", table_params("maven_compare"), indirect=True)
def test_maven_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert maven.compare(table_row["a"], table_row["b"]) == expected
    assert maven.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("maven_relation"), indirect=True)
def test_maven_relation_matches_table(table_row: TableRow) -> None:
    satisfied = RELATIONS[table_row["op"]](maven.compare(table_row["a"], table_row["b"]))

    assert satisfied is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("maven_range"), indirect=True)
def test_maven_range_contains_matches_table(table_row: TableRow) -> None:
    syntax = range_syntax(table_row)

    result = maven.range_contains(table_row["constraint"], table_row["version"], syntax)

    assert result is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("maven_range_valid"), indirect=True)
def test_maven_range_valid_matches_table(table_row: TableRow) -> None:
    text = table_row["constraint"]
    syntax = range_syntax(table_row)
    expected = table_row["valid"] == "true"

    assert maven.is_valid_range(text, syntax) is expected
    if not expected:
        with pytest.raises(InvalidVersionError, match="invalid maven"):
            maven.parse_range(text, syntax)


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(QUALIFIER_ORDER)))
def test_maven_qualifier_order(lower: str, higher: str) -> None:
    assert maven.compare(lower, higher) == -1
    assert maven.compare(higher, lower) == 1


@pytest.mark.parametrize("alias", ["1-ga", "1.0-final", "1.0.0.RELEASE", "1-0", "1.0.0"])
def test_maven_release_aliases_equal_release(alias: str) -> None:
    assert maven.compare(alias, "1") == 0


def test_maven_short_qualifier_needs_digit() -> None:
    assert maven.compare("1-a1", "1-alpha-1") == 0
    assert maven.compare("1-b2", "1-beta-2") == 0
    assert maven.compare("1-a", "1") == 1


def test_maven_numbers_beyond_long() -> None:
    assert maven.compare("1.99999999999999999999", "1.100000000000000000000") == -1
    assert maven.compare("1.0000000000000000000001", "1.1") == 0


@pytest.mark.parametrize("version", ["", "1.0 beta", "1.0/2", "[1.0]", "1,0", "1.0*", "1\x00"])
def test_maven_rejects_invalid_version(version: str) -> None:
    assert not maven.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid maven version"):
        maven.compare(version, "1.0")


def test_maven_range_sets_are_alternatives() -> None:
    text = "(,1.0.5.RELEASE],[2.0.0,2.0.16)"

    assert maven.range_contains(text, "1.0.5", "range")
    assert not maven.range_contains(text, "1.0.6", "range")
    assert maven.range_contains(text, "2.0.15", "range")
    assert not maven.range_contains(text, "2.0.16", "range")


def test_maven_range_exact_version() -> None:
    assert maven.range_contains("[1.5]", "1.5.0", "range")
    assert not maven.range_contains("[1.5]", "1.5.1", "range")


@pytest.mark.parametrize("text", ["[2.0,1.0]", "[1.0,1.0)", "[1.0,2.0),", "1.0", "[1.0 beta,2)"])
def test_maven_range_rejects_malformed_range(text: str) -> None:
    assert not maven.is_valid_range(text, "range")
    with pytest.raises(InvalidVersionError, match="invalid maven range"):
        maven.parse_range(text, "range")


def test_maven_constraint_aliases() -> None:
    assert maven.range_contains("=> 1.0, =< 2.0", "2.0", "constraint")
    assert maven.range_contains("== 1.0", "1", "constraint")
    assert maven.range_contains("!= 1.0", "1.1", "constraint")


def test_maven_auto_reads_both_syntaxes() -> None:
    assert maven.range_contains("[1.0,2.0)", "1.5")
    assert maven.range_contains(">= 1.0, < 2.0", "1.5")
    assert not maven.range_contains("< 1.0 || >= 2.0", "1.5")


def test_maven_scheme_delegates_to_module() -> None:
    scheme = maven.MavenScheme()

    assert scheme.name == "maven"
    assert scheme.compare("1.0-SNAPSHOT", "1.0") == -1
    assert scheme.is_valid("9.2.25.v20180605")
    assert not scheme.is_valid("1.0 final")
