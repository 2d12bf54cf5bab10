"""Tests of namespace mapping, package name normalization and version scheme choice."""

from __future__ import annotations

import pytest

from chalicelib.analysis.interface import Distro
from chalicelib.vulns.namespaces import (
    RPM_DISTRO_FAMILIES,
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
        ("Wolfi", None),
        ("Red Hat:enterprise_linux:9::appstream", "rhel:9"),
        ("Red Hat:enterprise_linux:8::baseos", "rhel:8"),
        ("Red Hat:rhel_eus:9.4::baseos", None),
        ("Rocky Linux:8", "rocky:8"),
        ("Rocky Linux:9.3", "rocky:9"),
        ("AlmaLinux:9", "almalinux:9"),
        ("SUSE:Linux Enterprise Server 15 SP5", "sles:15.5"),
        ("SUSE:Linux Enterprise Server 12", "sles:12"),
        ("SUSE:Linux Enterprise Desktop 15 SP5", None),
        ("openSUSE:Leap 15.5", "opensuse-leap:15.5"),
        ("openSUSE:Tumbleweed", "opensuse-tumbleweed"),
        ("Mageia:9", None),
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
        ("rocky", "8.9", "rhel:8"),
        ("almalinux", "9.3", "rhel:9"),
        ("fedora", "39", "rhel:39"),
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
    + [f"{family}:9" for family in sorted(RPM_DISTRO_FAMILIES)],
)
def test_version_scheme_name_is_registered(namespace: str) -> None:
    name = version_scheme_name(namespace)

    assert name is not None
    assert get_scheme(name).name == name
