"""Tests of Composer versions and constraints.

No fixture table exists for Composer, so these cases are hand-written from Composer's
documentation ("Versions and constraints": exact versions, ranges, hyphen ranges, wildcards,
tilde and caret ranges, stability constraints) and from `composer/semver`'s normalization rules.
"""

from __future__ import annotations

import itertools

import pytest

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import composer

NORMALIZED = [
    ("1.2", "1.2.0.0"),
    ("1.2.3", "1.2.3.0"),
    ("v1.2.3", "1.2.3.0"),
    ("1.2.3.4", "1.2.3.4"),
    ("1.0.0-beta2", "1.0.0.0-beta2"),
    ("1.0.0-b2", "1.0.0.0-beta2"),
    ("1.0.0-beta.2", "1.0.0.0-beta2"),
    ("1.0.0-alpha", "1.0.0.0-alpha"),
    ("1.0.0-a1", "1.0.0.0-alpha1"),
    ("1.0.0-RC1", "1.0.0.0-RC1"),
    ("1.0.0-rc1", "1.0.0.0-RC1"),
    ("1.0-pl2", "1.0.0.0-patch2"),
    ("1.0.0-p1", "1.0.0.0-patch1"),
    ("1.0.0-stable", "1.0.0.0"),
    ("1.0-dev", "1.0.0.0-dev"),
    ("1.0.0-beta2-dev", "1.0.0.0-beta2-dev"),
    ("1.0.0+build.5", "1.0.0.0"),
    ("1.0.0@beta", "1.0.0.0"),
    ("1.0.0 as 2.0.0", "1.0.0.0"),
    ("  1.0.0  ", "1.0.0.0"),
    ("2010-01-02", "2010.01.02"),
    ("20100102", "20100102"),
    ("1.x-dev", "1.9999999.9999999.9999999-dev"),
    ("2.1.x-dev", "2.1.9999999.9999999-dev"),
    ("dev-main", "dev-main"),
    ("DEV-feature/login", "dev-feature/login"),
    ("master", "dev-master"),
]
# Stabilities in Composer's order, around one release.
ORDER = [
    "1.0.0-dev",
    "1.0.0-alpha1",
    "1.0.0-alpha2",
    "1.0.0-beta1",
    "1.0.0-beta10",
    "1.0.0-RC1",
    "1.0.0",
    "1.0.0-patch1",
    "1.0.1",
    "1.1",
    "2.0.0.1",
    "10.0",
]
# (constraint, version, expected), from the documented meaning of each form.
CONSTRAINTS = [
    ("1.0.2", "1.0.2", True),
    ("1.0.2", "1.0.3", False),
    (">=1.0", "1.0.0", True),
    (">=1.0 <1.1 || >=1.2", "1.0.5", True),
    (">=1.0 <1.1 || >=1.2", "1.1.0", False),
    (">=1.0 <1.1 || >=1.2", "1.2.0", True),
    (">=1.0,<2.0", "1.9.9", True),
    ("!=1.5", "1.5.0", False),
    ("!=1.5", "1.5.1", True),
    ("1.0 - 2.0", "2.0.9", True),
    ("1.0 - 2.0", "2.1.0", False),
    ("1.0.0 - 2.1.0", "2.1.0", True),
    ("1.0.0 - 2.1.0", "2.1.1", False),
    ("1.0.*", "1.0.9", True),
    ("1.0.*", "1.1.0", False),
    ("*", "0.0.1", True),
    ("~1.2", "1.2.0", True),
    ("~1.2", "1.9.9", True),
    ("~1.2", "2.0.0", False),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1", "1.9", True),
    ("~1", "2.0", False),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.3", "2.0.0", False),
    ("^0.3", "0.3.9", True),
    ("^0.3", "0.4.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    # An upper bound excludes the prereleases of its own version.
    ("<2.0", "2.0.0-RC1", False),
    ("^1.0", "2.0.0-beta1", False),
    # A lower bound without a stability admits the prereleases of its own version.
    (">=1.0", "1.0.0-beta1", True),
    ("^1.0", "1.0.0-RC1", True),
    # A lower bound with a stability starts at that stability.
    (">=1.0-beta2", "1.0.0-beta1", False),
    (">=1.0-beta2", "1.0.0-beta3", True),
    ("1.0.0@dev", "1.0.0", True),
]


@pytest.mark.parametrize(("version", "expected"), NORMALIZED)
def test_composer_normalize(version: str, expected: str) -> None:
    assert composer.normalize(version) == expected


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(ORDER)))
def test_composer_stability_order(lower: str, higher: str) -> None:
    assert composer.compare(lower, higher) == -1
    assert composer.compare(higher, lower) == 1


@pytest.mark.parametrize(("a", "b"), [("1.0", "1.0.0.0"), ("v2.1-b1", "2.1.0-beta1")])
def test_composer_equal_after_normalizing(a: str, b: str) -> None:
    assert composer.compare(a, b) == 0


def test_composer_branch_equals_only_itself() -> None:
    assert composer.compare("dev-main", "dev-main") == 0
    with pytest.raises(InvalidVersionError, match="branch has no order"):
        composer.compare("dev-main", "1.0.0")


@pytest.mark.parametrize(("constraint", "version", "expected"), CONSTRAINTS)
def test_composer_satisfies_documented_cases(constraint: str, version: str, expected: bool) -> None:
    assert composer.satisfies(constraint, version) is expected


def test_composer_branch_in_constraints() -> None:
    assert composer.satisfies("dev-main", "dev-main")
    assert not composer.satisfies("dev-main", "dev-other")
    assert not composer.satisfies(">=1.0", "dev-main")
    assert composer.satisfies("!=1.0", "dev-main")
    assert composer.satisfies("*", "dev-main")


def test_composer_tilde_and_caret_bounds() -> None:
    tilde = composer.parse_constraint("~1.2")
    caret = composer.parse_constraint("^0.3")

    assert tilde.alternatives == (
        (
            composer.ComposerCondition(">=", "1.2.0.0-dev"),
            composer.ComposerCondition("<", "2.0.0.0-dev"),
        ),
    )
    assert caret.alternatives == (
        (
            composer.ComposerCondition(">=", "0.3.0.0-dev"),
            composer.ComposerCondition("<", "0.4.0.0-dev"),
        ),
    )


@pytest.mark.parametrize("version", ["", "foo", "1.2.3.4.5", "1.0.0-gamma", "1.0 beta", "v"])
def test_composer_rejects_invalid_version(version: str) -> None:
    assert not composer.is_valid(version)
    with pytest.raises(InvalidVersionError, match="invalid composer version"):
        composer.compare(version, "1.0")


@pytest.mark.parametrize("constraint", ["", "~>1.2", ">=foo", "1.0 -", "^", ">= 1.0 ||"])
def test_composer_rejects_invalid_constraint(constraint: str) -> None:
    assert not composer.is_valid_constraint(constraint)
    with pytest.raises(InvalidVersionError, match="invalid composer constraint"):
        composer.parse_constraint(constraint)


def test_composer_scheme_delegates_to_module() -> None:
    scheme = composer.ComposerScheme()

    assert scheme.name == "composer"
    assert scheme.compare("1.0.0-RC1", "1.0.0") == -1
    assert scheme.is_valid("v2.0.0-beta.1")
    assert not scheme.is_valid("2.0.0-gamma")
