"""`WWW-Authenticate` parsing and the bearer token flow against a canned token service."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from chalicelib.registry.auth import Challenge, parse_www_authenticate
from chalicelib.registry.client import RegistryClient
from chalicelib.registry.errors import AuthenticationError, RegistryUnavailableError
from tests.registry.cannedserver import CannedServer, Request, Response

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
            'scope="repository:library/nginx:pull"',
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.docker.io/token",
                        "service": "registry.docker.io",
                        "scope": "repository:library/nginx:pull",
                    },
                )
            ],
        ),
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            'Bearer realm="https://r/token",scope="repository:a/b:pull,push"',
            [
                Challenge(
                    "bearer", {"realm": "https://r/token", "scope": "repository:a/b:pull,push"}
                )
            ],
        ),
        (
            'Basic realm="a", Bearer realm="b",service="c"',
            [
                Challenge("basic", {"realm": "a"}),
                Challenge("bearer", {"realm": "b", "service": "c"}),
            ],
        ),
        ('Bearer realm="say \\"hi\\""', [Challenge("bearer", {"realm": 'say "hi"'})]),
        (
            "Bearer realm=https://r/token, service=reg",
            [Challenge("bearer", {"realm": "https://r/token", "service": "reg"})],
        ),
        ('BEARER Realm="x"', [Challenge("bearer", {"realm": "x"})]),
        (
            'Bearer realm="x",error="insufficient_scope"',
            [Challenge("bearer", {"realm": "x", "error": "insufficient_scope"})],
        ),
        ("Negotiate", [Challenge("negotiate", {})]),
        ("", []),
    ],
)
def test_parse_www_authenticate(header: str, expected: list[Challenge]) -> None:
    assert parse_www_authenticate(header) == expected


def _registry_requiring(token: str, server: CannedServer, challenge: str) -> None:
    """Serve the manifest at `/v2/app/manifests/v1` to requests with `Bearer token`."""

    def manifest(request: Request) -> Response:
        if request.headers.get("Authorization") == f"Bearer {token}":
            return Response(200, MANIFEST, {"Content-Type": "application/json"})
        return Response(401, b"", {"WWW-Authenticate": challenge})

    server.routes["/v2/app/manifests/v1"] = manifest


def _token_route(server: CannedServer, tokens: list[str], expires_in: int = 300) -> None:
    issued = iter(tokens)

    def token(request: Request) -> Response:
        return Response.json({"token": next(issued), "expires_in": expires_in})

    server.routes["/token?scope=repository%3Aapp%3Apull&service=canned"] = token


def _challenge(server: CannedServer) -> str:
    return f'Bearer realm="http://{server.host}/token",service="canned"'


def _token_requests(server: CannedServer) -> list[str]:
    return [path for path in server.paths() if path.startswith("/token")]


def test_bearer_token_refreshed_after_expiry(
    canned_server: CannedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _registry_requiring("first", canned_server, _challenge(canned_server))
    _token_route(canned_server, ["first", "second"], expires_in=60)
    clock = [1000.0]
    monkeypatch.setattr("chalicelib.registry.auth.monotonic", lambda: clock[0])

    with RegistryClient(retries=0) as client:
        client.fetch_manifest(f"{canned_server.host}/app:v1")
        client.fetch_manifest(f"{canned_server.host}/app:v1")
        assert len(_token_requests(canned_server)) == 1

        clock[0] += 60
        _registry_requiring("second", canned_server, _challenge(canned_server))
        blob = client.fetch_manifest(f"{canned_server.host}/app:v1")

    assert blob.digest == MANIFEST_DIGEST
    assert len(_token_requests(canned_server)) == 2


def test_bearer_token_replaced_when_rejected(canned_server: CannedServer) -> None:
    _registry_requiring("first", canned_server, _challenge(canned_server))
    _token_route(canned_server, ["first", "second"])

    with RegistryClient(retries=0) as client:
        client.fetch_manifest(f"{canned_server.host}/app:v1")
        # The registry stops accepting the cached token, as after a key rotation.
        _registry_requiring("second", canned_server, _challenge(canned_server))
        blob = client.fetch_manifest(f"{canned_server.host}/app:v1")

    assert blob.digest == MANIFEST_DIGEST
    assert len(_token_requests(canned_server)) == 2


def test_bearer_token_request_sends_credentials(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, _challenge(canned_server))
    _token_route(canned_server, ["t"])
    credentials = {canned_server.host: ("alice", "pässword")}

    with RegistryClient(credentials=credentials, retries=0) as client:
        client.fetch_manifest(f"{canned_server.host}/app:v1")

    token_request = next(r for r in canned_server.requests if r.path.startswith("/token"))
    expected = base64.b64encode("alice:pässword".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {expected}"


def test_bearer_token_accepts_access_token_field(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, _challenge(canned_server))
    route = "/token?scope=repository%3Aapp%3Apull&service=canned"
    canned_server.routes[route] = Response.json({"access_token": "t"})

    with RegistryClient(retries=0) as client:
        assert client.fetch_manifest(f"{canned_server.host}/app:v1").digest == MANIFEST_DIGEST


def test_bearer_token_requests_challenge_scope_too(canned_server: CannedServer) -> None:
    challenge = _challenge(canned_server) + ',scope="repository:app:pull,push"'
    _registry_requiring("t", canned_server, challenge)
    route = (
        "/token?scope=repository%3Aapp%3Apull&scope=repository%3Aapp%3Apull%2Cpush&service=canned"
    )
    canned_server.routes[route] = Response.json({"token": "t"})

    with RegistryClient(retries=0) as client:
        assert client.fetch_manifest(f"{canned_server.host}/app:v1").digest == MANIFEST_DIGEST


def test_bearer_token_response_without_token(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, _challenge(canned_server))
    route = "/token?scope=repository%3Aapp%3Apull&service=canned"
    canned_server.routes[route] = Response.json({"details": "none for you"})

    with (
        RegistryClient(retries=0) as client,
        pytest.raises(AuthenticationError, match="returned no token"),
    ):
        client.fetch_manifest(f"{canned_server.host}/app:v1")


def test_bearer_token_service_error(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, _challenge(canned_server))
    route = "/token?scope=repository%3Aapp%3Apull&service=canned"
    canned_server.routes[route] = Response(503)

    with (
        RegistryClient(retries=0) as client,
        pytest.raises(RegistryUnavailableError, match="returned HTTP 503"),
    ):
        client.fetch_manifest(f"{canned_server.host}/app:v1")


def test_bearer_realm_plain_http_rejected(canned_server: CannedServer) -> None:
    # The realm is never contacted: the client raises before sending credentials there.
    challenge = 'Bearer realm="http://auth.example.invalid/token",service="canned"'
    _registry_requiring("t", canned_server, challenge)

    with (
        RegistryClient(retries=0) as client,
        pytest.raises(AuthenticationError, match="not an https URL"),
    ):
        client.fetch_manifest(f"{canned_server.host}/app:v1")


def test_bearer_challenge_without_realm(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, 'Bearer service="canned"')

    with (
        RegistryClient(retries=0) as client,
        pytest.raises(AuthenticationError, match="without a realm"),
    ):
        client.fetch_manifest(f"{canned_server.host}/app:v1")


def test_unsupported_challenge(canned_server: CannedServer) -> None:
    _registry_requiring("t", canned_server, "Negotiate")

    with (
        RegistryClient(retries=0) as client,
        pytest.raises(AuthenticationError, match="no supported scheme"),
    ):
        client.fetch_manifest(f"{canned_server.host}/app:v1")
