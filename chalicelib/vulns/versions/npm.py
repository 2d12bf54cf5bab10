"""npm versions and ranges with the rules of node-semver 7, the library that npm itself uses.

Versions are SemVer 2.0.0 with node-semver's tolerance: surrounding whitespace and a leading `v`
are ignored, and with `loose=True` also leading `=` signs, leading zeros and a prerelease without
its `-` (`1.2.3beta`). Core numbers above 2**53 - 1 and texts longer than 256 characters are
invalid, as in node-semver.

A range is a `||`-separated list of comparator sets. Each set is a space-separated list of
comparators (`>=1.2.3 <2.0.0`), hyphen ranges (`1.2 - 3`), x-ranges (`1.x`, `*`), tilde ranges
(`~1.2.3`) and caret ranges (`^1.2.3`). A version satisfies the range when it satisfies every
comparator of at least one set. A prerelease version only satisfies a set that names a prerelease
on the same MAJOR.MINOR.PATCH, unless `include_prerelease=True`. Build metadata is ignored.

Ranges are parsed in the same steps as node-semver, so `parse_range(...).normalized` is the text
that node-semver's `validRange` returns. Two extensions from GitHub security advisories and Trivy
are accepted as well, although node-semver rejects them: a comma between comparators means the
same as a space (`>= 1.0.0, < 2.0.0`), and `==` means `=`.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from typing import Literal

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions.npm_range_syntax import (
    GRAMMARS,
    NULL_SET_TEXT,
    expand_comparator_set,
)
from chalicelib.vulns.versions.semver import PrereleaseId, SemVer, compare_parsed

logger = logging.getLogger(__name__)

SCHEME_NAME = "npm"
MAX_LENGTH = 256
"""Longest version text that node-semver parses."""
MAX_SAFE_INTEGER = 2**53 - 1
"""Largest core number that node-semver accepts (JavaScript's `Number.MAX_SAFE_INTEGER`)."""

_DIGITS = re.compile(r"[0-9]+")


def _invalid_version(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def parse_version(text: str, *, loose: bool = False) -> SemVer:
    """Parse an npm version as node-semver does; raises `InvalidVersionError` when it is invalid.

    The returned `SemVer` keeps prerelease identifiers of 2**53 - 1 and above as text, as
    node-semver does, so they print unchanged.
    """
    if len(text) > MAX_LENGTH:
        raise _invalid_version(text, f"longer than {MAX_LENGTH} characters")
    match = GRAMMARS[loose].version.fullmatch(text.strip())
    if match is None:
        expected = "MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]"
        hint = "" if loose else "; loose mode also accepts forms such as '=1.2.3' or '1.2.3beta'"
        raise _invalid_version(text, f"expected {expected}{hint}")

    core = [int(match[name]) for name in ("major", "minor", "patch")]
    if any(number > MAX_SAFE_INTEGER for number in core):
        raise _invalid_version(text, f"a number is larger than {MAX_SAFE_INTEGER}")
    prerelease = match["prerelease"]
    build = match["build"]
    return SemVer(
        major=core[0],
        minor=core[1],
        patch=core[2],
        prerelease=tuple(_to_prerelease_id(part) for part in prerelease.split("."))
        if prerelease
        else (),
        build=tuple(build.split(".")) if build else (),
    )


def _to_prerelease_id(part: str) -> PrereleaseId:
    if _DIGITS.fullmatch(part) and int(part) < MAX_SAFE_INTEGER:
        return int(part)
    return part


def format_version(version: SemVer) -> str:
    """Return the text node-semver uses for a version: without build metadata."""
    text = f"{version.major}.{version.minor}.{version.patch}"
    if version.prerelease:
        text += "-" + ".".join(str(part) for part in version.prerelease)
    return text


def is_valid(version: str, *, loose: bool = False) -> bool:
    """Return whether node-semver parses `version`."""
    try:
        parse_version(version, loose=loose)
    except InvalidVersionError:
        return False
    return True


def compare(a: str, b: str, *, loose: bool = False) -> int:
    """Return -1, 0 or 1 as npm version `a` sorts before, equal to or after `b`.

    Build metadata is ignored. Raises `InvalidVersionError` when either version is invalid.
    """
    return compare_parsed(parse_version(a, loose=loose), parse_version(b, loose=loose))


@dataclasses.dataclass(frozen=True)
class Comparator:
    """One comparator of a range: an operator and a version, or no version to match anything."""

    operator: Literal["", "<", "<=", ">", ">="]
    """`""` means equal."""
    version: SemVer | None

    @property
    def text(self) -> str:
        """The comparator as node-semver prints it; empty when it matches any version."""
        if self.version is None:
            return ""
        return self.operator + format_version(self.version)

    def test(self, version: SemVer) -> bool:
        """Return whether `version` satisfies this comparator alone."""
        if self.version is None:
            return True
        result = compare_parsed(version, self.version)
        if self.operator == "":
            return result == 0
        if self.operator == "<":
            return result < 0
        if self.operator == "<=":
            return result <= 0
        if self.operator == ">":
            return result > 0
        return result >= 0


_ANY_VERSION = Comparator("", None)
_OPERATORS: dict[str, Literal["", "<", "<=", ">", ">="]] = {
    "": "",
    "=": "",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}


@dataclasses.dataclass(frozen=True)
class NpmRange:
    """A parsed npm range: comparator sets, of which a version must satisfy at least one."""

    comparator_sets: tuple[tuple[Comparator, ...], ...]
    include_prerelease: bool = False

    @property
    def normalized(self) -> str:
        """The range as node-semver's `validRange` prints it, such as `>=1.2.0 <2.0.0-0`."""
        text = "||".join(
            " ".join(comparator.text for comparator in comparators)
            for comparators in self.comparator_sets
        )
        return text or "*"

    def __str__(self) -> str:
        return self.normalized

    def contains(self, version: SemVer) -> bool:
        """Return whether `version` satisfies the range."""
        return any(self._set_contains(comparators, version) for comparators in self.comparator_sets)

    def _set_contains(self, comparators: tuple[Comparator, ...], version: SemVer) -> bool:
        if not all(comparator.test(version) for comparator in comparators):
            return False
        if not version.prerelease or self.include_prerelease:
            return True
        # A prerelease only matches a set that opts in to prereleases of its own
        # MAJOR.MINOR.PATCH: `>=1.2.3-beta.1` admits 1.2.3-beta.2 but not 1.2.4-alpha.
        core = (version.major, version.minor, version.patch)
        return any(
            comparator.version is not None
            and comparator.version.prerelease
            and (comparator.version.major, comparator.version.minor, comparator.version.patch)
            == core
            for comparator in comparators
        )


def parse_range(
    range_text: str, *, loose: bool = False, include_prerelease: bool = False
) -> NpmRange:
    """Parse an npm range with node-semver's rules.

    An empty range and `*` match every version. With `loose=True`, comparators that do not
    parse are dropped instead of failing the whole range, as node-semver does. Raises
    `InvalidVersionError` naming the range and the comparator when the range is invalid.
    """
    return _parse_range(range_text, loose, include_prerelease)


@functools.lru_cache(maxsize=2048)
def _parse_range(range_text: str, loose: bool, include_prerelease: bool) -> NpmRange:
    # Commas and `==` are the two extensions described in the module docstring.
    text = range_text.replace(",", " ").replace("==", "=")
    text = " ".join(text.split())
    try:
        comparator_sets = [
            _parse_comparator_set(part.strip(), loose, include_prerelease)
            for part in text.split("||")
        ]
    except InvalidVersionError as error:
        raise InvalidVersionError(f"invalid {SCHEME_NAME} range {range_text!r}: {error}") from error

    # Only loose mode produces empty sets: every comparator in them was dropped as invalid.
    comparator_sets = [comparators for comparators in comparator_sets if comparators]
    if not comparator_sets:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} range {range_text!r}: no valid comparator in it"
        )
    if len(comparator_sets) > 1:
        satisfiable = [s for s in comparator_sets if s[0].text != NULL_SET_TEXT]
        comparator_sets = satisfiable or comparator_sets[:1]
    if len(comparator_sets) > 1:
        for comparators in comparator_sets:
            if comparators == [_ANY_VERSION]:
                comparator_sets = [comparators]
                break
    return NpmRange(
        comparator_sets=tuple(tuple(comparators) for comparators in comparator_sets),
        include_prerelease=include_prerelease,
    )


def _parse_comparator_set(text: str, loose: bool, include_prerelease: bool) -> list[Comparator]:
    """Parse one `||` alternative into its comparators, without duplicates."""
    # Every comparator is parsed before the null-set check, so an invalid one always fails.
    comparators = [
        _parse_comparator(token, loose)
        for token in expand_comparator_set(text, loose, include_prerelease)
    ]
    for comparator in comparators:
        if comparator.text == NULL_SET_TEXT:
            return [comparator]
    unique: dict[str, Comparator] = {}
    for comparator in comparators:
        unique.setdefault(comparator.text, comparator)
    if len(unique) > 1:
        # The empty comparator adds nothing next to others.
        unique.pop("", None)
    return list(unique.values())


def _parse_comparator(text: str, loose: bool) -> Comparator:
    text = " ".join(text.split())
    if not text:
        return _ANY_VERSION
    match = GRAMMARS[loose].comparator.fullmatch(text)
    if match is None:
        raise InvalidVersionError(f"{text!r} is not a comparator")
    version = parse_version(match["version"], loose=loose)
    return Comparator(_OPERATORS[match["operator"]], version)


def satisfies(
    range_text: str, version: str, *, loose: bool = False, include_prerelease: bool = False
) -> bool:
    """Return whether `version` satisfies the npm range `range_text`.

    Like node-semver's `satisfies`, this returns False when the range or the version is invalid.
    Call `parse_range` or `is_valid` first to tell invalid input from a version outside the range.
    """
    try:
        parsed_range = parse_range(range_text, loose=loose, include_prerelease=include_prerelease)
        parsed_version = parse_version(version, loose=loose)
    except InvalidVersionError as error:
        logger.debug("npm range check is false because of invalid input: %s", error)
        return False
    return parsed_range.contains(parsed_version)


def outside(
    range_text: str,
    version: str,
    direction: Literal[">", "<"],
    *,
    loose: bool = False,
    include_prerelease: bool = False,
) -> bool:
    """Return whether `version` is above (`>`) or below (`<`) every version the range admits.

    This is node-semver's `outside`, which `gtr` and `ltr` call. A version that satisfies the
    range is not outside it, and neither is one that falls in a gap between comparator sets.
    Raises `InvalidVersionError` when the range or the version is invalid.
    """
    parsed_version = parse_version(version, loose=loose)
    parsed_range = parse_range(range_text, loose=loose, include_prerelease=include_prerelease)
    if parsed_range.contains(parsed_version):
        return False

    # The loop reads as if looking for versions above the range; for `<` the order flips.
    sign = 1 if direction == ">" else -1
    strict_operator, inclusive_operator = (">", ">=") if direction == ">" else ("<", "<=")

    def beyond(a: SemVer, b: SemVer) -> int:
        return sign * compare_parsed(a, b)

    for comparators in parsed_range.comparator_sets:
        # The empty comparator (any version) counts as `>=0.0.0`.
        bounds = [
            (">=", SemVer(0, 0, 0)) if c.version is None else (c.operator, c.version)
            for c in comparators
        ]
        high = low = bounds[0]
        for bound in bounds[1:]:
            if beyond(bound[1], high[1]) > 0:
                high = bound
            elif beyond(bound[1], low[1]) < 0:
                low = bound
        # A set whose outermost bound is open in this direction admits versions beyond this one.
        if high[0] in (strict_operator, inclusive_operator):
            return False
        # A version that does not pass the set's innermost bound lies on the near side of it.
        position = beyond(parsed_version, low[1])
        if low[0] in ("", strict_operator) and position <= 0:
            return False
        if low[0] == inclusive_operator and position < 0:
            return False
    return True


class NpmScheme:
    """The `npm` scheme: node-semver ordering, strict by default."""

    name: str = SCHEME_NAME

    def __init__(self, *, loose: bool = False) -> None:
        """Create the scheme; `loose=True` accepts the forms of node-semver's loose mode."""
        self.loose = loose

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version node-semver rejects."""
        return compare(a, b, loose=self.loose)

    def is_valid(self, version: str) -> bool:
        """Return whether node-semver parses `version`."""
        return is_valid(version, loose=self.loose)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loose={self.loose})"
