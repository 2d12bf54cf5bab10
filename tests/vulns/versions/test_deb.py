"""Tests of the Debian version scheme against dpkg's and apt's cases and hand-picked hard cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import deb
from tests.vulns.versions.tables import TableRow, table_params

# dpkg's relation operators, and `<` as the relation table uses it: strictly less, as in
# go-deb-version's LessThan. dpkg itself reads an obsolete `<` as `<=`.
RELATIONS: dict[str, Callable[[int], bool]] = {
    "<<": lambda result: result < 0,
    "<=": lambda result: result <= 0,
    "=": lambda result: result == 0,
    ">=": lambda result: result >= 0,
    ">>": lambda result: result > 0,
    "<": lambda result: result < 0,
}


@pytest.mark.parametrize("table_row", table_params("deb_compare"), indirect=True)
def test_deb_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert deb.compare(table_row["a"], table_row["b"]) == expected
    assert deb.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("deb_valid"), indirect=True)
def test_deb_is_valid_matches_table(table_row: TableRow) -> None:
    version = table_row["version"]
    expected = table_row["valid"] == "true"

    assert deb.is_valid(version) is expected
    if not expected:
        with pytest.raises(InvalidVersionError, match="invalid deb version"):
            deb.parse_version(version)


@pytest.mark.parametrize("table_row", table_params("deb_relation"), indirect=True)
def test_deb_relation_matches_table(table_row: TableRow) -> None:
    satisfied = RELATIONS[table_row["op"]](deb.compare(table_row["a"], table_row["b"]))

    assert satisfied is (table_row["expected"] == "true")


def test_deb_epoch_outranks_upstream_version() -> None:
    assert deb.compare("1:0.1", "9.9") == 1
    assert deb.compare("0:1.0", "1.0") == 0


def test_deb_tilde_sorts_before_end() -> None:
    assert deb.compare("1.0~rc1", "1.0") == -1
    assert deb.compare("1.0~~", "1.0~") == -1
    assert deb.compare("1.0~rc1-1", "1.0-1") == -1


def test_deb_letters_sort_before_other_characters() -> None:
    assert deb.compare("1.0a", "1.0+") == -1
    assert deb.compare("1.0+", "1.0") == 1
    assert deb.compare("1.0a", "1.0") == 1


def test_deb_digit_runs_compare_numerically() -> None:
    assert deb.compare("1.10", "1.9") == 1
    assert deb.compare("1.010", "1.10") == 0
    assert deb.compare("1.99999999999999999999", "1.100000000000000000000") == -1


def test_deb_missing_revision_equals_zero() -> None:
    assert deb.compare("1.0", "1.0-0") == 0
    assert deb.compare("1.0", "1.0-1") == -1


def test_deb_parse_splits_epoch_and_revision() -> None:
    version = deb.parse_version("2:1.0-beta:3-4ubuntu1")

    assert version.epoch == 2
    assert version.upstream == "1.0-beta:3"
    assert version.revision == "4ubuntu1"


def test_deb_epoch_limit_is_int_max() -> None:
    assert deb.is_valid("2147483647:1.0")
    assert not deb.is_valid("2147483648:1.0")


def test_deb_underscore_is_tolerated() -> None:
    assert deb.is_valid("1.0_1-2_3")
    assert deb.compare("1.0-4.el6.x86_64", "1.0-4.el6.i686") == 1


def test_deb_error_names_version_and_reason() -> None:
    with pytest.raises(InvalidVersionError) as caught:
        deb.compare("1.0", "1.0-")

    message = str(caught.value)
    assert "invalid deb version '1.0-'" in message
    assert "revision" in message


def test_deb_scheme_delegates_to_module() -> None:
    scheme = deb.DebScheme()

    assert scheme.name == "deb"
    assert scheme.compare("1.0", "1.1") == -1
    assert scheme.is_valid("1.0")
    assert not scheme.is_valid("a1.0")
