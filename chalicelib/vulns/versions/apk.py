"""Alpine package versions, validated and ordered as apk-tools 3 does in `src/version.c`.

A version reads `number{.number}[letter]{_suffix[number]}[~hash][-rN]`, for example
`1.2.3b_rc2_p1~1a2b-r4`:

- the numbers compare numerically, except that two numbers after a `.` compare as text when
  either starts with `0`, so `1.02` < `1.1` and `8.2.0015` < `8.2.002`;
- the optional letter (`a` to `z`) compares by character;
- suffixes rank `_alpha` < `_beta` < `_pre` < `_rc` < no suffix < `_cvs` < `_svn` < `_git` < `_hg`
  < `_p`, and each may carry a number;
- `~hash` is a commit hash in lower-case hex, compared as text;
- `-rN` is the package revision, compared numerically.

When one version runs out of parts first, the next part of the longer one decides: a suffix that
marks a prerelease (`_alpha` to `_rc`) makes it lower, and anything else makes it higher, so
`1.0_rc1` < `1.0` < `1.0.1` and `1.0` < `1.0-r1`.
"""

from __future__ import annotations

import dataclasses
import enum
import re

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "apk"


class _Kind(enum.IntEnum):
    """Token kinds in the order they may appear in a version.

    When two versions are equal up to tokens of different kinds, this order decides.
    """

    FIRST_NUMBER = 0
    NUMBER = 1
    LETTER = 2
    SUFFIX = 3
    SUFFIX_NUMBER = 4
    COMMIT_HASH = 5
    REVISION = 6
    END = 7
    INVALID = 8


_NO_SUFFIX_RANK = 4
_SUFFIX_RANKS = {
    "alpha": 0,
    "beta": 1,
    "pre": 2,
    "rc": 3,
    # A version without a suffix ranks 4, between the prerelease and the post-release suffixes.
    "cvs": 5,
    "svn": 6,
    "git": 7,
    "hg": 8,
    "p": 9,
}

_DIGITS = re.compile(r"[0-9]*")
_SUFFIX_NAME = re.compile(r"[a-z]*")
_HEX_DIGITS = re.compile(r"[0-9a-f]*")


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: _Kind
    text: str = ""
    rank: int = 0
    """Rank of a `SUFFIX` token in `_SUFFIX_RANKS`, and 0 for other kinds."""


def _tokenize(version: str) -> list[_Token]:
    """Split `version` into tokens, ending with `END`, or with `INVALID` where parsing stopped."""
    digits = _DIGITS.match(version)
    assert digits is not None  # `[0-9]*` matches every text.
    if not digits.group():
        return [_Token(_Kind.INVALID)]
    tokens = [_Token(_Kind.FIRST_NUMBER, digits.group())]
    position = digits.end()
    while True:
        token, position = _next_token(version, position, tokens[-1].kind)
        tokens.append(token)
        if token.kind >= _Kind.END:
            return tokens


def _next_token(version: str, position: int, previous: _Kind) -> tuple[_Token, int]:
    """Read the token at `position`, checking that it may follow a token of kind `previous`."""
    invalid = (_Token(_Kind.INVALID), position)
    if position == len(version):
        return _Token(_Kind.END), position
    character = version[position]

    if "a" <= character <= "z":
        if previous > _Kind.NUMBER:
            return invalid
        return _Token(_Kind.LETTER, character), position + 1

    if character == "." or "0" <= character <= "9":
        if character == ".":
            if previous > _Kind.NUMBER:
                return invalid
            position += 1
        if previous in (_Kind.FIRST_NUMBER, _Kind.NUMBER):
            kind = _Kind.NUMBER
        elif previous == _Kind.SUFFIX:
            kind = _Kind.SUFFIX_NUMBER
        else:
            return invalid
        return _read(kind, _DIGITS, version, position)

    if character == "_":
        if previous > _Kind.SUFFIX_NUMBER:
            return invalid
        name, end = _read(_Kind.SUFFIX, _SUFFIX_NAME, version, position + 1)
        if name.text not in _SUFFIX_RANKS:
            return invalid
        return dataclasses.replace(name, rank=_SUFFIX_RANKS[name.text]), end

    if character == "~":
        if previous >= _Kind.COMMIT_HASH:
            return invalid
        return _read(_Kind.COMMIT_HASH, _HEX_DIGITS, version, position + 1)

    if character == "-":
        if previous >= _Kind.REVISION or not version.startswith("-r", position):
            return invalid
        return _read(_Kind.REVISION, _DIGITS, version, position + 2)

    return invalid


def _read(kind: _Kind, pattern: re.Pattern[str], version: str, position: int) -> tuple[_Token, int]:
    """Read a non-empty run of `pattern` at `position` as a token of `kind`."""
    match = pattern.match(version, position)
    assert match is not None  # Every pattern here matches the empty text.
    if not match.group():
        return _Token(_Kind.INVALID), position
    return _Token(kind, match.group()), match.end()


def _compare_tokens(a: _Token, b: _Token) -> int:
    """Compare two tokens of the same kind."""
    if a.kind == _Kind.SUFFIX:
        return (a.rank > b.rank) - (a.rank < b.rank)
    numeric = a.kind in (_Kind.FIRST_NUMBER, _Kind.SUFFIX_NUMBER, _Kind.REVISION) or (
        # apk-tools compares a number with a leading zero as text, like Gentoo's version rules.
        a.kind == _Kind.NUMBER and not a.text.startswith("0") and not b.text.startswith("0")
    )
    if numeric:
        a_number, b_number = int(a.text), int(b.text)
        return (a_number > b_number) - (a_number < b_number)
    return (a.text > b.text) - (a.text < b.text)


def _compare_tokenized(a: list[_Token], b: list[_Token], fuzzy: bool) -> int:
    index = 0
    while a[index].kind == b[index].kind and a[index].kind < _Kind.END:
        result = _compare_tokens(a[index], b[index])
        if result:
            return result
        index += 1
    a_token, b_token = a[index], b[index]

    if a_token.kind == b_token.kind:
        return 0
    if fuzzy and b_token.kind == _Kind.END:
        return 0
    # The versions are equal up to here, and one has more tokens. A prerelease suffix makes
    # the longer one lower, and any other token makes it higher.
    if a_token.kind == _Kind.SUFFIX and a_token.rank < _NO_SUFFIX_RANK:
        return -1
    if b_token.kind == _Kind.SUFFIX and b_token.rank < _NO_SUFFIX_RANK:
        return 1
    return -1 if a_token.kind > b_token.kind else 1


def _invalid(version: str) -> InvalidVersionError:
    return InvalidVersionError(
        f"invalid {SCHEME_NAME} version {version!r}: expected a form such as "
        "1.2.3b_rc1_p2~1a2b-r4 (numbers, one lower-case letter, suffixes _alpha _beta _pre _rc "
        "_cvs _svn _git _hg _p, a hex commit hash and a -rN revision)"
    )


def _tokenize_valid(version: str) -> list[_Token]:
    tokens = _tokenize(version)
    if tokens[-1].kind != _Kind.END:
        raise _invalid(version)
    return tokens


def is_valid(version: str) -> bool:
    """Return whether apk-tools accepts `version`."""
    return _tokenize(version)[-1].kind == _Kind.END


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as Alpine version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    return _compare_tokenized(_tokenize_valid(a), _tokenize_valid(b), fuzzy=False)


def fuzzy_match(version: str, pattern: str) -> bool:
    """Return whether `version` matches `pattern` under apk's `~` operator.

    `~` matches when the version starts with the pattern's tokens: `3.6.9` and `3.6_pre1` match
    `3.6`, but `3.8.0` does not match `3.8.1`. As in apk-tools, the version is only read as far
    as the pattern goes, so text after that prefix is not validated. Raises
    `InvalidVersionError` when the pattern is invalid, or the version is invalid within it.
    """
    pattern_tokens = _tokenize_valid(pattern)
    version_tokens = _tokenize(version)
    # Give the version at least as many tokens as the pattern, so the comparison can index both.
    version_tokens += [version_tokens[-1]] * (len(pattern_tokens) - len(version_tokens))
    stop = next(
        index
        for index, (a, b) in enumerate(zip(version_tokens, pattern_tokens, strict=False))
        if a.kind != b.kind or a.kind >= _Kind.END
    )
    if version_tokens[stop].kind == _Kind.INVALID and pattern_tokens[stop].kind != _Kind.END:
        raise _invalid(version)
    return _compare_tokenized(version_tokens, pattern_tokens, fuzzy=True) == 0


class ApkScheme:
    """The `apk` scheme: apk-tools' validity rules and ordering."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version apk-tools rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether apk-tools accepts `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
