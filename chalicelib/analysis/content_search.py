"""Content search: named regexes matched against each line of files, beside the secret scan.

Anchore Engine runs its secret scan and its content search in one analyzer, each with its own
named regexes (`NAME=REGEX`) and file size limit. It stores their matches apart, because the
`secret_scans` gate reads the first and the `files/content_regex_match` trigger the second. Here
both run in the one pass over each layer, through a `SearchScanner` that applies the union of
the patterns. `SearchScanner.split` then divides the matches again by pattern and file size.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable

from chalicelib.analysis.interface import SecretMatch
from chalicelib.analysis.options import AnalysisOptions, SecretPattern
from chalicelib.analysis.secrets import SecretScanner

logger = logging.getLogger(__name__)


class SearchScanner(SecretScanner):
    """Applies the secret patterns and the content search patterns of one analysis.

    A file is matched against the secret patterns when it has at most `secret_max_file_size`
    bytes and against the content search patterns when it has at most
    `content_search_max_file_size` bytes. A pattern with the same name and regex in both lists
    is applied once.
    """

    def __init__(self, options: AnalysisOptions) -> None:
        """Compile the patterns of `options`, which `AnalysisOptions` has checked."""
        self._secret_keys = {_key(pattern) for pattern in options.secret_patterns}
        self._content_keys = {_key(pattern) for pattern in options.content_search_patterns}
        self._secret_max = options.secret_max_file_size
        self._content_max = (
            options.content_search_max_file_size if options.content_search_patterns else -1
        )
        super().__init__(_unique([*options.secret_patterns, *options.content_search_patterns]))

    @property
    def max_file_size(self) -> int:
        """Largest file, in bytes, that any pattern is applied to."""
        return max(self._secret_max, self._content_max)

    def layer_options(self, options: AnalysisOptions) -> AnalysisOptions:
        """Return `options` for the layer reader, which scans files up to `max_file_size`.

        The reader passes every file of at most `secret_max_file_size` bytes to its scanner, so
        that option carries the larger of the two limits.
        """
        if self.max_file_size == options.secret_max_file_size:
            return options
        return dataclasses.replace(options, secret_max_file_size=self.max_file_size)

    def scan(self, path: str, content: bytes) -> list[SecretMatch]:
        """Return the matches of the patterns whose size limit admits `content`."""
        size = len(content)
        if size > self.max_file_size:
            return []
        matches = super().scan(path, content)
        if size <= self._secret_max and size <= self._content_max:
            return matches
        return [match for match in matches if self._admits(_key(match), size)]

    def _admits(self, key: tuple[str, str], size: int) -> bool:
        secret = key in self._secret_keys and size <= self._secret_max
        return secret or (key in self._content_keys and size <= self._content_max)

    def split(
        self, matches: Iterable[SecretMatch], size_of: Callable[[str], int | None]
    ) -> tuple[list[SecretMatch], list[SecretMatch]]:
        """Divide `matches` into secret scan matches and content search matches.

        `size_of(path)` returns the size of the file at a match's path, symbolic links followed,
        or None when it is unknown. A match of a pattern in both lists goes to each list whose
        size limit admits the file.
        """
        secrets: list[SecretMatch] = []
        content_matches: list[SecretMatch] = []
        for match in matches:
            key = _key(match)
            size = size_of(match.path)
            if key in self._secret_keys and (size is None or size <= self._secret_max):
                secrets.append(match)
            if key in self._content_keys and (size is None or size <= self._content_max):
                content_matches.append(match)
        return secrets, content_matches


def _key(pattern: SecretPattern | SecretMatch) -> tuple[str, str]:
    return pattern.name, pattern.regex


def _unique(patterns: list[SecretPattern]) -> list[SecretPattern]:
    """Return `patterns` without repeated (name, regex) pairs, in their first order."""
    seen: dict[tuple[str, str], SecretPattern] = {}
    for pattern in patterns:
        seen.setdefault(_key(pattern), pattern)
    return list(seen.values())
