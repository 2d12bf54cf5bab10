"""PHP's `version_compare`, which orders Composer's normalized versions.

The version is canonicalized first: `-`, `_` and `+` become `.`, other characters that are not
letters or digits become `.` too, and a `.` is inserted wherever digits meet other characters, so
`4.3.2RC1` reads as `4.3.2.RC.1`. The parts then compare from left to right. Two numbers compare
as numbers. Words rank by their prefix as `dev` < `alpha` = `a` < `beta` = `b` < `RC` = `rc` <
a number < `pl` = `p`, and any other word ranks below `dev`. When one version runs out of parts,
the next part of the other decides: a number makes it newer, and a word is ranked against a number,
so `1.0` < `1.0.0` and `1.0rc1` < `1.0` < `1.0pl1`. The rules follow `ext/standard/versioning.c`
of PHP 8.
"""

from __future__ import annotations

# The ranks of special forms, matched by prefix in this order.
_SPECIAL_FORMS = (
    ("dev", 0),
    ("alpha", 1),
    ("a", 1),
    ("beta", 2),
    ("b", 2),
    ("RC", 3),
    ("rc", 3),
    ("#", 4),
    ("pl", 5),
    ("p", 5),
)
_NUMBER_FORM = "#N#"
"""The stand-in that PHP ranks a number part as when the other part is a word."""


def _is_digit(character: str) -> bool:
    return "0" <= character <= "9"


def _starts_with_digit(part: str) -> bool:
    return bool(part) and _is_digit(part[0])


def _canonicalize(version: str) -> str:
    """Insert `.` between digits and other characters and turn `-`, `_`, `+` into `.`, as PHP."""
    if not version:
        return ""
    output = [version[0]]
    previous = version[0]
    for character in version[1:]:
        separator_needed = output[-1] != "."
        if character in "-_+":
            if separator_needed:
                output.append(".")
        elif previous != "." and character != "." and (_is_digit(previous) != _is_digit(character)):
            if separator_needed:
                output.append(".")
            output.append(character)
        elif not (character.isascii() and character.isalnum()):
            if separator_needed:
                output.append(".")
        else:
            output.append(character)
        previous = character
    return "".join(output)


def _form_rank(part: str) -> int:
    return next((rank for form, rank in _SPECIAL_FORMS if part.startswith(form)), -1)


def _compare_parts(a: str, b: str) -> int:
    if _starts_with_digit(a) and _starts_with_digit(b):
        left, right = int(_leading_digits(a)), int(_leading_digits(b))
        return (left > right) - (left < right)
    left_rank = _form_rank(_NUMBER_FORM if _starts_with_digit(a) else a)
    right_rank = _form_rank(_NUMBER_FORM if _starts_with_digit(b) else b)
    return (left_rank > right_rank) - (left_rank < right_rank)


def _leading_digits(part: str) -> str:
    end = 0
    while end < len(part) and _is_digit(part[end]):
        end += 1
    return part[:end]


def version_compare(a: str, b: str) -> int:
    """Compare two version strings as PHP's `version_compare($a, $b)`; return -1, 0 or 1."""
    if not a or not b:
        return (bool(a) > bool(b)) - (bool(a) < bool(b))
    left = (a if a.startswith("#") else _canonicalize(a)).split(".")
    right = (b if b.startswith("#") else _canonicalize(b)).split(".")
    common = min(len(left), len(right))
    for index in range(common):
        result = _compare_parts(left[index], right[index])
        if result:
            return result
    # One string has parts left: a number makes it newer, and a word is ranked against a number.
    if len(left) > common:
        if _starts_with_digit(left[common]):
            return 1
        return version_compare(".".join(left[common:]), _NUMBER_FORM)
    if len(right) > common:
        if _starts_with_digit(right[common]):
            return -1
        return version_compare(_NUMBER_FORM, ".".join(right[common:]))
    return 0
