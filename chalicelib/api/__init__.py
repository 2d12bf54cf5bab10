"""HTTP API blueprints speaking Anchore Engine's v1 API."""

from chalicelib.api import (
    evaluations,
    images,
    policies,
    query,
    registries,
    sboms,
    subscriptions,
    system,
)

BLUEPRINTS = (
    images.blueprint,
    policies.blueprint,
    system.blueprint,
    evaluations.blueprint,
    query.blueprint,
    sboms.blueprint,
    registries.blueprint,
    subscriptions.blueprint,
)

__all__ = ["BLUEPRINTS"]
