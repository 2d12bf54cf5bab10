"""Maven versions and version ranges, ordered as `ComparableVersion` of Maven 3.8 does.

A version is split into items at `.`, at `-`, and where digits meet letters (`1.0alpha1` reads
as `1.0-alpha-1`). Each `-`, and each switch between digits and letters, starts a sub-list, and
a sub-list weighs less than anything after a `.`. Items compare as follows:

- numbers compare numerically, whatever their size, and leading zeros are ignored;
- the qualifiers `alpha` < `beta` < `milestone` < `rc` < `snapshot` < `` (a release) < `sp`
  are known, with the aliases `a`, `b` and `m` (when a digit follows), `cr` for `rc`, and `ga`,
  `final` and `release` for a release. Qualifiers are case-insensitive, and unknown ones sort
  after `sp` in alphabetical order;
- a number sorts after a sub-list, which sorts after a qualifier;
- trailing zeros and release qualifiers are dropped, so `1` == `1.0` == `1-ga` == `1.0.0.FINAL`.

Maven orders any text. This module calls a version invalid when it is empty or contains
whitespace, the characters Maven's model validator rejects in a version (`\\ / : " < > | ? *`),
or the characters of range syntax (`[ ] ( ) ,`).

A range uses Maven's interval syntax: `[1.0,2.0)`, `(,1.0]`, `[1.2,)`, `[1.5]` for exactly 1.5,
and several sets joined by commas (`(,1.0],[1.2,)`). The syntax of Trivy and go-mvn-version is
accepted as well, in `constraint` mode: `>= 1.0, < 2.0 || = 3.0`, where clauses are joined by
commas or spaces, `||` separates alternatives, and a bare version means `=`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable
from typing import Literal, TypeVar

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "maven"

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_SHORT_QUALIFIERS = {"a": "alpha", "b": "beta", "m": "milestone"}
"""One-letter qualifiers that mean more only when a digit follows (`a1` is `alpha-1`)."""
_RELEASE_KEY = str(_QUALIFIERS.index(""))
_INVALID_CHARACTERS = frozenset('\\/:"<>|?*[](),')

RangeSyntax = Literal["auto", "range", "constraint"]
"""`range` is Maven's interval syntax, `constraint` the `>=, <, ||` syntax, `auto` tries both."""


@dataclasses.dataclass(frozen=True)
class _Qualifier:
    """A qualifier item; `key` orders it: the index of a known qualifier, else `7-<name>`."""

    key: str

    @classmethod
    def from_text(cls, text: str, followed_by_digit: bool) -> _Qualifier:
        if followed_by_digit:
            text = _SHORT_QUALIFIERS.get(text, text)
        name = _ALIASES.get(text, text)
        if name in _QUALIFIERS:
            return cls(str(_QUALIFIERS.index(name)))
        return cls(f"{len(_QUALIFIERS)}-{name}")


_Item = int | _Qualifier | list["_Item"]


_Comparable = TypeVar("_Comparable", int, str)


def _sign(a: _Comparable, b: _Comparable) -> int:
    return (a > b) - (a < b)


def _is_null(item: _Item) -> bool:
    if isinstance(item, list):
        return not item
    if isinstance(item, _Qualifier):
        return item.key == _RELEASE_KEY
    return item == 0


def _normalize(items: list[_Item]) -> None:
    """Drop trailing null items (0, a release qualifier, an empty sub-list), stepping over lists."""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if _is_null(item):
            del items[index]
        elif not isinstance(item, list):
            break


def _parse_item(is_digit: bool, text: str) -> _Item:
    return int(text) if is_digit else _Qualifier.from_text(text, followed_by_digit=False)


def _parse_items(version: str) -> list[_Item]:
    """Split `version` into Maven's nested item lists."""
    text = version.lower()
    root: list[_Item] = []
    current = root
    lists = [root]

    def open_sub_list() -> None:
        nonlocal current
        sub_list: list[_Item] = []
        current.append(sub_list)
        current = sub_list
        lists.append(sub_list)

    is_digit = False
    start = 0
    for index, character in enumerate(text):
        if character in ".-":
            current.append(0 if index == start else _parse_item(is_digit, text[start:index]))
            start = index + 1
            if character == "-":
                open_sub_list()
        elif character.isdecimal():
            if not is_digit and index > start:
                current.append(_Qualifier.from_text(text[start:index], followed_by_digit=True))
                start = index
                open_sub_list()
            is_digit = True
        else:
            if is_digit and index > start:
                current.append(_parse_item(True, text[start:index]))
                start = index
                open_sub_list()
            is_digit = False
    if len(text) > start:
        current.append(_parse_item(is_digit, text[start:]))

    for items in reversed(lists):
        _normalize(items)
    return root


def _compare_items(item: _Item, other: _Item | None) -> int:
    """Compare two items as `ComparableVersion`'s items do; `None` is a missing item."""
    if isinstance(item, int):
        if other is None:
            return 0 if item == 0 else 1
        return _sign(item, other) if isinstance(other, int) else 1
    if isinstance(item, _Qualifier):
        if other is None:
            return _sign(item.key, _RELEASE_KEY)
        return _sign(item.key, other.key) if isinstance(other, _Qualifier) else -1
    if other is None:
        # A list against a missing item: the first child that differs from nothing decides.
        for child in item:
            result = _compare_items(child, None)
            if result:
                return result
        return 0
    if isinstance(other, int):
        return -1
    if isinstance(other, _Qualifier):
        return 1
    for index in range(max(len(item), len(other))):
        left = item[index] if index < len(item) else None
        right = other[index] if index < len(other) else None
        if left is None:
            result = 0 if right is None else -_compare_items(right, None)
        else:
            result = _compare_items(left, right)
        if result:
            return result
    return 0


@dataclasses.dataclass(frozen=True)
class MavenVersion:
    """A parsed Maven version: the text and its nested items."""

    text: str
    items: list[_Item] = dataclasses.field(compare=False, repr=False)

    def __str__(self) -> str:
        return self.text


def _invalid(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def parse_version(text: str) -> MavenVersion:
    """Parse a Maven version; raises `InvalidVersionError` for the invalid texts listed above."""
    if not text:
        raise _invalid(text, "the version is empty")
    if any(character.isspace() or not character.isprintable() for character in text):
        raise _invalid(text, "the version contains whitespace or control characters")
    banned = sorted(_INVALID_CHARACTERS.intersection(text))
    if banned:
        raise _invalid(text, f"the version contains {' '.join(banned)}")
    return MavenVersion(text=text, items=_parse_items(text))


def is_valid(version: str) -> bool:
    """Return whether `version` is a valid Maven version (see `parse_version`)."""
    try:
        parse_version(version)
    except InvalidVersionError:
        return False
    return True


def compare_parsed(a: MavenVersion, b: MavenVersion) -> int:
    """Compare two parsed versions as `ComparableVersion.compareTo` does."""
    return _compare_items(a.items, b.items)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as Maven version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    return compare_parsed(parse_version(a), parse_version(b))


_RELATIONS: dict[str, Callable[[int], bool]] = {
    "=": lambda result: result == 0,
    "!=": lambda result: result != 0,
    ">": lambda result: result > 0,
    "<": lambda result: result < 0,
    ">=": lambda result: result >= 0,
    "<=": lambda result: result <= 0,
}
_OPERATOR_ALIASES = {"": "=", "==": "=", "=>": ">=", "=<": "<="}
_CLAUSE = re.compile(r"[\s,]*(?P<operator>==|!=|>=|<=|=>|=<|=|>|<)?\s*(?P<version>[^\s,|<>=!]+)")
_SEPARATORS = re.compile(r"[\s,]*")


@dataclasses.dataclass(frozen=True)
class MavenClause:
    """One `operator version` condition of a range."""

    operator: str
    """`=`, `!=`, `>`, `<`, `>=` or `<=`."""
    version: MavenVersion

    def satisfied_by(self, version: MavenVersion) -> bool:
        """Return whether `version` satisfies this condition."""
        return _RELATIONS[self.operator](compare_parsed(version, self.version))


@dataclasses.dataclass(frozen=True)
class MavenRange:
    """A parsed range: alternatives, each a tuple of clauses that must all hold.

    An alternative without clauses, such as Maven's `[,]`, contains every version.
    """

    alternatives: tuple[tuple[MavenClause, ...], ...]

    def contains(self, version: MavenVersion) -> bool:
        """Return whether `version` satisfies every clause of at least one alternative."""
        return any(
            all(clause.satisfied_by(version) for clause in clauses) for clauses in self.alternatives
        )


def _invalid_range(range_text: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} range {range_text!r}: {reason}")


def _range_version(range_text: str, text: str) -> MavenVersion:
    try:
        return parse_version(text)
    except InvalidVersionError as error:
        raise _invalid_range(range_text, str(error)) from error


def _parse_constraint_clauses(range_text: str, text: str) -> tuple[MavenClause, ...]:
    clauses = []
    position = 0
    while _SEPARATORS.fullmatch(text, position) is None:
        match = _CLAUSE.match(text, position)
        if match is None:
            rest = text[position:].strip(" \t,")
            raise _invalid_range(range_text, f"expected '[operator] version' at {rest!r}")
        operator = match["operator"] or ""
        clauses.append(
            MavenClause(
                operator=_OPERATOR_ALIASES.get(operator, operator),
                version=_range_version(range_text, match["version"]),
            )
        )
        position = match.end()
    if not clauses:
        raise _invalid_range(range_text, "a range, or an alternative between '||', is empty")
    return tuple(clauses)


def _parse_constraint(text: str) -> MavenRange:
    return MavenRange(
        alternatives=tuple(_parse_constraint_clauses(text, part) for part in text.split("||"))
    )


def _parse_interval(range_text: str, interval: str) -> tuple[MavenClause, ...]:
    """Parse one `[lower,upper)` set into clauses. An empty bound sets no limit on its side."""
    lower_inclusive = interval.startswith("[")
    upper_inclusive = interval.endswith("]")
    bounds = [bound.strip() for bound in interval[1:-1].split(",")]
    if len(bounds) > 2:
        raise _invalid_range(range_text, f"the set {interval!r} has more than two bounds")
    if len(bounds) == 1:
        # NOTE: Maven requires `[1.0]` for an exact version. `(1.0)` is accepted too, as
        # go-mvn-version and Trivy accept it.
        return (MavenClause("=", _range_version(range_text, bounds[0])),)

    clauses = []
    lower = _range_version(range_text, bounds[0]) if bounds[0] else None
    upper = _range_version(range_text, bounds[1]) if bounds[1] else None
    if lower is not None:
        clauses.append(MavenClause(">=" if lower_inclusive else ">", lower))
    if upper is not None:
        clauses.append(MavenClause("<=" if upper_inclusive else "<", upper))
    if lower is not None and upper is not None:
        order = compare_parsed(upper, lower)
        if order < 0 or (order == 0 and not (lower_inclusive and upper_inclusive)):
            raise _invalid_range(range_text, f"the set {interval!r} contains no version")
    return tuple(clauses)


def _parse_intervals(text: str) -> MavenRange:
    alternatives = []
    rest = text.strip()
    while rest:
        if rest[0] not in "[(":
            raise _invalid_range(
                text,
                f"expected a set such as '[1.0,2.0)' at {rest!r}; a bare version is "
                "only accepted in constraint syntax",
            )
        ends = [index for index in (rest.find("]"), rest.find(")")) if index >= 0]
        if not ends:
            raise _invalid_range(text, f"the set {rest!r} is not closed by ']' or ')'")
        end = min(ends) + 1
        alternatives.append(_parse_interval(text, rest[:end]))
        rest = rest[end:].strip()
        if rest.startswith(","):
            rest = rest[1:].strip()
            if not rest:
                raise _invalid_range(text, "a ',' ends the range")
    if not alternatives:
        raise _invalid_range(text, "the range is empty")
    return MavenRange(alternatives=tuple(alternatives))


@functools.lru_cache(maxsize=2048)
def parse_range(text: str, syntax: RangeSyntax = "auto") -> MavenRange:
    """Parse a range in Maven's interval syntax, in constraint syntax, or (`auto`) in either.

    `auto` tries the constraint syntax first, as go-mvn-version does. Raises
    `InvalidVersionError` naming the range and the part that is invalid.
    """
    if syntax == "range":
        return _parse_intervals(text)
    if syntax == "constraint":
        return _parse_constraint(text)
    try:
        return _parse_constraint(text)
    except InvalidVersionError:
        return _parse_intervals(text)


def is_valid_range(text: str, syntax: RangeSyntax = "auto") -> bool:
    """Return whether `text` parses as a range in `syntax` (see `parse_range`)."""
    try:
        parse_range(text, syntax)
    except InvalidVersionError:
        return False
    return True


def range_contains(text: str, version: str, syntax: RangeSyntax = "auto") -> bool:
    """Return whether Maven `version` is inside range `text`.

    Raises `InvalidVersionError` when the range or the version is invalid.
    """
    return parse_range(text, syntax).contains(parse_version(version))


class MavenScheme:
    """The `maven` scheme: `ComparableVersion` ordering."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for an invalid version."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether `version` is a valid Maven version."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
