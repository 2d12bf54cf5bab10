"""Rust binary cataloger: the dependency list that cargo-auditable embeds in a binary.

cargo-auditable stores zlib-compressed JSON, `{"packages": [{"name", "version", "source",
"kind", "dependencies", "root"}]}`, in the `.dep-v0` section of an ELF file. Packages of kind
`build` run only at build time and are left out, as Syft 1.18 leaves them out.
"""

from __future__ import annotations

import json
import logging
import zlib
from typing import Any

from packageurl import PackageURL

from chalicelib.analysis.binary import read_elf
from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

SECTION = ".dep-v0"
MAX_INFLATED = 8 * 1024 * 1024
"""Largest decompressed dependency list; real ones are tens of KB, so more is a zip bomb."""


class AuditDataError(ValueError):
    """The `.dep-v0` section is present but cannot be decoded; the message gives the reason."""


def read_audit_data(data: bytes) -> list[dict[str, Any]] | None:
    """Return the package entries of an ELF binary built with cargo-auditable, or None.

    Raises `AuditDataError` when the section is not zlib-compressed JSON of the expected shape
    or inflates beyond `MAX_INFLATED` bytes.
    """
    try:
        elf = read_elf(data)
    except ValueError as error:
        raise AuditDataError(f"invalid ELF headers: {error}") from error
    if elf is None:
        return None
    section = elf.section_data(SECTION)
    if section is None:
        return None
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(section, MAX_INFLATED)
    except zlib.error as error:
        raise AuditDataError(f"{SECTION} is not zlib-compressed: {error}") from error
    if inflater.unconsumed_tail:
        raise AuditDataError(f"{SECTION} inflates to more than {MAX_INFLATED} bytes")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AuditDataError(f"{SECTION} is not valid JSON: {error}") from error
    packages = document.get("packages") if isinstance(document, dict) else None
    if not isinstance(packages, list):
        raise AuditDataError(f"{SECTION} has no packages list")
    return [entry for entry in packages if isinstance(entry, dict)]


def summarize_rust_binary(path: str, content: bytes) -> dict[str, Any] | None:
    """Summarize an executable for `parse_rust_binary`: its package entries, or None.

    The ELF section headers decide whether `.dep-v0` exists. The whole file is searched for the
    name only when those headers are damaged.
    """
    try:
        packages = read_audit_data(content)
    except AuditDataError as error:
        if SECTION.encode() not in content:
            # No section of that name, even if the ELF headers are damaged: no problem to report.
            return None
        return {"error": str(error)}
    if packages is None:
        return None
    fields = ("name", "version", "source", "kind", "root")
    return {"packages": [{key: entry[key] for key in fields if key in entry} for entry in packages]}


def parse_rust_binary(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Catalog the crates listed in a cargo-auditable binary, one package of type `rust` each.

    `content` is a summary from `summarize_rust_binary` after `SUMMARY_PREFIX`, or a whole
    file. Entries without a name or version become an `Unknown`.
    """
    result = ParseResult()
    if content.startswith(SUMMARY_PREFIX):
        summary = json.loads(content[len(SUMMARY_PREFIX) :])
        if "error" in summary:
            result.add_unknown(location, f"cargo-auditable data not readable: {summary['error']}")
            return result
        entries = summary["packages"]
    else:
        try:
            found = read_audit_data(content)
        except AuditDataError as error:
            result.add_unknown(location, f"cargo-auditable data not readable: {error}")
            return result
        if found is None:
            return result
        entries = found

    for entry in entries:
        name = entry.get("name")
        version = entry.get("version")
        if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
            result.add_unknown(location, f"{SECTION} entry without a name or version: {entry!r}")
            continue
        if entry.get("kind", "runtime") == "build":
            continue
        metadata = {"source": entry.get("source", ""), "kind": entry.get("kind", "runtime")}
        if entry.get("root"):
            metadata["root"] = True
        result.packages.append(
            Package(
                name=name,
                version=version,
                type=PackageType.RUST,
                location=location,
                purl=PackageURL(type="cargo", name=name, version=version).to_string(),
                metadata=metadata,
            )
        )
    return result
