"""Routes of SBOM export: CycloneDX, SPDX and Syft JSON, and Anchore's gzip'd native document."""

from __future__ import annotations

import gzip
import logging

from chalice import Blueprint, Response

from chalicelib.analysis.sbom import FORMATS, SbomSubject, get_format, write_sbom
from chalicelib.api.http import error_response, handles_errors
from chalicelib.api.images import require_supported
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


SBOM_FORMATS = [*(sbom_format.name for sbom_format in FORMATS), "native"]
"""The `{sbom_format}` values of `GET /v1/images/{digest}/sboms/{sbom_format}`."""


@blueprint.route("/v1/images/{digest}/sboms/{sbom_format}", methods=["GET"])
@handles_errors
def get_sbom(digest: str, sbom_format: str) -> object:
    """Return the image's SBOM in `sbom_format`, raising `InvalidRequestError` (400) for a
    format that is not supported."""
    require_supported("SBOM format", sbom_format, SBOM_FORMATS)
    if sbom_format == "native":
        return _native_response(digest)
    record, report = image_service.get_analysis(get_services(), digest)
    body = write_sbom(report, sbom_format, image_subject(record))
    logger.debug("sbom image_digest=%s format=%s bytes=%d", digest, sbom_format, len(body))
    headers: dict[str, str | list[str]] = {"Content-Type": get_format(sbom_format).media_type}
    return Response(body=body.decode(), status_code=200, headers=headers)


def _native_response(digest: str) -> Response:
    """Return the analysis document as gzip'd JSON, or as plain JSON to a JSON-only client.

    Chalice sends a binary body only when the request's Accept header contains `*/*` or the
    binary media type, and otherwise responds with 400 in a shape of its own. So a client that
    accepts only `application/json`, or sends no Accept header, gets the same document
    uncompressed. Any other client gets 406 in the Anchore error shape.
    """
    accept = blueprint.current_request.headers.get("accept")
    gzipped = accept is not None and _accepts(accept, NATIVE_MEDIA_TYPE)
    if not gzipped and accept is not None and not _accepts(accept, "application/json"):
        return error_response(
            406,
            f"the native SBOM is gzip'd JSON ({NATIVE_MEDIA_TYPE}) or plain JSON, and the request "
            f"accepts neither (Accept: {accept}); send Accept: {NATIVE_MEDIA_TYPE}, */* or "
            "application/json",
        )

    _, report = image_service.get_analysis(get_services(), digest)
    document = report.model_dump_json()
    if not gzipped:
        return Response(
            body=document, status_code=200, headers={"Content-Type": "application/json"}
        )
    return Response(
        body=gzip.compress(document.encode(), mtime=0),
        status_code=200,
        headers={
            "Content-Type": NATIVE_MEDIA_TYPE,
            "Content-Disposition": f'attachment; filename="{digest}.native.json.gz"',
        },
    )


def _accepts(accept: str, media_type: str) -> bool:
    """Return whether an Accept header lists `media_type` or `*/*`, as Chalice checks it."""
    listed = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return "*/*" in listed or media_type in listed
