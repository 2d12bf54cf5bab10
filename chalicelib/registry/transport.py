"""HTTP details shared by the registry client and its authentication: loopback and proxies."""

from __future__ import annotations

import ipaddress
import os

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
