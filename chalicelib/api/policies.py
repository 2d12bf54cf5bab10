"""Routes of policy bundles."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import render
from chalicelib.api.http import handles_errors, json_body, json_response, query_bool
from chalicelib.service import policies as policy_service
from chalicelib.service.context import get_services

blueprint = Blueprint(__name__)


@blueprint.route("/v1/policies", methods=["GET"])
@handles_errors
def list_policies() -> object:
    detail = query_bool(blueprint, "detail", False)
    records = get_services().store.list_policies()
    return json_response([render.policy(r, detail=detail) for r in records])


@blueprint.route("/v1/policies", methods=["POST"])
@handles_errors
def add_policy() -> object:
    record = policy_service.add_policy(get_services(), json_body(blueprint))
    return json_response(render.policy(record, detail=query_bool(blueprint, "detail", False)))


@blueprint.route("/v1/policies/{policy_id}", methods=["GET"])
@handles_errors
def get_policy(policy_id: str) -> object:
    record = policy_service.get_policy(get_services(), policy_id)
    return json_response([render.policy(record, detail=query_bool(blueprint, "detail", True))])


@blueprint.route("/v1/policies/{policy_id}", methods=["PUT"])
@handles_errors
def update_policy(policy_id: str) -> object:
    record = policy_service.update_policy(
        get_services(),
        policy_id,
        json_body(blueprint),
        activate=query_bool(blueprint, "active", False),
    )
    return json_response([render.policy(record, detail=True)])


@blueprint.route("/v1/policies/{policy_id}", methods=["DELETE"])
@handles_errors
def delete_policy(policy_id: str) -> object:
    policy_service.delete_policy(get_services(), policy_id)
    return json_response(None)
