"""dpkg cataloger: `/var/lib/dpkg/status` and distroless `/var/lib/dpkg/status.d/*` files."""

from __future__ import annotations

import logging
import posixpath
import re

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Distro, Package, PackageType

logger = logging.getLogger(__name__)

STATUS_PATTERNS = ("/var/lib/dpkg/status", "/var/lib/dpkg/status.d/*")
EXTRA_PATTERNS = (
    "/var/lib/dpkg/info/*.list",
    "/var/lib/dpkg/status.d/*.md5sums",
    "/usr/share/doc/*/copyright",
)
CONTROL_FILE_SUFFIXES = (
    "md5sums", "preinst", "postinst", "prerm", "postrm", "conffiles", "list", "triggers",
    "shlibs", "symbols", "templates", "config",
)
EXCLUDE_PATTERNS = tuple(f"/var/lib/dpkg/status.d/*.{suffix}" for suffix in CONTROL_FILE_SUFFIXES)
"""Maintainer scripts and file lists that distroless images keep beside their status files."""

# Debian Policy 5.6.12: [epoch:]upstream_version[-debian_revision], upstream starting with a digit.
_VERSION = re.compile(r"^(?:\d+:)?\d[A-Za-z0-9.+~:-]*$")
_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")
# A DEP-5 `License:` line names a license or a short expression; free-form copyright files also
# contain lines that start with "License:" followed by prose, which are not names.
_LICENSE_LINE = re.compile(
    r"^License:[ \t]*([A-Za-z0-9][\w.+-]*(?:,? (?:or|and|with|OR|AND|WITH) [A-Za-z0-9][\w.+-]*)*)"
    r"[ \t]*$",
    re.MULTILINE,
)
_COMMON_LICENSE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9][A-Za-z0-9.+_-]*)")


def parse_dpkg_status(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse a dpkg status file into the packages whose `Status` ends in `installed`.

    A paragraph without `Status` counts as installed, as in distroless `status.d` files. A
    paragraph that is malformed or has no valid `Version` becomes an `Unknown` and the rest of the
    file is still read.
    """
    result = ParseResult()
    text = content.decode(errors="replace")
    for line_number, paragraph in _paragraphs(text):
        try:
            fields = _parse_fields(paragraph)
        except ValueError as error:
            result.add_unknown(location, f"paragraph at line {line_number}: {error}")
            continue
        name = fields.get("Package", "").strip()
        if not name:
            continue
        status = fields.get("Status", "install ok installed").split()
        if not status or status[-1] != "installed":
            logger.debug("skipping %s in %s: status %s", name, location, " ".join(status))
            continue
        version = fields.get("Version", "").strip()
        if not _VERSION.match(version):
            reason = f"package {name} has an invalid Version {version!r}"
            if not version:
                reason = f"package {name} has no Version"
            result.add_unknown(location, reason)
            continue
        result.packages.append(_package(location, name, version, fields, context))
    return result


def _paragraphs(text: str) -> list[tuple[int, list[str]]]:
    """Split control data at blank lines into (first line number, lines) pairs."""
    paragraphs: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = 1
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            if not current:
                start = number
            current.append(line)
        elif current:
            paragraphs.append((start, current))
            current = []
    if current:
        paragraphs.append((start, current))
    return paragraphs


def _parse_fields(lines: list[str]) -> dict[str, str]:
    """Parse `Field: value` lines with indented continuation lines; raises `ValueError`."""
    fields: dict[str, str] = {}
    key = None
    for line in lines:
        if line[0] in " \t":
            if key is None:
                raise ValueError("continuation line before the first field")
            fields[key] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            raise ValueError(f"line {line[:60]!r} is not a 'Field: value' line")
        fields[key] = value.strip()
    return fields


def _package(
    location: str, name: str, version: str, fields: dict[str, str], context: ParseContext
) -> Package:
    architecture = fields.get("Architecture") or None
    source_name, source_version = name, version
    source = _SOURCE.match(fields.get("Source", "").strip())
    if source:
        # Debian omits Source when the source package has the binary's name and version.
        source_name = source.group(1)
        source_version = source.group(2) or version
    return Package(
        name=name,
        version=version,
        type=PackageType.DPKG,
        location=location,
        source_name=source_name,
        source_version=source_version,
        architecture=architecture,
        origin=fields.get("Maintainer") or None,
        licenses=_licenses(name, context),
        size=_installed_size(fields.get("Installed-Size", "")),
        purl=_purl(name, version, architecture, context.distro),
        files=_owned_files(location, name, architecture, context),
    )


def _installed_size(value: str) -> int | None:
    """Convert `Installed-Size` (KiB) to bytes, tolerating a trailing unit such as `4KB`."""
    digits = re.match(r"\d+", value.strip())
    return int(digits.group()) * 1024 if digits else None


def _purl(name: str, version: str, architecture: str | None, distro: Distro | None) -> str:
    qualifiers: dict[str, str] = {}
    if architecture:
        qualifiers["arch"] = architecture
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    namespace = distro.id if distro is not None else "debian"
    return PackageURL(
        type="deb", namespace=namespace, name=name, version=version, qualifiers=qualifiers
    ).to_string()


def _owned_files(
    location: str, name: str, architecture: str | None, context: ParseContext
) -> list[str]:
    """Read the package's file list: `info/NAME[:ARCH].list`, or `status.d/NAME.md5sums`."""
    if posixpath.basename(posixpath.dirname(location)) == "status.d":
        md5sums = context.read(f"{posixpath.dirname(location)}/{name}.md5sums")
        if md5sums is None:
            return []
        return [
            "/" + line.split(None, 1)[1].strip().lstrip("/")
            for line in md5sums.decode(errors="replace").splitlines()
            if len(line.split(None, 1)) == 2
        ]

    info = posixpath.join(posixpath.dirname(location), "info")
    listing = None
    if architecture:
        listing = context.read(f"{info}/{name}:{architecture}.list")
    if listing is None:
        listing = context.read(f"{info}/{name}.list")
    if listing is None:
        return []
    return [
        line.strip()
        for line in listing.decode(errors="replace").splitlines()
        if line.strip() and line.strip() != "/."
    ]


def _licenses(name: str, context: ParseContext) -> list[str]:
    """Read license names from `/usr/share/doc/NAME/copyright`.

    Machine-readable copyright files give `License:` lines; older ones refer to the texts in
    `/usr/share/common-licenses/`. Free-form text without either gives no license.
    """
    content = context.read(f"/usr/share/doc/{name}/copyright")
    if content is None:
        return []
    text = content.decode(errors="replace")
    found = [match.group(1) for match in _LICENSE_LINE.finditer(text)]
    found.extend(match.group(1).rstrip(".") for match in _COMMON_LICENSE.finditer(text))
    return list(dict.fromkeys(found))
