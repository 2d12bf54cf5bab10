"""Version schemes for vulnerability matching: validity and ordering of package versions.

Each scheme validates and compares the versions of one package ecosystem. The distro schemes are
`deb` (dpkg), `apk` (apk-tools) and `rpm` (RPM-based distros). The language schemes are `pep440`
(Python), `npm` (node-semver), `gem` (RubyGems), `maven`, `gosemver` (Go modules), `nuget` and
`composer` (Packagist). `semver` is strict SemVer 2.0.0, which OSV `SEMVER` ranges of Go,
crates.io and npm use. `get_scheme` looks a scheme up by name, and `SCHEMES` lists them all.

Range helpers that only make sense in one scheme live in its module. A few are re-exported here:
`fuzzy_match` (apk's `~`), `parse_range`, `satisfies` and `outside` (npm ranges),
`parse_specifier` and `specifier_contains` (PEP 440 specifier sets), and `rpmvercmp`. The others
are used through their module: `gem.satisfies`, `maven.range_contains`, `nuget.range_contains`
and `composer.satisfies`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from chalicelib.vulns.interface import InvalidVersionError, VulnsError
from chalicelib.vulns.versions.apk import ApkScheme, fuzzy_match
from chalicelib.vulns.versions.composer import ComposerScheme
from chalicelib.vulns.versions.deb import DebScheme
from chalicelib.vulns.versions.gem import GemScheme
from chalicelib.vulns.versions.gosemver import GoSemverScheme
from chalicelib.vulns.versions.maven import MavenScheme
from chalicelib.vulns.versions.npm import NpmRange, NpmScheme, outside, parse_range, satisfies
from chalicelib.vulns.versions.nuget import NuGetScheme
from chalicelib.vulns.versions.pep440 import Pep440Scheme, parse_specifier, specifier_contains
from chalicelib.vulns.versions.rpm import RpmScheme, rpmvercmp
from chalicelib.vulns.versions.semver import SemverScheme

__all__ = [
    "SCHEMES",
    "ApkScheme",
    "ComposerScheme",
    "DebScheme",
    "GemScheme",
    "GoSemverScheme",
    "InvalidVersionError",
    "MavenScheme",
    "NpmRange",
    "NpmScheme",
    "NuGetScheme",
    "Pep440Scheme",
    "RpmScheme",
    "SemverScheme",
    "UnknownSchemeError",
    "VersionScheme",
    "fuzzy_match",
    "get_scheme",
    "outside",
    "parse_range",
    "parse_specifier",
    "rpmvercmp",
    "satisfies",
    "specifier_contains",
]


@runtime_checkable
class VersionScheme(Protocol):
    """Validity and ordering of the versions of one package ecosystem."""

    name: str
    """Stable id of the scheme, such as `deb`, `rpm` or `maven`; see `SCHEMES`."""

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1 as `a` sorts before, equal to or after `b`.

        Raises `InvalidVersionError` naming the version and the scheme when either is invalid.
        """
        ...

    def is_valid(self, version: str) -> bool:
        """Return whether `version` is a valid version in this scheme."""
        ...


class UnknownSchemeError(VulnsError, KeyError):
    """No version scheme has the requested name. The message lists the known names."""

    def __str__(self) -> str:
        # KeyError.__str__ would wrap the message in quotes.
        return str(self.args[0]) if self.args else ""


SCHEMES: tuple[VersionScheme, ...] = (
    DebScheme(),
    ApkScheme(),
    Pep440Scheme(),
    NpmScheme(),
    SemverScheme(),
    RpmScheme(),
    GemScheme(),
    MavenScheme(),
    GoSemverScheme(),
    NuGetScheme(),
    ComposerScheme(),
)
"""Every version scheme, one instance each; `npm` is strict as node-semver is by default."""

_SCHEMES_BY_NAME = {scheme.name: scheme for scheme in SCHEMES}
if len(_SCHEMES_BY_NAME) != len(SCHEMES):
    raise RuntimeError(f"two version schemes share a name in {SCHEMES!r}")


def get_scheme(name: str) -> VersionScheme:
    """Return the version scheme called `name`.

    Raises `UnknownSchemeError` (a `KeyError`) listing the known names when there is none.
    """
    try:
        return _SCHEMES_BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_SCHEMES_BY_NAME))
        raise UnknownSchemeError(f"unknown version scheme {name!r}; use one of: {known}") from None
