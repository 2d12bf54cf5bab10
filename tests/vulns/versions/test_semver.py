"""Tests of the strict SemVer 2.0.0 scheme. The precedence list is the example in the spec."""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import semver

SPEC_PRECEDENCE = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(SPEC_PRECEDENCE)))
def test_semver_spec_precedence(lower: str, higher: str) -> None:
    assert semver.compare(lower, higher) == -1
    assert semver.compare(higher, lower) == 1


def test_semver_leading_v_is_ignored() -> None:
    assert semver.compare("v1.2.3", "1.2.3") == 0
    assert semver.parse_version("v1.2.3-rc.1") == semver.parse_version("1.2.3-rc.1")


def test_semver_build_metadata_is_ignored() -> None:
    assert semver.compare("1.0.0+20130313144700", "1.0.0+exp.sha.5114f85") == 0
    assert semver.compare("v0.0.0-20200101000000-abcdef123456+incompatible", "0.0.1") == -1


def test_semver_numbers_beyond_double_precision() -> None:
    assert semver.compare("9007199254740993.0.0", "9007199254740992.0.0") == 1
    assert semver.compare("1.0.0-9007199254740993", "1.0.0-9007199254740992") == 1


@pytest.mark.parametrize(
    "version", ["1.0", "01.0.0", "1.0.0-01", "V1.0.0", "vv1.0.0", " 1.0.0", "1.0.0-", "1.0.0+"]
)
def test_semver_rejects_non_strict_versions(version: str) -> None:
    assert not semver.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid semver version"):
        semver.compare(version, "1.0.0")


def test_semver_parse_splits_fields() -> None:
    version = semver.parse_version("1.2.3-rc.1.x-y+build.7")

    assert (version.major, version.minor, version.patch) == (1, 2, 3)
    assert version.prerelease == ("rc", 1, "x-y")
    assert version.build == ("build", "7")
    assert str(version) == "1.2.3-rc.1.x-y+build.7"


def test_semver_scheme_delegates_to_module() -> None:
    scheme = semver.SemverScheme()

    assert scheme.name == "semver"
    assert scheme.compare("v1.0.0", "1.0.1") == -1
    assert scheme.is_valid("v1.0.0")
    assert not scheme.is_valid("1")
