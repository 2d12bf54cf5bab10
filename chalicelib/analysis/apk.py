"""apk cataloger: the Alpine package database `/lib/apk/db/installed`."""

from __future__ import annotations

import logging

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Distro, Package, PackageType

logger = logging.getLogger(__name__)

INSTALLED_PATTERNS = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")


def parse_apk_installed(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse an apk `installed` database into packages.

    Each record is a block of `K:value` lines: `P` name, `V` version, `A` architecture, `o` origin
    (the source package), `m` maintainer, `L` license, `I` installed size in bytes, and `F`
    directories each followed by their `R` files. A record with a malformed line or without
    `P` and `V` becomes an `Unknown`; the other records are still read.
    """
    result = ParseResult()
    text = content.decode(errors="replace")
    for line_number, lines in _records(text):
        try:
            package = _package(location, lines, context.distro)
        except ValueError as error:
            result.add_unknown(location, f"record at line {line_number}: {error}")
            continue
        result.packages.append(package)
    return result


def _records(text: str) -> list[tuple[int, list[str]]]:
    records: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            records.append((start, current))
            current = []
    if current:
        records.append((start, current))
    return records


def _package(location: str, lines: list[str], distro: Distro | None) -> Package:
    """Build one package from the lines of a record; raises `ValueError` when that fails."""
    fields: dict[str, str] = {}
    files: list[str] = []
    directory = ""
    for line in lines:
        if len(line) < 2 or line[1] != ":":
            raise ValueError(f"line {line[:60]!r} is not a 'K:value' line")
        key, value = line[0], line[2:].strip()
        if key == "F":
            directory = value.strip("/")
            files.append("/" + directory)
        elif key == "R":
            files.append(f"/{directory}/{value}" if directory else f"/{value}")
        elif key not in fields:
            fields[key] = value

    name = fields.get("P", "")
    version = fields.get("V", "")
    if not name:
        raise ValueError("no package name (P:)")
    if not version:
        raise ValueError(f"package {name} has no version (V:)")
    architecture = fields.get("A") or None
    origin = fields.get("o") or None
    size = fields.get("I", "")
    return Package(
        name=name,
        version=version,
        type=PackageType.APK,
        location=location,
        source_name=origin,
        source_version=version if origin else None,
        architecture=architecture,
        origin=fields.get("m") or None,
        licenses=_licenses(fields.get("L", "")),
        size=int(size) if size.isdigit() else None,
        purl=_purl(name, version, architecture, distro),
        files=files,
    )


def _licenses(value: str) -> list[str]:
    """Split `L:` into licenses, keeping an SPDX expression such as `MIT OR Apache-2.0` whole."""
    if not value:
        return []
    if any(operator in value.split() for operator in ("AND", "OR", "WITH")):
        return [value]
    return value.split()


def _purl(name: str, version: str, architecture: str | None, distro: Distro | None) -> str:
    qualifiers: dict[str, str] = {}
    if architecture:
        qualifiers["arch"] = architecture
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    namespace = distro.id if distro is not None and distro.id != "busybox" else "alpine"
    return PackageURL(
        type="apk", namespace=namespace, name=name, version=version, qualifiers=qualifiers
    ).to_string()
