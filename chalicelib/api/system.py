"""Routes of the service itself: ping, health, version, status, feeds, policy spec."""

from __future__ import annotations

import datetime
import platform

from chalice import Blueprint

from chalicelib.api.http import (
    error_response,
    handles_errors,
    json_response,
    query_bool,
    query_param,
    timestamp,
)
from chalicelib.policy import policy_spec
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import get_services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.store import EventRecord

blueprint = Blueprint(__name__)

VERSION = "0.1.0"
API_VERSION = "0.1.20"
"""Anchore Engine's external API version that this API follows; anchore-cli reads it from
`swagger.json` to choose request forms."""
DB_VERSION = "0002"
SERVICE_NAMES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
"""Anchore's service names, all served by this one process, listed so clients see them up."""

EVENT_LEVELS = ("info", "error")
MAX_PAGE_SIZE = 1000
"""Largest `limit` accepted by the paginated list routes."""


@blueprint.route("/", methods=["GET"])
def ping() -> object:
    return json_response("v1")


@blueprint.route("/v1", methods=["GET"])
def ping_v1() -> object:
    return json_response("v1")


@blueprint.route("/health", methods=["GET"])
def health() -> object:
    return json_response("ok")


@blueprint.route("/version", methods=["GET"])
@blueprint.route("/v1/version", methods=["GET"])
def version() -> object:
    return json_response(
        {"service": {"version": VERSION}, "api": {"version": "v1"}, "db": {"schema_version": DB_VERSION}}
    )


@blueprint.route("/swagger.json", methods=["GET"])
@blueprint.route("/v1/swagger.json", methods=["GET"])
def swagger() -> object:
    return json_response(
        {
            "swagger": "2.0",
            "info": {"title": "Plimsoll, Anchore Engine v1 API", "version": API_VERSION},
            "basePath": "/v1",
            "paths": {},
        }
    )


@blueprint.route("/v1/status", methods=["GET"])
def status() -> object:
    return json_response(
        {
            "available": True,
            "busy": False,
            "up": True,
            "message": "all good",
            "version": VERSION,
            "db_version": DB_VERSION,
            "detail": {},
        }
    )


@blueprint.route("/v1/system", methods=["GET"])
@handles_errors
def system_status() -> object:
    services = get_services()
    base_url = f"http://{services.settings.host}:{services.settings.port}"
    states = [
        {
            "hostid": platform.node() or "plimsoll",
            "servicename": name,
            "base_url": base_url,
            "status": True,
            "status_message": "available",
            "version": VERSION,
            "service_detail": {"version": VERSION, "db_version": DB_VERSION},
        }
        for name in SERVICE_NAMES
    ]
    return json_response({"service_states": states})


@blueprint.route("/v1/system/feeds", methods=["GET"])
@handles_errors
def list_feeds() -> object:
    groups = get_services().store.list_feed_groups()
    if not groups:
        return json_response([])
    syncs = [g.last_sync for g in groups if g.last_sync]
    feed = {
        "name": vuln_service.FEED_NAME,
        "enabled": True,
        "created_at": timestamp(min(g.created_at for g in groups)),
        "updated_at": timestamp(max(g.updated_at for g in groups)),
        "last_full_sync": timestamp(max(syncs)) if syncs else None,
        "groups": [
            {
                "name": g.group,
                "enabled": True,
                "created_at": timestamp(g.created_at),
                "last_sync": timestamp(g.last_sync),
                "record_count": g.record_count,
                "last_error": g.last_error,
            }
            for g in sorted(groups, key=lambda g: g.group)
        ],
    }
    return json_response([feed])


@blueprint.route("/v1/system/feeds", methods=["POST"])
@handles_errors
def sync_feeds() -> object:
    # NOTE: anchore-cli 0.9.3 sends only `flush=False`, never `sync=true`, and expects a sync,
    # so a POST syncs unless `sync=false` is given. `flush=true` rewrites every record.
    if not query_bool(blueprint, "sync", True):
        return json_response([])
    flush = query_bool(blueprint, "flush", False)
    result = vuln_service.sync_feeds(get_services(), flush=flush)
    failed = bool(result.errors) or any(g.status != "success" for g in result.groups)
    body = [
        {
            "feed": vuln_service.FEED_NAME,
            "status": "failure" if failed else "success",
            "total_time_seconds": round(result.seconds, 3),
            "errors": result.errors,
            "updated_image_count": result.updated_images,
            "groups": [
                {
                    "group": g.group,
                    "status": g.status,
                    "updated_image_count": 0,
                    "updated_record_count": g.updated_record_count,
                    "total_time_seconds": round(g.seconds, 3),
                }
                for g in result.groups
            ],
        }
    ]
    if result.errors:
        # anchore-cli prints only the groups of a successful response, so a failed source would
        # go unseen. An error status makes it print the message and exit non-zero.
        imported = ", ".join(g.group for g in result.groups if g.status == "success") or "none"
        return error_response(
            502,
            f"feed sync failed for {len(result.errors)} source(s): "
            + "; ".join(result.errors)
            + f". Groups imported from the other sources: {imported}",
            {"sync_result": body},
        )
    return json_response(body)


@blueprint.route("/v1/events", methods=["GET"])
@handles_errors
def list_events() -> object:
    """List stored events newest first, with Anchore's filters and pagination."""
    page = _positive_int("page", 1)
    limit = min(_positive_int("limit", 100), MAX_PAGE_SIZE)
    level = query_param(blueprint, "level")
    if level is not None and level not in EVENT_LEVELS:
        raise InvalidRequestError(f"query parameter level={level!r} is invalid; use info or error")
    # The store is asked for one row more than a page, and that row means a next page exists.
    events = get_services().store.list_events(
        event_type=query_param(blueprint, "event_type"),
        resource_type=query_param(blueprint, "resource_type"),
        resource_id=query_param(blueprint, "resource_id"),
        level=level,
        since=_datetime_param("since"),
        before=_datetime_param("before"),
        offset=(page - 1) * limit,
        limit=limit + 1,
    )
    body = {
        "results": [_event(record) for record in events[:limit]],
        "next_page": len(events) > limit,
        "item_count": min(len(events), limit),
        "page": page,
    }
    return json_response(body)


def _event(record: EventRecord) -> dict:
    services = get_services()
    service_name = "catalog" if record.event_type.startswith("user.") else "policy_engine"
    return {
        "generated_uuid": record.generated_uuid,
        "created_at": timestamp(record.created_at),
        "event": {
            "type": record.event_type,
            "level": record.level,
            "message": record.message,
            "details": record.details,
            "timestamp": timestamp(record.created_at),
            "resource": {
                "user_id": "admin",
                "id": record.resource_id,
                "type": record.resource_type,
            },
            "source": {
                "servicename": service_name,
                "hostid": platform.node() or "plimsoll",
                "base_url": f"http://{services.settings.host}:{services.settings.port}",
                "request_id": None,
            },
        },
    }


def _positive_int(name: str, default: int) -> int:
    text = query_param(blueprint, name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidRequestError(
            f"query parameter {name}={text!r} is invalid; use a whole number from 1"
        )
    return value


def _datetime_param(name: str) -> datetime.datetime | None:
    text = query_param(blueprint, name)
    if not text:
        return None
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequestError(
            f"query parameter {name}={text!r} is not an ISO 8601 time; "
            "use for example 2024-05-01T12:00:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


@blueprint.route("/v1/system/policy_spec", methods=["GET"])
def get_policy_spec() -> object:
    return json_response(policy_spec())
