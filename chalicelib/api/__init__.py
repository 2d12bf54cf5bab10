"""HTTP API blueprints speaking Anchore Engine's v1 API."""

from chalicelib.api import evaluations, images, policies, system

BLUEPRINTS = (images.blueprint, policies.blueprint, system.blueprint, evaluations.blueprint)

__all__ = ["BLUEPRINTS"]
