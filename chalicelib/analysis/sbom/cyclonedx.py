"""CycloneDX 1.6 JSON.

The subject (image or directory) is `metadata.component` and every package is a top-level
component. A package's files are nested in its `components`, which CycloneDX defines as the
components a component contains. Properties named `syft:...` carry the values that Syft's own
CycloneDX output carries under those names, so Syft's CycloneDX reader recovers the package type,
cataloger and location. The layer digest as stored has the `plimsoll:` prefix.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.analysis.interface import FileEntry, Package, PackageType
from chalicelib.analysis.sbom.licenses import License
from chalicelib.analysis.sbom.subject import (
    TOOL_NAME,
    TOOL_VENDOR,
    SbomContext,
    SubjectKind,
    file_id,
    package_version,
    tool_version,
)
from chalicelib.analysis.sbom.syft import LANGUAGES, PACKAGE_TYPES, package_found_by

SPEC_VERSION = "1.6"
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"


def cyclonedx_document(context: SbomContext) -> dict[str, Any]:
    """Build the CycloneDX 1.6 JSON document of the report in `context`."""
    report = context.report
    subject_ref = f"subject-{_digest_hex(report.image_digest)[:16]}"
    nested = _nested_files(context)
    components = [
        _package_component(context, package_id, package, nested.get(package_id, {}))
        for package_id, package in context.packages()
    ]
    if report.distro is not None:
        system: dict[str, Any] = {
            "bom-ref": f"os-{report.distro.id}",
            "type": "operating-system",
            "name": report.distro.id,
        }
        if report.distro.version_id:
            system["version"] = report.distro.version_id
        if report.distro.pretty_name:
            system["description"] = report.distro.pretty_name
        components.append(system)
    owned = {path for files in nested.values() for path in files}
    components.extend(
        _file_component(entry) for entry in context.selected_files() if entry.path not in owned
    )
    return {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": context.timestamp,
            "tools": {
                "components": [
                    {
                        "type": "application",
                        "author": TOOL_VENDOR,
                        "name": TOOL_NAME,
                        "version": tool_version(),
                    }
                ]
            },
            "component": _subject_component(context, subject_ref),
        },
        "components": components,
    }


def _subject_component(context: SbomContext, bom_ref: str) -> dict[str, Any]:
    report = context.report
    if context.subject.kind is SubjectKind.DIRECTORY:
        return {"bom-ref": bom_ref, "type": "file", "name": context.subject.name}
    component: dict[str, Any] = {
        "bom-ref": bom_ref,
        "type": "container",
        "name": context.subject.name,
        "version": report.image_digest,
    }
    hex_digest = _digest_hex(report.image_digest)
    if report.image_digest.startswith("sha256:") and len(hex_digest) == 64:
        component["hashes"] = [{"alg": "SHA-256", "content": hex_digest}]
    return component


def _nested_files(context: SbomContext) -> dict[str, dict[str, FileEntry]]:
    """Map each package id to the selected files nested under it.

    A bom-ref may appear once in a BOM, so a file that several packages own is nested under
    the first of them only.
    """
    nested: dict[str, dict[str, FileEntry]] = {}
    for entry in context.selected_files():
        owners = context.file_owners.get(entry.path)
        if owners:
            nested.setdefault(owners[0], {})[entry.path] = entry
    return nested


def _package_component(
    context: SbomContext, package_id: str, package: Package, files: dict[str, FileEntry]
) -> dict[str, Any]:
    component: dict[str, Any] = {
        "bom-ref": package_id,
        "type": "application" if package.type is PackageType.BINARY else "library",
        "name": package.name,
        "version": package_version(package),
    }
    if package.origin:
        component["publisher"] = package.origin
    licenses = _licenses(context.licenses(package))
    if licenses:
        component["licenses"] = licenses
    if package.cpes:
        component["cpe"] = package.cpes[0]
    if package.purl:
        component["purl"] = package.purl
    component["properties"] = _properties(context, package)
    component["evidence"] = {"occurrences": [{"location": package.location}]}
    if files:
        component["components"] = [_file_component(entry) for entry in files.values()]
    return component


def _licenses(licenses: list[License]) -> list[dict[str, Any]]:
    """Return CycloneDX license choices: SPDX ids, names, or one SPDX expression.

    CycloneDX allows either a list of single licenses or exactly one expression, so a compound
    expression is written as an expression only when it is the package's one license.
    """
    if len(licenses) == 1 and licenses[0].expression and _is_compound(licenses[0].expression):
        return [{"expression": licenses[0].expression}]
    choices = []
    for license_ in licenses:
        if license_.expression and not _is_compound(license_.expression):
            choices.append({"license": {"id": license_.expression}})
        else:
            choices.append({"license": {"name": license_.expression or license_.value}})
    return choices


def _is_compound(expression: str) -> bool:
    return " " in expression


def _properties(context: SbomContext, package: Package) -> list[dict[str, str]]:
    properties = [
        {"name": "syft:package:foundBy", "value": package_found_by(package)},
        {"name": "syft:package:type", "value": PACKAGE_TYPES.get(package.type, package.type.value)},
    ]
    language = LANGUAGES.get(package.type)
    if language:
        properties.append({"name": "syft:package:language", "value": language})
    properties.append({"name": "syft:location:0:path", "value": package.location})
    diff_id = context.diff_id(package.layer_digest)
    if diff_id:
        properties.append({"name": "syft:location:0:layerID", "value": diff_id})
    if package.layer_digest:
        properties.append(
            {"name": "plimsoll:location:0:layerDigest", "value": package.layer_digest}
        )
    for cpe in package.cpes[1:]:
        properties.append({"name": "syft:cpe23", "value": cpe})
    if package.source_name and package.source_name != package.name:
        properties.append({"name": "syft:metadata:source", "value": package.source_name})
    if package.source_version and package.source_version != package.version:
        properties.append({"name": "syft:metadata:sourceVersion", "value": package.source_version})
    if package.architecture:
        properties.append({"name": "syft:metadata:architecture", "value": package.architecture})
    return properties


def _file_component(entry: FileEntry) -> dict[str, Any]:
    component: dict[str, Any] = {
        "bom-ref": f"file-{file_id(entry.path)}",
        "type": "file",
        "name": entry.path,
    }
    if entry.sha256:
        component["hashes"] = [{"alg": "SHA-256", "content": entry.sha256}]
    if entry.layer_digest:
        component["properties"] = [
            {"name": "plimsoll:location:0:layerDigest", "value": entry.layer_digest}
        ]
    return component


def _digest_hex(digest: str) -> str:
    return digest.partition(":")[2] or digest
