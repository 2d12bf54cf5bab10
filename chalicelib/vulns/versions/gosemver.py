"""Go module versions, with the rules of `golang.org/x/mod/semver` and of Go pseudo-versions.

A Go version is SemVer 2.0.0 with a required leading `v` (`v1.2.3`, `v1.2.3-pre.1+meta`), and the
shorthands `v1` and `v1.2` mean `v1.0.0` and `v1.2.0`. A shorthand cannot carry a prerelease or
build metadata, so `v1.2-pre` is invalid. Build metadata, `+incompatible` included, is ignored
when ordering and dropped by `canonical`.

A pseudo-version names an untagged commit: `v0.0.0-20191109021931-daa7c04131f5`,
`v1.2.4-0.20191109021931-daa7c04131f5` (after v1.2.3) or `v1.2.3-pre.0.20191109021931-daa7c04131f5`
(after v1.2.3-pre). It is a prerelease, so it sorts like one: after the tag it follows and
before the next release.

`compare` raises for an invalid version, as every scheme does. `compare_any` follows Go's
`semver.Compare` instead: an invalid version sorts before every valid one and equal to other
invalid ones.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions.semver import PrereleaseId, compare_prereleases

SCHEME_NAME = "gosemver"

_NUMBER = r"0|[1-9][0-9]*"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_VERSION = re.compile(
    rf"v(?P<major>{_NUMBER})"
    rf"(?:\.(?P<minor>{_NUMBER})"
    rf"(?:\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?"
    r")?)?",
    re.ASCII,
)
# From golang.org/x/mod/module: a base, a 14-digit UTC timestamp and a commit hash prefix.
_PSEUDO_VERSION = re.compile(
    r"v[0-9]+\.(?:0\.0-|[0-9]+\.[0-9]+-(?:[^+]*\.)?0\.)"
    r"(?P<timestamp>[0-9]{14})-(?P<revision>[A-Za-z0-9]+)(?:\+[0-9A-Za-z.-]+)?",
    re.ASCII,
)


@dataclasses.dataclass(frozen=True)
class GoVersion:
    """A parsed Go module version; a shorthand has its missing numbers as 0."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[PrereleaseId, ...] = ()
    build: str = ""
    """The build metadata without its `+`, such as `incompatible`."""

    def canonical(self) -> str:
        """Return `vMAJOR.MINOR.PATCH[-PRERELEASE]`, without build metadata."""
        text = f"v{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        return text


@dataclasses.dataclass(frozen=True)
class PseudoVersion:
    """The commit that a pseudo-version names."""

    timestamp: str
    """The commit time in UTC as `yyyymmddhhmmss`."""
    revision: str
    """The commit hash prefix, usually 12 characters."""


def parse_version(text: str) -> GoVersion:
    """Parse a Go module version; raises `InvalidVersionError` when Go's semver rejects it."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} version {text!r}: expected vMAJOR[.MINOR[.PATCH"
            "[-PRERELEASE][+BUILD]]] with a leading 'v' and numbers without leading zeros"
        )
    prerelease = match["prerelease"]
    return GoVersion(
        major=int(match["major"]),
        minor=int(match["minor"] or 0),
        patch=int(match["patch"] or 0),
        prerelease=tuple(int(part) if part.isdigit() else part for part in prerelease.split("."))
        if prerelease
        else (),
        build=match["build"] or "",
    )


def is_valid(version: str) -> bool:
    """Return whether `version` is a valid Go module version, as `semver.IsValid`."""
    return _VERSION.fullmatch(version) is not None


def canonical(version: str) -> str:
    """Return the canonical form of `version` (`v1.2` -> `v1.2.0`), or "" when it is invalid.

    Build metadata is dropped, as `semver.Canonical` does.
    """
    if not is_valid(version):
        return ""
    return parse_version(version).canonical()


def compare_parsed(a: GoVersion, b: GoVersion) -> int:
    """Compare two parsed versions by SemVer precedence, ignoring build metadata."""
    for a_field, b_field in ((a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)):
        if a_field != b_field:
            return -1 if a_field < b_field else 1
    return compare_prereleases(a.prerelease, b.prerelease)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as Go version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    return compare_parsed(parse_version(a), parse_version(b))


def compare_any(a: str, b: str) -> int:
    """Compare any two strings as Go's `semver.Compare`; never raises.

    An invalid version sorts before every valid one, and two invalid versions compare equal.
    """
    a_valid, b_valid = is_valid(a), is_valid(b)
    if not a_valid or not b_valid:
        return int(a_valid) - int(b_valid)
    return compare(a, b)


def parse_pseudo_version(version: str) -> PseudoVersion | None:
    """Return the commit that pseudo-version `version` names, or None for any other text."""
    if version.count("-") < 2 or not is_valid(version):
        return None
    match = _PSEUDO_VERSION.fullmatch(version)
    if match is None:
        return None
    return PseudoVersion(timestamp=match["timestamp"], revision=match["revision"])


def is_pseudo_version(version: str) -> bool:
    """Return whether `version` is a pseudo-version, as `module.IsPseudoVersion`."""
    return parse_pseudo_version(version) is not None


class GoSemverScheme:
    """The `gosemver` scheme: Go module versions with a required `v`."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version Go rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether `version` is a valid Go module version."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
