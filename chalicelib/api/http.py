"""Request parsing, response building and error mapping shared by the API blueprints."""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.service.errors import ServiceError

logger = logging.getLogger(__name__)

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., Any])

TRUE_WORDS = frozenset({"true", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "0", "no", "n"})


def error_response(status: int, message: str, detail: dict | None = None) -> Response:
    """Build an error body shaped as Anchore's `ApiErrorResponse`."""
    body = {
        "httpcode": status,
        "message": message,
        "detail": detail or {},
        "error_type": "client_error" if status < 500 else "server_error",
    }
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def json_response(body: Any, status: int = 200) -> Response:
    """Build a JSON response."""
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})


def handles_errors(view: ViewFunc) -> ViewFunc:
    """Turn service errors raised by a view into Anchore-shaped error responses."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except ServiceError as exc:
            if exc.status_code >= 500:
                logger.warning("request failed: status=%d error=%s", exc.status_code, exc)
            return error_response(exc.status_code, str(exc), getattr(exc, "detail", None))

    return wrapper  # type: ignore[return-value]


def query_param(blueprint: Blueprint, name: str, default: str | None = None) -> str | None:
    """Return one query parameter of the current request."""
    params = blueprint.current_request.query_params or {}
    return params.get(name, default)


def query_bool(blueprint: Blueprint, name: str, default: bool) -> bool:
    """Return a boolean query parameter, accepting `true`/`false` in any case."""
    value = query_param(blueprint, name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise _BadParameter(f"query parameter {name}={value!r} is not a boolean; use true or false")


class _BadParameter(ServiceError):
    status_code = 400


def json_body(blueprint: Blueprint) -> Any:
    """Return the request body parsed as JSON, whatever the Content-Type header says."""
    raw = blueprint.current_request.raw_body
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadParameter(f"the request body is not valid JSON: {exc}") from exc


def timestamp(value: datetime.datetime | None) -> str | None:
    """Format a datetime as RFC 3339 in UTC with a `Z` suffix, as Anchore's API does."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_path_parameters(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """Percent-decode path parameters in place (Chalice HTTP middleware).

    anchore-cli quotes what it puts in a path (`sha256%3A...` for a digest, `%2F` in a registry)
    and Chalice's local server passes path parameters on undecoded. The view reads the same dict,
    so decoding it here serves every route.
    """
    # NOTE: if API Gateway hands over decoded parameters, a value with a literal `%XX` (possible
    # only in a policy id) is decoded twice there. This was not tried on AWS.
    parameters = event.uri_params
    if parameters:
        for name, value in parameters.items():
            if "%" in value:
                parameters[name] = unquote(value)
    return get_response(event)
