"""HTTP basic authentication of every route but the unauthenticated ones Anchore has."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable

from chalice.app import Request, Response

from chalicelib.api.http import error_response
from chalicelib.config import get_settings

logger = logging.getLogger(__name__)

USERNAME = "admin"
OPEN_PATHS = frozenset({"/", "/health", "/version", "/swagger.json", "/v1/swagger.json"})


def credentials_valid(header: str | None, password: str) -> bool:
    """Check an `Authorization: Basic ...` header against the admin credentials."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, given = decoded.partition(":")
    user_ok = hmac.compare_digest(user.encode(), USERNAME.encode())
    password_ok = hmac.compare_digest(given.encode(), password.encode())
    return user_ok and password_ok


def require_basic_auth(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Reject requests without the admin credentials with 401 (Chalice HTTP middleware)."""
    if event.path in OPEN_PATHS:
        return get_response(event)
    if not credentials_valid(event.headers.get("authorization"), get_settings().admin_password):
        logger.info("rejected request without valid credentials: path=%s", event.path)
        response = error_response(
            401, "Unauthorized: send HTTP basic credentials of user admin and ADMIN_PASSWORD"
        )
        response.headers["WWW-Authenticate"] = 'Basic realm="plimsoll"'
        return response
    return get_response(event)
