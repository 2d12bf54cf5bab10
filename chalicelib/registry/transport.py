"""HTTP details shared by the registry client and its authentication.

Loopback addresses, proxies, and short descriptions of failed requests.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

LOOPBACK_NO_PROXY = "127.0.0.0/8,localhost,::1"
"""`no_proxy` entries for this machine, in the syntax `requests` reads."""


def is_loopback(host: str) -> bool:
    """Return whether `host[:port]` is `localhost` or an address in 127.0.0.0/8 or ::1.

    IPv6 addresses may be bracketed (`[::1]:5000`) or bare (`::1`).
    """
    host = host.lower()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request_proxies() -> dict[str, str]:
    """Return the `proxies` argument for a request: environment proxies, never for loopback.

    `requests` sends requests through `HTTP_PROXY` and the like unless the host is in
    `no_proxy`. This adds the loopback addresses to the environment's `no_proxy`, so a registry or
    token service on this machine is reached directly, also after a redirect.
    """
    configured = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    no_proxy = ",".join(part for part in (configured, LOOPBACK_NO_PROXY) if part)
    return {"no_proxy": no_proxy}


def describe_request_error(error: BaseException) -> str:
    """Return `CAUSE (HOST:PORT)` for a failed request, without urllib3's retry wrapping.

    `requests` wraps a connection failure in urllib3's `MaxRetryError`, whose text repeats the
    pool, the URL path and every wrapper. The cause is the innermost operating system error in
    lower case (`connection refused`, `name or service not known`), or a timeout or TLS failure.
    The host and port come from the request URL, with the scheme's default port.
    """
    request = getattr(error, "request", None)
    url = getattr(request, "url", None)
    where = ""
    if isinstance(url, str):
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        where = f" ({parts.hostname}:{port})"
    return _describe_cause(error) + where


def _describe_cause(error: BaseException) -> str:
    # Imported here so that importing this module does not load requests and urllib3.
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError

    chain = _error_chain(error)
    # After retries, requests raises a plain ConnectionError for a read timeout, so the causes
    # are searched rather than the type of `error`.
    if any(isinstance(cause, (requests.ReadTimeout, ReadTimeoutError)) for cause in chain):
        return "timed out waiting for a response"
    if any(
        isinstance(cause, (requests.ConnectTimeout, ConnectTimeoutError))
        and not isinstance(cause, NewConnectionError)
        for cause in chain
    ):
        return "connection timed out"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS handshake failed: {chain[-1]}"
    for cause in reversed(chain):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
    return str(chain[-1])


def _error_chain(error: BaseException) -> list[BaseException]:
    """Return `error` and the errors it wraps, outermost first.

    A `requests` error wraps urllib3's error as an argument, as does urllib3's `ProtocolError`,
    a `MaxRetryError` names its cause as `reason`, and the rest are chained by `raise ... from`.
    """
    chain = [error]
    current: BaseException | None = error
    while current is not None:
        candidates = (
            getattr(current, "reason", None),
            *current.args,
            current.__cause__,
            current.__context__,
        )
        # Checking membership by identity stops the walk at an error chained to itself.
        current = next(
            (
                candidate
                for candidate in candidates
                if isinstance(candidate, BaseException)
                and not any(candidate is seen for seen in chain)
            ),
            None,
        )
        if current is not None:
            chain.append(current)
    return chain
