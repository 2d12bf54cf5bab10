"""Python package versions and specifiers (PEP 440), through the `packaging` library.

`packaging` is the reference implementation that pip uses, so versions, normalization and
specifier sets behave exactly as they do in pip. Specifiers also accept three forms that Trivy
and other scanners accept in advisory data, although PEP 440 does not: a bare version means
`==` (`2.0`), a single `=` means `==` (`=2.0`), and clauses may be separated by spaces as well
as commas (`>= 1.0 < 2.0`).
"""

from __future__ import annotations

import functools
import logging
import re

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from chalicelib.vulns.interface import InvalidVersionError

logger = logging.getLogger(__name__)

SCHEME_NAME = "pep440"

# A comma, or whitespace followed by an operator, separates two clauses.
_CLAUSE_SEPARATOR = re.compile(r",|\s+(?=[<>=!~])")


def parse_version(text: str) -> Version:
    """Parse a PEP 440 version; raises `InvalidVersionError` when `packaging` rejects it."""
    try:
        return Version(text)
    except InvalidVersion as error:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} version {text!r}: not a PEP 440 version such as "
            "1.2.3, 1!2.0rc1 or 1.0.post2.dev3+local"
        ) from error


def is_valid(version: str) -> bool:
    """Return whether `version` is a PEP 440 version."""
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def normalize(version: str) -> str:
    """Return the normalized form of a version (`1.0-ALPHA` becomes `1.0a0`).

    Raises `InvalidVersionError` when `version` is not a PEP 440 version.
    """
    return str(parse_version(version))


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as PEP 440 version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid.
    """
    version_a, version_b = parse_version(a), parse_version(b)
    return (version_a > version_b) - (version_a < version_b)


def parse_specifier(specifier: str) -> SpecifierSet:
    """Parse a specifier set such as `>=1.0,!=1.3.*,<2.0`, with the extensions above.

    An empty specifier matches every version. Raises `InvalidVersionError` naming the specifier
    when `packaging` rejects it.
    """
    return _parse_specifier(specifier)


@functools.lru_cache(maxsize=2048)
def _parse_specifier(specifier: str) -> SpecifierSet:
    clauses = []
    for part in _CLAUSE_SEPARATOR.split(specifier):
        clause = part.strip()
        if not clause:
            continue
        if clause[0].isdigit():
            clause = "==" + clause
        elif clause.startswith("=") and not clause.startswith("=="):
            clause = "=" + clause
        clauses.append(clause)
    try:
        return SpecifierSet(",".join(clauses))
    except InvalidSpecifier as error:
        raise InvalidVersionError(
            f"invalid {SCHEME_NAME} specifier {specifier!r}: {error}"
        ) from error


def specifier_contains(
    specifier: str,
    version: str,
    prereleases: bool | None = None,
    *,
    installed: bool = False,
) -> bool:
    """Return whether `version` satisfies `specifier`, as `packaging`'s `SpecifierSet` decides.

    With `prereleases=None` (the default) a prerelease matches, as in packaging 26, because
    PEP 440 admits prereleases when no other version is there to satisfy the specifier. `False`
    excludes prereleases, unless `installed=True` marks the version as installed.
    Returns False when the specifier or the version is invalid. Call `parse_specifier` or
    `is_valid` first to tell invalid input from a version outside the specifier.
    """
    try:
        specifier_set = parse_specifier(specifier)
    except InvalidVersionError as error:
        logger.debug("pep440 specifier check is false because of invalid input: %s", error)
        return False
    return specifier_set.contains(version, prereleases=prereleases, installed=installed)


class Pep440Scheme:
    """The `pep440` scheme: PEP 440 ordering through `packaging.version.Version`."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version that is not PEP 440."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether `version` is a PEP 440 version."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
