"""Registry authentication: `WWW-Authenticate` challenges, HTTP basic and bearer tokens.

The flow is the one of the Docker registry token specification. A request without credentials
gets `401` with a challenge. For `Basic`, the client repeats the request with the user's password.
For `Bearer`, it requests a token for the needed `scope` from the challenge's `realm` (with basic
credentials when it has them) and repeats the request with `Authorization: Bearer TOKEN`. Once a
registry's challenge is known, later requests authenticate up front.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from time import monotonic
from typing import Any

import requests

from chalicelib.registry.errors import AuthenticationError, RegistryUnavailableError
from chalicelib.registry.transport import describe_request_error, request_proxies

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_LIFETIME = 60
"""Token lifetime in seconds when the token service gives no `expires_in` (the spec's default)."""

_TOKEN_REFRESH_MARGIN = 5
"""Seconds before a token's expiry at which a new one is requested instead."""

_TOKEN_CHARS = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+"
_PARAM_RE = re.compile(rf'[\s,]*({_TOKEN_CHARS})\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)')
_SCHEME_RE = re.compile(rf"[\s,]*({_TOKEN_CHARS})")


@dataclasses.dataclass(frozen=True)
class Challenge:
    """One authentication challenge from a `WWW-Authenticate` header."""

    scheme: str
    """Lower-case scheme name: `basic` or `bearer` for registries."""
    params: dict[str, str]
    """Parameters with lower-case names, for example `realm`, `service` and `scope`."""


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a `WWW-Authenticate` header value into its challenges (RFC 7235 syntax).

    Parameter values may be quoted strings with backslash escapes and may contain commas.
    Text that does not parse ends the list, so a malformed header gives the challenges before it.
    """
    challenges: list[Challenge] = []
    position = 0
    while position < len(header):
        param = _PARAM_RE.match(header, position)
        if param is not None and challenges:
            name, value = param.groups()
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            challenges[-1].params[name.lower()] = value
            position = param.end()
            continue
        scheme = _SCHEME_RE.match(header, position)
        if scheme is None:
            break
        challenges.append(Challenge(scheme=scheme.group(1).lower(), params={}))
        position = scheme.end()
    return challenges


@dataclasses.dataclass
class _Token:
    value: str
    expires_at: float
    """`monotonic()` value after which the token is not used."""


class RegistryAuth:
    """Credentials, known challenges and cached bearer tokens of one registry client.

    Tokens are cached per registry and scope until shortly before they expire.
    """

    def __init__(
        self,
        session: requests.Session,
        credentials: Mapping[str, tuple[str, str]],
        timeout: float | tuple[float, float],
        check_realm: Callable[[str], None],
        verify: bool = True,
    ) -> None:
        """Create the authenticator.

        `credentials` maps a normalized registry name to `(user, password)`. `timeout` applies to
        token requests. `check_realm(url)` raises `AuthenticationError` when a token realm may
        not be used (plain HTTP to a remote host).
        """
        self._session = session
        self._credentials = dict(credentials)
        self._timeout = timeout
        self._check_realm = check_realm
        self._verify = verify
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str], _Token] = {}

    def headers(self, registry: str, scope: str, subject: str) -> dict[str, str]:
        """Return the `Authorization` header for a request, fetching a token when needed.

        Returns no header until the registry has sent a challenge. `registry` is the normalized
        registry name, `scope` the token scope (`repository:NAME:pull`) and `subject` the image
        reference for error messages.
        """
        challenge = self._challenges.get(registry)
        if challenge is None:
            return {}
        if challenge.scheme == "basic":
            credentials = self._credentials.get(registry)
            if credentials is None:
                return {}
            return {"Authorization": _basic_header(credentials)}
        if challenge.scheme == "bearer":
            token = self._token(registry, scope, challenge, subject)
            return {"Authorization": f"Bearer {token}"}
        return {}

    def handle_unauthorized(
        self, registry: str, scope: str, response: requests.Response, subject: str
    ) -> None:
        """Record the challenge of a `401` response, for the next `headers` call to meet.

        A token for `scope` that was just rejected is dropped. Raises `AuthenticationError` when
        the response has no challenge this client supports.
        """
        header = response.headers.get("WWW-Authenticate", "")
        supported = [c for c in parse_www_authenticate(header) if c.scheme in ("basic", "bearer")]
        if not supported:
            raise AuthenticationError(
                f"registry {registry} requires authentication for {subject} but its challenge "
                f"{header!r} names no supported scheme (Basic or Bearer); check the registry's "
                "authentication settings"
            )
        # Prefer bearer tokens: they carry only the scope needed, not the password.
        challenge = next((c for c in supported if c.scheme == "bearer"), supported[0])
        if challenge.scheme == "bearer" and "realm" not in challenge.params:
            raise AuthenticationError(
                f"registry {registry} sent a Bearer challenge without a realm for {subject}; "
                "the registry's token authentication is misconfigured"
            )
        self._challenges[registry] = challenge
        self._tokens.pop((registry, scope), None)

    def rejection_error(self, registry: str, scope: str, subject: str) -> AuthenticationError:
        """Return the error for a request that is still unauthorized after authenticating."""
        credentials = self._credentials.get(registry)
        challenge = self._challenges.get(registry)
        identity = (
            f"the credentials of user {credentials[0]!r}" if credentials else "anonymous access"
        )
        if challenge is not None and challenge.scheme == "bearer":
            return AuthenticationError(
                f"registry {registry} rejected {subject} with a token for scope {scope!r} "
                f"obtained with {identity}; check that the repository exists and that the "
                "credentials may pull it"
            )
        if credentials is None:
            return AuthenticationError(
                f"registry {registry} requires authentication for {subject}; "
                f"configure credentials for {registry}"
            )
        return AuthenticationError(
            f"registry {registry} rejected {identity} for {subject}; "
            "check the user name and password"
        )

    def _token(self, registry: str, scope: str, challenge: Challenge, subject: str) -> str:
        cached = self._tokens.get((registry, scope))
        if cached is not None and monotonic() < cached.expires_at:
            return cached.value

        realm = challenge.params["realm"]
        self._check_realm(realm)
        scopes = [scope] if scope else []
        challenge_scope = challenge.params.get("scope")
        if challenge_scope and challenge_scope != scope:
            scopes.append(challenge_scope)
        params: dict[str, Any] = {"scope": scopes} if scopes else {}
        if "service" in challenge.params:
            params["service"] = challenge.params["service"]
        credentials = self._credentials.get(registry)
        logger.debug("requesting a token from %s for %s scope %s", realm, registry, scopes)

        try:
            response = self._session.get(
                realm,
                params=params,
                headers={"Authorization": _basic_header(credentials)} if credentials else {},
                timeout=self._timeout,
                proxies=request_proxies(),
                verify=self._verify,
            )
        except requests.RequestException as error:
            raise RegistryUnavailableError(
                f"token request to {realm} for {subject} failed: "
                f"{describe_request_error(error)}; check that the token service of the registry "
                "is reachable, or retry later"
            ) from error
        with response:
            token, lifetime = self._read_token_response(response, realm, registry, subject)

        expires_at = monotonic() + max(lifetime - _TOKEN_REFRESH_MARGIN, 1)
        self._tokens[(registry, scope)] = _Token(value=token, expires_at=expires_at)
        return token

    def _read_token_response(
        self, response: requests.Response, realm: str, registry: str, subject: str
    ) -> tuple[str, int]:
        """Return the token and its lifetime in seconds from a token service response."""
        credentials = self._credentials.get(registry)
        if response.status_code in (401, 403):
            identity = f"user {credentials[0]!r}" if credentials else "anonymous access"
            raise AuthenticationError(
                f"token service {realm} of registry {registry} rejected {identity} for {subject} "
                f"(HTTP {response.status_code}); check the user name and password"
            )
        if response.status_code != 200:
            raise RegistryUnavailableError(
                f"token service {realm} of registry {registry} returned HTTP "
                f"{response.status_code} for {subject}; retry later"
            )
        try:
            body = response.json()
        except ValueError as error:
            raise AuthenticationError(
                f"token service {realm} returned a response that is not JSON for {subject}"
            ) from error
        if not isinstance(body, dict):
            body = {}
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthenticationError(
                f"token service {realm} returned no token for {subject}; "
                "check the registry's token authentication settings"
            )
        lifetime = body.get("expires_in")
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return token, lifetime


def _basic_header(credentials: tuple[str, str]) -> str:
    """Return the value of a basic `Authorization` header (RFC 7617, UTF-8)."""
    user, password = credentials
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {encoded}"
