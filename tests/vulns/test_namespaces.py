"""Tests of namespace mapping, package name normalization and version scheme choice."""

from __future__ import annotations

import pytest

from chalicelib.analysis.interface import Distro
from chalicelib.vulns.namespaces import (
    APK_DISTRO_FAMILIES,
    DEB_DISTRO_FAMILIES,
    RPM_DISTRO_FAMILIES,
    UNSUPPORTED_OSV_ECOSYSTEMS,
    distro_namespaces,
    fallback_namespaces,
    normalize_package_name,
    osv_namespace,
    version_scheme_name,
    vuln_namespace,
)
from chalicelib.vulns.versions import get_scheme


@pytest.mark.parametrize(
    ("ecosystem", "namespace"),
    [
        ("PyPI", "pypi"),
        ("npm", "npm"),
        ("Go", "go"),
        ("crates.io", "crates.io"),
        ("Maven", "maven"),
        ("RubyGems", "rubygems"),
        ("NuGet", "nuget"),
        ("Packagist", "packagist"),
        ("Debian:11", "debian:11"),
        ("Debian:7", "debian:7"),
        ("Alpine:v3.18", "alpine:3.18"),
        ("Ubuntu:22.04", "ubuntu:22.04"),
        ("Ubuntu:22.04:LTS", "ubuntu:22.04"),
        ("Ubuntu:Pro:14.04:LTS", "ubuntu:14.04"),
        ("Debian", None),
        ("Alpine:edge", None),
        ("Wolfi", "wolfi"),
        ("Chainguard", "chainguard"),
        ("MinimOS", "minimos"),
        ("Echo", "echo"),
        ("Echo:PyPI", None),
        ("Alpaquita:23", "alpaquita:23"),
        ("Alpaquita:stream", "alpaquita:stream"),
        ("Azure Linux:2", "mariner:2.0"),
        ("Azure Linux:3", "azurelinux:3.0"),
        ("Mariner:2.0", "mariner:2.0"),
        ("Photon OS:5.0", "photon:5.0"),
        ("openEuler:22.03-LTS-SP1", "openeuler:22.03-lts-sp1"),
        ("openEuler:24.03-LTS", "openeuler:24.03-lts"),
        ("TuxCare:Red Hat", None),
        ("Root:Alpine:3.18", None),
        ("Linux", None),
        ("Red Hat:enterprise_linux:9::appstream", "rhel:9"),
        ("Red Hat:enterprise_linux:8::baseos", "rhel:8"),
        ("Red Hat:rhel_eus:9.4::baseos", None),
        ("Rocky Linux:8", "rocky:8"),
        ("Rocky Linux:9.3", "rocky:9"),
        ("AlmaLinux:9", "almalinux:9"),
        ("SUSE:Linux Enterprise Server 15 SP5", "sles:15.5"),
        ("SUSE:Linux Enterprise Server 12", "sles:12"),
        ("SUSE:Linux Enterprise Desktop 15 SP5", None),
        ("SUSE:Linux Enterprise Module for Basesystem 15 SP5", "sles:15.5"),
        ("SUSE:Linux Enterprise Server for SAP Applications 15 SP4", "sles:15.4"),
        ("SUSE:Linux Enterprise Server LTSS Extended Security 12 SP5", "sles:12.5"),
        ("SUSE:Linux Enterprise Server 15 SP3-LTSS", "sles:15.3"),
        ("SUSE:Linux Enterprise Micro 5.5", None),
        ("openSUSE:Leap 15.5", "opensuse-leap:15.5"),
        ("openSUSE:Tumbleweed", "opensuse-tumbleweed"),
        ("Mageia:9", "mageia:9"),
    ],
)
def test_osv_namespace_maps_ecosystem(ecosystem: str, namespace: str | None) -> None:
    assert osv_namespace(ecosystem) == namespace


@pytest.mark.parametrize(
    ("namespace", "name", "normalized"),
    [
        ("pypi", "Jinja2", "jinja2"),
        ("pypi", "jw.util", "jw-util"),
        ("pypi", "zope__interface", "zope-interface"),
        ("pypi", "A-_.b", "a-b"),
        ("npm", "@types/Node", "@types/Node"),
        ("nuget", "Newtonsoft.Json", "newtonsoft.json"),
        ("debian:12", "libssl3", "libssl3"),
    ],
)
def test_normalize_package_name_per_namespace(namespace: str, name: str, normalized: str) -> None:
    assert normalize_package_name(namespace, name) == normalized


@pytest.mark.parametrize(
    ("distro_id", "version_id", "namespace"),
    [
        ("debian", "12", "debian:12"),
        ("debian", "11.7", "debian:11"),
        ("alpine", "3.18.4", "alpine:3.18"),
        ("alpine", "3.10", "alpine:3.10"),
        ("alpine", "3.22.0_alpha20250108", "alpine:edge"),
        ("ubuntu", "22.04", "ubuntu:22.04"),
        ("rhel", "9.2", "rhel:9"),
        ("centos", "7", "rhel:7"),
        ("rocky", "8.9", "rocky:8"),
        ("almalinux", "9.3", "almalinux:9"),
        ("fedora", "39", "rhel:39"),
        ("ol", "9.4", "ol:9"),
        ("amzn", "2", "amzn:2"),
        ("amzn", "2023", "amzn:2023"),
        ("amzn", "2018.03", "amzn:2018.03"),
        ("amzn", "2023.5.20240701", "amzn:2023"),
        ("mariner", "2.0", "mariner:2.0"),
        ("azurelinux", "3.0", "azurelinux:3.0"),
        ("photon", "5.0", "photon:5.0"),
        ("mageia", "9", "mageia:9"),
        ("sles", "15.5", "sles:15.5"),
        ("sles", "15", "sles:15"),
        ("opensuse-leap", "15.5", "opensuse-leap:15.5"),
        ("opensuse-tumbleweed", "20240101", "opensuse-tumbleweed"),
        ("wolfi", "20230201", "wolfi"),
        ("chainguard", None, "chainguard"),
        ("minimos", "20250101", "minimos"),
        ("echo", None, "echo"),
        ("alpaquita", "stream", "alpaquita:stream"),
        ("alpaquita", "23", "alpaquita:23"),
        ("openeuler", "22.03", None),
        ("arch", "20240101", None),
        ("debian", None, None),
        ("alpine", "3", None),
    ],
)
def test_vuln_namespace_of_distro(
    distro_id: str, version_id: str | None, namespace: str | None
) -> None:
    assert vuln_namespace(Distro(id=distro_id, version_id=version_id)) == namespace


def test_vuln_namespace_without_distro() -> None:
    assert vuln_namespace(None) is None


@pytest.mark.parametrize(
    ("distro_id", "version_id", "namespaces"),
    [
        ("rocky", "9.3", ["rocky:9", "rhel:9"]),
        ("almalinux", "8.10", ["almalinux:8", "rhel:8"]),
        ("rhel", "9.4", ["rhel:9"]),
        ("centos", "7", ["rhel:7"]),
        ("ol", "8.9", ["ol:8"]),
        ("wolfi", None, ["wolfi"]),
        ("arch", "20240101", []),
    ],
)
def test_distro_namespaces_with_fallback(
    distro_id: str, version_id: str | None, namespaces: list[str]
) -> None:
    assert distro_namespaces(Distro(id=distro_id, version_id=version_id)) == namespaces


def test_fallback_namespaces_only_for_rebuilds() -> None:
    assert fallback_namespaces("rocky:9") == ["rhel:9"]
    assert fallback_namespaces("almalinux:10") == ["rhel:10"]
    assert fallback_namespaces("rhel:9") == []
    assert fallback_namespaces("ol:9") == []
    assert fallback_namespaces("rocky") == []


def test_distro_namespaces_round_trip_osv_ecosystems() -> None:
    # The namespace an image looks up must be the one its OSV ecosystem imports into.
    pairs = [
        (Distro(id="rocky", version_id="9.3"), "Rocky Linux:9"),
        (Distro(id="almalinux", version_id="9.4"), "AlmaLinux:9"),
        (Distro(id="rhel", version_id="9.4"), "Red Hat:enterprise_linux:9::baseos"),
        (Distro(id="sles", version_id="15.5"), "SUSE:Linux Enterprise Server 15 SP5"),
        (Distro(id="opensuse-leap", version_id="15.5"), "openSUSE:Leap 15.5"),
        (Distro(id="mariner", version_id="2.0"), "Azure Linux:2"),
        (Distro(id="azurelinux", version_id="3.0"), "Azure Linux:3"),
        (Distro(id="photon", version_id="5.0"), "Photon OS:5.0"),
        (Distro(id="mageia", version_id="9"), "Mageia:9"),
        (Distro(id="alpaquita", version_id="stream"), "Alpaquita:stream"),
        (Distro(id="wolfi", version_id="20230201"), "Wolfi"),
        (Distro(id="chainguard", version_id="20230214"), "Chainguard"),
        (Distro(id="minimos", version_id="20250101"), "MinimOS"),
        (Distro(id="echo", version_id="1"), "Echo"),
    ]
    for distro, ecosystem in pairs:
        assert vuln_namespace(distro) == osv_namespace(ecosystem), ecosystem


def test_unsupported_ecosystems_have_no_namespace() -> None:
    for ecosystem in UNSUPPORTED_OSV_ECOSYSTEMS:
        assert osv_namespace(ecosystem) is None, ecosystem


@pytest.mark.parametrize(
    ("namespace", "range_type", "scheme"),
    [
        ("debian:12", "ECOSYSTEM", "deb"),
        ("ubuntu:22.04", "ECOSYSTEM", "deb"),
        ("alpine:3.18", "ECOSYSTEM", "apk"),
        ("pypi", "ECOSYSTEM", "pep440"),
        ("npm", "ECOSYSTEM", "npm"),
        ("go", "SEMVER", "semver"),
        ("npm", "SEMVER", "semver"),
        ("maven", "ECOSYSTEM", "maven"),
        ("rubygems", "ECOSYSTEM", "gem"),
        ("go", "ECOSYSTEM", "gosemver"),
        ("nuget", "ECOSYSTEM", "nuget"),
        ("packagist", "ECOSYSTEM", "composer"),
        ("rhel:9", "ECOSYSTEM", "rpm"),
        ("rocky:9", "ECOSYSTEM", "rpm"),
        ("ol:8", "ECOSYSTEM", "rpm"),
        ("amzn:2023", "ECOSYSTEM", "rpm"),
        ("sles:15.5", "ECOSYSTEM", "rpm"),
        ("opensuse-leap:15.5", "ECOSYSTEM", "rpm"),
        ("fedora:40", "ECOSYSTEM", "rpm"),
        ("mariner:2.0", "ECOSYSTEM", "rpm"),
        ("azurelinux:3.0", "ECOSYSTEM", "rpm"),
        ("photon:5.0", "ECOSYSTEM", "rpm"),
        ("mageia:9", "ECOSYSTEM", "rpm"),
        ("wolfi", "ECOSYSTEM", "apk"),
        ("chainguard", "ECOSYSTEM", "apk"),
        ("alpaquita:stream", "ECOSYSTEM", "apk"),
        ("echo", "ECOSYSTEM", "deb"),
        ("hex", "ECOSYSTEM", None),
    ],
)
def test_version_scheme_name_per_namespace(
    namespace: str, range_type: str, scheme: str | None
) -> None:
    assert version_scheme_name(namespace, range_type) == scheme


@pytest.mark.parametrize(
    "namespace",
    ["debian:12", "alpine:3.18", "pypi", "npm", "maven", "rubygems", "go", "nuget", "packagist"]
    + [
        f"{family}:9"
        for family in sorted(RPM_DISTRO_FAMILIES | APK_DISTRO_FAMILIES | DEB_DISTRO_FAMILIES)
    ],
)
def test_version_scheme_name_is_registered(namespace: str) -> None:
    name = version_scheme_name(namespace)

    assert name is not None
    assert get_scheme(name).name == name
