"""Vulnerability namespaces: where records apply, how package names and versions read in each.

A namespace is either a distro release (`debian:12`, `alpine:3.18`, `ubuntu:22.04`, `rhel:9`) or a
language ecosystem in lower case (`pypi`, `npm`, `go`, `crates.io`, ...).
"""

from __future__ import annotations

import logging
import re

from chalicelib.analysis.interface import Distro

logger = logging.getLogger(__name__)

LANGUAGE_ECOSYSTEMS: dict[str, str] = {
    "pypi": "pypi",
    "npm": "npm",
    "go": "go",
    "crates.io": "crates.io",
    "maven": "maven",
    "rubygems": "rubygems",
    "nuget": "nuget",
    "packagist": "packagist",
    "hex": "hex",
    "pub": "pub",
}
"""OSV ecosystem names (compared in lower case) and the namespace each maps to."""

RHEL_COMPATIBLE_DISTROS = frozenset({"rhel", "centos", "rocky", "almalinux", "fedora"})
"""Distro ids whose packages are matched against `rhel:<major>` records."""

RPM_DISTRO_FAMILIES = frozenset(
    {
        "rhel",
        "centos",
        "rocky",
        "almalinux",
        "fedora",
        "ol",
        "amzn",
        "sles",
        "opensuse",
        "opensuse-leap",
        "opensuse-tumbleweed",
        "mariner",
        "azurelinux",
    }
)
"""Namespace families (the part before `:`) of distros whose packages carry RPM versions."""

_PEP503_SEPARATORS = re.compile(r"[-_.]+")
_RELEASE_NUMBER = re.compile(r"^\d+\.\d+$")
_SLES_RELEASE = re.compile(r"^Linux Enterprise Server (?P<major>\d+)(?: SP(?P<sp>\d+))?$")
_LEAP_RELEASE = re.compile(r"^Leap (?P<version>\d+\.\d+)$")


def normalize_package_name(namespace: str, name: str) -> str:
    """Return `name` in the form records of `namespace` are stored and looked up under.

    PyPI names follow PEP 503: lower case, with each run of `-`, `_` and `.` turned into one `-`.
    NuGet and Packagist names are case-insensitive, so they are lower-cased. Names in every other
    namespace, distro packages included, are case-sensitive and kept as written.
    """
    if namespace == "pypi":
        return _PEP503_SEPARATORS.sub("-", name).lower()
    if namespace in ("nuget", "packagist"):
        return name.lower()
    return name


def osv_namespace(ecosystem: str) -> str | None:
    """Map an OSV `affected[].package.ecosystem` to a namespace, or None when it is unsupported.

    Language ecosystems map to their lower-case name (`PyPI` -> `pypi`). Distro ecosystems keep
    the release: `Debian:11` -> `debian:11`, `Alpine:v3.18` -> `alpine:3.18`, and
    `Ubuntu:22.04:LTS` or `Ubuntu:Pro:18.04:LTS` -> `ubuntu:22.04` or `ubuntu:18.04`.
    """
    name, _, release = ecosystem.partition(":")
    lowered = name.strip().lower()
    if not release:
        return LANGUAGE_ECOSYSTEMS.get(lowered)

    parts = [part.strip() for part in release.split(":")]
    if lowered == "debian" and parts[0].isdigit():
        return f"debian:{parts[0]}"
    if lowered == "alpine":
        version = parts[0].removeprefix("v")
        if _RELEASE_NUMBER.match(version):
            return f"alpine:{version}"
        return None
    if lowered == "ubuntu":
        # NOTE: `Pro` releases (ESM fixes) share the namespace of the release they extend,
        # because an image of that release is affected until it gets the Pro fix.
        for part in parts:
            if _RELEASE_NUMBER.match(part):
                return f"ubuntu:{part}"
        return None
    return _rpm_namespace(lowered, parts)


def _rpm_namespace(distro: str, parts: list[str]) -> str | None:
    """Map the OSV ecosystems of RPM-based distros to a namespace, or None.

    `Red Hat:enterprise_linux:9::appstream` -> `rhel:9` (extended-support streams such as
    `rhel_eus` are skipped), `Rocky Linux:9` -> `rocky:9`, `AlmaLinux:9` -> `almalinux:9`,
    `SUSE:Linux Enterprise Server 15 SP5` -> `sles:15.5`, `openSUSE:Leap 15.5` ->
    `opensuse-leap:15.5` and `openSUSE:Tumbleweed` -> `opensuse-tumbleweed`.
    """
    if distro == "red hat":
        if len(parts) > 1 and parts[0] == "enterprise_linux" and parts[1].isdigit():
            return f"rhel:{parts[1]}"
        return None
    if distro in ("rocky linux", "almalinux"):
        major = parts[0].split(".")[0]
        return f"{distro.replace(' linux', '')}:{major}" if major.isdigit() else None
    if distro == "suse":
        match = _SLES_RELEASE.match(parts[0])
        if match is None:
            return None
        service_pack = f".{match['sp']}" if match["sp"] else ""
        return f"sles:{match['major']}{service_pack}"
    if distro == "opensuse":
        if parts[0].lower() == "tumbleweed":
            return "opensuse-tumbleweed"
        match = _LEAP_RELEASE.match(parts[0])
        return f"opensuse-leap:{match['version']}" if match else None
    return None


def vuln_namespace(distro: Distro | None) -> str | None:
    """Return the distro namespace whose records apply to an image of `distro`, or None.

    Debian and RHEL-compatible distros use the major version (`debian:12`, `rhel:9` for CentOS,
    Rocky Linux, AlmaLinux and Fedora too), Alpine and Ubuntu use major.minor (`alpine:3.18`,
    `ubuntu:22.04`). An Alpine pre-release such as `3.22.0_alpha20250108` is an edge image and
    maps to `alpine:edge`. SLES uses major.service-pack (`sles:15.5`), openSUSE Leap uses
    major.minor (`opensuse-leap:15.5`), and openSUSE Tumbleweed, a rolling release, is
    `opensuse-tumbleweed`. Other distros, and images without a version, have no namespace.
    """
    if distro is None or not distro.version_id:
        return None
    distro_id = distro.id.lower()
    version = distro.version_id.strip()
    numbers = re.findall(r"\d+", version)
    if not numbers:
        return None

    if distro_id == "debian":
        return f"debian:{numbers[0]}"
    if distro_id in RHEL_COMPATIBLE_DISTROS:
        # NOTE: Rocky Linux and AlmaLinux images use only `rhel:<major>`, so the records that the
        # OSV importer stores under `rocky:<major>` and `almalinux:<major>` never match.
        return f"rhel:{numbers[0]}"
    if distro_id == "alpine":
        if "_alpha" in version or "_beta" in version:
            return "alpine:edge"
        if len(numbers) < 2:
            return None
        return f"alpine:{numbers[0]}.{numbers[1]}"
    if distro_id == "ubuntu":
        if len(numbers) < 2:
            return None
        return f"ubuntu:{numbers[0]}.{numbers[1]}"
    if distro_id == "sles":
        # SLES 15 SP5 has VERSION_ID 15.5, and the first release of 15 has VERSION_ID 15.
        service_pack = f".{numbers[1]}" if len(numbers) > 1 else ""
        return f"sles:{numbers[0]}{service_pack}"
    if distro_id == "opensuse-leap" and len(numbers) > 1:
        return f"opensuse-leap:{numbers[0]}.{numbers[1]}"
    if distro_id == "opensuse-tumbleweed":
        return "opensuse-tumbleweed"
    return None


def version_scheme_name(namespace: str, range_type: str = "ECOSYSTEM") -> str | None:
    """Return the version scheme that orders versions of `namespace`, or None if none is known.

    `range_type` is the OSV range type: a `SEMVER` range always uses `semver`, whatever the
    namespace. Distro namespaces use `deb` (Debian, Ubuntu), `apk` (Alpine) or `rpm` (the
    families in `RPM_DISTRO_FAMILIES`). Cargo versions of `crates.io` are SemVer, so they use
    `semver`.
    """
    if range_type == "SEMVER":
        return "semver"
    family = namespace.partition(":")[0]
    if family in RPM_DISTRO_FAMILIES:
        return "rpm"
    return {
        "debian": "deb",
        "ubuntu": "deb",
        "alpine": "apk",
        "pypi": "pep440",
        "npm": "npm",
        "maven": "maven",
        "rubygems": "gem",
        "go": "gosemver",
        "crates.io": "semver",
        "nuget": "nuget",
        "packagist": "composer",
    }.get(family)
