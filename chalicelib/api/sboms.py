"""Routes of SBOM export: CycloneDX, SPDX and Syft JSON, and Anchore's gzip'd native document."""

from __future__ import annotations

import gzip
import logging

from chalice import Blueprint, Response

from chalicelib.analysis.sbom import SbomSubject, get_format, write_sbom
from chalicelib.api.http import handles_errors
from chalicelib.service import images as image_service
from chalicelib.service.context import get_services
from chalicelib.store import ImageRecord

logger = logging.getLogger(__name__)

blueprint = Blueprint(__name__)

NATIVE_MEDIA_TYPE = "application/octet-stream"
"""Media type of the native document; Chalice passes it through as binary by default."""


def image_subject(record: ImageRecord) -> SbomSubject:
    """Return the SBOM subject of a stored image: its first tag, or its digest when untagged."""
    tags = tuple(tag.fulltag for tag in record.tags)
    repo_digests = tuple(
        sorted({f"{tag.registry}/{tag.repository}@{record.digest}" for tag in record.tags})
    )
    name = tags[0] if tags else record.digest
    return SbomSubject(name=name, tags=tags, repo_digests=repo_digests)


def _sbom_response(digest: str, format_name: str) -> Response:
    record, report = image_service.get_analysis(get_services(), digest)
    body = write_sbom(report, format_name, image_subject(record))
    logger.debug("sbom image_digest=%s format=%s bytes=%d", digest, format_name, len(body))
    headers: dict[str, str | list[str]] = {"Content-Type": get_format(format_name).media_type}
    return Response(body=body.decode(), status_code=200, headers=headers)


@blueprint.route("/v1/images/{digest}/sboms/cyclonedx-json", methods=["GET"])
@handles_errors
def get_cyclonedx_sbom(digest: str) -> object:
    return _sbom_response(digest, "cyclonedx-json")


@blueprint.route("/v1/images/{digest}/sboms/spdx-json", methods=["GET"])
@handles_errors
def get_spdx_sbom(digest: str) -> object:
    return _sbom_response(digest, "spdx-json")


@blueprint.route("/v1/images/{digest}/sboms/syft-json", methods=["GET"])
@handles_errors
def get_syft_sbom(digest: str) -> object:
    return _sbom_response(digest, "syft-json")


@blueprint.route("/v1/images/{digest}/sboms/native", methods=["GET"])
@handles_errors
def get_native_sbom(digest: str) -> object:
    """Return the analysis document as gzip'd JSON.

    The body is binary, so Chalice responds with 400 unless the request's Accept header matches
    its media type or is `*/*`, as curl and requests send by default.
    """
    _, report = image_service.get_analysis(get_services(), digest)
    body = gzip.compress(report.model_dump_json().encode(), mtime=0)
    return Response(
        body=body,
        status_code=200,
        headers={
            "Content-Type": NATIVE_MEDIA_TYPE,
            "Content-Disposition": f'attachment; filename="{digest}.native.json.gz"',
        },
    )
