"""SBOM export: CycloneDX 1.6 JSON, SPDX 2.3 JSON and Syft JSON from an analysis report.

`FORMATS` is the table of writers, keyed by the format names that Syft's `-o` option uses.
`write_sbom` builds a document and returns it as UTF-8 JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.analysis.sbom.cyclonedx import cyclonedx_document
from chalicelib.analysis.sbom.licenses import License, normalize_license, normalize_licenses
from chalicelib.analysis.sbom.spdx import spdx_document
from chalicelib.analysis.sbom.subject import (
    FileSelection,
    SbomContext,
    SbomOptions,
    SbomSubject,
    SubjectKind,
)
from chalicelib.analysis.sbom.syft import syft_document

__all__ = [
    "FORMATS",
    "FileSelection",
    "License",
    "SbomFormat",
    "SbomOptions",
    "SbomSubject",
    "SubjectKind",
    "UnknownFormatError",
    "build_sbom",
    "get_format",
    "normalize_license",
    "normalize_licenses",
    "write_sbom",
]


class UnknownFormatError(ValueError):
    """The requested SBOM format is not one of `FORMATS`."""


@dataclasses.dataclass(frozen=True)
class SbomFormat:
    """One SBOM format: its name, media type and document builder."""

    name: str
    """Name as Syft's `-o` option spells it, such as `cyclonedx-json`."""
    media_type: str
    build: Callable[[SbomContext], dict[str, Any]]


FORMATS: tuple[SbomFormat, ...] = (
    SbomFormat(
        name="cyclonedx-json",
        media_type="application/vnd.cyclonedx+json; version=1.6",
        build=cyclonedx_document,
    ),
    SbomFormat(name="spdx-json", media_type="application/spdx+json", build=spdx_document),
    SbomFormat(name="syft-json", media_type="application/vnd.syft+json", build=syft_document),
)


def get_format(name: str) -> SbomFormat:
    """Return the format called `name`, raising `UnknownFormatError` for other names."""
    for sbom_format in FORMATS:
        if sbom_format.name == name:
            return sbom_format
    raise UnknownFormatError(
        f"SBOM format {name!r} is not supported; use one of "
        + ", ".join(sbom_format.name for sbom_format in FORMATS)
    )


def build_sbom(
    report: AnalysisReport,
    format_name: str,
    subject: SbomSubject | None = None,
    options: SbomOptions | None = None,
) -> dict[str, Any]:
    """Build the SBOM of `report` in the format `format_name` as a JSON-ready dict.

    `subject` names the image or directory; without it the image digest names the image.
    Raises `UnknownFormatError` for an unsupported format.
    """
    sbom_format = get_format(format_name)
    context = SbomContext(
        report, subject or SbomSubject(name=report.image_digest), options or SbomOptions()
    )
    return sbom_format.build(context)


def write_sbom(
    report: AnalysisReport,
    format_name: str,
    subject: SbomSubject | None = None,
    options: SbomOptions | None = None,
    indent: int | None = None,
) -> bytes:
    """Build the SBOM of `report` like `build_sbom` and return it as UTF-8 JSON.

    The JSON is compact, as Syft writes it, unless `indent` sets the spaces per level. Indented
    output goes through the json module's pure-Python encoder, which is slower on large SBOMs.
    """
    document = build_sbom(report, format_name, subject, options)
    return json.dumps(document, indent=indent, ensure_ascii=False).encode() + b"\n"
