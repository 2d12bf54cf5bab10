"""Tests of PEP 440 versions and specifiers against packaging's cases and hand-picked hard cases."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import pep440
from tests.vulns.versions.tables import TableRow, table_params

_BOOLEANS = {"None": None, "True": True, "False": False}


def parse_prerelease_options(options: str) -> tuple[bool | None, bool]:
    """Turn the table's `prereleases` column into `(prereleases, installed)` arguments.

    The column is `default`, or `;`-separated `name=value` pairs. packaging's
    `SpecifierSet.contains` uses its own `prereleases` argument when it is set, and otherwise
    the one given to the `SpecifierSet`. `specifier_contains` takes one argument for both.
    """
    if options == "default":
        return None, False
    values: dict[str, bool | None] = {}
    for pair in options.split(";"):
        name, _, value = pair.partition("=")
        values[name] = _BOOLEANS[value]
    unknown = set(values) - {"prereleases", "contains_prereleases", "spec_prereleases", "installed"}
    if unknown:
        raise ValueError(f"unknown prerelease options {sorted(unknown)} in a table row")

    prereleases = values.get("prereleases", values.get("contains_prereleases"))
    if prereleases is None:
        prereleases = values.get("spec_prereleases")
    return prereleases, bool(values.get("installed"))


@pytest.mark.parametrize("table_row", table_params("pep440_compare"), indirect=True)
def test_pep440_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert pep440.compare(table_row["a"], table_row["b"]) == expected
    assert pep440.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("pep440_valid"), indirect=True)
def test_pep440_is_valid_matches_table(table_row: TableRow) -> None:
    assert pep440.is_valid(table_row["version"]) is (table_row["valid"] == "true")


@pytest.mark.parametrize("table_row", table_params("pep440_normalize"), indirect=True)
def test_pep440_normalize_matches_table(table_row: TableRow) -> None:
    assert pep440.normalize(table_row["input"]) == table_row["normalized"]


@pytest.mark.parametrize("table_row", table_params("pep440_specifier"), indirect=True)
def test_pep440_specifier_contains_matches_table(table_row: TableRow) -> None:
    prereleases, installed = parse_prerelease_options(table_row["prereleases"])

    result = pep440.specifier_contains(
        table_row["specifier"], table_row["version"], prereleases, installed=installed
    )

    assert result is (table_row["expected"] == "true")


@pytest.mark.parametrize("table_row", table_params("pep440_specifier_valid"), indirect=True)
def test_pep440_parse_specifier_matches_table(table_row: TableRow) -> None:
    specifier = table_row["specifier"]

    if table_row["valid"] == "true":
        pep440.parse_specifier(specifier)
    else:
        with pytest.raises(InvalidVersionError, match="invalid pep440 specifier"):
            pep440.parse_specifier(specifier)


def test_pep440_release_phases_in_order() -> None:
    ordered = ["1.0.dev1", "1.0a1", "1.0b1", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.1"]

    for lower, higher in itertools.pairwise(ordered):
        assert pep440.compare(lower, higher) == -1, (lower, higher)


def test_pep440_epoch_outranks_release() -> None:
    assert pep440.compare("1!0.1", "2024.1") == 1
    assert pep440.compare("0!1.0", "1.0") == 0


def test_pep440_compare_rejects_invalid_version() -> None:
    with pytest.raises(InvalidVersionError, match="invalid pep440 version 'french toast'"):
        pep440.compare("french toast", "1.0")


def test_pep440_prerelease_argument() -> None:
    assert pep440.specifier_contains(">=1.0", "2.0a1")
    assert pep440.specifier_contains(">=1.0", "2.0a1", True)
    assert not pep440.specifier_contains(">=1.0", "2.0a1", False)
    assert pep440.specifier_contains(">=1.0", "2.0a1", False, installed=True)


def test_pep440_specifier_extensions() -> None:
    assert pep440.specifier_contains("2.0", "2.0.0")
    assert pep440.specifier_contains("=2.0", "2.0")
    assert pep440.specifier_contains(">= 1.0 < 2.0", "1.5")
    assert not pep440.specifier_contains(">= 1.0 < 2.0", "2.0")
    assert str(pep440.parse_specifier("~= 0.9 != 1.3.* <2")) == "!=1.3.*,<2,~=0.9"


def test_pep440_empty_specifier_matches_all() -> None:
    assert pep440.specifier_contains("", "0.1")


def test_pep440_invalid_specifier_is_no_match() -> None:
    assert not pep440.specifier_contains("=>2.0", "2.0")
    with pytest.raises(InvalidVersionError, match=r"'=>2\.0'"):
        pep440.parse_specifier("=>2.0")


def test_pep440_scheme_delegates_to_module() -> None:
    scheme = pep440.Pep440Scheme()

    assert scheme.name == "pep440"
    assert scheme.compare("1.0", "1.0.0") == 0
    assert scheme.is_valid("1.0-1")
    assert not scheme.is_valid("1..0")
