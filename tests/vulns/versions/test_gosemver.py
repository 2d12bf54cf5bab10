"""Tests of Go module versions against golang.org/x/mod's cases and pseudo-versions."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import gosemver
from tests.vulns.versions.tables import TableRow, table_params

# A tag, pseudo-versions of commits after it, and the next tags.
PSEUDO_VERSION_ORDER = [
    "v1.2.3",
    "v1.2.4-0.20191109021931-daa7c04131f5",
    "v1.2.4-0.20200101000000-0123456789ab",
    "v1.2.4-rc.1",
    "v1.2.4",
]


@pytest.mark.parametrize("table_row", table_params("gosemver_compare"), indirect=True)
def test_gosemver_compare_any_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert gosemver.compare_any(table_row["a"], table_row["b"]) == expected
    assert gosemver.compare_any(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("gosemver_canonical"), indirect=True)
def test_gosemver_canonical_matches_table(table_row: TableRow) -> None:
    version = table_row["input"]
    expected = table_row["canonical_or_empty_if_invalid"]

    assert gosemver.canonical(version) == expected
    assert gosemver.is_valid(version) is bool(expected)


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(PSEUDO_VERSION_ORDER)))
def test_gosemver_pseudo_versions_sort_as_prereleases(lower: str, higher: str) -> None:
    assert gosemver.compare(lower, higher) == -1
    assert gosemver.compare(higher, lower) == 1


def test_gosemver_shorthand_equals_full_version() -> None:
    assert gosemver.compare("v1", "v1.0.0") == 0
    assert gosemver.compare("v1.2", "v1.2.0") == 0
    assert gosemver.parse_version("v1.2") == gosemver.parse_version("v1.2.0")


def test_gosemver_incompatible_is_build_metadata() -> None:
    version = gosemver.parse_version("v2.0.0+incompatible")

    assert version.build == "incompatible"
    assert gosemver.compare("v2.0.0+incompatible", "v2.0.0") == 0
    assert gosemver.canonical("v2.0.0+incompatible") == "v2.0.0"


@pytest.mark.parametrize(
    ("version", "timestamp", "revision"),
    [
        ("v0.0.0-20191109021931-daa7c04131f5", "20191109021931", "daa7c04131f5"),
        ("v1.2.4-0.20191109021931-daa7c04131f5", "20191109021931", "daa7c04131f5"),
        ("v1.2.3-pre.0.20191109021931-daa7c04131f5", "20191109021931", "daa7c04131f5"),
        ("v2.0.0-20191109021931-daa7c04131f5+incompatible", "20191109021931", "daa7c04131f5"),
    ],
)
def test_gosemver_parse_pseudo_version(version: str, timestamp: str, revision: str) -> None:
    pseudo = gosemver.parse_pseudo_version(version)

    assert pseudo is not None
    assert pseudo.timestamp == timestamp
    assert pseudo.revision == revision
    assert gosemver.is_pseudo_version(version)


@pytest.mark.parametrize(
    "version",
    ["v1.2.3", "v1.2.3-pre.1", "v1.2.3-20191109021931-daa7c04131f5", "v0.0.0-2019-abc", "bad"],
)
def test_gosemver_other_versions_are_not_pseudo(version: str) -> None:
    assert gosemver.parse_pseudo_version(version) is None
    assert not gosemver.is_pseudo_version(version)


@pytest.mark.parametrize("version", ["1.2.3", "v01.2.3", "v1.2-pre", "v1.2.3-01", "V1.2.3", ""])
def test_gosemver_rejects_invalid_version(version: str) -> None:
    assert not gosemver.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid gosemver version"):
        gosemver.compare(version, "v1.0.0")


def test_gosemver_numbers_beyond_int64() -> None:
    assert gosemver.compare("v99999999999999999999.0.0", "v9999999999999999999.0.0") == 1


def test_gosemver_scheme_delegates_to_module() -> None:
    scheme = gosemver.GoSemverScheme()

    assert scheme.name == "gosemver"
    assert scheme.compare("v1.0.0-rc.1", "v1") == -1
    assert scheme.is_valid("v0.0.0-20191109021931-daa7c04131f5")
    assert not scheme.is_valid("1.0.0")
