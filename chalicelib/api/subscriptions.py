"""Routes of subscriptions and watched repositories, in Anchore Engine's shapes."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import (
    handles_errors,
    json_body,
    json_response,
    query_bool,
    query_param,
    timestamp,
)
from chalicelib.service import subscriptions as subscription_service
from chalicelib.service.context import get_services
from chalicelib.service.errors import InvalidRequestError
from chalicelib.store.base import DEFAULT_ACCOUNT
from chalicelib.store.subscriptions import SubscriptionRecord

blueprint = Blueprint(__name__)


def render_subscription(record: SubscriptionRecord) -> dict:
    """Render a `Subscription`."""
    return {
        "subscription_id": record.subscription_id,
        "subscription_key": record.subscription_key,
        "subscription_type": record.subscription_type,
        "subscription_value": record.subscription_value,
        "userId": DEFAULT_ACCOUNT,
        "active": record.active,
        "created_at": timestamp(record.created_at),
        "last_updated": timestamp(record.last_updated),
    }


@blueprint.route("/v1/subscriptions", methods=["GET"])
@handles_errors
def list_subscriptions() -> object:
    records = subscription_service.list_subscriptions(
        get_services(),
        key=query_param(blueprint, "subscription_key") or None,
        subscription_type=query_param(blueprint, "subscription_type") or None,
    )
    return json_response([render_subscription(record) for record in records])


@blueprint.route("/v1/subscriptions", methods=["POST"])
@handles_errors
def add_subscription() -> object:
    record = subscription_service.create_subscription(get_services(), json_body(blueprint))
    return json_response([render_subscription(record)])


@blueprint.route("/v1/subscriptions/{subscription_id}", methods=["GET"])
@handles_errors
def get_subscription(subscription_id: str) -> object:
    record = subscription_service.get_subscription(get_services(), subscription_id)
    return json_response([render_subscription(record)])


@blueprint.route("/v1/subscriptions/{subscription_id}", methods=["PUT"])
@handles_errors
def update_subscription(subscription_id: str) -> object:
    record = subscription_service.update_subscription(
        get_services(), subscription_id, json_body(blueprint)
    )
    return json_response([render_subscription(record)])


@blueprint.route("/v1/subscriptions/{subscription_id}", methods=["DELETE"])
@handles_errors
def delete_subscription(subscription_id: str) -> object:
    subscription_service.delete_subscription(get_services(), subscription_id)
    return json_response(None)


@blueprint.route("/v1/repositories", methods=["POST"])
@handles_errors
def add_repository() -> object:
    repository = query_param(blueprint, "repository")
    if not repository:
        raise InvalidRequestError(
            "query parameter repository is missing; give registry/repository, for example "
            "docker.io/library/nginx"
        )
    record = subscription_service.add_repository(
        get_services(),
        repository,
        autosubscribe=query_bool(blueprint, "autosubscribe", False),
        lookuptag=query_param(blueprint, "lookuptag") or None,
        dryrun=query_bool(blueprint, "dryrun", False),
    )
    return json_response([render_subscription(record)])
