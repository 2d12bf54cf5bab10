"""Tests of the Java archive cataloger on real archives and on archives built in the tests."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from chalicelib.analysis import AnalysisOptions, analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.java import (
    ArchiveLimits,
    catalog_archive,
    parse_java_archive,
    parse_manifest,
    parse_pom_properties,
    split_archive_filename,
)
from chalicelib.api.render import java_package
from tests.analysis.builders import Item, file, image

JAVA = "acceptance-fixtures/dirscan/syft-image-pkg-coverage/pkgs/java"
TESTDATA = "acceptance-fixtures/syft/java/testdata"


def parse(location: str, content: bytes) -> ParseResult:
    return parse_java_archive(location, content, ParseContext(None, {}.get))


def identities(result: ParseResult) -> set[tuple[str, str, str, str | None]]:
    return {(p.name, p.version, p.location, p.purl) for p in result.packages}


def zip_bytes(entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def jar(group: str, artifact: str, version: str, **extra: bytes) -> bytes:
    manifest = f"Manifest-Version: 1.0\nImplementation-Version: {version}\n\n".encode()
    pom = f"groupId={group}\nartifactId={artifact}\nversion={version}\n".encode()
    return zip_bytes(
        {
            "META-INF/MANIFEST.MF": manifest,
            f"META-INF/maven/{group}/{artifact}/pom.properties": pom,
            **extra,
        }
    )


def directory_jar(root: Path) -> bytes:
    entries = {}
    for folder, _, names in os.walk(root):
        for name in names:
            full = Path(folder) / name
            entries[str(full.relative_to(root))] = full.read_bytes()
    return zip_bytes(entries)


def test_java_real_jar_with_dependency(shared_dir: Path) -> None:
    path = shared_dir / JAVA / "example-java-app-maven-0.1.0.jar"
    result = parse("/app/example-java-app-maven-0.1.0.jar", path.read_bytes())
    # The same packages Syft 1.18.1 reports for this jar.
    assert identities(result) == {
        ("example-java-app-maven", "0.1.0", "/app/example-java-app-maven-0.1.0.jar",
         "pkg:maven/org.anchore/example-java-app-maven@0.1.0"),
        ("joda-time", "2.9.2", "/app/example-java-app-maven-0.1.0.jar",
         "pkg:maven/joda-time/joda-time@2.9.2"),
    }
    assert result.unknowns == []


def test_java_real_jenkins_plugin(shared_dir: Path) -> None:
    path = shared_dir / JAVA / "example-jenkins-plugin.hpi"
    result = parse("/plugins/example-jenkins-plugin.hpi", path.read_bytes())
    purl = "pkg:maven/io.jenkins.plugins/example-jenkins-plugin@1.0-SNAPSHOT"
    assert identities(result) == {
        ("example-jenkins-plugin", "1.0-SNAPSHOT", "/plugins/example-jenkins-plugin.hpi", purl),
        ("example-jenkins-plugin", "1.0-SNAPSHOT",
         "/plugins/example-jenkins-plugin.hpi:WEB-INF/lib/example-jenkins-plugin.jar", purl),
    }


def test_java_metadata_for_anchore_rows(shared_dir: Path) -> None:
    path = shared_dir / JAVA / "example-jenkins-plugin.hpi"
    main = parse("/p/example-jenkins-plugin.hpi", path.read_bytes()).packages[0]
    assert main.type is PackageType.JAVA
    assert main.metadata["implementation-version"] == "1.0-SNAPSHOT"
    assert main.metadata["maven-version"] == "1.0-SNAPSHOT"
    assert main.metadata["origin"] == "io.jenkins.plugins"
    assert main.metadata["pom_properties"]["artifactId"] == "example-jenkins-plugin"
    assert main.metadata["manifest"]["Plugin-ScmUrl"] == (
        "https://github.com/jenkinsci/plugin-pom/example-jenkins-plugin"
    )
    assert main.licenses == ["MIT License"]


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("opensaml-core-3.4.6", {("opensaml-core", "3.4.6")}),
        ("api-all-2.0.0-sources", {("api-all", "2.0.0"), ("api-asn1-api", "2.0.0")}),
        ("commons-lang3-3.12.0", {("commons-lang3", "3.12.0")}),
        ("spring-instrumentation-4.3.0-1.0", {("spring-instrumentation", "4.3.0-1.0")}),
        (
            "multiple-matching-2.11.5",
            {("multiple-matching-1", "2.11.5"), ("multiple-matching-2", "2.11.5"),
             ("multiple-matching-3", "2.11.5")},
        ),
    ],
)
def test_java_syft_jar_metadata(
    shared_dir: Path, fixture: str, expected: set[tuple[str, str]]
) -> None:
    content = directory_jar(shared_dir / TESTDATA / "jar-metadata" / fixture)
    result = parse(f"/lib/{fixture}.jar", content)
    assert {(p.name, p.version) for p in result.packages} == expected


@pytest.mark.parametrize(
    ("fixture", "key", "value"),
    [
        (
            "continuation",
            "Plugin-ScmUrl",
            "https://github.com/jenkinsci/plugin-pom/example-jenkins-plugin",
        ),
        ("small", "Manifest-Version", "1.0"),
    ],
)
def test_java_manifest_fixtures(shared_dir: Path, fixture: str, key: str, value: str) -> None:
    text = (shared_dir / TESTDATA / "manifest" / fixture).read_text()
    assert parse_manifest(text).main[key] == value


def test_java_manifest_sections(shared_dir: Path) -> None:
    manifest = parse_manifest((shared_dir / TESTDATA / "manifest" / "extra-info").read_text())
    assert manifest.main["Created-By"] == "Apache Maven 3.6.3"
    assert manifest.sections["thing-1"] == {"Built-By": "?"}
    assert manifest.sections["1"]["Main-Class"] == "hello.HelloWorld"
    assert manifest.field("Main-Class") == "hello.HelloWorld"


def test_java_manifest_skips_junk_lines(shared_dir: Path) -> None:
    text = (shared_dir / TESTDATA / "manifest" / "extra-empty-lines").read_text()
    manifest = parse_manifest(text)
    assert manifest.main["Archiver-Version"] == "Plexus Archiver"
    assert manifest.sections["thing-1"] == {"Built-By": "?"}


def test_java_manifest_continuation_without_key() -> None:
    assert parse_manifest(" dangling\nA: b\n").main == {"A": "b"}


@pytest.mark.parametrize(
    ("fixture", "version"),
    [
        ("small.pom.properties", "0.1.0"),
        ("colon-delimited.pom.properties", "0.1.0"),
        ("equals-delimited-with-colons.pom.properties", "0.1.0:something"),
    ],
)
def test_java_pom_properties_fixtures(shared_dir: Path, fixture: str, version: str) -> None:
    text = (shared_dir / TESTDATA / "pom" / fixture).read_text()
    assert parse_pom_properties(text)["version"] == version


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("some-package-4.0.1.jar", ("some-package", "4.0.1")),
        ("prefix.thing-4.jar", ("prefix.thing", "4")),
        ("my-http2-server-5.war", ("my-http2-server", "5")),
        ("jetpack-build235-rc5.jar", ("jetpack", "build235-rc5")),
        ("guava-r09.jar", ("guava", "r09")),
        ("foo_1.2.3.jar", ("foo", "1.2.3")),
        ("spring-instrumentation-4.3.0-1.0.jar", ("spring-instrumentation", "4.3.0-1.0")),
        ("1.0.jar", ("", "")),
        ("/usr/share/java/plain.jar", ("plain", "")),
    ],
)
def test_java_filename_split(filename: str, expected: tuple[str, str]) -> None:
    assert split_archive_filename(filename) == expected


def test_java_filename_fallback_without_pom() -> None:
    content = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n"})
    [package] = parse("/opt/lib/tiny-util-2.3.jar", content).packages
    assert (package.name, package.version) == ("tiny-util", "2.3")
    assert package.purl == "pkg:maven/tiny-util/tiny-util@2.3"


def test_java_manifest_fallback_without_version_in_name() -> None:
    manifest = b"Manifest-Version: 1.0\nImplementation-Title: x\nSpecification-Version: 7.1\n"
    [package] = parse("/opt/lib/engine.jar", zip_bytes({"META-INF/MANIFEST.MF": manifest})).packages
    assert (package.name, package.version) == ("engine", "7.1")
    assert package.metadata["specification-version"] == "7.1"


def test_java_bundle_version_fallback() -> None:
    # Part of the manifest of Guice 4.2.3 from Debian's libguice-java, under a file name without
    # a version like the `guice.jar` link in /usr/share/java.
    manifest = (
        b"Manifest-Version: 1.0\nBundle-Name: guice\nBundle-SymbolicName: com.google.inject\n"
        b"Bundle-Vendor: Google, Inc.\nBundle-Version: 4.2.3\n"
    )
    content = zip_bytes({"META-INF/MANIFEST.MF": manifest})
    [package] = parse("/usr/share/java/guice.jar", content).packages
    assert (package.name, package.version) == ("guice", "4.2.3")
    assert package.purl == "pkg:maven/com.google.inject/guice@4.2.3"


def test_java_bundle_version_comes_last() -> None:
    manifest = (
        b"Manifest-Version: 1.0\nBundle-Version: 2.0.0.v20240101\nImplementation-Version: 2.0\n"
    )
    [package] = parse("/opt/lib/engine.jar", zip_bytes({"META-INF/MANIFEST.MF": manifest})).packages
    assert package.version == "2.0"


def test_java_debian_guice_jar() -> None:
    path = Path("/usr/share/java/guice.jar")
    if not path.exists():
        pytest.skip("Debian's libguice-java is not installed at /usr/share/java")
    packages = parse("/usr/share/java/guice.jar", path.read_bytes()).packages
    guice = [package for package in packages if package.name == "guice"]
    assert [package.version for package in guice] == ["4.2.3"]


def test_java_nested_ear_war_jar() -> None:
    inner = jar("org.example", "inner-lib", "1.2.3")
    war = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
                     "WEB-INF/lib/inner-lib-1.2.3.jar": inner})
    ear = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n", "web-2.0.war": war})
    result = parse("/srv/app-1.0.ear", ear)
    assert identities(result) == {
        ("app", "1.0", "/srv/app-1.0.ear", "pkg:maven/app/app@1.0"),
        ("web", "2.0", "/srv/app-1.0.ear:web-2.0.war", "pkg:maven/web/web@2.0"),
        ("inner-lib", "1.2.3", "/srv/app-1.0.ear:web-2.0.war:WEB-INF/lib/inner-lib-1.2.3.jar",
         "pkg:maven/org.example/inner-lib@1.2.3"),
    }


def test_java_archive_without_manifest_reports_nested_only() -> None:
    outer = zip_bytes({"lib/dep-3.0.jar": jar("org.dep", "dep", "3.0")})
    result = parse("/srv/bundle.jar", outer)
    found = [(p.name, p.location) for p in result.packages]
    assert found == [("dep", "/srv/bundle.jar:lib/dep-3.0.jar")]


def test_java_truncated_jar_is_unknown() -> None:
    content = jar("org.example", "lib", "1.0")
    result = parse("/srv/lib-1.0.jar", content[: len(content) // 2])
    assert result.packages == []
    assert "not a readable zip archive" in result.unknowns[0].reason


def test_java_corrupt_nested_jar_keeps_outer() -> None:
    outer = jar("org.example", "outer", "1.0", **{"lib/broken-2.0.jar": b"PK\x03\x04garbage"})
    result = parse("/srv/outer-1.0.jar", outer)
    assert [p.name for p in result.packages] == ["outer"]
    assert result.unknowns[0].location == "/srv/outer-1.0.jar:lib/broken-2.0.jar"


def test_java_zip_bomb_fails_fast() -> None:
    # Six nested levels of four copies each hold 4**6 leaf archives.
    level = jar("org.bomb", "leaf", "1.0")
    for depth in range(6):
        level = zip_bytes({f"l{depth}-{i}.jar": level for i in range(4)}, zipfile.ZIP_STORED)
    result = catalog_archive("/srv/bomb.jar", level, ArchiveLimits(max_entries=2000))
    assert any("zip bomb" in unknown.reason or "deeper" in unknown.reason
               for unknown in result.unknowns)


def test_java_inflated_size_limit() -> None:
    huge = zip_bytes({"blob": b"\x00" * 5_000_000}, zipfile.ZIP_STORED)
    big = zip_bytes({"lib/huge-1.0.jar": huge})
    result = catalog_archive("/srv/x.jar", big, ArchiveLimits(max_inflated_bytes=1_000_000))
    assert "zip bomb" in result.unknowns[-1].reason


def test_java_depth_limit() -> None:
    level = jar("org.deep", "leaf", "1.0")
    for depth in range(5):
        level = zip_bytes({"META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n",
                           f"nested{depth}.jar": level})
    result = catalog_archive("/srv/top.jar", level, ArchiveLimits(max_depth=3))
    assert "nested deeper than 3" in result.unknowns[0].reason
    assert len(result.packages) == 3


def test_java_archive_in_image(shared_dir: Path) -> None:
    content = (shared_dir / JAVA / "example-java-app-maven-0.1.0.jar").read_bytes()
    report = analyze_image(image([file("app/app.jar", content)]))
    found = {(p.name, p.version, p.location) for p in report.packages if p.type is PackageType.JAVA}
    assert ("joda-time", "2.9.2", "/app/app.jar") in found
    assert ("example-java-app-maven", "0.1.0", "/app/app.jar") in found


def test_java_anchore_content_row(shared_dir: Path) -> None:
    path = shared_dir / JAVA / "example-jenkins-plugin.hpi"
    result = parse("/p/example-jenkins-plugin.hpi", path.read_bytes())
    outer, inner = sorted(result.packages, key=lambda package: len(package.location))
    row = java_package(outer)
    assert row["type"] == "JAVA-HPI"
    assert row["package"] == "example-jenkins-plugin"
    assert row["implementation-version"] == "1.0-SNAPSHOT"
    assert row["specification-version"] == "N/A"
    assert row["maven-version"] == "1.0-SNAPSHOT"
    assert row["origin"] == "io.jenkins.plugins"
    assert row["metadata"]["pom.properties"]["groupId"] == "io.jenkins.plugins"
    assert java_package(inner)["type"] == "JAVA-JAR"


def test_java_long_manifest_values_not_stored() -> None:
    exports = ",".join(f"org.example.pkg{i}" for i in range(200))
    manifest = f"Manifest-Version: 1.0\nExport-Package: {exports}\n\nName: a/B.class\nX: y\n"
    content = zip_bytes({"META-INF/MANIFEST.MF": manifest.encode()})
    [package] = parse("/lib/bundle-1.0.jar", content).packages
    assert package.metadata["manifest"] == {"Manifest-Version": "1.0"}
    assert "manifest_sections" not in package.metadata


def test_java_archive_over_kept_limit_in_image() -> None:
    padding = {"blob.bin": bytes(range(256)) * 64}
    content = jar("org.example", "big", "2.0", **padding)
    options = AnalysisOptions(max_kept_file_size=1000)
    report = analyze_image(image([file("opt/big-2.0.jar", content)]), options=options)
    found = {(p.name, p.version, p.location) for p in report.packages}
    assert found == {("big", "2.0", "/opt/big-2.0.jar")}
    assert report.problems == []


def test_java_hard_link_shares_summary() -> None:
    source = image(
        [
            file("opt/lib-1.0.jar", jar("org.example", "lib", "1.0")),
            Item("srv/lib-1.0.jar", "hardlink", target="opt/lib-1.0.jar"),
        ]
    )
    report = analyze_image(source)
    found = {(p.name, p.location, p.metadata["virtual_path"]) for p in report.packages}
    assert found == {
        ("lib", "/opt/lib-1.0.jar", "/opt/lib-1.0.jar"),
        ("lib", "/srv/lib-1.0.jar", "/srv/lib-1.0.jar"),
    }


def test_java_pom_properties_outside_maven_directory(shared_dir: Path) -> None:
    path = shared_dir / "acceptance-fixtures/trivy/parsers/java/jar/testdata"
    location = "/app/io.quarkus.gizmo.gizmo-1.1.jar"
    result = parse(location, (path / "io.quarkus.gizmo.gizmo-1.1.jar").read_bytes())
    found = sorted(
        (p.name, p.version, p.metadata["pom_properties"]["path"])
        for p in result.packages
        if p.location == location
    )
    assert found == [
        ("gizmo", "1.1", "META-INF/maven/io.quarkus.gizmo/gizmo/pom.properties"),
        ("jackson-databind", "2.12.3", "bar/foo/pom.properties"),
        ("jackson-databind", "2.12.3", "foo/bar/pom.properties"),
        ("jackson-databind", "2.13.4", "bar/bar/pom.properties"),
        ("jackson-databind", "2.13.4", "foo/foo/pom.properties"),
    ]
    purls = {p.purl for p in result.packages if p.name == "jackson-databind"}
    assert purls == {
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.12.3",
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.13.4",
    }


def test_java_one_pom_properties_per_directory() -> None:
    content = zip_bytes(
        {
            "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n\n",
            "lib/a/pom.properties": b"groupId=g\nartifactId=first\nversion=1\n",
            "lib/a/shaded-pom.properties": b"groupId=g\nartifactId=second\nversion=2\n",
        }
    )
    names = {p.name for p in parse("/app/tool-1.0.jar", content).packages}
    assert names == {"tool", "second"}


def test_java_main_pom_prefers_one_with_pom_xml() -> None:
    # Several artifactIds start with the file name: the first beside a pom.xml names the
    # archive, and without a pom.xml the last one does.
    entries = {
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\n\n",
        "a/pom.properties": b"groupId=g\nartifactId=tool-core\nversion=1.0\n",
        "b/pom.properties": b"groupId=g\nartifactId=tool-api\nversion=2.0\n",
        "b/pom.xml": b"<project/>",
        "c/pom.properties": b"groupId=g\nartifactId=tool-extra\nversion=3.0\n",
    }
    main = parse("/app/tool.jar", zip_bytes(entries)).packages[0]
    assert (main.name, main.version) == ("tool-api", "2.0")
    del entries["b/pom.xml"]
    main = parse("/app/tool.jar", zip_bytes(entries)).packages[0]
    assert (main.name, main.version) == ("tool-extra", "3.0")
