"""Composer (Packagist) versions and constraints, with the rules of `composer/semver` 3.

Versions are normalized first, as `VersionParser::normalize` does: a leading `v`, build metadata
(`+...`), an `@stability` flag and an `as` alias are dropped, the number is padded to four parts,
and a stability suffix is spelled out. For example, `1.2` becomes `1.2.0.0`, `v2.0-b3` becomes
`2.0.0.0-beta3`, `1.0.0-rc1` becomes `1.0.0.0-RC1`, `1.0-pl2` becomes `1.0.0.0-patch2`,
`1.x-dev` becomes `1.9999999.9999999.9999999-dev`, and a date such as `2010.01.02` keeps its
parts. `dev-<branch>` names a branch, as do `master`, `trunk` and `default`.

Normalized versions are ordered by PHP's `version_compare` (see `php_version`): numbers compare as
numbers, and the stabilities rank `dev` < `alpha` < `beta` < `RC` < a release < `patch`, so
`1.0.0.0-dev` < `1.0.0.0-alpha1` < `1.0.0.0` < `1.0.0.0-patch1`. Branches have no order: a
branch equals only itself.

A constraint is `||`-separated alternatives, each a list of conditions joined by commas or
spaces, and a version satisfies it when it satisfies every condition of one alternative. The
conditions are comparisons (`>=1.2`, `<2.0`, `!=1.5`, `1.2.3`), wildcards (`1.2.*`, `*`),
tilde ranges (`~1.2` means `>=1.2 <2.0`, `~1.2.3` means `>=1.2.3 <1.3`), caret ranges (`^1.2.3`
means `>=1.2.3 <2.0`, `^0.3` means `>=0.3 <0.4`) and hyphen ranges (`1.0 - 2.0`). As in Composer,
a lower or upper bound without a stability gets `-dev` appended. So a lower bound admits the
prereleases of its version (`1.0.0-beta` satisfies `^1.0`), and an upper bound excludes them
(`2.0.0-RC1` does not satisfy `<2.0`).
"""

from __future__ import annotations

import dataclasses
import functools
import re

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions.php_version import version_compare

SCHEME_NAME = "composer"

_MODIFIER = r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*+)?)?([.-]?dev)?"
_STABILITIES = "stable|RC|beta|alpha|dev"
_ALIAS = re.compile(r"([^,\s]++) ++as ++([^,\s]++)")
_STABILITY_FLAG = re.compile(rf"@(?:{_STABILITIES})$", re.IGNORECASE)
_BUILD_METADATA = re.compile(r"([^,\s+]++)\+\S++")
_CLASSICAL = re.compile(rf"v?(\d{{1,5}}+)(\.\d++)?(\.\d++)?(\.\d++)?{_MODIFIER}", re.IGNORECASE)
_DATE = re.compile(
    rf"v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}}){{0,2}}){_MODIFIER}", re.IGNORECASE
)
_DEV_SUFFIX = re.compile(r"(.*?)[.-]?dev", re.IGNORECASE)
_NUMERIC_BRANCH = re.compile(
    r"v?(\d++)(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?(\.(?:\d++|[xX*]))?", re.IGNORECASE
)
_EXPANDED_STABILITIES = {"a": "alpha", "b": "beta", "p": "patch", "pl": "patch", "rc": "RC"}
_DEFAULT_BRANCHES = ("master", "trunk", "default")
BRANCH_PREFIX = "dev-"


def _invalid(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def _normalize_branch(name: str) -> str:
    """Normalize a branch name as `VersionParser::normalizeBranch` (`1.x` -> `1.9999999...-dev`)."""
    name = name.strip()
    match = _NUMERIC_BRANCH.fullmatch(name)
    if match is None:
        return BRANCH_PREFIX + name
    parts = [match[1]] + [
        (match[index] or ".x").replace("*", "x").replace("X", "x") for index in (2, 3, 4)
    ]
    return "".join(parts).replace("x", "9999999") + "-dev"


def _add_modifiers(version: str, match: re.Match[str], index: int) -> str:
    stability, number, dev = match[index], match[index + 1], match[index + 2]
    if stability:
        if stability == "stable":
            return version
        expanded = _EXPANDED_STABILITIES.get(stability.lower(), stability.lower())
        version += "-" + expanded + (number.lstrip(".-") if number else "")
    if dev:
        version += "-dev"
    return version


@functools.lru_cache(maxsize=4096)
def normalize(version: str) -> str:
    """Return the normalized form of a Composer version, as `VersionParser::normalize`.

    Raises `InvalidVersionError` when Composer rejects the version.
    """
    text = version.strip()
    alias = _ALIAS.fullmatch(text)
    if alias:
        text = alias[1]
    flag = _STABILITY_FLAG.search(text)
    if flag:
        text = text[: flag.start()]
    if text in _DEFAULT_BRANCHES:
        text = BRANCH_PREFIX + text
    if text[:4].lower() == BRANCH_PREFIX:
        return BRANCH_PREFIX + text[4:]
    metadata = _BUILD_METADATA.fullmatch(text)
    if metadata:
        text = metadata[1]

    classical = _CLASSICAL.fullmatch(text)
    if classical:
        padded = classical[1] + "".join(classical[index] or ".0" for index in (2, 3, 4))
        return _add_modifiers(padded, classical, 5)
    date = _DATE.fullmatch(text)
    if date:
        return _add_modifiers(re.sub(r"\D", ".", date[1]), date, 2)

    dev_branch = _DEV_SUFFIX.fullmatch(text)
    if dev_branch:
        normalized = _normalize_branch(dev_branch[1])
        if BRANCH_PREFIX not in normalized:
            return normalized
    raise _invalid(
        version,
        "expected a version such as 1.2.3, v2.0-beta1 or 2010-01-02, or a branch such as "
        "dev-main or 1.x-dev",
    )


def is_valid(version: str) -> bool:
    """Return whether Composer can normalize `version`."""
    try:
        normalize(version)
    except InvalidVersionError:
        return False
    return True


def is_branch(normalized: str) -> bool:
    """Return whether a normalized version names a branch (`dev-main`)."""
    return normalized.startswith(BRANCH_PREFIX)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as Composer version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid, or when the versions differ and
    one is a branch, because branches have no order.
    """
    normalized_a, normalized_b = normalize(a), normalize(b)
    if normalized_a == normalized_b:
        return 0
    for original, normalized in ((a, normalized_a), (b, normalized_b)):
        if is_branch(normalized):
            raise _invalid(original, "a branch has no order; it only equals itself")
    return version_compare(normalized_a, normalized_b)


_OPERATORS = {
    "": "==",
    "=": "==",
    "==": "==",
    "!=": "!=",
    "<>": "!=",
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
}
"""Composer's comparison operators and the operator each means."""


@dataclasses.dataclass(frozen=True)
class ComposerCondition:
    """One `operator normalized-version` condition of a constraint."""

    operator: str
    """`==`, `!=`, `>`, `>=`, `<` or `<=`."""
    version: str
    """A normalized version, such as `1.2.0.0-dev`."""

    def satisfied_by(self, normalized: str) -> bool:
        """Return whether normalized version `normalized` satisfies this condition.

        As in Composer, a branch only satisfies `==` with the same branch or `!=` with any other.
        """
        left_branch, right_branch = is_branch(normalized), is_branch(self.version)
        if self.operator == "!=" and (left_branch or right_branch):
            return normalized != self.version
        if left_branch or right_branch:
            return (
                left_branch
                and right_branch
                and self.operator == "=="
                and (normalized == self.version)
            )
        result = version_compare(normalized, self.version)
        return {
            "==": result == 0,
            "!=": result != 0,
            ">": result > 0,
            ">=": result >= 0,
            "<": result < 0,
            "<=": result <= 0,
        }[self.operator]


@dataclasses.dataclass(frozen=True)
class ComposerConstraint:
    """A parsed constraint: alternatives, each a tuple of conditions that must all hold.

    An alternative without conditions, such as `*`, matches every version.
    """

    alternatives: tuple[tuple[ComposerCondition, ...], ...]

    def satisfied_by(self, normalized: str) -> bool:
        """Return whether normalized version `normalized` satisfies one alternative."""
        return any(
            all(condition.satisfied_by(normalized) for condition in conditions)
            for conditions in self.alternatives
        )


_OR_SEPARATOR = re.compile(r"\s*\|\|?\s*")
# Composer's AND separator: a comma or space that is not part of `as`, an operator or a hyphen.
_AND_SEPARATOR = re.compile(r"(?<!^)(?<!as)(?<![=>< ,]) *(?<!-)[, ](?!-) *(?!,|as|$)")
_VERSION_IN_RANGE = (
    rf"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.(\d++))?(?:{_MODIFIER}|\.([xX*][.-]?dev))"
    r"(?:\+[^\s]+)?"
)
_CONDITION_FLAG = re.compile(rf"([^,\s]*?)@({_STABILITIES})", re.IGNORECASE)
_REFERENCE = re.compile(r"(dev-[^,\s@]+?|[^,\s@]+?\.x-dev)#.+", re.IGNORECASE)
_MATCH_ALL = re.compile(r"(v)?[xX*](\.[xX*])*", re.IGNORECASE)
_TILDE = re.compile(rf"~>?{_VERSION_IN_RANGE}", re.IGNORECASE)
_CARET = re.compile(rf"\^{_VERSION_IN_RANGE}", re.IGNORECASE)
_WILDCARD = re.compile(r"v?(\d++)(?:\.(\d++))?(?:\.(\d++))?(?:\.[xX*])++")
_HYPHEN = re.compile(
    rf"(?P<low>{_VERSION_IN_RANGE}) +- +(?P<high>{_VERSION_IN_RANGE})", re.IGNORECASE
)
_COMPARISON = re.compile(r"(<>|!=|>=?|<=?|==?)?\s*(.*)", re.DOTALL)
_NUMBER_GROUPS = (1, 2, 3, 4)


def _bump(numbers: list[str | None], position: int, increment: int = 0) -> str:
    """Zero the parts after `position` (1 to 4) and add `increment` to that part."""
    parts = [int(number or 0) for number in numbers]
    for index in range(4, 0, -1):
        if index > position:
            parts[index - 1] = 0
        elif index == position and increment:
            parts[index - 1] += increment
    return ".".join(str(part) for part in parts)


def _has_stability(match: re.Match[str], first_group: int) -> bool:
    """Return whether the modifier groups of a version in a range name a stability or `dev`."""
    return any(match[first_group + offset] for offset in (0, 2, 3))


def _tilde(condition: str, match: re.Match[str]) -> tuple[ComposerCondition, ...]:
    if condition.startswith("~>"):
        raise InvalidVersionError("Composer has no '~>' operator; use '~' instead")
    position = max(index for index in _NUMBER_GROUPS if index == 1 or match[index])
    if match[8]:
        position += 1
    suffix = "" if _has_stability(match, 5) else "-dev"
    low = normalize(condition[1:] + suffix)
    high = _bump([match[index] for index in _NUMBER_GROUPS], max(1, position - 1), 1)
    return (ComposerCondition(">=", low), ComposerCondition("<", high + "-dev"))


def _caret(condition: str, match: re.Match[str]) -> tuple[ComposerCondition, ...]:
    if match[1] != "0" or not match[2]:
        position = 1
    elif match[2] != "0" or not match[3]:
        position = 2
    else:
        position = 3
    suffix = "" if _has_stability(match, 5) else "-dev"
    low = normalize(condition[1:] + suffix)
    high = _bump([match[index] for index in _NUMBER_GROUPS], position, 1)
    return (ComposerCondition(">=", low), ComposerCondition("<", high + "-dev"))


def _wildcard(match: re.Match[str]) -> tuple[ComposerCondition, ...]:
    numbers = [match[1], match[2], match[3], None]
    position = max(index for index in (1, 2, 3) if index == 1 or numbers[index - 1])
    low = _bump(numbers, position) + "-dev"
    high = _bump(numbers, position, 1) + "-dev"
    if low == "0.0.0.0-dev":
        return (ComposerCondition("<", high),)
    return (ComposerCondition(">=", low), ComposerCondition("<", high))


def _hyphen(match: re.Match[str]) -> tuple[ComposerCondition, ...]:
    # Groups 1 to 9 belong to the low version and 10 to 18 to the high one, after the named
    # groups' own numbers (`low` is group 1 and `high` group 10).
    low_suffix = "" if _has_stability(match, 6) else "-dev"
    low = ComposerCondition(">=", normalize(match["low"]) + low_suffix)

    def given(group: int) -> bool:
        return match[group] is not None and match[group] != ""

    high_text = match["high"]
    if (given(12) and given(13)) or match[15] or match[17] or match[18]:
        return (low, ComposerCondition("<=", normalize(high_text)))
    normalize(high_text)
    numbers = [match[11], match[12], match[13], match[14]]
    high = _bump(numbers, 2 if given(12) else 1, 1)
    return (low, ComposerCondition("<", high + "-dev"))


def _parse_condition(constraint: str, text: str) -> tuple[ComposerCondition, ...]:
    """Parse one condition into comparisons, as `VersionParser::parseConstraint`."""
    condition = text
    alias = _ALIAS.fullmatch(condition)
    if alias:
        condition = alias[1]
    stability_modifier = ""
    flag = _CONDITION_FLAG.fullmatch(condition)
    if flag:
        condition = flag[1] or "*"
        if flag[2] != "stable":
            stability_modifier = flag[2]
    reference = _REFERENCE.fullmatch(condition)
    if reference:
        condition = reference[1]

    try:
        match_all = _MATCH_ALL.fullmatch(condition)
        if match_all:
            if match_all[1] or match_all[2]:
                return (ComposerCondition(">=", "0.0.0.0-dev"),)
            return ()
        for pattern, build in ((_TILDE, _tilde), (_CARET, _caret)):
            match = pattern.fullmatch(condition)
            if match:
                return build(condition, match)
        wildcard = _WILDCARD.fullmatch(condition)
        if wildcard:
            return _wildcard(wildcard)
        hyphen = _HYPHEN.fullmatch(condition)
        if hyphen:
            return _hyphen(hyphen)
        return (_comparison(condition, stability_modifier),)
    except InvalidVersionError as error:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} constraint {constraint!r}: cannot parse {text!r}: {error}"
        ) from error


def _comparison(condition: str, stability_modifier: str) -> ComposerCondition:
    match = _COMPARISON.fullmatch(condition)
    assert match is not None  # The pattern matches any text.
    operator_text, version_text = match[1] or "", match[2]
    try:
        version = normalize(version_text)
    except InvalidVersionError:
        # Composer reads `foobar-dev` as the branch `dev-foobar`.
        if not (version_text.endswith("-dev") and re.fullmatch(r"[0-9a-zA-Z./-]+", version_text)):
            raise
        version = normalize(BRANCH_PREFIX + version_text[:-4])

    operator = _OPERATORS[operator_text]
    if operator != "==" and stability_modifier and _is_stable(version):
        version += "-" + stability_modifier
    elif operator in ("<", ">="):
        has_modifier = re.search(rf"-{_MODIFIER}$", version_text.lower()) is not None
        if not has_modifier and not version_text.startswith(BRANCH_PREFIX):
            version += "-dev"
    return ComposerCondition(operator, version)


def _is_stable(normalized: str) -> bool:
    """Return whether a normalized version is a stable release, as `parseStability` decides."""
    if is_branch(normalized) or normalized.endswith("-dev"):
        return False
    return re.search(r"-(?:alpha|beta|rc)[0-9.-]*$", normalized, re.IGNORECASE) is None


@functools.lru_cache(maxsize=2048)
def parse_constraint(constraint: str) -> ComposerConstraint:
    """Parse a Composer constraint such as `^1.2 || ~2.0.3, !=2.0.5`.

    Raises `InvalidVersionError` naming the constraint and the part that is invalid.
    """
    alternatives = []
    for alternative in _OR_SEPARATOR.split(constraint.strip()):
        conditions: list[ComposerCondition] = []
        for part in _AND_SEPARATOR.split(alternative):
            conditions.extend(_parse_condition(constraint, part))
        alternatives.append(tuple(conditions))
    return ComposerConstraint(alternatives=tuple(alternatives))


def is_valid_constraint(constraint: str) -> bool:
    """Return whether `constraint` parses (see `parse_constraint`)."""
    try:
        parse_constraint(constraint)
    except InvalidVersionError:
        return False
    return True


def satisfies(constraint: str, version: str) -> bool:
    """Return whether Composer `version` satisfies `constraint`, as `Semver::satisfies`.

    Raises `InvalidVersionError` when the constraint or the version is invalid.
    """
    return parse_constraint(constraint).satisfied_by(normalize(version))


class ComposerScheme:
    """The `composer` scheme: Composer's normalization and PHP's `version_compare` order."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for an invalid version or a branch."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether Composer can normalize `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
