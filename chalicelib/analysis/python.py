"""Python cataloger: installed distributions' `.dist-info` and `.egg-info` metadata."""

from __future__ import annotations

import csv
import email.parser
import email.policy
import logging
import posixpath
import re

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType, Unknown

logger = logging.getLogger(__name__)

# Syft 1.18.1's globs: `*` also matches nothing, so directories named just `dist-info` or
# `egg-info` count, and it lists the upper-case names separately.
METADATA_PATTERNS = (
    "**/*dist-info/METADATA",
    "**/*DIST-INFO/METADATA",
    "**/*egg-info/PKG-INFO",
    "**/*EGG-INFO/PKG-INFO",
    "**/*.egg-info",
)
EXTRA_PATTERNS = (
    "**/*dist-info/RECORD",
    "**/*DIST-INFO/RECORD",
    "**/*egg-info/installed-files.txt",
    "**/*EGG-INFO/installed-files.txt",
)

_CLASSIFIER_LICENSE = "License :: "
_UNKNOWN_VALUES = frozenset(("", "UNKNOWN", "None"))


def normalize_name(name: str) -> str:
    """Return the PEP 503 normalized form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_python_metadata(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse core metadata (`METADATA`, `PKG-INFO` or a single-file `.egg-info`) into a package.

    The package's location is its `.dist-info` or `.egg-info` path. Metadata without `Name` or
    `Version` becomes an `Unknown`. Core metadata is UTF-8: invalid bytes become U+FFFD and add
    an `Unknown`, and the package is still read.
    """
    result = ParseResult()
    try:
        text = content.decode()
    except UnicodeDecodeError as error:
        text = content.decode(errors="replace")
        result.unknowns.append(
            Unknown(
                location=location,
                reason=f"Python metadata is not valid UTF-8 at byte {error.start}; the invalid "
                "bytes were replaced",
            )
        )
    # Parsing text, not bytes: the bytes parser turns every non-ASCII header into a `Header`.
    metadata = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    name = (metadata.get("Name") or "").strip()
    version = (metadata.get("Version") or "").strip()
    if not name or not version:
        missing = "Name" if not name else "Version"
        result.unknowns.append(
            Unknown(location=location, reason=f"Python metadata has no {missing}")
        )
        return result

    package_dir = location if location.endswith(".egg-info") else posixpath.dirname(location)
    package = Package(
        name=name,
        version=version,
        type=PackageType.PYTHON,
        location=package_dir,
        origin=_author(metadata),
        licenses=_licenses(metadata),
        purl=PackageURL(type="pypi", name=normalize_name(name), version=version).to_string(),
        files=_installed_files(package_dir, context),
    )
    result.packages.append(package)
    return result


def _header(metadata: email.message.Message, key: str) -> str:
    value = metadata.get(key)
    text = str(value).strip() if value is not None else ""
    return "" if text in _UNKNOWN_VALUES else text


def _author(metadata: email.message.Message) -> str | None:
    """Combine `Author` and `Author-email` as `NAME <EMAIL>`, falling back to the maintainer."""
    for name_key, email_key in (("Author", "Author-email"), ("Maintainer", "Maintainer-email")):
        name = _header(metadata, name_key)
        address = _header(metadata, email_key)
        if name and address and "<" not in address:
            return f"{name} <{address}>"
        if address or name:
            return address or name
    return None


def _licenses(metadata: email.message.Message) -> list[str]:
    """Read `License-Expression`, else a one-line `License`, else the license classifiers.

    A multi-line `License` holds the full license text, which is not a name; it is used only when
    there is nothing else, cut to its first line.
    """
    expression = _header(metadata, "License-Expression")
    if expression:
        return [expression]
    license_text = _header(metadata, "License")
    if license_text and "\n" not in license_text:
        return [license_text]
    classifiers = [
        value.split(" :: ")[-1].strip()
        for value in metadata.get_all("Classifier") or []
        if value.startswith(_CLASSIFIER_LICENSE) and value.count(" :: ") >= 1
    ]
    classifiers = [value for value in classifiers if value not in ("OSI Approved", "License")]
    if classifiers:
        return list(dict.fromkeys(classifiers))
    return [license_text.splitlines()[0].strip()] if license_text else []


def _installed_files(package_dir: str, context: ParseContext) -> list[str]:
    """List the files from `RECORD` (dist-info) or `installed-files.txt` (egg-info)."""
    if package_dir.lower().endswith("dist-info"):
        record = context.read(package_dir + "/RECORD")
        base = posixpath.dirname(package_dir)
        if record is None:
            return []
        rows = csv.reader(record.decode(errors="replace").splitlines())
        # RECORD has three columns (path, hash, size); other rows are damage such as merge
        # conflict markers.
        paths = [row[0] for row in rows if len(row) == 3 and row[0]]
    else:
        listing = context.read(package_dir + "/installed-files.txt")
        base = package_dir
        if listing is None:
            return []
        paths = [line.strip() for line in listing.decode(errors="replace").splitlines()]
    return [posixpath.normpath(posixpath.join(base, path)) for path in paths if path]
