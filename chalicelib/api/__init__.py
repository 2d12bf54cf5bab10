"""HTTP API blueprints speaking Anchore Engine's v1 API."""

from chalicelib.api import evaluations, images, policies, query, sboms, system

BLUEPRINTS = (
    images.blueprint,
    policies.blueprint,
    system.blueprint,
    evaluations.blueprint,
    query.blueprint,
    sboms.blueprint,
)

__all__ = ["BLUEPRINTS"]
