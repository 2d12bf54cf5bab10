"""Tests of PHP's `version_compare`, hand-written from the PHP manual's description of it."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.versions.php_version import version_compare

# The manual's order of special forms, with a number between `RC` and `pl`.
SPECIAL_FORM_ORDER = ["1.0foo", "1.0dev", "1.0alpha", "1.0beta", "1.0RC", "1.0.1", "1.0pl"]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(SPECIAL_FORM_ORDER)))
def test_php_version_special_form_order(lower: str, higher: str) -> None:
    assert version_compare(lower, higher) == -1
    assert version_compare(higher, lower) == 1


@pytest.mark.parametrize(
    ("a", "b"),
    [("1.0a1", "1.0alpha1"), ("1.0b2", "1.0beta2"), ("1.0rc1", "1.0RC1"), ("1.0p1", "1.0pl1")],
)
def test_php_version_aliases_are_equal(a: str, b: str) -> None:
    assert version_compare(a, b) == 0


def test_php_version_separators_are_equal() -> None:
    assert version_compare("4.3.2RC1", "4.3.2.RC.1") == 0
    assert version_compare("1-0_0+1", "1.0.0.1") == 0


def test_php_version_extra_number_is_newer() -> None:
    assert version_compare("5.2", "5.2.0") == -1
    assert version_compare("5.2.0", "5.2") == 1


def test_php_version_extra_word_ranks_against_number() -> None:
    assert version_compare("4.3.2RC1", "4.3.2") == -1
    assert version_compare("1.0pl1", "1.0") == 1


def test_php_version_numbers_compare_numerically() -> None:
    assert version_compare("1.10", "1.9") == 1
    assert version_compare("1.010", "1.10") == 0


def test_php_version_empty_sorts_first() -> None:
    assert version_compare("", "") == 0
    assert version_compare("", "0") == -1
    assert version_compare("0", "") == 1
