"""RubyGems versions and requirements, with the rules of `Gem::Version` and `Gem::Requirement`.

A version is digits followed by `.`-separated runs of letters and digits, with an optional
`-`-separated prerelease part (`1.2.3`, `1.2.0.rc1`, `1.2.3.4-rc1-with-hyphen`). Surrounding
whitespace is ignored, an empty version means `0`, and each `-` reads as `.pre.`. A version is a
prerelease when it contains a letter.

Versions compare segment by segment, where a segment is a run of digits (a number) or a run of
letters (a string). Trailing zeros of the release part are dropped first, so `1.2` == `1.2.0`, and
a missing segment counts as 0. A string segment sorts before a number, so `1.0.a` < `1.0`, and two
strings compare byte by byte.

A requirement is one or more `[operator] version` clauses: `=`, `!=`, `>`, `<`, `>=`, `<=` and
the pessimistic `~>`. For example, `~> 1.4` means `>= 1.4` and `< 2`, and `~> 1.4.4` means
`>= 1.4.4` and `< 1.5`. A missing operator means `=`. Clauses are joined by commas or
whitespace, and a version satisfies a requirement when it satisfies every clause. Two
extensions that go-gem-version and Trivy accept, although RubyGems does not, are accepted too:
`==` means `=`, and `||` separates alternative requirements.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "gem"

# Gem::Version::VERSION_PATTERN. Ruby's `\s` is ASCII whitespace, hence re.ASCII below.
_VERSION_PATTERN = r"[0-9]+(?>\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
_VERSION = re.compile(rf"\s*(?P<version>{_VERSION_PATTERN})?\s*", re.ASCII)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")
_OPERATORS = "~>|>=|<=|!=|==|=|>|<"
_CLAUSE = re.compile(
    rf"[\s,]*(?P<operator>{_OPERATORS})?\s*(?P<version>{_VERSION_PATTERN})(?![0-9A-Za-z.-])",
    re.ASCII,
)
_SEPARATORS = re.compile(r"[\s,]*", re.ASCII)

Segment = int | str
"""One segment of a version: a number, or a run of letters."""


@dataclasses.dataclass(frozen=True)
class GemVersion:
    """A parsed RubyGems version."""

    text: str
    """The version as `Gem::Version` keeps it: stripped, `0` when empty, `-` as `.pre.`."""
    segments: tuple[Segment, ...]

    @property
    def is_prerelease(self) -> bool:
        """Whether the version contains a letter (`1.0.a`, `1.0-rc1`)."""
        return any(isinstance(segment, str) for segment in self.segments)

    @functools.cached_property
    def canonical_segments(self) -> tuple[Segment, ...]:
        """The segments with trailing zeros removed from the release and the prerelease parts."""
        first_string = next(
            (i for i, segment in enumerate(self.segments) if isinstance(segment, str)),
            len(self.segments),
        )
        return _drop_trailing_zeros(self.segments[:first_string]) + _drop_trailing_zeros(
            self.segments[first_string:]
        )

    def __str__(self) -> str:
        return self.text


def _drop_trailing_zeros(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    end = len(segments)
    while end and segments[end - 1] == 0:
        end -= 1
    return segments[:end]


def parse_version(text: str) -> GemVersion:
    """Parse a RubyGems version; raises `InvalidVersionError` when `Gem::Version` rejects it."""
    match = _VERSION.fullmatch(text)
    if match is None:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} version {text!r}: expected digits and dot-separated letters "
            "or digits, with an optional -prerelease, such as 1.2.3, 1.2.0.rc1 or 1.2.3-beta.1"
        )
    version = (match["version"] or "0").replace("-", ".pre.")
    segments = tuple(int(part) if part.isdigit() else part for part in _SEGMENT.findall(version))
    return GemVersion(text=version, segments=segments)


def is_valid(version: str) -> bool:
    """Return whether `Gem::Version` accepts `version`; an empty or blank version is valid."""
    return _VERSION.fullmatch(version) is not None


def compare_parsed(a: GemVersion, b: GemVersion) -> int:
    """Compare two parsed versions as `Gem::Version#<=>` does."""
    left, right = a.canonical_segments, b.canonical_segments
    for index in range(max(len(left), len(right))):
        left_segment = left[index] if index < len(left) else 0
        right_segment = right[index] if index < len(right) else 0
        if left_segment == right_segment:
            continue
        if isinstance(left_segment, int) and isinstance(right_segment, int):
            return -1 if left_segment < right_segment else 1
        if isinstance(left_segment, str) and isinstance(right_segment, str):
            return -1 if left_segment < right_segment else 1
        # A string segment marks a prerelease, so it sorts before a number.
        return -1 if isinstance(left_segment, str) else 1
    return 0


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as RubyGems version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    return compare_parsed(parse_version(a), parse_version(b))


def _release_segments(version: GemVersion) -> list[Segment]:
    """Return the segments before the first string segment."""
    segments = list(version.segments)
    while any(isinstance(segment, str) for segment in segments):
        segments.pop()
    return segments


def release(version: str) -> str:
    """Return the release that a prerelease leads to, as `Gem::Version#release`: `1.2.a.3` -> `1.2`.

    A version that is not a prerelease is returned as `Gem::Version` keeps it. Raises
    `InvalidVersionError` when the version is invalid.
    """
    parsed = parse_version(version)
    if not parsed.is_prerelease:
        return parsed.text
    return ".".join(str(segment) for segment in _release_segments(parsed))


def bump(version: str) -> str:
    """Return the upper bound of `~> version` (`5.2.4` -> `5.3`), as `Gem::Version#bump`.

    The prerelease part and then the last release segment are dropped, unless only one is left,
    and the new last segment is incremented. Raises `InvalidVersionError` when the version is
    invalid.
    """
    segments = _release_segments(parse_version(version))
    if len(segments) > 1:
        segments.pop()
    last = segments[-1]
    assert isinstance(last, int)
    segments[-1] = last + 1
    return ".".join(str(segment) for segment in segments)


def _pessimistic(version: GemVersion, bound: GemVersion) -> bool:
    if compare_parsed(version, bound) < 0:
        return False
    upper = parse_version(bump(bound.text))
    return compare_parsed(parse_version(release(version.text)), upper) < 0


_RELATIONS: dict[str, Callable[[int], bool]] = {
    "=": lambda result: result == 0,
    "!=": lambda result: result != 0,
    ">": lambda result: result > 0,
    "<": lambda result: result < 0,
    ">=": lambda result: result >= 0,
    "<=": lambda result: result <= 0,
}


@dataclasses.dataclass(frozen=True)
class GemClause:
    """One `operator version` clause of a requirement."""

    operator: str
    """`=`, `!=`, `>`, `<`, `>=`, `<=` or `~>`; `==` and a missing operator read as `=`."""
    version: GemVersion

    def satisfied_by(self, version: GemVersion) -> bool:
        """Return whether `version` satisfies this clause."""
        if self.operator == "~>":
            return _pessimistic(version, self.version)
        return _RELATIONS[self.operator](compare_parsed(version, self.version))


@dataclasses.dataclass(frozen=True)
class GemRequirement:
    """A parsed requirement: alternatives (`||`), each a list of clauses that must all hold."""

    alternatives: tuple[tuple[GemClause, ...], ...]

    def satisfied_by(self, version: GemVersion) -> bool:
        """Return whether `version` satisfies every clause of at least one alternative."""
        return any(
            all(clause.satisfied_by(version) for clause in clauses) for clauses in self.alternatives
        )


def _invalid_requirement(requirement: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} requirement {requirement!r}: {reason}")


def _parse_clauses(requirement: str, text: str) -> tuple[GemClause, ...]:
    clauses = []
    position = 0
    while _SEPARATORS.fullmatch(text, position) is None:
        match = _CLAUSE.match(text, position)
        if match is None:
            rest = text[position:].strip(" \t,")
            raise _invalid_requirement(
                requirement,
                f"expected '[operator] version' at {rest!r}, with an operator among "
                "=, !=, >, <, >=, <= and ~>",
            )
        operator_text = match["operator"] or "="
        clauses.append(
            GemClause(
                operator="=" if operator_text == "==" else operator_text,
                version=parse_version(match["version"]),
            )
        )
        position = match.end()
    if not clauses:
        raise _invalid_requirement(
            requirement, "a requirement, or an alternative between '||', is empty"
        )
    return tuple(clauses)


@functools.lru_cache(maxsize=2048)
def parse_requirement(requirement: str) -> GemRequirement:
    """Parse a requirement such as `~> 1.4, >= 1.4.4` or `< 1.0 || >= 2.0`.

    Raises `InvalidVersionError` naming the requirement and the part that is invalid.
    """
    return GemRequirement(
        alternatives=tuple(_parse_clauses(requirement, part) for part in requirement.split("||"))
    )


def is_valid_requirement(requirement: str) -> bool:
    """Return whether `requirement` parses (see `parse_requirement`)."""
    try:
        parse_requirement(requirement)
    except InvalidVersionError:
        return False
    return True


def satisfies(requirement: str, version: str) -> bool:
    """Return whether RubyGems `version` satisfies `requirement`.

    Raises `InvalidVersionError` when the requirement or the version is invalid.
    """
    return parse_requirement(requirement).satisfied_by(parse_version(version))


class GemScheme:
    """The `gem` scheme: `Gem::Version` validity and ordering."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version RubyGems rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether `Gem::Version` accepts `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
