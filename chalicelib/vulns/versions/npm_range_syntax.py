"""Rewriting of npm range syntax into plain comparators, step for step as node-semver 7 does it.

node-semver turns a range into comparators by rewriting text: hyphen ranges, `^`, `~`, x-ranges
and `*` each become one or two plain comparators such as `>=1.2.0 <2.0.0-0`. Later steps see the
output of earlier ones, and node-semver's normalized ranges show the result, so this module keeps
the same steps in the same order. `npm.py` parses the comparators that come out.
"""

from __future__ import annotations

import dataclasses
import re

_NUMBER = r"0|[1-9][0-9]*"
_NUMBER_LOOSE = r"[0-9]+"
_NON_NUMERIC_ID = r"[0-9]*[a-zA-Z-][a-zA-Z0-9-]*"
_BUILD = r"[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*"
_OPERATOR = r"(?:<|>)?=?"


def _group(name: str | None, body: str) -> str:
    return f"(?P<{name}>{body})" if name is not None else f"(?:{body})"


def _prerelease_source(loose: bool) -> str:
    identifier = f"(?:{_NON_NUMERIC_ID}|{_NUMBER_LOOSE if loose else _NUMBER})"
    return rf"{identifier}(?:\.{identifier})*"


def _version_source(loose: bool, prefix: str | None) -> str:
    """Return the regex of a full version; `prefix=None` makes every group non-capturing."""

    def field(name: str, body: str) -> str:
        return _group(None if prefix is None else prefix + name, body)

    number = _NUMBER_LOOSE if loose else _NUMBER
    lead, hyphen = (r"[v=\s]*", "-?") if loose else ("v?", "-")
    return (
        rf"{lead}{field('major', number)}\.{field('minor', number)}\.{field('patch', number)}"
        rf"(?:{hyphen}{field('prerelease', _prerelease_source(loose))})?"
        rf"(?:\+{field('build', _BUILD)})?"
    )


def _xrange_source(loose: bool, prefix: str | None) -> str:
    """Return the regex of a partial version whose fields may be `x`, `X` or `*`."""

    def field(name: str, body: str) -> str:
        return _group(None if prefix is None else prefix + name, body)

    identifier = f"{_NUMBER_LOOSE if loose else _NUMBER}|x|X|\\*"
    hyphen = "-?" if loose else "-"
    return (
        rf"[v=\s]*{field('major', identifier)}"
        rf"(?:\.{field('minor', identifier)}"
        rf"(?:\.{field('patch', identifier)}"
        rf"(?:{hyphen}{field('prerelease', _prerelease_source(loose))})?"
        rf"(?:\+{field('build', _BUILD)})?"
        r")?)?"
    )


@dataclasses.dataclass(frozen=True)
class _Grammar:
    """The patterns of one parsing mode (strict or loose); each is used with `fullmatch`."""

    version: re.Pattern[str]
    comparator: re.Pattern[str]
    xrange: re.Pattern[str]
    tilde: re.Pattern[str]
    caret: re.Pattern[str]
    hyphen_range: re.Pattern[str]


def _grammar(loose: bool) -> _Grammar:
    xrange = _xrange_source(loose, "")
    return _Grammar(
        version=re.compile(_version_source(loose, "")),
        comparator=re.compile(
            rf"(?P<operator>{_OPERATOR})\s*(?P<version>{_version_source(loose, None)})"
        ),
        xrange=re.compile(rf"(?P<operator>{_OPERATOR})\s*{xrange}"),
        tilde=re.compile(rf"~>?{xrange}"),
        caret=re.compile(rf"\^{xrange}"),
        hyphen_range=re.compile(
            rf"\s*(?P<from>{_xrange_source(loose, 'from_')})\s+-\s+"
            rf"(?P<to>{_xrange_source(loose, 'to_')})\s*"
        ),
    )


GRAMMARS = {False: _grammar(False), True: _grammar(True)}
"""The patterns of strict mode (`False`) and loose mode (`True`)."""

# The rewrites below run over a whole comparator set, before it is split into comparators.
_BUILD_METADATA = re.compile(rf"\+{_BUILD}")
_OPERATOR_SPACE = re.compile(
    rf"(\s*)({_OPERATOR})\s*({_version_source(True, None)}|{_xrange_source(False, None)})"
)
_TILDE_SPACE = re.compile(r"(\s*)~>?\s+")
_CARET_SPACE = re.compile(r"(\s*)\^\s+")
_STAR = re.compile(r"(<|>)?=?\s*\*")
_AT_LEAST_ZERO = re.compile(r"\s*>=\s*0\.0\.0\s*")
_AT_LEAST_ZERO_PRERELEASE = re.compile(r"\s*>=\s*0\.0\.0-0\s*")
_WHITESPACE = re.compile(r"\s+")

NULL_SET_TEXT = "<0.0.0-0"
"""The comparator that no version satisfies; `<` or `>` before an x major version (`<*`, `>x`)
becomes it."""


def expand_comparator_set(text: str, loose: bool, include_prerelease: bool) -> list[str]:
    """Rewrite one `||` alternative of a range into plain comparator texts.

    The steps and their order follow node-semver, because each one sees the output of the one
    before: build metadata is removed, a hyphen range becomes two comparators, spaces after
    operators, `~` and `^` are removed, and then each token is expanded on its own. An empty
    text stands for any version. In loose mode, texts that are not comparators are dropped;
    in strict mode they are returned for the parser to reject.
    """
    grammar = GRAMMARS[loose]
    text = _BUILD_METADATA.sub("", text)
    hyphen_range = grammar.hyphen_range.fullmatch(text)
    if hyphen_range is not None:
        text = _expand_hyphen_range(hyphen_range, include_prerelease)
    text = _OPERATOR_SPACE.sub(r"\1\2\3", text)
    text = _TILDE_SPACE.sub(r"\1~", text)
    text = _CARET_SPACE.sub(r"\1^", text)

    expanded = " ".join(
        _expand_token(token, grammar, include_prerelease) for token in text.split(" ")
    )
    zero = _AT_LEAST_ZERO_PRERELEASE if include_prerelease else _AT_LEAST_ZERO
    # `>=0.0.0` admits every version, like `*`, so it becomes the empty comparator.
    tokens = [
        "" if zero.fullmatch(token) else token.strip() for token in _WHITESPACE.split(expanded)
    ]
    if loose:
        tokens = [token for token in tokens if not token or grammar.comparator.fullmatch(token)]
    return tokens


def _is_x(identifier: str | None) -> bool:
    return not identifier or identifier in ("x", "X", "*")


def _expand_token(token: str, grammar: _Grammar, include_prerelease: bool) -> str:
    """Expand one token into plain comparators, in node-semver's order: `^`, `~`, x-range, `*`."""
    text = " ".join(
        _expand_caret(part, grammar, include_prerelease)
        for part in _WHITESPACE.split(token.strip())
    )
    text = " ".join(
        _expand_tilde(part, grammar, include_prerelease) for part in _WHITESPACE.split(text.strip())
    )
    text = " ".join(
        _expand_xrange(part, grammar, include_prerelease) for part in _WHITESPACE.split(text)
    )
    # A `*` left over (with or without an operator) means any version. node-semver removes only
    # the first one, so `**` stays invalid.
    return _STAR.sub("", text.strip(), count=1)


def _expand_caret(token: str, grammar: _Grammar, include_prerelease: bool) -> str:
    """Expand `^M.m.p`: allow changes that keep the left-most non-zero field."""
    match = grammar.caret.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, prerelease = match.group("major", "minor", "patch", "prerelease")
    low_prerelease = "-0" if include_prerelease else ""
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0{low_prerelease} <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        if major == "0":
            return f">={major}.{minor}.0{low_prerelease} <{major}.{int(minor) + 1}.0-0"
        return f">={major}.{minor}.0{low_prerelease} <{int(major) + 1}.0.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{prerelease}" if prerelease else "")
    # NOTE: node-semver tests the major and minor texts against "0", so in loose mode a
    # zero written as "00" counts as non-zero.
    if major == "0" and minor == "0":
        return f"{low} <{major}.{minor}.{int(patch) + 1}-0"
    if major == "0":
        return f"{low} <{major}.{int(minor) + 1}.0-0"
    return f"{low} <{int(major) + 1}.0.0-0"


def _expand_tilde(token: str, grammar: _Grammar, include_prerelease: bool) -> str:
    """Expand `~M.m.p`: allow patch-level changes, or minor-level ones when only M is given."""
    match = grammar.tilde.fullmatch(token)
    if match is None:
        return token
    major, minor, patch, prerelease = match.group("major", "minor", "patch", "prerelease")
    low_prerelease = "-0" if include_prerelease else ""
    if _is_x(major):
        return ""
    if _is_x(minor):
        return f">={major}.0.0{low_prerelease} <{int(major) + 1}.0.0-0"
    if _is_x(patch):
        return f">={major}.{minor}.0{low_prerelease} <{major}.{int(minor) + 1}.0-0"
    low = f">={major}.{minor}.{patch}" + (f"-{prerelease}" if prerelease else "")
    return f"{low} <{major}.{int(minor) + 1}.0-0"


def _expand_xrange(token: str, grammar: _Grammar, include_prerelease: bool) -> str:
    """Expand an x-range such as `1.x`, `>=1.2` or `<*` into plain comparators."""
    token = token.strip()
    match = grammar.xrange.fullmatch(token)
    if match is None:
        return token
    operator, major, minor, patch = match.group("operator", "major", "minor", "patch")
    # An x before a number (`1.x.5`, `x.1`) is not an x-range; the token is left to fail later.
    if (_is_x(major) and not _is_x(minor)) or (_is_x(minor) and patch and not _is_x(patch)):
        return token

    x_major = _is_x(major)
    x_minor = x_major or _is_x(minor)
    x_patch = x_minor or _is_x(patch)
    if operator == "=" and x_patch:
        operator = ""
    low_prerelease = "-0" if include_prerelease else ""

    if x_major:
        return NULL_SET_TEXT if operator in ("<", ">") else "*"
    if operator and x_patch:
        return _expand_partial_comparator(operator, major, minor, x_minor, low_prerelease)
    if x_minor:
        return f">={major}.0.0{low_prerelease} <{int(major) + 1}.0.0-0"
    if x_patch:
        return f">={major}.{minor}.0{low_prerelease} <{major}.{int(minor) + 1}.0-0"
    return token


def _expand_partial_comparator(
    operator: str, major: str, minor: str | None, x_minor: bool, low_prerelease: str
) -> str:
    """Turn an operator on a partial version (`>1`, `<=1.2`) into one comparator on M.m.p.

    Fields that are not incremented keep their text, as in node-semver. This matters in loose
    mode, where `>=00` stays `>=00.0.0` and is not dropped as `>=0.0.0` would be.
    """
    minor_text = "0" if x_minor or minor is None else minor
    if operator == ">":
        # `>1` means `>=2.0.0`, and `>1.2` means `>=1.3.0`.
        operator = ">="
        if x_minor:
            major, minor_text = str(int(major) + 1), "0"
        else:
            minor_text = str(int(minor_text) + 1)
    elif operator == "<=":
        # `<=1.2` admits every 1.2.x, so it means `<1.3.0-0`.
        operator = "<"
        if x_minor:
            major = str(int(major) + 1)
        else:
            minor_text = str(int(minor_text) + 1)
    prerelease = "-0" if operator == "<" else low_prerelease
    return f"{operator}{major}.{minor_text}.0{prerelease}"


def _expand_hyphen_range(match: re.Match[str], include_prerelease: bool) -> str:
    """Expand `A - B` into `>=A <=B`, widening partial versions the way x-ranges do."""
    low_prerelease = "-0" if include_prerelease else ""
    from_major, from_minor, from_patch = match.group("from_major", "from_minor", "from_patch")
    if _is_x(from_major):
        low = ""
    elif _is_x(from_minor):
        low = f">={from_major}.0.0{low_prerelease}"
    elif _is_x(from_patch):
        low = f">={from_major}.{from_minor}.0{low_prerelease}"
    elif match["from_prerelease"]:
        low = f">={match['from']}"
    else:
        low = f">={match['from']}{low_prerelease}"

    to_major, to_minor, to_patch = match.group("to_major", "to_minor", "to_patch")
    to_prerelease = match["to_prerelease"]
    if _is_x(to_major):
        high = ""
    elif _is_x(to_minor):
        high = f"<{int(to_major) + 1}.0.0-0"
    elif _is_x(to_patch):
        high = f"<{to_major}.{int(to_minor) + 1}.0-0"
    elif to_prerelease:
        high = f"<={to_major}.{to_minor}.{to_patch}-{to_prerelease}"
    elif include_prerelease:
        high = f"<{to_major}.{to_minor}.{int(to_patch) + 1}-0"
    else:
        high = f"<={match['to']}"
    return f"{low} {high}".strip()
