"""CycloneDX 1.6 JSON: valid under the official schema, with packages, licenses and files."""

from __future__ import annotations

import datetime
import json

from chalicelib.analysis.interface import AnalysisReport, PackageType
from chalicelib.analysis.sbom import (
    FileSelection,
    SbomOptions,
    SbomSubject,
    SubjectKind,
    build_sbom,
    write_sbom,
)
from tests.analysis.sbom_support import (  # noqa: F401
    DIFF_ID,
    LAYER,
    alpine_report,
    cyclonedx_validator,
    debian_archive,
    debian_report,
    make_file,
    make_package,
    make_report,
    schema_errors,
)

SUBJECT = SbomSubject(name="example.com/app:1", tags=("example.com/app:1",))


def components_by_name(document: dict) -> dict[str, dict]:
    return {component["name"]: component for component in document["components"]}


def properties(component: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for entry in component.get("properties", []):
        found.setdefault(entry["name"], []).append(entry["value"])
    return found


def test_cyclonedx_alpine_image_is_valid(alpine_report: AnalysisReport) -> None:
    document = json.loads(write_sbom(alpine_report, "cyclonedx-json", SUBJECT))

    assert schema_errors(cyclonedx_validator(), document) == []
    assert document["specVersion"] == "1.6"
    names = {component["name"] for component in document["components"]}
    assert {"musl", "busybox", "alpine-baselayout"} <= names


def test_cyclonedx_built_image_is_valid(debian_report: AnalysisReport) -> None:
    document = build_sbom(debian_report, "cyclonedx-json", SUBJECT)

    assert schema_errors(cyclonedx_validator(), document) == []
    components = components_by_name(document)
    assert components["zlib1g"]["purl"].startswith("pkg:deb/debian/zlib1g@")
    assert components["urllib3"]["purl"] == "pkg:pypi/urllib3@1.24.1"
    assert components["minimist"]["purl"] == "pkg:npm/minimist@0.0.8"


def test_cyclonedx_built_image_all_files_is_valid(debian_report: AnalysisReport) -> None:
    options = SbomOptions(files=FileSelection.ALL)

    document = build_sbom(debian_report, "cyclonedx-json", SUBJECT, options)

    assert schema_errors(cyclonedx_validator(), document) == []
    refs = [component["bom-ref"] for component in document["components"]]
    nested = [
        child["bom-ref"]
        for component in document["components"]
        for child in component.get("components", [])
    ]
    assert len(refs + nested) == len(set(refs + nested))


def test_cyclonedx_subject_is_image_component() -> None:
    report = make_report([make_package()])
    created = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)

    document = build_sbom(report, "cyclonedx-json", SUBJECT, SbomOptions(created=created))

    subject = document["metadata"]["component"]
    assert subject["type"] == "container"
    assert subject["name"] == "example.com/app:1"
    assert subject["version"] == report.image_digest
    assert subject["hashes"] == [{"alg": "SHA-256", "content": "c" * 64}]
    assert document["metadata"]["timestamp"] == "2026-01-02T03:04:05Z"
    assert document["metadata"]["tools"]["components"][0]["name"] == "plimsoll"


def test_cyclonedx_package_has_identity_and_layer() -> None:
    report = make_report([make_package()])

    document = build_sbom(report, "cyclonedx-json", SUBJECT)

    component = components_by_name(document)["zlib1g"]
    assert component["type"] == "library"
    assert component["version"] == "1:1.2.13.dfsg-1"
    assert component["purl"] == "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    assert component["cpe"] == "cpe:2.3:a:zlib1g:zlib1g:1.2.13:*:*:*:*:*:*:*"
    assert component["licenses"] == [{"license": {"id": "Zlib"}}]
    assert component["publisher"] == "Mark Brown <broonie@debian.org>"
    assert component["evidence"] == {"occurrences": [{"location": "/var/lib/dpkg/status"}]}
    found = properties(component)
    assert found["syft:package:type"] == ["deb"]
    assert found["syft:location:0:path"] == ["/var/lib/dpkg/status"]
    assert found["syft:location:0:layerID"] == [DIFF_ID]
    assert found["plimsoll:location:0:layerDigest"] == [LAYER]
    assert found["syft:metadata:source"] == ["zlib"]


def test_cyclonedx_extra_cpes_become_properties() -> None:
    cpes = ["cpe:2.3:a:zlib:zlib:1.2.13:*:*:*:*:*:*:*", "cpe:2.3:a:gnu:zlib:1.2.13:*:*:*:*:*:*:*"]
    report = make_report([make_package(cpes=cpes)])

    component = components_by_name(build_sbom(report, "cyclonedx-json", SUBJECT))["zlib1g"]

    assert component["cpe"] == cpes[0]
    assert properties(component)["syft:cpe23"] == [cpes[1]]


def test_cyclonedx_operating_system_component() -> None:
    document = build_sbom(make_report([]), "cyclonedx-json", SUBJECT)

    system = components_by_name(document)["debian"]
    assert system["type"] == "operating-system"
    assert system["version"] == "12"
    assert system["description"] == "Debian GNU/Linux 12 (bookworm)"


def test_cyclonedx_licenses_by_kind() -> None:
    cases = [
        (["GPL-2+"], [{"license": {"id": "GPL-2.0-or-later"}}]),
        (["MIT OR Apache-2.0"], [{"expression": "MIT OR Apache-2.0"}]),
        (["public-domain"], [{"license": {"name": "public-domain"}}]),
        (
            ["MIT OR Apache-2.0", "BSD-3-clause"],
            [{"license": {"name": "MIT OR Apache-2.0"}}, {"license": {"id": "BSD-3-Clause"}}],
        ),
    ]
    for licenses, expected in cases:
        report = make_report([make_package(licenses=licenses)])
        document = build_sbom(report, "cyclonedx-json", SUBJECT)
        assert components_by_name(document)["zlib1g"]["licenses"] == expected, licenses
        assert schema_errors(cyclonedx_validator(), document) == [], licenses


def test_cyclonedx_package_without_licenses_has_none() -> None:
    report = make_report([make_package(licenses=[])])

    component = components_by_name(build_sbom(report, "cyclonedx-json", SUBJECT))["zlib1g"]

    assert "licenses" not in component


def test_cyclonedx_nests_owned_files_under_package() -> None:
    owned = "/usr/lib/x86_64-linux-gnu/libz.so.1"
    files = [make_file(owned), make_file("/etc/other.conf")]
    report = make_report([make_package(files=[owned, "/missing/file"])], files)

    document = build_sbom(report, "cyclonedx-json", SUBJECT)

    package = components_by_name(document)["zlib1g"]
    assert [child["name"] for child in package["components"]] == [owned]
    assert package["components"][0]["type"] == "file"
    assert package["components"][0]["hashes"] == [{"alg": "SHA-256", "content": "e" * 64}]
    assert "/etc/other.conf" not in components_by_name(document)


def test_cyclonedx_file_owned_twice_is_listed_once() -> None:
    shared = "/usr/share/doc/shared"
    report = make_report(
        [make_package("first", files=[shared]), make_package("second", files=[shared])],
        [make_file(shared)],
    )

    document = build_sbom(report, "cyclonedx-json", SUBJECT)

    components = components_by_name(document)
    assert [child["name"] for child in components["first"]["components"]] == [shared]
    assert "components" not in components["second"]
    assert schema_errors(cyclonedx_validator(), document) == []


def test_cyclonedx_file_selection_all_and_none() -> None:
    owned = "/lib/libz.so.1"
    files = [make_file(owned), make_file("/etc/hostname")]
    report = make_report([make_package(files=[owned])], files)

    everything = build_sbom(report, "cyclonedx-json", SUBJECT, SbomOptions(files=FileSelection.ALL))
    nothing = build_sbom(report, "cyclonedx-json", SUBJECT, SbomOptions(files=FileSelection.NONE))

    assert components_by_name(everything)["/etc/hostname"]["type"] == "file"
    assert "components" not in components_by_name(nothing)["zlib1g"]
    assert "/etc/hostname" not in components_by_name(nothing)


def test_cyclonedx_binary_package_is_application() -> None:
    binary = make_package(
        "openssl", type=PackageType.BINARY, location="/usr/bin/openssl", purl=None, cpes=[]
    )

    component = components_by_name(build_sbom(make_report([binary]), "cyclonedx-json"))["openssl"]

    assert component["type"] == "application"
    assert "purl" not in component


def test_cyclonedx_directory_subject_is_file() -> None:
    subject = SbomSubject(name="/srv/app", kind=SubjectKind.DIRECTORY)

    document = build_sbom(make_report([make_package()]), "cyclonedx-json", subject)

    assert document["metadata"]["component"]["type"] == "file"
    assert document["metadata"]["component"]["name"] == "/srv/app"
    assert schema_errors(cyclonedx_validator(), document) == []


def test_cyclonedx_serial_numbers_differ() -> None:
    report = make_report([])

    first = build_sbom(report, "cyclonedx-json")["serialNumber"]
    second = build_sbom(report, "cyclonedx-json")["serialNumber"]

    assert first.startswith("urn:uuid:")
    assert first != second
