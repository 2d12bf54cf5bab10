"""Routes of the service itself: ping, health, version, status, feeds, policy spec."""

from __future__ import annotations

import platform

from chalice import Blueprint

from chalicelib.api.http import handles_errors, json_response, timestamp
from chalicelib.policy import policy_spec
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import get_services

blueprint = Blueprint(__name__)

VERSION = "0.1.0"
API_VERSION = "0.1.20"
"""Anchore Engine's external API version that this API follows; anchore-cli reads it from
`swagger.json` to choose request forms."""
DB_VERSION = "0001"
SERVICE_NAMES = ("apiext", "catalog", "simplequeue", "analyzer", "policy_engine")
"""Anchore's service names, all served by this one process, listed so clients see them up."""


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
    # anchore-cli sends only `flush`, never `sync=true`, so a POST always syncs.
    result = vuln_service.sync_feeds(get_services())
    body = [
        {
            "feed": vuln_service.FEED_NAME,
            "status": "failure" if result.errors else "success",
            "total_time_seconds": round(result.seconds, 3),
            "errors": result.errors,
            "updated_image_count": result.rematched_images,
            "groups": [
                {
                    "group": g.group,
                    "status": g.status,
                    "updated_image_count": 0,
                    "updated_record_count": g.record_count,
                    "total_time_seconds": round(g.seconds, 3),
                }
                for g in result.groups
            ],
        }
    ]
    return json_response(body)


@blueprint.route("/v1/system/policy_spec", methods=["GET"])
def get_policy_spec() -> object:
    return json_response(policy_spec())
