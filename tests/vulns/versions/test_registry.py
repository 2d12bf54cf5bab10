"""Tests of the version scheme registry: lookup by name and the shared contract."""

from __future__ import annotations

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import SCHEMES, UnknownSchemeError, VersionScheme, get_scheme

# One pair per scheme: a version that sorts low, and one that sorts high.
ORDERED_PAIRS = {
    "deb": ("1:1.0~rc1-1", "1:1.0-1"),
    "apk": ("1.0_rc1-r0", "1.0-r0"),
    "pep440": ("1.0rc1", "1.0"),
    "npm": ("1.0.0-rc.1", "1.0.0"),
    "semver": ("v1.0.0-rc.1", "v1.0.0"),
    "rpm": ("1:1.0~rc1-1.el9", "1:1.0-1.el9"),
    "gem": ("1.0.0.rc1", "1.0.0"),
    "maven": ("1.0-rc1", "1.0"),
    "gosemver": ("v1.0.0-rc.1", "v1.0.0"),
    "nuget": ("1.0.0-RC.1", "1.0.0"),
    "composer": ("1.0.0-RC1", "1.0.0"),
}
INVALID_VERSION = "not a version"


def test_registry_names_every_scheme() -> None:
    assert [scheme.name for scheme in SCHEMES] == list(ORDERED_PAIRS)


@pytest.mark.parametrize("name", sorted(ORDERED_PAIRS))
def test_get_scheme_returns_named_scheme(name: str) -> None:
    scheme = get_scheme(name)

    assert scheme.name == name
    assert isinstance(scheme, VersionScheme)
    assert scheme in SCHEMES


@pytest.mark.parametrize("name", sorted(ORDERED_PAIRS))
def test_scheme_orders_prerelease_first(name: str) -> None:
    scheme = get_scheme(name)
    low, high = ORDERED_PAIRS[name]

    assert scheme.compare(low, high) == -1
    assert scheme.compare(high, low) == 1
    assert scheme.compare(low, low) == 0


@pytest.mark.parametrize("name", sorted(ORDERED_PAIRS))
def test_scheme_rejects_invalid_version(name: str) -> None:
    scheme = get_scheme(name)

    assert not scheme.is_valid(INVALID_VERSION)
    with pytest.raises(InvalidVersionError) as caught:
        scheme.compare(INVALID_VERSION, ORDERED_PAIRS[name][0])
    assert f"invalid {name} version {INVALID_VERSION!r}" in str(caught.value)


def test_get_scheme_unknown_name() -> None:
    with pytest.raises(KeyError) as caught:
        get_scheme("cargo")

    known = ", ".join(sorted(ORDERED_PAIRS))
    assert isinstance(caught.value, UnknownSchemeError)
    assert str(caught.value) == f"unknown version scheme 'cargo'; use one of: {known}"
