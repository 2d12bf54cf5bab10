"""SPDX 2.3 JSON: valid under the official schema and the SPDX validator, with relationships."""

from __future__ import annotations

import json
from pathlib import Path

from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from chalicelib.analysis.interface import AnalysisReport, PackageType
from chalicelib.analysis.sbom import SbomSubject, SubjectKind, build_sbom, write_sbom
from tests.analysis.sbom_support import (  # noqa: F401
    LAYER,
    alpine_report,
    debian_archive,
    debian_report,
    make_package,
    make_report,
    schema_errors,
    spdx_validator,
)

SUBJECT = SbomSubject(name="example.com/app:1")


def spdx_tools_messages(document: bytes, tmp_path: Path) -> list[str]:
    """Return the SPDX validator's messages about `document`."""
    path = tmp_path / "document.spdx.json"
    path.write_bytes(document)
    messages = validate_full_spdx_document(parse_file(str(path)))
    return [message.validation_message for message in messages]


def packages_by_name(document: dict) -> dict[str, dict]:
    return {package["name"]: package for package in document["packages"]}


def test_spdx_alpine_image_is_valid(alpine_report: AnalysisReport, tmp_path: Path) -> None:
    output = write_sbom(alpine_report, "spdx-json", SUBJECT)

    assert schema_errors(spdx_validator(), json.loads(output)) == []
    assert spdx_tools_messages(output, tmp_path) == []


def test_spdx_built_image_is_valid(debian_report: AnalysisReport, tmp_path: Path) -> None:
    output = write_sbom(debian_report, "spdx-json", SUBJECT)

    document = json.loads(output)
    assert schema_errors(spdx_validator(), document) == []
    assert spdx_tools_messages(output, tmp_path) == []
    assert {"zlib1g", "urllib3", "minimist"} <= set(packages_by_name(document))


def test_spdx_document_describes_image() -> None:
    report = make_report([make_package()])

    document = build_sbom(report, "spdx-json", SUBJECT)

    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["dataLicense"] == "CC0-1.0"
    assert document["documentNamespace"].startswith("urn:uuid:")
    assert document["creationInfo"]["creators"][0].startswith("Tool: plimsoll-")
    root = packages_by_name(document)["example.com/app:1"]
    assert root["primaryPackagePurpose"] == "CONTAINER"
    assert root["versionInfo"] == report.image_digest
    assert root["checksums"] == [{"algorithm": "SHA256", "checksumValue": "c" * 64}]
    describes = [r for r in document["relationships"] if r["relationshipType"] == "DESCRIBES"]
    assert describes == [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relatedSpdxElement": root["SPDXID"],
            "relationshipType": "DESCRIBES",
        }
    ]


def test_spdx_image_contains_each_package() -> None:
    report = make_report([make_package("zlib1g"), make_package("libc6")])

    document = build_sbom(report, "spdx-json", SUBJECT)

    packages = packages_by_name(document)
    root_id = packages["example.com/app:1"]["SPDXID"]
    contained = {
        r["relatedSpdxElement"]
        for r in document["relationships"]
        if r["relationshipType"] == "CONTAINS" and r["spdxElementId"] == root_id
    }
    assert packages["zlib1g"]["SPDXID"] in contained
    assert packages["libc6"]["SPDXID"] in contained
    assert packages["debian"]["SPDXID"] in contained
    assert packages["debian"]["primaryPackagePurpose"] == "OPERATING_SYSTEM"


def test_spdx_package_has_refs_and_layer() -> None:
    report = make_report([make_package()])

    package = packages_by_name(build_sbom(report, "spdx-json", SUBJECT))["zlib1g"]

    assert package["versionInfo"] == "1:1.2.13.dfsg-1"
    assert package["licenseDeclared"] == "Zlib"
    assert package["supplier"] == "Person: Mark Brown <broonie@debian.org>"
    assert LAYER in package["sourceInfo"]
    assert "/var/lib/dpkg/status" in package["sourceInfo"]
    assert {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
    } in package["externalRefs"]
    assert {
        "referenceCategory": "SECURITY",
        "referenceType": "cpe23Type",
        "referenceLocator": "cpe:2.3:a:zlib1g:zlib1g:1.2.13:*:*:*:*:*:*:*",
    } in package["externalRefs"]


def test_spdx_unknown_license_becomes_license_ref(tmp_path: Path) -> None:
    report = make_report([make_package(licenses=["public domain", "GPL-2+", "MIT OR Apache-2.0"])])

    output = write_sbom(report, "spdx-json", SUBJECT)

    document = json.loads(output)
    package = packages_by_name(document)["zlib1g"]
    assert package["licenseDeclared"] == (
        "LicenseRef-public-domain AND GPL-2.0-or-later AND (MIT OR Apache-2.0)"
    )
    assert document["hasExtractedLicensingInfos"] == [
        {
            "licenseId": "LicenseRef-public-domain",
            "extractedText": "public domain",
            "name": "public domain",
        }
    ]
    assert spdx_tools_messages(output, tmp_path) == []


def test_spdx_package_without_licenses_is_noassertion() -> None:
    report = make_report([make_package(licenses=[])])

    package = packages_by_name(build_sbom(report, "spdx-json", SUBJECT))["zlib1g"]

    assert package["licenseDeclared"] == "NOASSERTION"


def test_spdx_ids_are_unique_and_safe(tmp_path: Path) -> None:
    packages = [
        make_package("@scope/name", type=PackageType.NPM, purl=None, cpes=[]),
        make_package("@scope/name", type=PackageType.NPM, location="/b/package.json"),
        make_package("zlib1g", cpes=["cpe:/a:zlib:zlib:1.2.13"]),
    ]

    output = write_sbom(make_report(packages), "spdx-json", SUBJECT)

    ids = [package["SPDXID"] for package in json.loads(output)["packages"]]
    assert len(ids) == len(set(ids))
    assert spdx_tools_messages(output, tmp_path) == []


def test_spdx_directory_root_is_file(tmp_path: Path) -> None:
    subject = SbomSubject(name="/srv/app", kind=SubjectKind.DIRECTORY)

    output = write_sbom(make_report([make_package()]), "spdx-json", subject)

    root = packages_by_name(json.loads(output))["/srv/app"]
    assert root["primaryPackagePurpose"] == "FILE"
    assert spdx_tools_messages(output, tmp_path) == []


def test_spdx_invalid_cpe_is_left_out() -> None:
    invalid = "cpe:2.3:a:@scope/name:@scope/name:1.0:*:*:*:*:*:*:*"
    escaped = "cpe:2.3:a:\\@scope\\/name:name:1.0:*:*:*:*:*:*:*"
    report = make_report([make_package(cpes=[invalid, escaped, "cpe:/a:zlib:zlib:1.2.13"])])

    package = packages_by_name(build_sbom(report, "spdx-json", SUBJECT))["zlib1g"]

    locators = {ref["referenceLocator"]: ref["referenceType"] for ref in package["externalRefs"]}
    assert invalid not in locators
    assert locators[escaped] == "cpe23Type"
    assert locators["cpe:/a:zlib:zlib:1.2.13"] == "cpe22Type"
