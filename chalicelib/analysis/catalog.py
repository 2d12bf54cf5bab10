"""The generic cataloger driver: which files to keep, which parser reads them, which layer.

A cataloger is an entry in the table of `chalicelib.analysis`: a stable id, a parse function and
the globs of the files it reads. The driver keeps those files while the layers stream by, runs
each parser on the squashed view and records the layer that introduced each package.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from pydantic_core import PydanticSerializationError

from chalicelib.analysis.interface import Distro, FileType, Package, Unknown
from chalicelib.analysis.squash import KeptVersion, SquashedView

logger = logging.getLogger(__name__)


def _no_files(directory: str) -> list[str]:
    return []


@dataclasses.dataclass(frozen=True)
class ParseContext:
    """Inputs of a parser besides the file it parses."""

    distro: Distro | None
    """Distribution of the image, for purl qualifiers; None when it is unknown."""
    read: Callable[[str], bytes | None]
    """Return the content of another file in the image by absolute path (symbolic links
    followed), or None when the file is absent or was not kept. Only files that match a
    cataloger's `patterns` or `extra_patterns` are kept."""
    list_files: Callable[[str], list[str]] = _no_files
    """Return the sorted paths of the entries below an absolute directory path, at any depth,
    directories left out."""


MAX_UNKNOWNS_PER_FILE = 100
"""Problems that `ParseResult.add_unknown` lists for one file; a junk file could list millions."""


@dataclasses.dataclass
class ParseResult:
    """Packages found in one file, and the parts of it that could not be used."""

    packages: list[Package] = dataclasses.field(default_factory=list)
    unknowns: list[Unknown] = dataclasses.field(default_factory=list)

    def add_unknown(self, location: str, reason: str) -> None:
        """Add a problem of the file at `location`, up to `MAX_UNKNOWNS_PER_FILE` of them.

        The problem after the last one listed is replaced by a note that more were dropped.
        """
        count = len(self.unknowns)
        if count < MAX_UNKNOWNS_PER_FILE:
            self.unknowns.append(Unknown(location=location, reason=reason))
        elif count == MAX_UNKNOWNS_PER_FILE:
            self.unknowns.append(
                Unknown(
                    location=location,
                    reason=f"more than {MAX_UNKNOWNS_PER_FILE} problems; the rest are not listed",
                )
            )


SUMMARY_PREFIX = b"\x00plimsoll-summary\n"
"""Start of the kept content of a summarized file; JSON of the summaries by cataloger id follows.

A parser of a cataloger with `summarize` receives this prefix and then the JSON of its own
summary in place of the file's content."""


class Parser(Protocol):
    """A parse function: `parse_<format>(location, content, context)`."""

    def __call__(self, location: str, content: bytes, context: ParseContext) -> ParseResult: ...


def glob_to_regex(pattern: str) -> str:
    """Translate an image path glob into a regular expression for `re.fullmatch`.

    `*` and `?` stay within one path component, and a `**` component matches zero or more
    directories. Patterns start with `/` or `**/`. Raises `ValueError` for other patterns.
    """
    if pattern.startswith("**/"):
        pattern = "/" + pattern
    if not pattern.startswith("/"):
        raise ValueError(f"glob {pattern!r} is not absolute; start it with '/' or '**/'")
    components = pattern[1:].split("/")
    regex = "/"
    for index, component in enumerate(components):
        last = index == len(components) - 1
        if component == "**":
            regex += ".*" if last else "(?:[^/]*/)*"
            continue
        for char in component:
            if char == "*":
                regex += "[^/]*"
            elif char == "?":
                regex += "[^/]"
            else:
                regex += re.escape(char)
        if not last:
            regex += "/"
    return regex


def compile_globs(patterns: Iterable[str]) -> re.Pattern[str] | None:
    """Compile globs into one regex that matches a path matching any of them, or None if empty."""
    regexes = [glob_to_regex(pattern) for pattern in patterns]
    if not regexes:
        return None
    return re.compile("|".join(f"(?:{regex})" for regex in regexes))


_WILDCARDS = re.compile(r"[*?]")


class GlobSet:
    """Globs compiled into one regex, behind a string test that rejects most paths cheaply.

    Each glob contributes one literal part that plain `str` methods can test. That part is the
    text after the last wildcard of its final component, a file name suffix such as `METADATA`
    of `**/*.dist-info/METADATA`. Without one it is the text before the first wildcard of that
    component (a file name prefix such as `libssl.so`), and else the text before the first
    wildcard of the whole glob (a path prefix). A path that passes no test cannot match, so the
    regex runs only on the rest: 178 of the 52,404 regular files of the large image of
    `benchmarks/analyze_vs_syft.py` for the catalogers' `patterns` and `extra_patterns`.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        """Compile `patterns`, image path globs as `glob_to_regex` takes them."""
        patterns = tuple(patterns)
        self.regex = compile_globs(patterns)
        name_suffixes: list[str] = []
        name_prefixes: list[str] = []
        path_prefixes: list[str] = []
        self._unfiltered = False
        for pattern in patterns:
            last = pattern.rsplit("/", 1)[-1]
            pieces = _WILDCARDS.split(last)
            if last != "**" and pieces[-1]:
                name_suffixes.append(pieces[-1])
            elif last != "**" and pieces[0]:
                name_prefixes.append(pieces[0])
            elif len(path_prefix := _WILDCARDS.split(pattern)[0]) > 1:
                path_prefixes.append(path_prefix)
            else:
                self._unfiltered = True
        self._name_suffixes = tuple(dict.fromkeys(name_suffixes))
        self._name_prefixes = tuple(dict.fromkeys(name_prefixes))
        self._path_prefixes = tuple(dict.fromkeys(path_prefixes))

    def match(self, path: str) -> bool:
        """Return True when `path` matches one of the globs."""
        if self.regex is None:
            return False
        if not self._unfiltered:
            name = path[path.rfind("/") + 1 :]
            if not (
                name.endswith(self._name_suffixes)
                or name.startswith(self._name_prefixes)
                or path.startswith(self._path_prefixes)
            ):
                return False
        return self.regex.fullmatch(path) is not None


@dataclasses.dataclass(frozen=True)
class Cataloger:
    """One entry of the cataloger table."""

    id: str
    """Stable kebab-case id, such as `dpkg-db-cataloger`."""
    parser: Parser
    patterns: tuple[str, ...]
    """Globs of the files the parser reads."""
    extra_patterns: tuple[str, ...] = ()
    """Globs of files kept for the parser to read through `ParseContext.read`."""
    exclude: tuple[str, ...] = ()
    """Globs of files that match `patterns` but are not package metadata."""
    tags: frozenset[str] = frozenset()
    """Selection tags: `os` or `language`, and the ecosystem."""
    summarize: Callable[[str, bytes], object] | None = None
    """Reduce a file to a JSON-serializable summary, or None when the file is not for this
    cataloger. Files with an execute bit, ELF, Mach-O and PE files, and files matching
    `summary_patterns` that no pattern keeps are summarized while the layers stream (see
    `ExecutableSummarizer`)."""
    summary_patterns: tuple[str, ...] = ()
    """Globs of files summarized even without an execute bit, such as shared libraries."""

    @functools.cached_property
    def _parse_regex(self) -> re.Pattern[str] | None:
        return compile_globs(self.patterns)

    @functools.cached_property
    def _exclude_regex(self) -> re.Pattern[str] | None:
        return compile_globs(self.exclude)

    def parses(self, path: str) -> bool:
        """Return True when the parser reads the file at `path`."""
        parse_regex = self._parse_regex
        if parse_regex is None or parse_regex.fullmatch(path) is None:
            return False
        return self._exclude_regex is None or self._exclude_regex.fullmatch(path) is None


class PathMatcher:
    """Decides, per tar entry, whether a file's content is kept; one regex for all globs."""

    def __init__(self, catalogers: Sequence[Cataloger], extra_paths: Iterable[str] = ()) -> None:
        """Keep the files that `catalogers` parse or read, and the exact `extra_paths`."""
        globs: list[str] = []
        for cataloger in catalogers:
            globs.extend(cataloger.patterns)
            globs.extend(cataloger.extra_patterns)
        self._paths = frozenset(extra_paths)
        self._globs = GlobSet(globs)

    def __call__(self, path: str) -> bool:
        """Return True when the content of the file at `path` is kept."""
        return path in self._paths or self._globs.match(path)


class ExecutableSummarizer:
    """Summarizes executables and `summary_patterns` files for the catalogers that read them.

    Used as the layer reader's `summarizer`: each file is read whole, at most `max_size` bytes,
    and only `SUMMARY_PREFIX` and the JSON of the non-empty summaries are kept. The reader
    offers ELF, Mach-O and PE files without an execute bit as executables, and passes only the
    bytes from the Go build info on for large ones (see `layers.Summarizer`).
    """

    def __init__(self, catalogers: Sequence[Cataloger], max_size: int) -> None:
        """Summarize files for the `catalogers` that have `summarize`, up to `max_size` bytes."""
        self._catalogers = [cataloger for cataloger in catalogers if cataloger.summarize]
        self._globs = GlobSet(
            pattern for cataloger in self._catalogers for pattern in cataloger.summary_patterns
        )
        self.max_size = max_size

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Return True for executables and `summary_patterns` files of at most `max_size` bytes."""
        if not self._catalogers or size > self.max_size or size < 4:
            return False
        if mode & 0o111:
            return True
        return self._globs.match(path)

    def __call__(self, path: str, content: bytes) -> bytes | None:
        """Return the kept summary of the file at `path`, or None when no cataloger wants it."""
        summaries: dict[str, object] = {}
        for cataloger in self._catalogers:
            assert cataloger.summarize is not None
            try:
                summary = cataloger.summarize(path, content)
            # A summarizer runs inside the layer reader, where an error would void the analysis.
            except Exception as error:  # noqa: BLE001
                logger.exception("cataloger=%s failed to summarize %s", cataloger.id, path)
                summary = {"error": f"{cataloger.id} failed: {error}"}
            if summary is not None:
                summaries[cataloger.id] = summary
        if not summaries:
            return None
        return SUMMARY_PREFIX + json.dumps(summaries, separators=(",", ":")).encode()


def run_catalogers(
    view: SquashedView, catalogers: Sequence[Cataloger], distro: Distro | None
) -> ParseResult:
    """Run each cataloger on the files it parses in `view` and return all packages found.

    A parser that fails on a file adds an `Unknown` for it and the others go on. Each package
    gets the digest of the layer that introduced it: the oldest layer from which every later
    version of its metadata file still lists it.
    """
    context = ParseContext(
        distro=distro, read=view.read, list_files=functools.partial(_files_below, view)
    )
    result = ParseResult()
    for path in view.kept_paths():
        summarized = (view.content(path) or b"").startswith(SUMMARY_PREFIX)
        for cataloger in catalogers:
            if summarized:
                if cataloger.summarize is None:
                    continue
            elif not cataloger.parses(path):
                continue
            found = _parse_file(cataloger, path, view.versions(path), context)
            result.packages.extend(found.packages)
            result.unknowns.extend(found.unknowns)
    result.packages.sort(key=lambda package: (package.type.value, package.name, package.location))
    return result


def _files_below(view: SquashedView, directory: str) -> list[str]:
    prefix = directory.rstrip("/") + "/"
    return sorted(
        path
        for path, entry in view.entries.items()
        if path.startswith(prefix) and entry.type is not FileType.DIR
    )


def _parse_file(
    cataloger: Cataloger, path: str, versions: list[KeptVersion], context: ParseContext
) -> ParseResult:
    newest = versions[-1]
    found = _parse_safely(cataloger, path, newest.content, context)
    if not found.packages:
        return found

    # Walk back through older versions of the file while they still list the package.
    parsed: dict[str | None, set[tuple[str, str, str | None]]] = {}
    for package in found.packages:
        key = (package.name, package.version, package.architecture)
        package.layer_digest = newest.layer
        for older in reversed(versions[:-1]):
            if older.sha256 not in parsed:
                older_result = _parse_safely(cataloger, path, older.content, context)
                parsed[older.sha256] = {
                    (item.name, item.version, item.architecture) for item in older_result.packages
                }
            if key not in parsed[older.sha256]:
                break
            package.layer_digest = older.layer
    return found


def _parse_safely(
    cataloger: Cataloger, path: str, content: bytes, context: ParseContext
) -> ParseResult:
    if content.startswith(SUMMARY_PREFIX):
        summaries = json.loads(content[len(SUMMARY_PREFIX) :])
        if cataloger.id not in summaries:
            return ParseResult()
        content = SUMMARY_PREFIX + json.dumps(summaries[cataloger.id]).encode()
    try:
        result = cataloger.parser(path, content, context)
    # A parser bug or an unforeseen input must not void the analysis of the whole image.
    except Exception as error:  # noqa: BLE001
        logger.exception("cataloger=%s failed on %s", cataloger.id, path)
        return ParseResult(
            unknowns=[Unknown(location=path, reason=f"{cataloger.id} failed: {error}")]
        )
    result.packages = [_valid_unicode(package, result) for package in result.packages]
    return result


def _valid_unicode(package: Package, result: ParseResult) -> Package:
    """Return `package` with lone surrogates replaced by `?`, noting the change in `result`.

    JSON escapes such as `\\ud800` decode to lone surrogates, which cannot be encoded as UTF-8,
    so the report could not be written as JSON and later steps could not encode the text.
    """
    try:
        package.model_dump_json()
    except PydanticSerializationError:
        pass
    else:
        return package
    fields = package.model_dump()
    for key, value in fields.items():
        if isinstance(value, str):
            fields[key] = _replace_surrogates(value)
        elif isinstance(value, list):
            fields[key] = [_replace_surrogates(item) for item in value]
    result.add_unknown(
        package.location,
        f"package {fields['name']!r} has text that is not valid Unicode; it was replaced by '?'",
    )
    return Package.model_validate(fields)


def _replace_surrogates(text: str) -> str:
    return text.encode(errors="replace").decode()
