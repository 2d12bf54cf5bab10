"""Vulnerability namespaces: where records apply, how package names and versions read in each.

A namespace is either a distro release (`debian:12`, `alpine:3.18`, `ubuntu:22.04`, `rhel:9`), a
rolling distro without releases (`wolfi`, `chainguard`) or a language ecosystem in lower case
(`pypi`, `npm`, `go`, `crates.io`, ...).

OSV ecosystems (https://ossf.github.io/osv-schema/, `ecosystems.json`) and the namespace each
imports into, next to the os-release `ID` whose images look it up:

| OSV ecosystem | namespace | os-release `ID` |
|---|---|---|
| `Debian:12` | `debian:12` | `debian` |
| `Ubuntu:22.04:LTS`, `Ubuntu:Pro:18.04:LTS` | `ubuntu:22.04`, `ubuntu:18.04` | `ubuntu` |
| `Alpine:v3.18` | `alpine:3.18` | `alpine` |
| `Red Hat:enterprise_linux:9::appstream` | `rhel:9` | `rhel`, `centos`, `fedora` |
| `Rocky Linux:9` | `rocky:9`, then `rhel:9` | `rocky` |
| `AlmaLinux:9` | `almalinux:9`, then `rhel:9` | `almalinux` |
| `SUSE:Linux Enterprise Server 15 SP5` | `sles:15.5` | `sles` |
| `openSUSE:Leap 15.5`, `openSUSE:Tumbleweed` | `opensuse-leap:15.5`, `opensuse-tumbleweed` | same |
| `Azure Linux:2`, `Mariner:2.0` | `mariner:2.0` | `mariner` |
| `Azure Linux:3` | `azurelinux:3.0` | `azurelinux` |
| `Photon OS:5.0` | `photon:5.0` | `photon` |
| `Mageia:9` | `mageia:9` | `mageia` |
| `Alpaquita:23`, `Alpaquita:stream` | `alpaquita:23`, `alpaquita:stream` | `alpaquita` |
| `Wolfi`, `Chainguard`, `MinimOS` | `wolfi`, `chainguard`, `minimos` | same, lower case |
| `Echo` | `echo` | `echo` |
| `openEuler:22.03-LTS-SP1` | `openeuler:22.03-lts-sp1` | none yet, see `vuln_namespace` |
| `PyPI`, `npm`, `Go`, `crates.io`, `Maven`, `RubyGems`, `NuGet`, `Packagist` | lower case | |

Oracle Linux (`ol:9`) and Amazon Linux (`amzn:2`, `amzn:2023`) images have namespaces, but OSV
publishes no ecosystem for them. The other OSV ecosystems are skipped on import, each for the
reason in `UNSUPPORTED_OSV_ECOSYSTEMS`.
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

ROLLING_DISTROS: dict[str, str] = {
    "wolfi": "wolfi",
    "chainguard": "chainguard",
    "minimos": "minimos",
    "echo": "echo",
}
"""OSV ecosystems without a release (in lower case) and the namespace of each. The namespace is
also the os-release `ID` of the distro, whose images match it whatever their `VERSION_ID`."""

UNSUPPORTED_OSV_ECOSYSTEMS: dict[str, str] = {
    "android": "no package type in the analysis",
    "bellsoft hardened containers": "no os-release ID is known that tells its images apart",
    "bioconductor": "no package type in the analysis",
    "bitnami": "no package type in the analysis",
    "cleanstart": "os-release ID of its images is not known",
    "conancenter": "no package type in the analysis",
    "cran": "no package type in the analysis",
    "docker hardened images": "no os-release ID or package type is known for its images",
    "freebsd": "no FreeBSD package type in the analysis",
    "ghc": "no package type in the analysis",
    "git": "ranges name commits, not installed versions",
    "github actions": "no package type in the analysis",
    "hackage": "no package type in the analysis",
    "julia": "no package type in the analysis",
    "kubernetes": "versions are Kubernetes releases, not the Go module versions binaries record",
    "linux": "the running kernel is not part of a container image",
    "opam": "no package type in the analysis",
    "oss-fuzz": "names are project names, not installed packages",
    "root": "package names carry Root's `root-` prefix, not the installed names",
    "swifturl": "no package type in the analysis",
    "tuxcare": "fixes apply to TuxCare's extended-support builds only",
    "vscode": "no package type in the analysis",
}
"""OSV ecosystems (in lower case) that the import skips, and why."""

RHEL_COMPATIBLE_DISTROS = frozenset({"rhel", "centos", "fedora"})
"""Distro ids whose packages are matched against `rhel:<major>` records only."""

RHEL_REBUILD_DISTROS = frozenset({"rocky", "almalinux"})
"""Distro ids with their own records (`rocky:9`) whose packages also fall back to `rhel:<major>`
for the vulnerabilities that their own records do not name."""

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
        "photon",
        "mageia",
        "openeuler",
    }
)
"""Namespace families (the part before `:`) of distros whose packages carry RPM versions."""

APK_DISTRO_FAMILIES = frozenset({"alpine", "wolfi", "chainguard", "minimos", "alpaquita"})
"""Namespace families of distros whose packages carry apk versions."""

DEB_DISTRO_FAMILIES = frozenset({"debian", "ubuntu", "echo"})
"""Namespace families of distros whose packages carry Debian versions."""

_PEP503_SEPARATORS = re.compile(r"[-_.]+")
_RELEASE_NUMBER = re.compile(r"^\d+\.\d+$")
_SLES_RELEASE = re.compile(
    r"^Linux Enterprise (?:Server|Module for [\w ]+?) "
    r"(?:(?:LTSS|for SAP Applications|LTSS Extended Security) )?"
    r"(?P<major>\d+)(?: SP(?P<sp>\d+))?(?:[- ]LTSS)?$"
)
_ALPAQUITA_RELEASE = re.compile(r"^(?:\d+|stream)$", re.IGNORECASE)
_OPENEULER_RELEASE = re.compile(r"^\d+\.\d+(?:-LTS(?:-SP\d+)?)?$", re.IGNORECASE)
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

    Language ecosystems map to their lower-case name (`PyPI` -> `pypi`), and so do the rolling
    distros of `ROLLING_DISTROS` (`Wolfi` -> `wolfi`). Distro ecosystems keep the release:
    `Debian:11` -> `debian:11`, `Alpine:v3.18` -> `alpine:3.18`, and `Ubuntu:22.04:LTS` or
    `Ubuntu:Pro:18.04:LTS` -> `ubuntu:22.04` or `ubuntu:18.04`. The module docstring lists the
    RPM-based and other distros.
    """
    name, _, release = ecosystem.partition(":")
    lowered = name.strip().lower()
    if not release:
        return LANGUAGE_ECOSYSTEMS.get(lowered) or ROLLING_DISTROS.get(lowered)

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
    if lowered == "alpaquita" and _ALPAQUITA_RELEASE.match(parts[0]):
        return f"alpaquita:{parts[0].lower()}"
    return _rpm_namespace(lowered, parts)


def _rpm_namespace(distro: str, parts: list[str]) -> str | None:
    """Map the OSV ecosystems of RPM-based distros to a namespace, or None.

    `Red Hat:enterprise_linux:9::appstream` -> `rhel:9` (extended-support streams such as
    `rhel_eus` are skipped), `Rocky Linux:9` -> `rocky:9`, `AlmaLinux:9` -> `almalinux:9`.
    SUSE products of SLES (`SUSE:Linux Enterprise Server 15 SP5`, its LTSS and SAP variants and
    `SUSE:Linux Enterprise Module for Basesystem 15 SP5`) -> `sles:15.5`, `openSUSE:Leap 15.5`
    -> `opensuse-leap:15.5` and `openSUSE:Tumbleweed` -> `opensuse-tumbleweed`. Azure Linux 1
    and 2 were CBL-Mariner, so `Azure Linux:2` -> `mariner:2.0` and `Azure Linux:3` ->
    `azurelinux:3.0`.
    """
    major = parts[0].split(".")[0]
    if distro == "red hat":
        if len(parts) > 1 and parts[0] == "enterprise_linux" and parts[1].isdigit():
            return f"rhel:{parts[1]}"
        return None
    if distro in ("rocky linux", "almalinux", "mageia"):
        return f"{distro.replace(' linux', '')}:{major}" if major.isdigit() else None
    if distro in ("azure linux", "mariner"):
        if not major.isdigit():
            return None
        family = "mariner" if int(major) < 3 else "azurelinux"
        return f"{family}:{major}.0"
    if distro == "photon os":
        return f"photon:{parts[0]}" if _RELEASE_NUMBER.match(parts[0]) else None
    if distro == "openeuler":
        return f"openeuler:{parts[0].lower()}" if _OPENEULER_RELEASE.match(parts[0]) else None
    if distro == "suse":
        return _sles_namespace(parts[0])
    if distro == "opensuse":
        if parts[0].lower() == "tumbleweed":
            return "opensuse-tumbleweed"
        match = _LEAP_RELEASE.match(parts[0])
        return f"opensuse-leap:{match['version']}" if match else None
    return None


def _sles_namespace(product: str) -> str | None:
    """Map a SUSE product name to `sles:<major>[.<service pack>]`, or None for other products.

    An SLES image can have the packages of the server itself, of its LTSS, Extended Security and
    SAP variants, and of the modules installed on it. Desktop, Micro and HPC have os-release ids
    of their own, so their records are skipped.
    """
    match = _SLES_RELEASE.match(product)
    if match is None:
        return None
    service_pack = f".{match['sp']}" if match["sp"] else ""
    return f"sles:{match['major']}{service_pack}"


def vuln_namespace(distro: Distro | None) -> str | None:
    """Return the distro namespace whose records apply first to an image of `distro`, or None.

    Debian, Rocky Linux, AlmaLinux, Oracle Linux and Mageia use the major version (`debian:12`,
    `rocky:9`, `ol:8`), and so do CentOS and Fedora, whose packages are matched as RHEL's
    (`rhel:9`). Alpine and Ubuntu use major.minor (`alpine:3.18`, `ubuntu:22.04`); an Alpine
    pre-release such as `3.22.0_alpha20250108` is an edge image and maps to `alpine:edge`. SLES
    uses major.service-pack (`sles:15.5`), openSUSE Leap, CBL-Mariner, Azure Linux and Photon
    OS use major.minor (`opensuse-leap:15.5`, `mariner:2.0`). Amazon Linux uses `amzn:2` and
    `amzn:2023`, and its first release the year and month (`amzn:2018.03`). Rolling distros
    (`ROLLING_DISTROS`, `opensuse-tumbleweed`) need no version. Other distros, and images
    without a version, have no namespace. `fallback_namespaces` lists where else to look.
    """
    if distro is None:
        return None
    distro_id = distro.id.lower()
    if distro_id in ROLLING_DISTROS or distro_id == "opensuse-tumbleweed":
        return ROLLING_DISTROS.get(distro_id, distro_id)
    if not distro.version_id:
        return None
    version = distro.version_id.strip()
    if distro_id == "alpaquita":
        return f"alpaquita:{version.lower()}" if _ALPAQUITA_RELEASE.match(version) else None
    numbers = re.findall(r"\d+", version)
    if not numbers:
        return None
    major = numbers[0]
    major_minor = f"{major}.{numbers[1] if len(numbers) > 1 else 0}"

    if distro_id in ("debian", "ol", "mageia", *RHEL_REBUILD_DISTROS):
        return f"{distro_id}:{major}"
    if distro_id in RHEL_COMPATIBLE_DISTROS:
        return f"rhel:{major}"
    if distro_id in ("mariner", "azurelinux", "photon"):
        return f"{distro_id}:{major_minor}"
    if distro_id == "amzn":
        # Amazon Linux 1 releases are year.month (VERSION_ID 2018.03). Later releases are 2 and
        # 2023, and `/etc/system-release` of 2023 adds a minor and a date (2023.5.20240701).
        return f"amzn:{major_minor}" if int(major) in range(2011, 2019) else f"amzn:{major}"
    if distro_id == "sles":
        # SLES 15 SP5 has VERSION_ID 15.5, and the first release of 15 has VERSION_ID 15.
        service_pack = f".{numbers[1]}" if len(numbers) > 1 else ""
        return f"sles:{major}{service_pack}"
    # TODO: openEuler images are not matched. Its records are per service pack
    # (`openEuler:22.03-LTS-SP1`), which only os-release `VERSION` and `PRETTY_NAME` name, and
    # stored images keep only `ID` and `VERSION_ID` for matching again.
    return _two_part_namespace(distro_id, version, numbers)


def _two_part_namespace(distro_id: str, version: str, numbers: list[str]) -> str | None:
    """Return the major.minor namespace of Alpine, Ubuntu and openSUSE Leap, or None."""
    if distro_id == "alpine" and ("_alpha" in version or "_beta" in version):
        return "alpine:edge"
    if distro_id not in ("alpine", "ubuntu", "opensuse-leap") or len(numbers) < 2:
        return None
    return f"{distro_id}:{numbers[0]}.{numbers[1]}"


def fallback_namespaces(namespace: str) -> list[str]:
    """Return the namespaces looked up after `namespace` for what its own records do not name.

    Rocky Linux and AlmaLinux rebuild RHEL from the same sources, so `rocky:9` and
    `almalinux:9` fall back to `rhel:9`. Other namespaces have no fallback.
    """
    family, _, release = namespace.partition(":")
    if family in RHEL_REBUILD_DISTROS and release:
        return [f"rhel:{release}"]
    return []


def distro_namespaces(distro: Distro | None) -> list[str]:
    """Return every namespace that OS packages of `distro` are looked up in, first one first."""
    namespace = vuln_namespace(distro)
    return [namespace, *fallback_namespaces(namespace)] if namespace else []


def version_scheme_name(namespace: str, range_type: str = "ECOSYSTEM") -> str | None:
    """Return the version scheme that orders versions of `namespace`, or None if none is known.

    `range_type` is the OSV range type: a `SEMVER` range always uses `semver`, whatever the
    namespace. Distro namespaces use `rpm`, `apk` or `deb`, as `RPM_DISTRO_FAMILIES`,
    `APK_DISTRO_FAMILIES` and `DEB_DISTRO_FAMILIES` list them. Cargo versions of `crates.io` are
    SemVer, so they use `semver`.
    """
    if range_type == "SEMVER":
        return "semver"
    family = namespace.partition(":")[0]
    if family in RPM_DISTRO_FAMILIES:
        return "rpm"
    if family in APK_DISTRO_FAMILIES:
        return "apk"
    if family in DEB_DISTRO_FAMILIES:
        return "deb"
    return {
        "pypi": "pep440",
        "npm": "npm",
        "maven": "maven",
        "rubygems": "gem",
        "go": "gosemver",
        "crates.io": "semver",
        "nuget": "nuget",
        "packagist": "composer",
    }.get(family)
