"""Strict Semantic Versioning 2.0.0 versions, as OSV `SEMVER` ranges use them.

OSV records for Go, crates.io and npm give their range events as SemVer 2.0.0 versions. Go writes
them with a leading `v` (`v1.2.3`), so a single leading `v` is accepted and ignored. Everything else
follows the grammar at https://semver.org/spec/v2.0.0.html: three numeric core fields without
leading zeros, an optional `-` prerelease and an optional `+` build metadata. Build metadata is
ignored when ordering, so `1.0.0+a` and `1.0.0+b` compare equal.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "semver"

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = rf"(?:{_NUMBER}|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_BUILD_ID = r"[0-9a-zA-Z-]+"
_VERSION = re.compile(
    rf"v?(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
)
_DIGITS = re.compile(r"[0-9]+")

PrereleaseId = int | str
"""One dot-separated prerelease identifier: an `int` when it is numeric, else the text."""


@dataclasses.dataclass(frozen=True)
class SemVer:
    """A parsed SemVer 2.0.0 version."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[PrereleaseId, ...] = ()
    build: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


def parse_version(text: str) -> SemVer:
    """Parse a SemVer 2.0.0 version, with or without a leading `v`.

    Raises `InvalidVersionError` when `text` does not follow the SemVer 2.0.0 grammar.
    """
    match = _VERSION.fullmatch(text)
    if match is None:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} version {text!r}: expected MAJOR.MINOR.PATCH with an optional "
            "-PRERELEASE and +BUILD, numbers without leading zeros"
        )
    prerelease = match["prerelease"]
    build = match["build"]
    return SemVer(
        major=int(match["major"]),
        minor=int(match["minor"]),
        patch=int(match["patch"]),
        prerelease=tuple(_to_prerelease_id(part) for part in prerelease.split("."))
        if prerelease
        else (),
        build=tuple(build.split(".")) if build else (),
    )


def _to_prerelease_id(part: str) -> PrereleaseId:
    return int(part) if _DIGITS.fullmatch(part) else part


def _sign(difference: int) -> int:
    return (difference > 0) - (difference < 0)


def compare_identifiers(a: PrereleaseId, b: PrereleaseId) -> int:
    """Compare two prerelease identifiers by SemVer precedence.

    Numeric identifiers compare as numbers and sort before alphanumeric ones, which compare
    by ASCII order. A `str` made only of digits counts as numeric too.
    """
    a_numeric = isinstance(a, int) or bool(_DIGITS.fullmatch(a))
    b_numeric = isinstance(b, int) or bool(_DIGITS.fullmatch(b))
    if a_numeric and b_numeric:
        return _sign(int(a) - int(b))
    if a_numeric:
        return -1
    if b_numeric:
        return 1
    a_text, b_text = str(a), str(b)
    return (a_text > b_text) - (a_text < b_text)


def compare_prereleases(a: tuple[PrereleaseId, ...], b: tuple[PrereleaseId, ...]) -> int:
    """Compare two prerelease tuples; an empty tuple (a release) sorts after any prerelease."""
    if not a and not b:
        return 0
    if not a:
        return 1
    if not b:
        return -1
    for a_id, b_id in zip(a, b, strict=False):
        result = compare_identifiers(a_id, b_id)
        if result:
            return result
    # Equal up to the shorter one: the version with more identifiers has the higher precedence.
    return _sign(len(a) - len(b))


def compare_parsed(a: SemVer, b: SemVer) -> int:
    """Compare two parsed versions by SemVer precedence, ignoring build metadata."""
    for a_field, b_field in ((a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)):
        if a_field != b_field:
            return _sign(a_field - b_field)
    return compare_prereleases(a.prerelease, b.prerelease)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as version `a` sorts before, equal to or after version `b`.

    Raises `InvalidVersionError` when either version is not SemVer 2.0.0.
    """
    return compare_parsed(parse_version(a), parse_version(b))


def is_valid(version: str) -> bool:
    """Return whether `version` is a SemVer 2.0.0 version (a leading `v` is allowed)."""
    return _VERSION.fullmatch(version) is not None


class SemverScheme:
    """The `semver` scheme: strict SemVer 2.0.0 precedence, tolerant of a leading `v`."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version that is not SemVer."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether `version` is a SemVer 2.0.0 version."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
