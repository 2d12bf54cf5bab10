"""Secret scan: named regexes matched against each line of small files, as Anchore does.

Anchore applies `re.match(regex, line)` to every line of every regular file up to `MAXFILESIZE`
bytes. Doing that literally costs tens of microseconds per file, so each pattern gets a
prefilter: the literals that every match must contain. Patterns whose literals share a
substring are grouped under it, so that one `in` test rejects the whole group. With Anchore's
default patterns most files cost a `bytes.lower` and two such tests. Only the lines that
contain a pattern's longest literal are matched with the regex, which gives the same lines as
matching every line.
"""

from __future__ import annotations

import collections
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
    """Return the longest literal that every match of `regex` contains, or None."""
    literals = required_literals(regex)
    return max(literals, key=len) if literals else None


def required_literals(regex: str) -> list[str]:
    """Return literals of at least three characters that every match of `regex` contains.

    The scan is conservative: it reads only characters outside groups, classes and
    alternations, and drops a character that a quantifier follows. It returns an empty list
    whenever the pattern has a top-level `|`.
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
            return []
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
    return [literal for literal in runs if len(literal) >= _MIN_LITERAL]


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
    index: int
    """Position in the scanner's pattern list, which orders the matches."""
    pattern: SecretPattern
    line_regex: re.Pattern[bytes]
    literals: tuple[bytes, ...]
    """Required literals, longest first, lower-cased when the regex ignores case."""
    ignore_case: bool


@dataclasses.dataclass(frozen=True)
class _Gate:
    """Patterns that each have a required literal containing `substring`."""

    substring: bytes
    ignore_case: bool
    """Whether `substring` and the members' literals are searched in the lower-cased content."""
    members: tuple[_CompiledPattern, ...]


class SecretScanner:
    """Applies secret patterns to file content and reports one-based line numbers.

    NOTE: the default patterns start with `.*` and backtrack, so a 10,000-byte line that repeats
    `aws_access_key_id=` costs about 0.2 s (measured on a 2-core x86-64 machine, Python 3.11).
    A layer of many such files can take minutes, and no option bounds that time yet.
    """

    def __init__(self, patterns: Sequence[SecretPattern]) -> None:
        """Compile `patterns`; `AnalysisOptions` has already checked that they compile."""
        self._unfiltered: list[_CompiledPattern] = []
        filtered: list[_CompiledPattern] = []
        for index, pattern in enumerate(patterns):
            line_regex = re.compile(pattern.regex.encode())
            ignore_case = bool(line_regex.flags & re.IGNORECASE)
            literals: list[bytes] = []
            if not line_regex.flags & re.VERBOSE:
                texts = required_literals(pattern.regex)
                literals = [text.encode() for text in texts if text.isascii()]
            if ignore_case:
                literals = [literal.lower() for literal in literals]
            literals.sort(key=len, reverse=True)
            compiled = _CompiledPattern(index, pattern, line_regex, tuple(literals), ignore_case)
            (filtered if literals else self._unfiltered).append(compiled)
        self._count = len(patterns)
        self._gates = _group_by_substring(
            [compiled for compiled in filtered if compiled.ignore_case], ignore_case=True
        ) + _group_by_substring(
            [compiled for compiled in filtered if not compiled.ignore_case], ignore_case=False
        )

    def scan(self, path: str, content: bytes) -> list[SecretMatch]:
        """Return one `SecretMatch` per pattern that matches at least one line of `content`."""
        if not content or not self._count:
            return []
        lowered: bytes | None = None
        found: list[tuple[_CompiledPattern, list[int]]] = []
        for gate in self._gates:
            haystack = content
            if gate.ignore_case:
                if lowered is None:
                    lowered = content.lower()
                haystack = lowered
            if gate.substring not in haystack:
                continue
            for compiled in gate.members:
                if all(literal in haystack for literal in compiled.literals):
                    lines = _match_lines_with(
                        compiled.line_regex, content, haystack, compiled.literals[0]
                    )
                    if lines:
                        found.append((compiled, lines))
        for compiled in self._unfiltered:
            lines = _match_every_line(compiled.line_regex, content)
            if lines:
                found.append((compiled, lines))
        if len(found) > 1:
            found.sort(key=lambda item: item[0].index)
        return [
            SecretMatch(
                path=path, name=compiled.pattern.name, regex=compiled.pattern.regex, lines=lines
            )
            for compiled, lines in found
        ]


def _group_by_substring(patterns: list[_CompiledPattern], *, ignore_case: bool) -> list[_Gate]:
    """Group `patterns` under shared substrings of their literals, largest groups first.

    Each round picks, among the three-character substrings and the whole literals of the
    remaining patterns, the one that the most of them contain, and the longest on a tie. A
    longer shared substring never covers more patterns than its first three characters, so
    no other candidates are needed.
    """
    gates: list[_Gate] = []
    remaining = list(patterns)
    while remaining:
        coverage: collections.Counter[bytes] = collections.Counter()
        for compiled in remaining:
            coverage.update(
                {
                    literal[start : start + _MIN_LITERAL]
                    for literal in compiled.literals
                    for start in range(len(literal) - _MIN_LITERAL + 1)
                }
            )
        for compiled in remaining:
            for literal in compiled.literals:
                coverage[literal] = sum(_contains(other, literal) for other in remaining)
        best = max(coverage, key=lambda substring: (coverage[substring], len(substring), substring))
        members = tuple(compiled for compiled in remaining if _contains(compiled, best))
        gates.append(_Gate(best, ignore_case, members))
        remaining = [compiled for compiled in remaining if compiled not in members]
    return gates


def _contains(compiled: _CompiledPattern, substring: bytes) -> bool:
    return any(substring in literal for literal in compiled.literals)


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
