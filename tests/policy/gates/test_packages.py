"""Tests of the packages gate."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.analysis.interface import Package, PackageType
from chalicelib.policy.gate import TriggerEvaluationError
from chalicelib.policy.interface import ImageFacts
from tests.policy.factories import make_facts, messages


def pkg(name: str, version: str, type_: PackageType = PackageType.DPKG, **fields: Any) -> Package:
    return Package(
        name=name, version=version, type=type_, location="/var/lib/dpkg/status", **fields
    )


def image(*packages: Package) -> ImageFacts:
    return make_facts({"packages": list(packages)})


FACTS = image(
    pkg("openssl", "1.1.1n-0+deb11u4"),
    pkg("musl", "1.2.3-r4", PackageType.APK),
    pkg("requests", "2.31.0", PackageType.PYTHON),
)


def required(params: dict[str, str], facts: ImageFacts = FACTS) -> list[str]:
    return messages("packages", "required_package", params, facts)


def test_required_package_present_by_name() -> None:
    assert required({"name": "openssl"}) == []


def test_required_package_missing() -> None:
    assert required({"name": "curl"}) == [
        "Required input package (curl) is not present in container image"
    ]
    assert required({"name": "curl", "version": "7.0"}) == [
        "Required input package (curl,7.0) is not present in container image"
    ]


def test_required_package_ignores_language_packages() -> None:
    assert required({"name": "requests"}) == [
        "Required input package (requests) is not present in container image"
    ]


def test_required_package_exact_version() -> None:
    assert required({"name": "openssl", "version": "1.1.1n-0+deb11u4"}) == []
    # Anchore prints the package name in place of the required version.
    assert required({"name": "openssl", "version": "1.1.1n-0+deb11u5"}) == [
        "Required input package (openssl) is present (1.1.1n-0+deb11u4), but not at the version "
        "specified in policy (openssl)"
    ]


def test_required_package_minimum_version_deb() -> None:
    params = {"name": "openssl", "version_match_type": "minimum"}

    assert required({**params, "version": "1.1.1n-0+deb11u3"}) == []
    assert required({**params, "version": "1.1.1n-0+deb11u4"}) == []
    assert required({**params, "version": "1:1.0"}) == [
        "Required min-version input package (openssl) is present (1.1.1n-0+deb11u4), but is "
        "lower version than what is specified in policy (1:1.0)"
    ]


def test_required_package_minimum_version_apk() -> None:
    params = {"name": "musl", "version_match_type": "minimum"}

    assert required({**params, "version": "1.2.3-r3"}) == []
    assert len(required({**params, "version": "1.2.3-r10"})) == 1


def test_required_package_minimum_invalid_version_fails() -> None:
    facts = image(pkg("bash", "x:5.1-2"))

    with pytest.raises(TriggerEvaluationError, match="dpkg package 'bash'"):
        required({"name": "bash", "version": "5.0", "version_match_type": "minimum"}, facts)


def test_required_package_minimum_compares_rpm_versions() -> None:
    facts = image(pkg("bash", "5.1.8-6.el9", PackageType.RPM))
    params = {"name": "bash", "version_match_type": "minimum"}

    assert required({**params, "version": "5.1.8-4.el9"}, facts) == []
    assert len(required({**params, "version": "5.2-1.el9"}, facts)) == 1


def test_blacklist_by_name_and_version() -> None:
    facts = image(pkg("openssl", "1.0"), pkg("openssl", "1.1"), pkg("curl", "7.0"))

    assert messages("packages", "blacklist", {"name": "openssl"}, facts) == [
        "Package is blacklisted: openssl",
        "Package is blacklisted: openssl",
    ]
    assert messages("packages", "blacklist", {"name": "openssl", "version": "1.1"}, facts) == [
        "Package is blacklisted: openssl-1.1"
    ]
    assert messages("packages", "blacklist", {"name": "wget"}, facts) == []


def test_verify_fires_nothing_without_verification_data() -> None:
    assert messages("packages", "verify", {"check": "changed"}, FACTS) == []


def test_verify_accepts_every_parameter_and_fires_nothing() -> None:
    params = {"only_packages": "openssl, musl", "only_directories": "/usr,/etc", "check": "changed"}

    # The analysis keeps no per-file digests from package databases, so nothing is compared.
    assert messages("packages", "verify", params, FACTS) == []
    assert messages("packages", "verify", {}, FACTS) == []
