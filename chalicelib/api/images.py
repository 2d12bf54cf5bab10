"""Routes of images: add, list, get, delete, content, metadata, vulnerabilities, check."""

from __future__ import annotations

import dataclasses
import datetime
import logging

from chalice import Blueprint

from chalicelib.api import render
from chalicelib.api.http import (
    handles_errors,
    json_body,
    json_response,
    query_bool,
    query_param,
)
from chalicelib.service import images as image_service
from chalicelib.service import policies as policy_service
from chalicelib.service.context import Services, get_services
from chalicelib.service.errors import InvalidRequestError, ResourceNotFoundError
from chalicelib.vulns.nvd import matches_cve_ids, nvd_records

logger = logging.getLogger(__name__)

blueprint = Blueprint(__name__)


def parse_add_request(body: object, force: bool) -> image_service.AddImageRequest:
    """Normalize an `ImageAnalysisRequest`, legacy top-level fields included."""
    if not isinstance(body, dict):
        raise InvalidRequestError(
            'the request body must be a JSON object such as {"tag": "registry/repo:tag"}'
        )
    source = body.get("source") or {}
    dockerfile = body.get("dockerfile")
    created_at = None
    if "tag" in source:
        pullstring = source["tag"].get("pullstring")
        dockerfile = source["tag"].get("dockerfile", dockerfile)
        tag = None
    elif "digest" in source:
        pullstring = source["digest"].get("pullstring")
        tag = source["digest"].get("tag")
        dockerfile = source["digest"].get("dockerfile", dockerfile)
        created_at = source["digest"].get("creation_timestamp_override")
    elif body.get("digest"):
        pullstring, tag = body["digest"], body.get("tag")
        created_at = body.get("created_at")
    else:
        pullstring, tag = body.get("tag"), None
    if not pullstring or not isinstance(pullstring, str):
        raise InvalidRequestError(
            "the request names no image; send {\"tag\": \"registry/repo:tag\"} or "
            '{"source": {"digest": {"pullstring": "registry/repo@sha256:...", "tag": "..."}}}'
        )
    annotations = body.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise InvalidRequestError("annotations must be a JSON object of strings")
    return image_service.AddImageRequest(
        pullstring=pullstring,
        tag=tag,
        dockerfile=image_service.decode_dockerfile(dockerfile),
        annotations=annotations,
        force=force,
        created_at=_parse_time(created_at),
    )


def _parse_time(value: object) -> datetime.datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidRequestError(
            f"creation_timestamp_override={value!r} is not an RFC 3339 time"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def require_supported(kind: str, value: str, supported: list[str]) -> None:
    """Raise `InvalidRequestError` naming `value` when it is not one of `supported`."""
    if value not in supported:
        raise InvalidRequestError(
            f"{kind} {value!r} is not supported; use one of " + ", ".join(supported)
        )


@blueprint.route("/v1/images", methods=["POST"])
@handles_errors
def add_image() -> object:
    force = query_bool(blueprint, "force", False)
    request = parse_add_request(json_body(blueprint), force)
    request = dataclasses.replace(
        request, autosubscribe=query_bool(blueprint, "autosubscribe", False)
    )
    record = image_service.add_image(get_services(), request)
    return json_response([render.image(record)])


@blueprint.route("/v1/images", methods=["GET"])
@handles_errors
def list_images() -> object:
    services = get_services()
    fulltag = query_param(blueprint, "fulltag")
    status = query_param(blueprint, "analysis_status")
    if fulltag:
        records = image_service.find_images_by_tag(services, fulltag)
        if not records:
            # Anchore Engine returns 404 here, so anchore-cli `image get` reports the tag.
            raise ResourceNotFoundError(
                f"image data not found: no image is stored under {fulltag}; "
                "add it with POST /v1/images (anchore-cli image add)"
            )
        if status:
            records = [r for r in records if r.analysis_status == status]
    else:
        records = services.store.list_images(analysis_status=status)
    return json_response([render.image(r) for r in records])


@blueprint.route("/v1/images/{digest}", methods=["GET"])
@handles_errors
def get_image(digest: str) -> object:
    return json_response([render.image(image_service.get_image(get_services(), digest))])


@blueprint.route("/v1/images/{digest}", methods=["DELETE"])
@handles_errors
def delete_image(digest: str) -> object:
    services = get_services()
    record = services.store.get_image(digest)
    if record is None:
        return json_response({"digest": digest, "status": "not_found", "detail": None}, 404)
    if record.analysis_status == "analyzing" and not query_bool(blueprint, "force", False):
        return json_response(
            {
                "digest": digest,
                "status": "delete_failed",
                "detail": "the image is being analyzed; wait for it or delete with force=true",
            },
            409,
        )
    services.store.delete_image(digest)
    # NOTE: deletion is synchronous; "deleting" is kept because Anchore clients expect it.
    return json_response({"digest": digest, "status": "deleting", "detail": None})


@blueprint.route("/v1/images/by_id/{image_id}", methods=["GET"])
@handles_errors
def get_image_by_id(image_id: str) -> object:
    records = get_services().store.find_images_by_id(image_id)
    if not records:
        raise ResourceNotFoundError(f"no image with image id {image_id}")
    return json_response([render.image(r) for r in records])


@blueprint.route("/v1/images/{digest}/content", methods=["GET"])
@handles_errors
def list_content_types(digest: str) -> object:
    image_service.get_image(get_services(), digest)
    return json_response(render.CONTENT_TYPES)


@blueprint.route("/v1/images/{digest}/content/{content_type}", methods=["GET"])
@handles_errors
def get_content(digest: str, content_type: str) -> object:
    require_supported("content type", content_type, render.CONTENT_TYPES)
    _, report = image_service.get_analysis(get_services(), digest)
    rows = render.content(report, content_type)
    return json_response({"imageDigest": digest, "content_type": content_type, "content": rows})


@blueprint.route("/v1/images/{digest}/metadata", methods=["GET"])
@handles_errors
def list_metadata_types(digest: str) -> object:
    image_service.get_image(get_services(), digest)
    return json_response(render.METADATA_TYPES)


@blueprint.route("/v1/images/{digest}/metadata/{metadata_type}", methods=["GET"])
@handles_errors
def get_metadata(digest: str, metadata_type: str) -> object:
    require_supported("metadata type", metadata_type, render.METADATA_TYPES)
    record, report = image_service.get_analysis(get_services(), digest)
    return json_response(
        {
            "imageDigest": digest,
            "metadata_type": metadata_type,
            "metadata": render.metadata(record, report, metadata_type),
        }
    )


@blueprint.route("/v1/images/{digest}/vuln", methods=["GET"])
@handles_errors
def list_vuln_types(digest: str) -> object:
    image_service.get_image(get_services(), digest)
    return json_response(render.VULN_TYPES)


@blueprint.route("/v1/images/{digest}/vuln/{vuln_type}", methods=["GET"])
@handles_errors
def get_vulnerabilities(digest: str, vuln_type: str) -> object:
    require_supported("vulnerability type", vuln_type, render.VULN_TYPES)
    services = get_services()
    image_service.get_analysis(services, digest)
    vendor_only = query_bool(blueprint, "vendor_only", True)
    matches, _ = services.store.get_matches(digest)
    kept = [
        m
        for m in matches
        if (vuln_type == "all" or (vuln_type == "os") == render.is_os_match(m))
        and not (vendor_only and m.will_not_fix)
    ]
    records = nvd_records(matches_cve_ids(kept), services.store.find_vuln_records)
    nvd = {record.id: record.cvss for record in records}
    cwes = {record.id: record.cwes for record in records}
    rows = [render.vulnerability(m, nvd, cwes) for m in kept]
    return json_response(
        {"imageDigest": digest, "vulnerability_type": vuln_type, "vulnerabilities": rows}
    )


@blueprint.route("/v1/images/{digest}/check", methods=["GET"])
@handles_errors
def check_image(digest: str) -> object:
    return _check(get_services(), digest, interactive=query_bool(blueprint, "interactive", False))


@blueprint.route("/v1/images/by_id/{image_id}/check", methods=["GET"])
@handles_errors
def check_image_by_id(image_id: str) -> object:
    services = get_services()
    digest = policy_service.resolve_image_id(services, image_id, _required_tag())
    # Anchore's by-id route has no interactive parameter, so its checks are always stored.
    return _check(services, digest, interactive=False)


def _required_tag() -> str:
    tag = query_param(blueprint, "tag")
    if not tag:
        raise InvalidRequestError("query parameter tag is required: the full tag to evaluate")
    return tag


def _check(services: Services, digest: str, *, interactive: bool) -> object:
    tag = _required_tag()
    policy_id = query_param(blueprint, "policyId")
    detail = query_bool(blueprint, "detail", True)
    if query_bool(blueprint, "history", False):
        return json_response(_history(services, digest, tag, policy_id, detail))
    policy, record = policy_service.check_image(
        services, digest, tag, policy_id=policy_id, interactive=interactive
    )
    entry = render.evaluation(record, policy.bundle, detail=detail)
    return json_response([{digest: {record.tag: [entry]}}])


def _history(
    services: Services, digest: str, tag: str, policy_id: str | None, detail: bool
) -> list:
    fulltag, records = policy_service.evaluation_history(services, digest, tag, policy_id)
    entries = [render.evaluation(r, r.result.get("bundle", {}), detail=detail) for r in records]
    return [{digest: {fulltag: entries}}]
