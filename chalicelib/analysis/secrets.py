"""Secret scan: named regexes matched against each line of small files, as Anchore does.

Anchore applies `re.match(regex, line)` to every line of every regular file up to `MAXFILESIZE`
bytes. Doing that literally costs tens of microseconds per file, so each pattern gets a
prefilter, which is the longest literal that every match must contain. Only the lines that
contain the literal are matched with the regex, which gives the same lines at a fraction of the
cost.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence

from chalicelib.analysis.interface import SecretMatch
from chalicelib.analysis.options import SecretPattern

logger = logging.getLogger(__name__)

_MIN_LITERAL = 3
_QUANTIFIERS = frozenset("*?+{")
_SPECIAL = frozenset(".^$")
_BOUNDS = re.compile(r"\{\d*(?:,\d*)?\}")


def required_literal(regex: str) -> str | None:
    """Return the longest literal that every match of `regex` contains, or None.

    The scan is conservative: it reads only characters outside groups, classes and
    alternations, drops a character that a quantifier follows, and returns None whenever the
    pattern has a top-level `|` or no literal of at least three characters.
    """
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    i = 0
    while i < len(regex):
        char = regex[i]
        if char == "\\":
            escaped = regex[i + 1 : i + 2]
            i += 2
            if depth == 0 and escaped and not escaped.isalnum():
                run.append(escaped)
                continue
            runs.append("".join(run))
            run = []
            continue
        if char == "[":
            i = _skip_class(regex, i)
            runs.append("".join(run))
            run = []
            continue
        i += 1
        if char in "()":
            depth += 1 if char == "(" else -1
            runs.append("".join(run))
            run = []
        elif depth > 0:
            continue
        elif char == "|":
            return None
        elif char in _QUANTIFIERS:
            if char == "{":
                bounds = _BOUNDS.match(regex, i - 1)
                if bounds is None:
                    run.append(char)
                    continue
                i = bounds.end()
            if run:
                run.pop()
            runs.append("".join(run))
            run = []
        elif char in _SPECIAL:
            runs.append("".join(run))
            run = []
        else:
            run.append(char)
    runs.append("".join(run))
    longest = max(runs, key=len)
    return longest if len(longest) >= _MIN_LITERAL else None


def _skip_class(regex: str, start: int) -> int:
    """Return the index after the character class that opens at `start`."""
    i = start + 1
    if regex[i : i + 1] == "^":
        i += 1
    if regex[i : i + 1] == "]":
        i += 1
    while i < len(regex):
        if regex[i] == "\\":
            i += 2
            continue
        if regex[i] == "]":
            return i + 1
        i += 1
    return i


@dataclasses.dataclass(frozen=True)
class _CompiledPattern:
    pattern: SecretPattern
    line_regex: re.Pattern[bytes]
    literal: bytes | None
    """Required literal, lower-cased when the regex ignores case."""
    ignore_case: bool


class SecretScanner:
    """Applies secret patterns to file content and reports one-based line numbers.

    NOTE: the default patterns start with `.*` and backtrack, so a 10,000-byte line that repeats
    `aws_access_key_id=` costs about 0.2 s (measured on a 2-core x86-64 machine, Python 3.11).
    A layer of many such files can take minutes, and no option bounds that time yet.
    """

    def __init__(self, patterns: Sequence[SecretPattern]) -> None:
        """Compile `patterns`; `AnalysisOptions` has already checked that they compile."""
        self._patterns: list[_CompiledPattern] = []
        for pattern in patterns:
            line_regex = re.compile(pattern.regex.encode())
            literal = None
            if not line_regex.flags & re.VERBOSE:
                text = required_literal(pattern.regex)
                literal = text.encode() if text and text.isascii() else None
            ignore_case = bool(line_regex.flags & re.IGNORECASE)
            if literal is not None and ignore_case:
                literal = literal.lower()
            self._patterns.append(_CompiledPattern(pattern, line_regex, literal, ignore_case))

    def scan(self, path: str, content: bytes) -> list[SecretMatch]:
        """Return one `SecretMatch` per pattern that matches at least one line of `content`."""
        if not content or not self._patterns:
            return []
        lowered: bytes | None = None
        matches: list[SecretMatch] = []
        for compiled in self._patterns:
            if compiled.literal is None:
                lines = _match_every_line(compiled.line_regex, content)
            else:
                haystack = content
                if compiled.ignore_case:
                    if lowered is None:
                        lowered = content.lower()
                    haystack = lowered
                if compiled.literal not in haystack:
                    continue
                lines = _match_lines_with(compiled.line_regex, content, haystack, compiled.literal)
            if lines:
                matches.append(
                    SecretMatch(
                        path=path,
                        name=compiled.pattern.name,
                        regex=compiled.pattern.regex,
                        lines=lines,
                    )
                )
        return matches


def _match_every_line(line_regex: re.Pattern[bytes], content: bytes) -> list[int]:
    """Match `line_regex` at the start of each line, keeping its newline as `readlines` does."""
    lines = content.split(b"\n")
    if not lines[-1]:
        lines.pop()
    last = len(lines)
    return [
        number
        for number, line in enumerate(lines, start=1)
        if line_regex.match(line + b"\n" if number < last or content.endswith(b"\n") else line)
    ]


def _match_lines_with(
    line_regex: re.Pattern[bytes], content: bytes, haystack: bytes, literal: bytes
) -> list[int]:
    """Match `line_regex` on the lines of `content` whose copy in `haystack` has `literal`."""
    lines: list[int] = []
    line_number = 1
    counted_to = 0
    position = haystack.find(literal)
    while position != -1:
        line_start = content.rfind(b"\n", 0, position) + 1
        line_end = content.find(b"\n", position)
        line_end = len(content) if line_end == -1 else line_end + 1
        line_number += content.count(b"\n", counted_to, line_start)
        counted_to = line_start
        if line_regex.match(content[line_start:line_end]):
            lines.append(line_number)
        position = haystack.find(literal, line_end)
    return lines
