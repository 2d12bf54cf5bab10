"""Tests of the Alpine version scheme against apk-tools' cases and hand-picked hard cases."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import apk
from tests.vulns.versions.tables import TableRow, table_params

SUFFIX_ORDER = [
    "1.0_alpha",
    "1.0_beta",
    "1.0_pre",
    "1.0_rc",
    "1.0",
    "1.0_cvs",
    "1.0_svn",
    "1.0_git",
    "1.0_hg",
    "1.0_p",
]


@pytest.mark.parametrize("table_row", table_params("apk_compare"), indirect=True)
def test_apk_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert apk.compare(table_row["a"], table_row["b"]) == expected
    assert apk.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("apk_valid"), indirect=True)
def test_apk_is_valid_matches_table(table_row: TableRow) -> None:
    assert apk.is_valid(table_row["version"]) is (table_row["valid"] == "true")


@pytest.mark.parametrize("table_row", table_params("apk_match"), indirect=True)
def test_apk_fuzzy_match_matches_table(table_row: TableRow) -> None:
    assert table_row["op"] == "~"

    assert apk.fuzzy_match(table_row["a"], table_row["b"]) is (table_row["expected"] == "true")


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(SUFFIX_ORDER)))
def test_apk_suffix_order(lower: str, higher: str) -> None:
    assert apk.compare(lower, higher) == -1
    assert apk.compare(higher, lower) == 1


def test_apk_suffix_numbers_and_chains() -> None:
    assert apk.compare("1.0_rc2", "1.0_rc10") == -1
    assert apk.compare("1.0_alpha1_pre2", "1.0_alpha1") == -1
    assert apk.compare("1.0_p1_p2", "1.0_p1") == 1


def test_apk_revision_orders_after_version() -> None:
    assert apk.compare("1.0-r1", "1.0") == 1
    assert apk.compare("1.0-r10", "1.0-r9") == 1
    assert apk.compare("1.0_rc1-r5", "1.0") == -1
    assert apk.compare("1.0.1", "1.0-r99") == 1


def test_apk_leading_zero_compares_as_text() -> None:
    assert apk.compare("1.02", "1.1") == -1
    assert apk.compare("1.10", "1.9") == 1
    assert apk.compare("8.2.0015", "8.2.002") == -1


def test_apk_letter_sorts_between_versions() -> None:
    assert apk.compare("1.0a", "1.0") == 1
    assert apk.compare("1.0a", "1.0b") == -1
    assert apk.compare("1.0a", "1.0.1") == -1


def test_apk_commit_hash_compares_as_text() -> None:
    assert apk.compare("1.0~abc", "1.0~abd") == -1
    assert apk.compare("1.0~abc-r1", "1.0~abc") == 1
    assert not apk.is_valid("1.0~ABC")


def test_apk_compare_rejects_invalid_version() -> None:
    with pytest.raises(InvalidVersionError, match=r"invalid apk version '1\.0-r1-r2'"):
        apk.compare("1.0-r1-r2", "1.0")


def test_apk_fuzzy_match_reads_version_prefix_only() -> None:
    assert apk.fuzzy_match("3.6.9_nonsense", "3.6")
    assert apk.fuzzy_match("3.6", "3.6")
    assert not apk.fuzzy_match("3.60", "3.6")
    assert not apk.fuzzy_match("3.5.9", "3.6")


def test_apk_fuzzy_match_rejects_invalid_input() -> None:
    with pytest.raises(InvalidVersionError, match=r"'3\.x'"):
        apk.fuzzy_match("3.6", "3.x")
    with pytest.raises(InvalidVersionError, match=r"'3\.X'"):
        apk.fuzzy_match("3.X", "3.6")


def test_apk_scheme_delegates_to_module() -> None:
    scheme = apk.ApkScheme()

    assert scheme.name == "apk"
    assert scheme.compare("1.0_rc1", "1.0") == -1
    assert scheme.is_valid("1.0-r1")
    assert not scheme.is_valid("1.0-1")
