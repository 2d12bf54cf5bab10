"""Tests of CPE generation, with real package names, versions and metadata."""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.cpe import (
    MAX_PRODUCTS,
    MAX_VENDORS,
    assign_cpes,
    bind_component,
    format_cpe,
    generate_cpes,
)
from chalicelib.analysis.interface import Package, PackageType
from tests.analysis.builders import file, image

# A CPE 2.3 formatted string in lower case: eleven components after `cpe:2.3:`, each made of
# letters, digits, `-`, `.`, `_`, `*` and `?`, or punctuation quoted with a backslash.
CPE23 = re.compile(r"cpe:2\.3:[aho*-](?::(?:[a-z0-9._*?-]|\\[!-/:-@\[-^`{-~])+){10}")


def package(package_type: PackageType, name: str, version: str, **fields: Any) -> Package:
    return Package(name=name, version=version, type=package_type, location="/x", **fields)


def cpe(vendor: str, product: str, version: str) -> str:
    return f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*"


GUICE_MANIFEST = {
    "Automatic-Module-Name": "com.google.guice",
    "Bundle-Name": "guice",
    "Bundle-SymbolicName": "com.google.inject",
    "Bundle-Vendor": "Google, Inc.",
    "Bundle-Version": "4.2.3",
}
COMMONS_IO_MANIFEST = {
    "Bundle-SymbolicName": "org.apache.commons.commons-io",
    "Implementation-Vendor": "The Apache Software Foundation",
    "Automatic-Module-Name": "org.apache.commons.io",
}

CASES = [
    pytest.param(
        package(
            PackageType.PYTHON, "requests", "2.32.3", origin="Kenneth Reitz <me@kennethreitz.org>"
        ),
        [
            cpe("python", "requests", "2.32.3"),
            cpe("requests", "requests", "2.32.3"),
            cpe("requests_project", "requests", "2.32.3"),
        ],
        id="python-known-vendor",
    ),
    pytest.param(
        package(
            PackageType.PYTHON,
            "python-dateutil",
            "2.9.0.post0",
            origin="Gustavo Niemeyer <gustavo@niemeyer.net>",
        ),
        [
            cpe("python-dateutil", "python-dateutil", "2.9.0.post0"),
            cpe("python-dateutil", "python_dateutil", "2.9.0.post0"),
            cpe("python-dateutil_project", "python-dateutil", "2.9.0.post0"),
            cpe("python-dateutil_project", "python_dateutil", "2.9.0.post0"),
            cpe("gustavo_niemeyer", "python-dateutil", "2.9.0.post0"),
            cpe("gustavo_niemeyer", "python_dateutil", "2.9.0.post0"),
        ],
        id="python-author-and-underscores",
    ),
    pytest.param(
        package(PackageType.NPM, "lodash", "4.17.21"),
        [cpe("lodash", "lodash", "4.17.21"), cpe("lodash_project", "lodash", "4.17.21")],
        id="npm",
    ),
    pytest.param(
        package(PackageType.NPM, "@babel/core", "7.26.0"),
        [cpe("babel", "core", "7.26.0")],
        id="npm-scope-is-vendor",
    ),
    pytest.param(
        package(PackageType.NPM, "express", "4.21.2"),
        [
            cpe("openjsf", "express", "4.21.2"),
            cpe("expressjs", "express", "4.21.2"),
            cpe("express", "express", "4.21.2"),
        ],
        id="npm-known-vendor",
    ),
    pytest.param(
        package(
            PackageType.GEM,
            "rake",
            "13.2.1",
            metadata={"homepage": "https://github.com/ruby/rake", "authors": ["Hiroshi SHIBATA"]},
        ),
        [
            cpe("ruby-lang", "rake", "13.2.1"),
            cpe("rake", "rake", "13.2.1"),
            cpe("ruby", "rake", "13.2.1"),
        ],
        id="gem-default-gem-and-homepage-owner",
    ),
    pytest.param(
        package(
            PackageType.JAVA,
            "guice",
            "4.2.3",
            metadata={"origin": "com.google.inject", "manifest": GUICE_MANIFEST},
        ),
        [
            cpe("google", "guice", "4.2.3"),
            cpe("guice", "guice", "4.2.3"),
            cpe("inject", "guice", "4.2.3"),
        ],
        id="java-manifest-group",
    ),
    pytest.param(
        package(
            PackageType.JAVA,
            "commons-io",
            "2.11.0",
            metadata={
                "origin": "commons-io",
                "pom_properties": {"groupId": "commons-io", "artifactId": "commons-io"},
                "manifest": COMMONS_IO_MANIFEST,
            },
        ),
        [cpe("apache", "commons-io", "2.11.0"), cpe("apache", "commons_io", "2.11.0")],
        id="java-apache-is-only-vendor",
    ),
    pytest.param(
        package(
            PackageType.JAVA,
            "slf4j-api",
            "1.7.32",
            metadata={"pom_properties": {"groupId": "org.slf4j", "artifactId": "slf4j-api"}},
        ),
        [
            cpe("slf4j", "slf4j-api", "1.7.32"),
            cpe("slf4j", "slf4j_api", "1.7.32"),
            cpe("slf4j-api", "slf4j-api", "1.7.32"),
            cpe("slf4j-api", "slf4j_api", "1.7.32"),
        ],
        id="java-pom-group",
    ),
    pytest.param(
        package(
            PackageType.JAVA,
            "apache-jsp",
            "9.4.57.v20241219",
            metadata={
                "pom_properties": {"groupId": "org.eclipse.jetty", "artifactId": "apache-jsp"}
            },
        ),
        [
            cpe("apache", "apache-jsp", "9.4.57.v20241219"),
            cpe("apache", "apache_jsp", "9.4.57.v20241219"),
        ],
        id="java-apache-name",
    ),
    pytest.param(
        package(PackageType.PYTHON, "apache-airflow", "2.10.4"),
        [cpe("apache", "apache-airflow", "2.10.4"), cpe("apache", "apache_airflow", "2.10.4")],
        id="python-apache-name",
    ),
    pytest.param(
        package(PackageType.NPM, "apache-crypt", "1.2.6"),
        [
            cpe("apache-crypt", "apache-crypt", "1.2.6"),
            cpe("apache-crypt", "apache_crypt", "1.2.6"),
            cpe("apache-crypt_project", "apache-crypt", "1.2.6"),
            cpe("apache-crypt_project", "apache_crypt", "1.2.6"),
        ],
        id="npm-apache-name-not-apache",
    ),
    pytest.param(
        package(PackageType.GO, "github.com/sirupsen/logrus", "v1.9.3"),
        [cpe("sirupsen", "logrus", "v1.9.3")],
        id="go-github",
    ),
    pytest.param(
        package(PackageType.GO, "github.com/go-chi/chi/v5", "v5.2.0"),
        [cpe("go-chi", "chi\\/v5", "v5.2.0")],
        id="go-major-version-path-escaped",
    ),
    pytest.param(
        package(PackageType.GO, "golang.org/x/net", "v0.33.0"),
        [cpe("golang", "x\\/net", "v0.33.0")],
        id="go-golang-org",
    ),
    pytest.param(
        package(PackageType.GO, "google.golang.org/grpc", "v1.69.2"),
        [cpe("google", "grpc", "v1.69.2")],
        id="go-google",
    ),
    pytest.param(package(PackageType.GO, "gopkg.in/yaml.v3", "v3.0.1"), [], id="go-gopkg-in"),
    pytest.param(
        package(PackageType.RUST, "version_check", "0.9.5"),
        [
            cpe("version_check", "version_check", "0.9.5"),
            cpe("version_check_project", "version_check", "0.9.5"),
        ],
        id="rust",
    ),
    pytest.param(
        package(PackageType.COMPOSER, "nikic/fast-route", "v1.3.0"),
        [cpe("nikic", "fast-route", "v1.3.0"), cpe("nikic", "fast_route", "v1.3.0")],
        id="composer",
    ),
    pytest.param(
        package(PackageType.NUGET, "Newtonsoft.Json", "13.0.3"),
        [
            cpe("newtonsoft", "json.net", "13.0.3"),
            cpe("newtonsoft", "newtonsoft.json", "13.0.3"),
            cpe("newtonsoft.json", "json.net", "13.0.3"),
            cpe("newtonsoft.json", "newtonsoft.json", "13.0.3"),
        ],
        id="nuget-known-product",
    ),
    pytest.param(
        package(PackageType.DPKG, "libssl3", "3.0.15-1~deb12u1", source_name="openssl"),
        [
            cpe("openssl", "openssl", "3.0.15-1\\~deb12u1"),
            cpe("openssl", "libssl3", "3.0.15-1\\~deb12u1"),
            cpe("libssl3", "openssl", "3.0.15-1\\~deb12u1"),
            cpe("libssl3", "libssl3", "3.0.15-1\\~deb12u1"),
        ],
        id="dpkg-source-package-first",
    ),
    pytest.param(
        package(PackageType.DPKG, "git", "1:2.39.5-0+deb12u1", source_name="git"),
        [
            cpe("git-scm", "git", "1\\:2.39.5-0\\+deb12u1"),
            cpe("git", "git", "1\\:2.39.5-0\\+deb12u1"),
        ],
        id="dpkg-epoch-escaped",
    ),
    pytest.param(
        package(PackageType.APK, "python3", "3.12.8-r1", source_name="python3"),
        [
            cpe("python", "python", "3.12.8-r1"),
            cpe("python", "python3", "3.12.8-r1"),
            cpe("python3", "python", "3.12.8-r1"),
            cpe("python3", "python3", "3.12.8-r1"),
        ],
        id="apk-stream-version-dropped",
    ),
    pytest.param(
        package(PackageType.APK, "libcrypto3", "3.3.2-r4", source_name="openssl"),
        [
            cpe("libcrypto", "libcrypto", "3.3.2-r4"),
            cpe("libcrypto", "libcrypto3", "3.3.2-r4"),
            cpe("libcrypto3", "libcrypto", "3.3.2-r4"),
            cpe("libcrypto3", "libcrypto3", "3.3.2-r4"),
        ],
        id="apk-origin-not-used",
    ),
    pytest.param(
        package(PackageType.APK, "py3-requests", "2.32.3-r0", source_name="py3-requests"),
        [
            cpe("python", "requests", "2.32.3-r0"),
            cpe("requests", "requests", "2.32.3-r0"),
            cpe("requests_project", "requests", "2.32.3-r0"),
        ],
        id="apk-python-package",
    ),
    pytest.param(
        package(PackageType.APK, "libstdc++", "14.2.0-r4", source_name="gcc"),
        [cpe("libstdc\\+\\+", "libstdc\\+\\+", "14.2.0-r4")],
        id="apk-plus-escaped",
    ),
    pytest.param(
        package(
            PackageType.RPM,
            "openssl-libs",
            "3.0.7-27.el9",
            source_name="openssl",
            metadata={"vendor": "Red Hat, Inc."},
        ),
        [
            cpe("openssl", "openssl", "3.0.7-27.el9"),
            cpe("openssl", "openssl-libs", "3.0.7-27.el9"),
            cpe("openssl-libs", "openssl", "3.0.7-27.el9"),
            cpe("openssl-libs", "openssl-libs", "3.0.7-27.el9"),
            cpe("redhat", "openssl", "3.0.7-27.el9"),
            cpe("redhat", "openssl-libs", "3.0.7-27.el9"),
        ],
        id="rpm-vendor-tag",
    ),
    pytest.param(
        package(PackageType.JAVA, "engine", ""),
        [cpe("engine", "engine", "*")],
        id="missing-version-is-any",
    ),
]


@pytest.mark.parametrize(("subject", "expected"), CASES)
def test_cpe_generated(subject: Package, expected: list[str]) -> None:
    assert generate_cpes(subject) == expected


@pytest.mark.parametrize(("subject", "expected"), CASES)
def test_cpe_generated_are_valid_and_bounded(subject: Package, expected: list[str]) -> None:
    cpes = generate_cpes(subject)
    assert len(cpes) <= MAX_VENDORS * MAX_PRODUCTS
    assert len(set(cpes)) == len(cpes)
    for value in cpes:
        assert CPE23.fullmatch(value), value


@pytest.mark.parametrize(
    ("value", "bound"),
    [
        ("openssl", "openssl"),
        ("Django", "django"),
        ("node.js", "node.js"),
        ("python_dateutil", "python_dateutil"),
        ("1:2.39.5-0+deb12u1", "1\\:2.39.5-0\\+deb12u1"),
        ("x/net", "x\\/net"),
        ("@babel/core", "\\@babel\\/core"),
        ("a*b?", "a\\*b\\?"),
        ("c:\\dir", "c\\:\\\\dir"),
        ("v1.0(devel)", "v1.0\\(devel\\)"),
        ("", ""),
        ("two words", ""),
        ("naïve", ""),
        ("tab\there", ""),
    ],
)
def test_cpe_bind_component(value: str, bound: str) -> None:
    assert bind_component(value) == bound


def test_cpe_format_rejects_unbindable() -> None:
    assert format_cpe("naïve", "product", "1.0") is None
    assert format_cpe("vendor", "", "1.0") is None
    assert format_cpe("vendor", "product", "") is None


def test_cpe_wildcards_in_names_are_literal() -> None:
    assert generate_cpes(package(PackageType.GEM, "*", "1.0")) == []
    cpes = generate_cpes(package(PackageType.BINARY, "a*", "1.0"))
    assert cpes == [cpe("a\\*", "a\\*", "1.0")]


def test_cpe_author_without_ascii_name_skipped() -> None:
    cpes = generate_cpes(package(PackageType.PYTHON, "attrs", "24.3.0", origin="Hynek Schläwack"))
    assert cpes == [cpe("attrs", "attrs", "24.3.0"), cpe("attrs_project", "attrs", "24.3.0")]


def test_cpe_author_email_only() -> None:
    cpes = generate_cpes(package(PackageType.PYTHON, "six", "1.17.0", origin="benjamin@python.org"))
    assert cpe("benjamin", "six", "1.17.0") in cpes


def test_cpe_assign_keeps_cataloger_cpes() -> None:
    python = package(
        PackageType.BINARY,
        "python",
        "3.12.8",
        cpes=["cpe:2.3:a:python_software_foundation:python:3.12.8:*:*:*:*:*:*:*"],
    )
    lodash = package(PackageType.NPM, "lodash", "4.17.21")
    assign_cpes([python, lodash])
    assert python.cpes == ["cpe:2.3:a:python_software_foundation:python:3.12.8:*:*:*:*:*:*:*"]
    assert lodash.cpes[0] == cpe("lodash", "lodash", "4.17.21")


def test_cpe_assigned_in_analysis() -> None:
    metadata = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.4\n"
    manifest = b"Manifest-Version: 1.0\nBundle-SymbolicName: com.google.inject\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", manifest + b"Bundle-Version: 4.2.3\n")
    report = analyze_image(
        image(
            [
                file("usr/lib/python3/site-packages/Jinja2-3.1.4.dist-info/METADATA", metadata),
                file("usr/share/java/guice.jar", buffer.getvalue()),
            ]
        )
    )
    found = {p.name: p.cpes for p in report.packages}
    assert found["Jinja2"][0] == cpe("palletsprojects", "jinja2", "3.1.4")
    assert found["guice"][0] == cpe("google", "guice", "4.2.3")


def test_cpe_unbindable_version_gives_none() -> None:
    assert generate_cpes(package(PackageType.NPM, "lodash", "4.17.21 beta")) == []
