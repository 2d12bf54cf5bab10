"""Settings of one image analysis: secret and content search patterns, retrieved files, hints,
and the limits that protect the worker."""

from __future__ import annotations

import dataclasses
import re

from chalicelib.analysis.interface import AnalysisError


@dataclasses.dataclass(frozen=True)
class SecretPattern:
    """A named regular expression that the secret scan or the content search applies to each
    line of small files."""

    name: str
    """Name that policies refer to, such as `AWS_ACCESS_KEY`."""
    regex: str
    """Python regular expression, matched at the start of each line as `re.match` does."""

    @classmethod
    def parse(cls, text: str) -> SecretPattern:
        """Build a pattern from Anchore's `NAME=REGEX` configuration form.

        Raises `ValueError` when `text` has no `=` or an empty name.
        """
        name, sep, regex = text.partition("=")
        if not sep or not name:
            raise ValueError(f"secret pattern {text!r} is not NAME=REGEX; add a name before '='")
        return cls(name=name, regex=regex)


# NOTE: these are the `secret_search` defaults of Anchore Engine 1.x
# (`anchore_engine/conf/analyzer_config.yaml`), kept as they are so that policies and allowlists
# written for Anchore find the same names and lines.
DEFAULT_SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    SecretPattern(
        "AWS_ACCESS_KEY",
        r"(?i).*aws_access_key_id( *=+ *).*(?<![A-Z0-9])[A-Z0-9]{20}(?![A-Z0-9]).*",
    ),
    SecretPattern(
        "AWS_SECRET_KEY",
        r"(?i).*aws_secret_access_key( *=+ *).*(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}"
        r"(?![A-Za-z0-9/+=]).*",
    ),
    SecretPattern("PRIV_KEY", r"(?i)-+BEGIN(.*)PRIVATE KEY-+"),
    SecretPattern("DOCKER_AUTH", r"(?i).*\"auth\": *\".+\""),
    SecretPattern(
        "API_KEY",
        r"(?i).*api(-|_)key( *=+ *).*(?<![A-Z0-9])[A-Z0-9]{20,60}(?![A-Z0-9]).*",
    ),
)

DEFAULT_RETRIEVED_FILES = ("/etc/passwd",)
"""Anchore Engine's default `retrieve_files` `file_list`."""

MIB = 1024 * 1024
GIB = 1024 * MIB
RPM_DATABASE_SUFFIXES = ("/rpm/Packages", "/rpm/Packages.db", "/rpm/rpmdb.sqlite")
"""Ends of the paths that `max_kept_rpmdb_size` applies to."""


@dataclasses.dataclass(frozen=True)
class AnalysisOptions:
    """Limits and patterns of one analysis; the defaults suit images of any ordinary size.

    The layer limits stop decompression bombs and tar archives with absurd numbers of entries:
    a layer that exceeds one raises `AnalysisError` naming the layer and the option to raise.
    Creating options with a non-positive limit or an invalid secret regex raises `AnalysisError`.
    """

    secret_patterns: tuple[SecretPattern, ...] = DEFAULT_SECRET_PATTERNS
    secret_max_file_size: int = 10_000
    """Largest regular file, in bytes, that the secret scan reads (Anchore's `MAXFILESIZE`)."""
    content_search_patterns: tuple[SecretPattern, ...] = ()
    """Named regexes of the content search, whose matches the `files/content_regex_match`
    trigger reads. Anchore Engine has none by default, so the search is off."""
    content_search_max_file_size: int = MIB
    """Largest regular file, in bytes, that the content search reads.

    NOTE: Anchore Engine reads files of any size unless `MAXFILESIZE` is set. The limit here
    bounds the memory that one file takes while it is searched."""
    retrieved_files: tuple[str, ...] = DEFAULT_RETRIEVED_FILES
    """Absolute paths of the files whose content is stored whole in `retrieved_files`."""
    retrieved_file_max_size: int = 1000 * 1024
    """Largest file, in bytes, that is stored (Anchore's `max_file_size_kb` of 1000)."""
    enable_hints: bool = False
    """Merge the packages of `/anchore_hints.json` in the image into the found packages, as
    Anchore Engine's `enable_hints` does."""
    max_kept_file_size: int = 32 * MIB
    """Largest file, in bytes, whose content is kept in memory for a cataloger."""
    max_kept_rpmdb_size: int = 256 * MIB
    """Largest rpm package database (`rpm/Packages`, `rpm/Packages.db`, `rpm/rpmdb.sqlite`), in
    bytes, whose content is kept. A RHEL 8 package header takes tens of KB (libuuid's 77 KB),
    so the BerkeleyDB `Packages` of an image with a thousand packages can pass
    `max_kept_file_size`, and an image whose database is not kept has no rpm packages."""
    max_executable_size: int = 256 * MIB
    """Largest executable, in bytes, read whole to find Go and Rust build info and version
    strings. Only its summary is kept, so it takes memory only while it is summarized."""
    max_layer_bytes: int = 16 * GIB
    """Largest uncompressed size of one layer, in bytes."""
    max_layer_entries: int = 2_000_000
    """Largest number of tar entries in one layer, and of gzip members in its blob."""
    max_image_path_bytes: int = 256 * MIB
    """Largest total size, in bytes of UTF-8, of the paths that the layers of one image write,
    a path counted once for each layer that writes it. Memory grows with it, because each path
    is held in the layer entries, the file list and the analysis document. The 60,702 files of
    the large image of `benchmarks/analyze_vs_syft.py` (2 GiB) have 3.5 MiB of paths."""
    max_symlink_hops: int = 40
    """Symbolic links followed while resolving one path before it counts as a loop."""

    def kept_size_limit(self, path: str) -> tuple[int, str]:
        """Return the largest size, in bytes, of the file at `path` whose content is kept, and
        the name of the option that sets it."""
        if path.endswith(RPM_DATABASE_SUFFIXES):
            return self.max_kept_rpmdb_size, "max_kept_rpmdb_size"
        return self.max_kept_file_size, "max_kept_file_size"

    def __post_init__(self) -> None:
        for field in (
            "max_kept_file_size",
            "max_kept_rpmdb_size",
            "max_executable_size",
            "max_layer_bytes",
            "max_layer_entries",
            "max_image_path_bytes",
        ):
            value = getattr(self, field)
            if value <= 0:
                raise AnalysisError(f"analysis option {field}={value} must be positive")
        for field in (
            "secret_max_file_size",
            "max_symlink_hops",
            "content_search_max_file_size",
            "retrieved_file_max_size",
        ):
            value = getattr(self, field)
            if value < 0:
                raise AnalysisError(f"analysis option {field}={value} must not be negative")
        for kind, patterns in (
            ("secret", self.secret_patterns),
            ("content search", self.content_search_patterns),
        ):
            for pattern in patterns:
                try:
                    re.compile(pattern.regex.encode())
                except (re.error, UnicodeEncodeError) as error:
                    raise AnalysisError(
                        f"{kind} pattern {pattern.name} has an invalid regex {pattern.regex!r}: "
                        f"{error}; fix the pattern"
                    ) from error
        for path in self.retrieved_files:
            if not path.startswith("/"):
                raise AnalysisError(
                    f"retrieved file {path!r} is not an absolute path; start it with '/'"
                )
