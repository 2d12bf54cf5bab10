"""NuGet package versions and version ranges, with the rules of NuGet.Versioning (NuGet 4.3
and later, which support SemVer 2.0.0).

A version is `Major.Minor[.Patch[.Revision]][-Prerelease][+Metadata]`. A single number means
`Major.0`, each number is at most 2147483647, and leading zeros are ignored, so `1.01` equals
`1.1.0`. The prerelease is dot-separated labels of letters, digits and `-`, where a label of
digits has no leading zero. Surrounding whitespace is ignored, and metadata never counts in
comparisons.

Versions compare by the four numbers (a missing revision is 0), then by the prerelease: a
version without one sorts after every prerelease of it. Labels compare one by one, a numeric
label as a number and before any other label, and other labels by character code ignoring case,
so `1.0.0-BETA` equals `1.0.0-beta`. When all shared labels are equal, more labels sort later.

A range uses NuGet's interval notation: `1.0` means `>= 1.0`, `[1.0]` means exactly 1.0,
`(1.0,)`, `[1.0,2.0)`, `(,1.0]` and so on. Floating ranges such as `1.*` are not supported.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "nuget"
MAX_NUMBER = 2**31 - 1
"""Largest version number; NuGet keeps each in a .NET `int`."""

_VERSION = re.compile(
    r"(?P<numbers>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<metadata>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?",
    re.ASCII,
)
_LEADING_ZERO = re.compile(r"0[0-9]+")


@dataclasses.dataclass(frozen=True)
class NuGetVersion:
    """A parsed NuGet version."""

    major: int
    minor: int
    patch: int
    revision: int
    prerelease: tuple[str, ...] = ()
    metadata: str = ""

    @property
    def normalized(self) -> str:
        """The normalized text: three or four numbers and the prerelease, without metadata."""
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.revision:
            text += f".{self.revision}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text


def _invalid(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def parse_version(text: str) -> NuGetVersion:
    """Parse a NuGet version; raises `InvalidVersionError` when NuGet rejects it."""
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        raise _invalid(
            text,
            "expected Major.Minor[.Patch[.Revision]][-Prerelease][+Metadata], such as 1.2.3 "
            "or 4.0.0-beta.1",
        )
    numbers = [int(number) for number in match["numbers"].split(".")]
    if any(number > MAX_NUMBER for number in numbers):
        raise _invalid(text, f"a version number is larger than {MAX_NUMBER}")
    prerelease = tuple(match["prerelease"].split(".")) if match["prerelease"] else ()
    if any(_LEADING_ZERO.fullmatch(label) for label in prerelease):
        raise _invalid(text, "a numeric prerelease label has a leading zero")
    major, minor, patch, revision = numbers + [0] * (4 - len(numbers))
    return NuGetVersion(
        major=major,
        minor=minor,
        patch=patch,
        revision=revision,
        prerelease=prerelease,
        metadata=match["metadata"] or "",
    )


def is_valid(version: str) -> bool:
    """Return whether NuGet parses `version`."""
    try:
        parse_version(version)
    except InvalidVersionError:
        return False
    return True


def normalize(version: str) -> str:
    """Return the normalized form (`1.01.0.0+build` -> `1.1.0`).

    Raises `InvalidVersionError` when the version is invalid.
    """
    return parse_version(version).normalized


def _numeric_label(label: str) -> int | None:
    """Return the value of a label that NuGet reads as a number (a .NET `int`), else None."""
    if not label.isdigit():
        return None
    value = int(label)
    return value if value <= MAX_NUMBER else None


def _compare_labels(a: str, b: str) -> int:
    a_number, b_number = _numeric_label(a), _numeric_label(b)
    if a_number is not None and b_number is not None:
        return (a_number > b_number) - (a_number < b_number)
    if a_number is not None:
        return -1
    if b_number is not None:
        return 1
    # .NET's OrdinalIgnoreCase compares the upper-case forms by character code.
    a_upper, b_upper = a.upper(), b.upper()
    return (a_upper > b_upper) - (a_upper < b_upper)


def compare_parsed(a: NuGetVersion, b: NuGetVersion) -> int:
    """Compare two parsed versions as NuGet's default `VersionComparer`."""
    a_numbers = (a.major, a.minor, a.patch, a.revision)
    b_numbers = (b.major, b.minor, b.patch, b.revision)
    if a_numbers != b_numbers:
        return -1 if a_numbers < b_numbers else 1
    if not a.prerelease or not b.prerelease:
        return (not a.prerelease) - (not b.prerelease)
    for a_label, b_label in zip(a.prerelease, b.prerelease, strict=False):
        result = _compare_labels(a_label, b_label)
        if result:
            return result
    return (len(a.prerelease) > len(b.prerelease)) - (len(a.prerelease) < len(b.prerelease))


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as NuGet version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    return compare_parsed(parse_version(a), parse_version(b))


@dataclasses.dataclass(frozen=True)
class NuGetRange:
    """A parsed version range; a missing bound leaves that side open."""

    minimum: NuGetVersion | None
    include_minimum: bool
    maximum: NuGetVersion | None
    include_maximum: bool

    def contains(self, version: NuGetVersion) -> bool:
        """Return whether `version` is inside the range, as `VersionRange.Satisfies`."""
        if self.minimum is not None:
            result = compare_parsed(version, self.minimum)
            if result < 0 or (result == 0 and not self.include_minimum):
                return False
        if self.maximum is not None:
            result = compare_parsed(version, self.maximum)
            if result > 0 or (result == 0 and not self.include_maximum):
                return False
        return True


def _invalid_range(text: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} range {text!r}: {reason}")


def _range_bound(text: str, bound: str) -> NuGetVersion | None:
    if not bound.strip():
        return None
    try:
        return parse_version(bound)
    except InvalidVersionError as error:
        raise _invalid_range(text, str(error)) from error


@functools.lru_cache(maxsize=2048)
def parse_range(text: str) -> NuGetRange:
    """Parse a NuGet version range such as `[1.0,2.0)`, `(,1.0]`, `[1.0]` or `1.0`.

    Raises `InvalidVersionError` naming the range and what is wrong with it.
    """
    body = text.strip()
    if not body:
        raise _invalid_range(text, "the range is empty")
    if "*" in body:
        raise _invalid_range(text, "floating ranges such as 1.* are not supported")
    if body[0] not in "[(":
        return NuGetRange(_range_bound(text, body), True, None, False)
    if body[-1] not in "])":
        raise _invalid_range(text, "a range that starts with '[' or '(' must end with ']' or ')'")

    include_minimum, include_maximum = body[0] == "[", body[-1] == "]"
    bounds = body[1:-1].split(",")
    if len(bounds) > 2:
        raise _invalid_range(text, "a range has at most two versions")
    if all(not bound for bound in bounds):
        raise _invalid_range(text, "a range needs at least one version")
    if len(bounds) == 1:
        if not (include_minimum and include_maximum):
            raise _invalid_range(text, "an exact version must be written in brackets: [1.0]")
        bounds = bounds * 2

    minimum, maximum = _range_bound(text, bounds[0]), _range_bound(text, bounds[1])
    if minimum is not None and maximum is not None:
        order = compare_parsed(minimum, maximum)
        if order > 0:
            raise _invalid_range(text, "the minimum version is above the maximum version")
        if order == 0 and include_minimum != include_maximum:
            raise _invalid_range(text, "equal bounds must be both inclusive or both exclusive")
    return NuGetRange(minimum, include_minimum, maximum, include_maximum)


def is_valid_range(text: str) -> bool:
    """Return whether `text` parses as a NuGet version range."""
    try:
        parse_range(text)
    except InvalidVersionError:
        return False
    return True


def range_contains(text: str, version: str) -> bool:
    """Return whether NuGet `version` is inside range `text`.

    Raises `InvalidVersionError` when the range or the version is invalid.
    """
    return parse_range(text).contains(parse_version(version))


class NuGetScheme:
    """The `nuget` scheme: NuGet.Versioning validity and ordering."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version NuGet rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether NuGet parses `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
