"""SPDX 2.3 JSON.

The document describes one package for the image (purpose `CONTAINER`) or the directory, which
contains a package per installed package and one for the distribution (`OPERATING_SYSTEM`).
License values that do not normalize to SPDX ids become `LicenseRef-` ids with their text in
`hasExtractedLicensingInfos`.

NOTE: files are not listed. SPDX 2.3 requires a SHA1 checksum for every file, and the analysis
computes only SHA-256.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from chalicelib.analysis.interface import Package, PackageType
from chalicelib.analysis.sbom.licenses import License
from chalicelib.analysis.sbom.subject import (
    TOOL_NAME,
    SbomContext,
    SubjectKind,
    package_version,
    tool_version,
)

logger = logging.getLogger(__name__)

SPDX_VERSION = "SPDX-2.3"
DOCUMENT_ID = "SPDXRef-DOCUMENT"
NOASSERTION = "NOASSERTION"

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
# A CPE 2.3 formatted string: the part, then ten attributes of letters, digits, `._-`, wildcards
# or backslash-escaped punctuation. The SPDX validator rejects other cpe23Type locators.
_CPE23 = re.compile(r"cpe:2\.3:[aho*-](?::(?:[A-Za-z0-9._*?-]|\\[!-/:-@\[-^`{-~])+){10}")


def spdx_document(context: SbomContext) -> dict[str, Any]:
    """Build the SPDX 2.3 JSON document of the report in `context`."""
    report = context.report
    extracted: dict[str, str] = {}
    root = _root_package(context)
    packages = [root]
    relationships = [
        {
            "spdxElementId": DOCUMENT_ID,
            "relatedSpdxElement": root["SPDXID"],
            "relationshipType": "DESCRIBES",
        }
    ]
    for package_id, package in context.packages():
        element = _package(context, package_id, package, extracted)
        packages.append(element)
        relationships.append(_contains(root["SPDXID"], element["SPDXID"]))
    if report.distro is not None:
        system: dict[str, Any] = {
            "SPDXID": _spdx_id("OperatingSystem", report.distro.id),
            "name": report.distro.id,
            "versionInfo": report.distro.version_id or "",
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": False,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
        }
        if report.distro.pretty_name:
            system["description"] = report.distro.pretty_name
        packages.append(system)
        relationships.append(_contains(root["SPDXID"], system["SPDXID"]))

    document: dict[str, Any] = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT_ID,
        "name": context.subject.name,
        "documentNamespace": f"urn:uuid:{uuid.uuid4()}",
        "creationInfo": {
            "creators": [f"Tool: {TOOL_NAME}-{tool_version()}"],
            "created": context.timestamp,
        },
        "packages": packages,
        "relationships": relationships,
    }
    if extracted:
        document["hasExtractedLicensingInfos"] = [
            {"licenseId": license_id, "extractedText": text, "name": text}
            for license_id, text in extracted.items()
        ]
    return document


def _root_package(context: SbomContext) -> dict[str, Any]:
    report = context.report
    subject = context.subject
    if subject.kind is SubjectKind.DIRECTORY:
        return {
            "SPDXID": _spdx_id("DocumentRoot-Directory", subject.name),
            "name": subject.name,
            "downloadLocation": NOASSERTION,
            "filesAnalyzed": False,
            "primaryPackagePurpose": "FILE",
        }
    root: dict[str, Any] = {
        "SPDXID": _spdx_id("DocumentRoot-Image", subject.name),
        "name": subject.name,
        "versionInfo": report.image_digest,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER",
    }
    algorithm, _, value = report.image_digest.partition(":")
    if algorithm == "sha256" and len(value) == 64:
        root["checksums"] = [{"algorithm": "SHA256", "checksumValue": value}]
    return root


def _package(
    context: SbomContext, package_id: str, package: Package, extracted: dict[str, str]
) -> dict[str, Any]:
    source_info = f"acquired package info from {package.location}"
    if package.layer_digest:
        source_info += f" in layer {package.layer_digest}"
        diff_id = context.diff_id(package.layer_digest)
        if diff_id:
            source_info += f" (diff id {diff_id})"
    element: dict[str, Any] = {
        "SPDXID": _spdx_id(f"Package-{package.type.value}-{package.name}", package_id),
        "name": package.name,
        "versionInfo": package_version(package),
        "supplier": f"Person: {package.origin}" if package.origin else NOASSERTION,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "sourceInfo": source_info,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": _declared_license(context.licenses(package), extracted),
        "copyrightText": NOASSERTION,
        "externalRefs": _external_refs(package),
        "primaryPackagePurpose": (
            "APPLICATION" if package.type is PackageType.BINARY else "LIBRARY"
        ),
    }
    return element


def _declared_license(licenses: list[License], extracted: dict[str, str]) -> str:
    """Join a package's licenses with AND, using `LicenseRef-` ids for values that are not SPDX."""
    parts = []
    for license_ in licenses:
        if license_.expression:
            parts.append(license_.expression)
        else:
            license_id = "LicenseRef-" + _ID_UNSAFE.sub("-", license_.value).strip("-")
            extracted.setdefault(license_id, license_.value)
            parts.append(license_id)
    if not parts:
        return NOASSERTION
    if len(parts) == 1:
        return parts[0]
    return " AND ".join(f"({part})" if " " in part else part for part in parts)


def _external_refs(package: Package) -> list[dict[str, str]]:
    refs = []
    for cpe in package.cpes:
        if cpe.startswith("cpe:2.3:"):
            if not _CPE23.fullmatch(cpe):
                logger.debug("left out invalid CPE %s of package %s", cpe, package.name)
                continue
            reference_type = "cpe23Type"
        else:
            reference_type = "cpe22Type"
        refs.append(
            {
                "referenceCategory": "SECURITY",
                "referenceType": reference_type,
                "referenceLocator": cpe,
            }
        )
    if package.purl:
        refs.append(
            {
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": package.purl,
            }
        )
    return refs


def _contains(parent: str, child: str) -> dict[str, str]:
    return {"spdxElementId": parent, "relatedSpdxElement": child, "relationshipType": "CONTAINS"}


def _spdx_id(kind: str, name: str) -> str:
    """Return an SPDX element id, `SPDXRef-` and letters, digits, `.` and `-` only."""
    return "SPDXRef-" + _ID_UNSAFE.sub("-", f"{kind}-{name}").strip("-")
