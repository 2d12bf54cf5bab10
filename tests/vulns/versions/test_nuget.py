"""Tests of NuGet versions and ranges.

No fixture table exists for NuGet, so these cases are hand-written from NuGet's documentation
("Package versioning": version basics, normalized version numbers, version ranges and the
SemVer 2.0.0 rules) and from the behaviour of NuGet.Versioning's `VersionComparer`.
"""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import nuget

# The documented normalizations: leading zeros dropped, a zero fourth part dropped, metadata
# dropped.
NORMALIZED = [
    ("1.00", "1.0.0"),
    ("1.01.1", "1.1.1"),
    ("1.00.0.1", "1.0.0.1"),
    ("1.0.0.0", "1.0.0"),
    ("1.0.01.0", "1.0.1"),
    ("1.0.7+r3456", "1.0.7"),
    ("1", "1.0.0"),
    ("4.3.1-rc", "4.3.1-rc"),
]
# SemVer 2.0.0 precedence with NuGet's fourth part: prereleases first, then the release, then a
# revision after it.
ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.0.1",
    "1.0.1",
    "1.1",
    "2.0.0",
]
# The documented interval notation: (range, version, expected).
RANGES = [
    ("1.0", "1.0", True),
    ("1.0", "0.9", False),
    ("1.0", "5.0", True),
    ("(1.0,)", "1.0", False),
    ("(1.0,)", "1.0.1", True),
    ("[1.0]", "1.0.0", True),
    ("[1.0]", "1.0.1", False),
    ("(,1.0]", "1.0", True),
    ("(,1.0]", "1.0.1", False),
    ("(,1.0)", "1.0", False),
    ("(,1.0)", "1.0.0-beta", True),
    ("[1.0,2.0]", "2.0", True),
    ("(1.0,2.0)", "2.0", False),
    ("(1.0,2.0)", "1.5", True),
    ("[1.0,2.0)", "1.0", True),
    ("[1.0,2.0)", "2.0", False),
    ("[1.0, 2.0)", "1.9.9", True),
]


@pytest.mark.parametrize(("version", "expected"), NORMALIZED)
def test_nuget_normalize_documented_cases(version: str, expected: str) -> None:
    assert nuget.normalize(version) == expected


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(ORDER)))
def test_nuget_precedence_order(lower: str, higher: str) -> None:
    assert nuget.compare(lower, higher) == -1
    assert nuget.compare(higher, lower) == 1


@pytest.mark.parametrize(("a", "b"), [("1.0.0-BETA", "1.0.0-beta"), ("1.0-RC.1", "1.0.0-rc.1")])
def test_nuget_prerelease_ignores_case(a: str, b: str) -> None:
    assert nuget.compare(a, b) == 0


def test_nuget_metadata_is_ignored() -> None:
    assert nuget.compare("1.0.0+a", "1.0.0+b") == 0
    assert nuget.compare("1.0.0.0", "1.0.0") == 0


def test_nuget_numeric_label_sorts_first() -> None:
    assert nuget.compare("1.0.0-2", "1.0.0-10") == -1
    assert nuget.compare("1.0.0-10", "1.0.0-a") == -1
    # A label beyond a .NET int is not read as a number, so it compares as text.
    assert nuget.compare("1.0.0-99999999999", "1.0.0-a") == -1
    assert nuget.compare("1.0.0-99999999999", "1.0.0-1") == 1


def test_nuget_legacy_labels_compare_as_text() -> None:
    # The documentation warns that build23 sorts before build3 without a dot.
    assert nuget.compare("1.0.1-build23", "1.0.1-build3") == -1
    assert nuget.compare("1.0.1-build.23", "1.0.1-build.3") == 1


def test_nuget_parse_splits_fields() -> None:
    version = nuget.parse_version(" 1.2.3.4-beta.1+sha.5 ")

    assert (version.major, version.minor, version.patch, version.revision) == (1, 2, 3, 4)
    assert version.prerelease == ("beta", "1")
    assert version.metadata == "sha.5"
    assert version.normalized == "1.2.3.4-beta.1"


@pytest.mark.parametrize(
    "version",
    ["", "1.2.3.4.5", "v1.0", "1.0-", "1.0-beta..1", "1.0.0-01", "2147483648.0", "1.0 beta"],
)
def test_nuget_rejects_invalid_version(version: str) -> None:
    assert not nuget.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid nuget version"):
        nuget.compare(version, "1.0")


def test_nuget_largest_number_is_int_max() -> None:
    assert nuget.is_valid("2147483647.0")
    assert nuget.is_valid("1.0.0+01")


@pytest.mark.parametrize(("text", "version", "expected"), RANGES)
def test_nuget_range_documented_cases(text: str, version: str, expected: bool) -> None:
    assert nuget.range_contains(text, version) is expected


@pytest.mark.parametrize(
    "text", ["", "(1.0)", "[1.0)", "(,)", "[2.0,1.0]", "(1.0,1.0]", "[1.0,2.0,3.0]", "1.*", "[1.0"]
)
def test_nuget_rejects_invalid_range(text: str) -> None:
    assert not nuget.is_valid_range(text)
    with pytest.raises(InvalidVersionError, match="invalid nuget range"):
        nuget.parse_range(text)


def test_nuget_scheme_delegates_to_module() -> None:
    scheme = nuget.NuGetScheme()

    assert scheme.name == "nuget"
    assert scheme.compare("1.0.0-rc.1", "1.0") == -1
    assert scheme.is_valid("6.0.0.1")
    assert not scheme.is_valid("6.x")
