"""Syft JSON: Syft's own document (`artifacts`, `artifactRelationships`, `files`, `source`, ...).

The document follows Syft's JSON schema version `SCHEMA_VERSION`, the one that Syft 1.18.1
writes, and that release reads it back with `syft convert`. A location's `layerID` is the layer's
diff id, as in Syft's output, and the layer's digest as stored is in the location's annotations.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

from chalicelib.analysis.interface import FileEntry, FileType, Package, PackageType
from chalicelib.analysis.sbom.subject import (
    TOOL_NAME,
    SbomContext,
    SubjectKind,
    file_id,
    package_version,
    tool_version,
)

SCHEMA_VERSION = "16.0.18"
SCHEMA_URL = (
    f"https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-{SCHEMA_VERSION}.json"
)

PACKAGE_TYPES = {
    PackageType.DPKG: "deb",
    PackageType.APK: "apk",
    PackageType.RPM: "rpm",
    PackageType.PYTHON: "python",
    PackageType.NPM: "npm",
    PackageType.GEM: "gem",
    PackageType.JAVA: "java-archive",
    PackageType.GO: "go-module",
    PackageType.RUST: "rust-crate",
    PackageType.COMPOSER: "php-composer",
    PackageType.NUGET: "dotnet",
    PackageType.BINARY: "binary",
}
"""Syft's package type for each of ours."""

LANGUAGES = {
    PackageType.PYTHON: "python",
    PackageType.NPM: "javascript",
    PackageType.GEM: "ruby",
    PackageType.JAVA: "java",
    PackageType.GO: "go",
    PackageType.RUST: "rust",
    PackageType.COMPOSER: "php",
    PackageType.NUGET: "dotnet",
}
"""Syft's language of each language package type; OS and binary packages have none."""

FILE_TYPES = {
    FileType.FILE: "RegularFile",
    FileType.HARDLINK: "HardLink",
    FileType.SYMLINK: "SymbolicLink",
    FileType.DIR: "Directory",
    FileType.CHAR_DEVICE: "CharacterDevice",
    FileType.BLOCK_DEVICE: "BlockDevice",
    FileType.FIFO: "FIFONode",
}


def syft_document(context: SbomContext) -> dict[str, Any]:
    """Build the Syft JSON document of the report in `context`."""
    report = context.report
    artifacts = [
        _artifact(context, package_id, package) for package_id, package in context.packages()
    ]
    source = _source(context)
    relationships = [
        {"parent": source["id"], "child": package_id, "type": "contains"}
        for package_id, _ in context.packages()
    ]
    files = []
    for entry in context.selected_files():
        identifier = file_id(entry.path)
        files.append(_file(context, identifier, entry))
        for owner in context.file_owners.get(entry.path, []):
            relationships.append({"parent": owner, "child": identifier, "type": "contains"})
    distro: dict[str, Any] = {}
    if report.distro is not None:
        distro = {"id": report.distro.id}
        if report.distro.pretty_name:
            distro["prettyName"] = report.distro.pretty_name
        if report.distro.version_id:
            distro["versionID"] = report.distro.version_id
        if report.distro.id_like:
            distro["idLike"] = list(report.distro.id_like)
    return {
        "artifacts": artifacts,
        "artifactRelationships": relationships,
        "files": files,
        "source": source,
        "distro": distro,
        "descriptor": {
            "name": TOOL_NAME,
            "version": tool_version(),
            "configuration": {"files": {"selection": context.options.files.value}},
        },
        "schema": {"version": SCHEMA_VERSION, "url": SCHEMA_URL},
    }


JVM_CATALOGER = "java-jvm-cataloger"


def package_found_by(package: Package) -> str:
    """Return the id of the cataloger that found `package`.

    JVM installations share the type `binary` with the binary classifiers, so their metadata
    distinguishes them.
    """
    release = package.metadata.get("jvm_release")
    if package.type is PackageType.BINARY and isinstance(release, dict):
        return JVM_CATALOGER
    return found_by(package.type)


@functools.cache
def found_by(package_type: PackageType) -> str:
    """Return the id of the cataloger that finds packages of `package_type`.

    The id comes from the cataloger table, where the ecosystem is one of a cataloger's tags.
    """
    # Imported here because the analysis package imports its catalogers, not the SBOM writers.
    from chalicelib.analysis import CATALOGERS

    for cataloger in CATALOGERS:
        if package_type.value in cataloger.tags:
            return cataloger.id
    return f"{package_type.value}-cataloger"


def _location(context: SbomContext, path: str, layer_digest: str | None) -> dict[str, Any]:
    location: dict[str, Any] = {"path": path, "accessPath": path}
    layer_id = context.diff_id(layer_digest) or layer_digest
    if layer_id:
        location["layerID"] = layer_id
    annotations = {"evidence": "primary"}
    if layer_digest:
        annotations["layerDigest"] = layer_digest
    location["annotations"] = annotations
    return location


def _artifact(context: SbomContext, package_id: str, package: Package) -> dict[str, Any]:
    licenses = []
    for license_ in context.licenses(package):
        licenses.append(
            {
                "value": license_.value,
                "spdxExpression": license_.expression or "",
                "type": "declared",
                "urls": [],
                "locations": [_location(context, package.location, package.layer_digest)],
            }
        )
    artifact: dict[str, Any] = {
        "id": package_id,
        "name": package.name,
        "version": package_version(package),
        "type": PACKAGE_TYPES.get(package.type, package.type.value),
        "foundBy": package_found_by(package),
        "locations": [_location(context, package.location, package.layer_digest)],
        "licenses": licenses,
        "language": LANGUAGES.get(package.type, ""),
        "cpes": [{"cpe": cpe, "source": "plimsoll-generated"} for cpe in package.cpes],
        "purl": package.purl or "",
    }
    metadata_type, metadata = _metadata(context, package)
    if metadata_type is not None:
        artifact["metadataType"] = metadata_type
        artifact["metadata"] = metadata
    return artifact


def _metadata(context: SbomContext, package: Package) -> tuple[str | None, dict[str, Any] | None]:
    """Return Syft's metadata type and entry for a package, with the fields its schema requires."""
    extra = package.metadata
    if package.type is PackageType.DPKG:
        return "dpkg-db-entry", {
            "package": package.name,
            "source": package.source_name if package.source_name != package.name else "",
            "version": package.version,
            "sourceVersion": (
                package.source_version if package.source_version != package.version else ""
            ),
            "architecture": package.architecture or "",
            "maintainer": package.origin or "",
            "installedSize": (package.size or 0) // 1024,
            "files": [{"path": path, "isConfigFile": False} for path in package.files],
        }
    if package.type is PackageType.APK:
        return "apk-db-entry", {
            "package": package.name,
            "originPackage": package.source_name or "",
            "maintainer": package.origin or "",
            "version": package.version,
            "architecture": package.architecture or "",
            "url": _text(extra, "url"),
            "description": _text(extra, "description"),
            "size": extra["size"] if isinstance(extra.get("size"), int) else 0,
            "installedSize": package.size or 0,
            "pullDependencies": [],
            "provides": [],
            "pullChecksum": _text(extra, "checksum"),
            "gitCommitOfApkPort": _text(extra, "commit"),
            "files": [{"path": path} for path in package.files],
        }
    if package.type is PackageType.RPM:
        epoch = extra.get("epoch")
        return "rpm-db-entry", {
            "name": package.name,
            "version": _text(extra, "version") or package.version,
            "epoch": epoch if isinstance(epoch, int) else None,
            "architecture": package.architecture or "",
            "release": _text(extra, "release"),
            "sourceRpm": _text(extra, "source_rpm"),
            "size": package.size or 0,
            "vendor": _text(extra, "vendor"),
            "files": [],
        }
    if package.type is PackageType.PYTHON:
        return "python-package", {
            "name": package.name,
            "version": package.version,
            "author": package.origin or "",
            "authorEmail": "",
            "platform": "",
            "files": [{"path": path} for path in package.files],
            "sitePackagesRootPath": package.location.rsplit("/", 1)[0],
        }
    if package.type is PackageType.NPM:
        return "javascript-npm-package", {
            "name": package.name,
            "version": package.version,
            "author": package.origin or "",
            "homepage": _text(extra, "homepage"),
            "description": _text(extra, "description"),
            "url": _text(extra, "url"),
            "private": extra.get("private") is True,
        }
    if package.type is PackageType.GEM:
        gem: dict[str, Any] = {"name": package.name, "version": package.version}
        for key in ("files", "authors"):
            values = extra.get(key)
            if isinstance(values, list) and all(isinstance(value, str) for value in values):
                gem[key] = values
        if _text(extra, "homepage"):
            gem["homepage"] = _text(extra, "homepage")
        return "ruby-gemspec", gem
    if package.type is PackageType.JAVA:
        return "java-archive", {"virtualPath": _text(extra, "virtual_path") or package.location}
    if package.type is PackageType.GO:
        go: dict[str, Any] = {
            "goCompiledVersion": _text(extra, "go_compiled_version"),
            "architecture": _text(extra, "architecture"),
        }
        if _text(extra, "main_module"):
            go["mainModule"] = _text(extra, "main_module")
        if _text(extra, "h1_digest"):
            go["h1Digest"] = _text(extra, "h1_digest")
        return "go-module-buildinfo-entry", go
    if package.type is PackageType.RUST:
        return "rust-cargo-audit-entry", {
            "name": package.name,
            "version": package.version,
            "source": _text(extra, "source"),
        }
    if package.type is PackageType.NUGET:
        return "dotnet-deps-entry", {
            "name": package.name,
            "version": package.version,
            "path": _text(extra, "path"),
            "sha512": _text(extra, "sha512"),
            "hashPath": _text(extra, "hashPath"),
        }
    if package_found_by(package) == JVM_CATALOGER:
        return "java-jvm-installation", _jvm_installation(extra)
    if package.type is PackageType.BINARY:
        location = _location(context, package.location, package.layer_digest)
        classifier = _text(extra, "classifier") or package.name
        return "binary-signature", {"matches": [{"classifier": classifier, "location": location}]}
    return None, None


def _jvm_installation(extra: dict[str, Any]) -> dict[str, Any]:
    """Return Syft's JVM metadata: the non-empty `release` fields under camelCase names, and the
    installation's files."""
    release = {}
    for key, value in extra["jvm_release"].items():
        if not value:
            continue
        first, *rest = key.lower().split("_")
        release[first + "".join(word.capitalize() for word in rest)] = value
    files = extra.get("files")
    return {"release": release, "files": files if isinstance(files, list) else []}


def _text(metadata: dict[str, Any], key: str) -> str:
    """Return a string field of a package's metadata, or "" when it is missing or not a string."""
    value = metadata.get(key)
    return value if isinstance(value, str) else ""


def _file(context: SbomContext, identifier: str, entry: FileEntry) -> dict[str, Any]:
    location: dict[str, Any] = {"path": entry.path}
    layer_id = context.diff_id(entry.layer_digest) or entry.layer_digest
    if layer_id:
        location["layerID"] = layer_id
    metadata: dict[str, Any] = {
        # Syft writes the permission bits as their octal digits read as a decimal number.
        "mode": int(format(entry.mode, "o")),
        "type": FILE_TYPES[entry.type],
        "userID": entry.uid,
        "groupID": entry.gid,
        "mimeType": "",
        "size": entry.size,
    }
    if entry.link_target:
        metadata["linkDestination"] = entry.link_target
    document: dict[str, Any] = {"id": identifier, "location": location, "metadata": metadata}
    if entry.sha256:
        document["digests"] = [{"algorithm": "sha256", "value": entry.sha256}]
    return document


def _source(context: SbomContext) -> dict[str, Any]:
    report = context.report
    subject = context.subject
    if subject.kind is SubjectKind.DIRECTORY:
        return {
            "id": report.image_digest.partition(":")[2] or report.image_digest,
            "name": subject.name,
            "version": "",
            "type": "directory",
            "metadata": {"path": subject.name},
        }
    layers = [
        {
            "mediaType": layer.media_type,
            "digest": layer.diff_id or layer.digest,
            "size": layer.uncompressed_size or 0,
        }
        for layer in report.layers
    ]
    manifest_media_type = str(report.manifest.get("mediaType", ""))
    return {
        "id": report.image_digest.partition(":")[2] or report.image_digest,
        "name": subject.name,
        "version": report.image_digest,
        "type": "image",
        "metadata": {
            "userInput": subject.name,
            "imageID": f"sha256:{report.image_id}",
            "manifestDigest": report.image_digest,
            "mediaType": manifest_media_type,
            "tags": list(subject.tags),
            "imageSize": report.image_size,
            "layers": layers,
            "manifest": _base64_json(report.manifest),
            "config": _base64_json(report.config),
            "repoDigests": list(subject.repo_digests),
            "architecture": report.architecture or "",
            "os": report.os or "",
        },
    }


def _base64_json(document: dict[str, Any]) -> str:
    # NOTE: the report keeps the parsed manifest and config, not their bytes, so these are
    # re-encoded and their digests differ from `manifestDigest` and `imageID`.
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
