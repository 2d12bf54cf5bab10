"""HTTP API blueprints speaking Anchore Engine's v1 API."""

from chalicelib.api import images, policies, system

BLUEPRINTS = (images.blueprint, policies.blueprint, system.blueprint)

__all__ = ["BLUEPRINTS"]
