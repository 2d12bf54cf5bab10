"""Tests of the JVM installation cataloger on Syft's `release` fixtures and files built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType
from chalicelib.analysis.jvm import jvm_cpes, jvm_version, parse_jvm_release, vendor_and_product
from chalicelib.analysis.sbom import build_sbom
from tests.analysis.builders import Item, file, image
from tests.analysis.test_golang import elf, inline_blob

INSTALLS = "acceptance-fixtures/syft/java/testdata/jvm-installs"
DEBIAN_RELEASE = (
    'IMPLEMENTOR="Debian"\nJAVA_RUNTIME_VERSION="17.0.13+11-Debian-2deb12u1"\n'
    'JAVA_VERSION="17.0.13"\nJAVA_VERSION_DATE="2024-10-15"\nLIBC="gnu"\n'
    'MODULES="java.base java.logging"\nOS_ARCH="x86_64"\nOS_NAME="Linux"\nSOURCE=""\n'
)


def fixture_items(root: Path) -> list[Item]:
    return [
        file(str(path.relative_to(root)), path.read_bytes(), mode=0o644)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    ]


def jvm_packages(items: list[Item]) -> list[Package]:
    report = analyze_image(image(items))
    return [p for p in report.packages if "jvm_release" in p.metadata]


def parse(content: str, location: str, files: list[str]) -> ParseResult:
    context = ParseContext(None, {}.get, list_files=lambda directory: files)
    return parse_jvm_release(location, content.encode(), context)


def test_jvm_temurin_install(shared_dir: Path) -> None:
    [package] = jvm_packages(fixture_items(shared_dir / INSTALLS / "valid-post-jep223"))
    assert package.name == "openjdk"
    assert package.version == "21.0.4+7-LTS"
    assert package.type is PackageType.BINARY
    assert package.location == "/jvm/openjdk/release"
    assert package.purl == (
        "pkg:generic/oracle/openjdk@21.0.4%2B7-LTS"
        "?repository_url=https://github.com/adoptium/jdk21u.git"
    )
    assert package.cpes == ["cpe:2.3:a:oracle:openjdk:21.0.4:*:*:*:*:*:*:*"]
    assert package.metadata["files"] == [
        "/jvm/openjdk/release",
        "/jvm/openjdk/sibling/child/file1.txt",
    ]
    assert package.metadata["jvm_release"]["IMPLEMENTOR"] == "Eclipse Adoptium"
    assert "java.base" in package.metadata["jvm_release"]["MODULES"]


def test_jvm_oracle_jdk_8(shared_dir: Path) -> None:
    [package] = jvm_packages(fixture_items(shared_dir / INSTALLS / "oracle-jdk-se-8"))
    assert package.name == "jdk"
    assert package.version == "1.8.0_411-b25"
    assert package.purl == "pkg:generic/oracle/jdk@1.8.0_411-b25"
    assert package.cpes == [
        "cpe:2.3:a:oracle:java_se:1.8.0:update411:*:*:*:*:*:*",
        "cpe:2.3:a:oracle:jre:1.8.0:update411:*:*:*:*:*:*",
        "cpe:2.3:a:oracle:jdk:1.8.0:update411:*:*:*:*:*:*",
    ]
    assert package.metadata["files"] == [
        "/usr/lib/jvm/jdk-1.8-oracle-x64/bin/javac",
        "/usr/lib/jvm/jdk-1.8-oracle-x64/release",
    ]


def test_jvm_release_owned_by_dpkg_excluded() -> None:
    # Debian's openjdk packages own the release file, so the dpkg package reports the JDK.
    release = "/usr/lib/jvm/java-17-openjdk-amd64/release"
    status = (
        "Package: openjdk-17-jre-headless\nStatus: install ok installed\n"
        "Architecture: amd64\nVersion: 17.0.13+11-1~deb12u1\n\n"
    )
    items = [
        file("var/lib/dpkg/status", status),
        file("var/lib/dpkg/info/openjdk-17-jre-headless:amd64.list", f"{release}\n"),
        file(release.lstrip("/"), DEBIAN_RELEASE),
    ]
    assert jvm_packages(items) == []
    assert jvm_packages(items[2:])[0].name == "openjdk"


def test_jvm_release_without_java_version_ignored() -> None:
    items = [file("opt/tool/release", 'VERSION="1.0"\nNAME="tool"\n')]
    assert jvm_packages(items) == []


def test_jvm_executable_named_release_keeps_go_modules() -> None:
    # A file named `release` is summarized, not kept whole, so other summarizers still see it.
    items = [file("usr/local/bin/release", elf({".go.buildinfo": inline_blob()}), mode=0o755)]
    report = analyze_image(image(items))
    assert "github.com/google/uuid" in {p.name for p in report.packages}


def test_jvm_jre_image_without_javac() -> None:
    release = 'IMPLEMENTOR="Oracle Corporation"\nJAVA_VERSION="22.0.2"\nIMAGE_TYPE="JRE"\n'
    [package] = parse(release, "/opt/jre/release", ["/opt/jre/release"]).packages
    assert package.name == "jre"
    assert package.version == "22.0.2"
    assert package.cpes == [
        "cpe:2.3:a:oracle:java_se:22.0.2:*:*:*:*:*:*:*",
        "cpe:2.3:a:oracle:jre:22.0.2:*:*:*:*:*:*:*",
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"JAVA_RUNTIME_VERSION": "17.0.12+7-LTS", "JAVA_VERSION": "17.0.12"}, "17.0.12+7-LTS"),
        ({"FULL_VERSION": "1.8.0_302-b08", "JAVA_VERSION": "1.8.0_302"}, "1.8.0_302-b08"),
        ({"FULL_VERSION": "8.0.302+8", "JAVA_VERSION": "1.8.0_302"}, "1.8.0_302"),
        ({"JAVA_VERSION": "21.0.4"}, "21.0.4"),
    ],
)
def test_jvm_version_choice(fields: dict[str, str], expected: str) -> None:
    assert jvm_version(fields) == expected


@pytest.mark.parametrize(
    ("implementor", "location", "expected"),
    [
        ("Azul Systems, Inc.", "/usr/lib/jvm/release", ("azul", "zulu")),
        ("", "/usr/lib/jvm/zulu17/release", ("azul", "zulu")),
        ("Sun Microsystems Inc.", "/opt/java/release", ("sun", "jdk")),
        ("Eclipse Adoptium", "/opt/java/openjdk/release", ("oracle", "openjdk")),
        ("Amazon.com Inc.", "/usr/lib/jvm/corretto-17/release", ("oracle", "openjdk")),
    ],
)
def test_jvm_vendor_and_product(
    implementor: str, location: str, expected: tuple[str, str]
) -> None:
    assert vendor_and_product(implementor, location, {}, False) == expected


def test_jvm_cpes_zulu_and_sun() -> None:
    assert jvm_cpes("9.0.1+20", "azul", "zulu", "jdk", False) == [
        "cpe:2.3:a:azul:zulu:9.0.1:*:*:*:*:*:*:*",
        "cpe:2.3:a:oracle:openjdk:9.0.1:*:*:*:*:*:*:*",
    ]
    assert jvm_cpes("1.6.0_322-b002", "sun", "jre", "jre", False) == [
        "cpe:2.3:a:sun:jre:1.6.0:update322:*:*:*:*:*:*",
    ]


def test_jvm_syft_json_metadata(shared_dir: Path) -> None:
    report = analyze_image(image(fixture_items(shared_dir / INSTALLS / "valid-post-jep223")))
    document = build_sbom(report, "syft-json")
    [artifact] = [item for item in document["artifacts"] if item["type"] == "binary"]
    assert artifact["foundBy"] == "java-jvm-cataloger"
    assert artifact["metadataType"] == "java-jvm-installation"
    release = artifact["metadata"]["release"]
    assert release["implementorVersion"] == "Temurin-21.0.4+7"
    assert release["javaRuntimeVersion"] == "21.0.4+7-LTS"
    assert release["imageType"] == "JDK"
    assert artifact["metadata"]["files"][0] == "/jvm/openjdk/release"
    json.dumps(document)
