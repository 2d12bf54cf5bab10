"""The hints file: packages that the image's author declares in `/anchore_hints.json`.

With `AnalysisOptions.enable_hints`, Anchore Engine reads `{"packages": [{name, version, type,
...}]}` from the image root and adds each declared package that the analysis did not find
itself, leaving found packages unchanged. Types are Anchore's (`rpm`, `dpkg`, `apkg`, `python`,
`gem`, `npm`, `java`, `go`, `binary`) and this project's further ecosystems (`rust`,
`composer`, `nuget`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseResult
from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.analysis.php import composer_purl

logger = logging.getLogger(__name__)

HINTS_PATH = "/anchore_hints.json"

HINT_TYPES: dict[str, PackageType] = {
    "rpm": PackageType.RPM,
    "dpkg": PackageType.DPKG,
    "apkg": PackageType.APK,
    "apk": PackageType.APK,
    "python": PackageType.PYTHON,
    "gem": PackageType.GEM,
    "npm": PackageType.NPM,
    "java": PackageType.JAVA,
    "go": PackageType.GO,
    "binary": PackageType.BINARY,
    "rust": PackageType.RUST,
    "composer": PackageType.COMPOSER,
    "nuget": PackageType.NUGET,
}
"""Package type of each hint `type`, compared in lower case."""

_VIRTUAL_LOCATIONS = {
    PackageType.PYTHON: "/virtual/pypkg/site-packages",
    PackageType.GEM: "/virtual/gempkg/{name}-{version}",
    PackageType.NPM: "/virtual/npmpkg/{name}-{version}",
    PackageType.JAVA: "/virtual/javapkg/{name}-{version}.jar",
}
"""Anchore Engine's locations of hinted language packages that give none; other types default
to the hints file itself."""


class _HintError(ValueError):
    """A hint record that cannot become a package."""


def parse_hints(
    content: bytes, found: Sequence[Package], distro: Distro | None, layer_digest: str | None
) -> ParseResult:
    """Return the packages that the hints file declares and `found` does not contain.

    A declared package is already found when a found package has its type and name and, for
    language types, its version or location. Anchore Engine keeps the found package in that
    case, and so does this function. Records without a name, version or known type, and a file
    that is not a JSON object with a `packages` list, become `Unknown` problems.
    """
    result = ParseResult()
    try:
        document = json.loads(content)
    except ValueError as error:
        result.add_unknown(HINTS_PATH, f"hints file is not valid JSON: {error}")
        return result
    records = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(records, list):
        result.add_unknown(HINTS_PATH, "hints file has no 'packages' list")
        return result

    known = list(found)
    for index, record in enumerate(records):
        try:
            package = _package(record, distro)
        except _HintError as error:
            result.add_unknown(HINTS_PATH, f"hint record {index}: {error}")
            continue
        if any(_same_package(package, other) for other in known):
            logger.info(
                "hinted package %s %s %s is already found; the found one is kept",
                package.type.value,
                package.name,
                package.version,
            )
            continue
        package.layer_digest = layer_digest
        known.append(package)
        result.packages.append(package)
    return result


def _same_package(hinted: Package, found: Package) -> bool:
    if hinted.type is not found.type or hinted.name != found.name:
        return False
    if hinted.type.is_os:
        return True
    return hinted.version == found.version or hinted.location == found.location


def _package(record: Any, distro: Distro | None) -> Package:
    if not isinstance(record, dict):
        raise _HintError("record is not a JSON object")
    name = _text(record.get("name"))
    version = _first(record, "version")
    hint_type = _text(record.get("type")).lower()
    if not name or not version or not hint_type:
        raise _HintError("a hint needs a name, a version and a type")
    package_type = HINT_TYPES.get(hint_type)
    if package_type is None and hint_type.startswith("java"):
        package_type = PackageType.JAVA
    if package_type is None:
        raise _HintError(
            f"type {hint_type!r} is not supported; use one of {', '.join(sorted(HINT_TYPES))}"
        )
    release = _text(record.get("release"))
    if release and package_type in (PackageType.RPM, PackageType.APK):
        version = f"{version}-{release}"

    location = _text(record.get("location"))
    if not location:
        template = _VIRTUAL_LOCATIONS.get(package_type)
        location = template.format(name=name, version=version) if template else HINTS_PATH
    files = record.get("files", [])
    if not isinstance(files, list) or not all(isinstance(item, str) for item in files):
        raise _HintError(f"files of {name} must be a list of paths")
    metadata = record.get("metadata", {})
    size = str(record.get("size", ""))
    architecture = _text(record.get("arch")) or None
    source_name = _text(record.get("source")) if package_type.is_os else ""
    return Package(
        name=name,
        version=version,
        type=package_type,
        location=location,
        source_name=source_name or None,
        architecture=architecture,
        origin=",".join(_list(record, "origin")) or None,
        licenses=_list(record, "license"),
        size=int(size) if size.isdigit() else None,
        purl=_text(record.get("purl")) or _purl(package_type, name, version, architecture, distro),
        files=files,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _list(record: dict[str, Any], key: str) -> list[str]:
    """Read `key` as one string or `key + "s"` as a list of strings, as Anchore's hints do."""
    values = record.get(key + "s")
    if not isinstance(values, list):
        values = [record.get(key)]
    return [text for text in (_text(value) for value in values) if text]


def _first(record: dict[str, Any], key: str) -> str:
    values = _list(record, key)
    return values[0] if values else ""


def _purl(
    package_type: PackageType,
    name: str,
    version: str,
    architecture: str | None,
    distro: Distro | None,
) -> str | None:
    qualifiers: dict[str, str] = {}
    if architecture:
        qualifiers["arch"] = architecture
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    os_purls = {
        PackageType.DPKG: ("deb", "debian"),
        PackageType.APK: ("apk", "alpine"),
        PackageType.RPM: ("rpm", "redhat"),
    }
    if package_type in os_purls:
        purl_type, default_namespace = os_purls[package_type]
        namespace = distro.id if distro is not None else default_namespace
        return PackageURL(
            type=purl_type, namespace=namespace, name=name, version=version, qualifiers=qualifiers
        ).to_string()
    if package_type is PackageType.COMPOSER:
        return composer_purl(name, version)
    if package_type in (PackageType.NPM, PackageType.GO):
        # A scoped npm name and a Go module path put all but their last part in the namespace.
        namespace, _, bare = name.rpartition("/")
        purl_type = "npm" if package_type is PackageType.NPM else "golang"
        return PackageURL(
            type=purl_type, namespace=namespace or None, name=bare, version=version
        ).to_string()
    language_purls = {
        PackageType.PYTHON: "pypi",
        PackageType.GEM: "gem",
        PackageType.RUST: "cargo",
        PackageType.NUGET: "nuget",
    }
    if package_type in language_purls:
        return PackageURL(type=language_purls[package_type], name=name, version=version).to_string()
    # Java purls need a Maven group, and binaries have no purl type.
    return None
