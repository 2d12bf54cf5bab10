"""Routes of registry credentials, in Anchore Engine's `RegistryConfiguration` shape."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import handles_errors, json_body, json_response, query_bool, timestamp
from chalicelib.service import registries as registry_service
from chalicelib.service.context import get_services
from chalicelib.store import RegistryRecord

blueprint = Blueprint(__name__)


def render_registry(record: RegistryRecord) -> dict:
    """Render a `RegistryConfiguration`; the password is never returned."""
    return {
        "registry": record.registry,
        "registry_name": record.registry_name,
        "registry_type": record.registry_type,
        "registry_user": record.registry_user,
        "registry_verify": record.registry_verify,
        "userId": "admin",
        "created_at": timestamp(record.created_at),
        "last_updated": timestamp(record.last_updated),
    }


@blueprint.route("/v1/registries", methods=["GET"])
@handles_errors
def list_registries() -> object:
    records = get_services().store.list_registries()
    return json_response([render_registry(record) for record in records])


@blueprint.route("/v1/registries", methods=["POST"])
@handles_errors
def add_registry() -> object:
    record = registry_service.parse_registry_request(json_body(blueprint))
    validate = query_bool(blueprint, "validate", True)
    stored = registry_service.add_registry(get_services(), record, validate=validate)
    return json_response([render_registry(stored)])


# anchore-cli quotes the whole registry into one path segment (`/` as %2F), which arrives here
# decoded by the `decode_path_parameters` middleware.
@blueprint.route("/v1/registries/{registry}", methods=["GET"])
@handles_errors
def get_registry(registry: str) -> object:
    record = registry_service.get_registry(get_services(), registry)
    return json_response([render_registry(record)])


@blueprint.route("/v1/registries/{registry}", methods=["PUT"])
@handles_errors
def update_registry(registry: str) -> object:
    record = registry_service.parse_registry_request(json_body(blueprint))
    validate = query_bool(blueprint, "validate", True)
    stored = registry_service.update_registry(
        get_services(), registry, record, validate=validate
    )
    return json_response([render_registry(stored)])


@blueprint.route("/v1/registries/{registry}", methods=["DELETE"])
@handles_errors
def delete_registry(registry: str) -> object:
    registry_service.delete_registry(get_services(), registry)
    return json_response(None)
