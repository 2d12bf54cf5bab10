"""Tests of the RPM version scheme against rpm's and go-rpm-version's cases and hard cases."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import rpm
from tests.vulns.versions.tables import TableRow, table_params

# A prerelease (`~`), a base version, two snapshots after it (`^`) and the next release.
TILDE_CARET_ORDER = ["1.0~rc1", "1.0", "1.0^git1", "1.0^git2", "1.0.1"]


@pytest.mark.parametrize("table_row", table_params("rpm_vercmp"), indirect=True)
def test_rpmvercmp_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert rpm.rpmvercmp(table_row["a"], table_row["b"]) == expected
    assert rpm.rpmvercmp(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("rpm_evr_compare"), indirect=True)
def test_rpm_compare_matches_table(table_row: TableRow) -> None:
    expected = int(table_row["expected"])

    assert rpm.compare(table_row["a"], table_row["b"]) == expected
    assert rpm.compare(table_row["b"], table_row["a"]) == -expected


@pytest.mark.parametrize("table_row", table_params("rpm_evr_parse"), indirect=True)
def test_rpm_parse_evr_matches_table(table_row: TableRow) -> None:
    version = rpm.parse_evr(table_row["input"])

    assert version.epoch == int(table_row["epoch"])
    assert version.version == table_row["version"]
    assert version.release == table_row["release"]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(TILDE_CARET_ORDER)))
def test_rpm_tilde_and_caret_order(lower: str, higher: str) -> None:
    assert rpm.compare(lower, higher) == -1
    assert rpm.compare(higher, lower) == 1


def test_rpm_caret_sorts_after_end() -> None:
    assert rpm.rpmvercmp("1.0^", "1.0") == 1
    assert rpm.rpmvercmp("1.0^", "1.0~") == 1
    assert rpm.rpmvercmp("1.0^git1", "1.0.1") == -1


def test_rpm_epoch_outranks_version() -> None:
    assert rpm.compare("1:1.0-1", "9.9-9") == 1
    assert rpm.compare("0:1.0-1", "1.0-1") == 0


def test_rpm_missing_release_sorts_first() -> None:
    assert rpm.compare("1.0", "1.0-1.el9") == -1
    assert rpm.compare("1.0-1.el9", "1.0") == 1


def test_rpm_digit_runs_of_any_length() -> None:
    assert rpm.rpmvercmp("1.99999999999999999999", "1.100000000000000000000") == -1
    assert rpm.rpmvercmp("1.0010", "1.10") == 0


def test_rpm_non_ascii_characters_are_separators() -> None:
    assert rpm.rpmvercmp("1é0", "1.0") == 0


def test_rpm_parse_version_splits_fields() -> None:
    version = rpm.parse_version("2:4.999.9-0.5.beta.20091007git.el6")

    assert version.epoch == 2
    assert version.version == "4.999.9"
    assert version.release == "0.5.beta.20091007git.el6"
    assert str(version) == "2:4.999.9-0.5.beta.20091007git.el6"


@pytest.mark.parametrize(
    "version",
    ["", "A:1-2", "-1:1.2.3", "0:0:0-0", "0:0-", "1.0-1-2", "0:0 0-1", " 1.0", "1.0/2", ":1.0"],
)
def test_rpm_rejects_what_rpmbuild_rejects(version: str) -> None:
    assert not rpm.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid rpm version"):
        rpm.compare(version, "1.0")


@pytest.mark.parametrize("version", ["1.0", "1:1.0-1.el9_2", "1.0~rc1^git2", "%{ver}-1", "+_"])
def test_rpm_accepts_rpmbuild_characters(version: str) -> None:
    assert rpm.is_valid(version)


def test_rpm_error_names_version_and_reason() -> None:
    with pytest.raises(InvalidVersionError) as caught:
        rpm.compare("1.0", "x:1.0")

    message = str(caught.value)
    assert "invalid rpm version 'x:1.0'" in message
    assert "epoch" in message


def test_rpm_scheme_delegates_to_module() -> None:
    scheme = rpm.RpmScheme()

    assert scheme.name == "rpm"
    assert scheme.compare("1.0-1.el8", "1.0-1.el9") == -1
    assert scheme.is_valid("1:1.0-1")
    assert not scheme.is_valid("1.0 1")
