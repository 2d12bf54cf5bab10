"""A real registry for tests: the CNCF distribution registry (`docker-registry`) on 127.0.0.1.

The registry runs with a config file written here, never the Debian package's stock config
(which listens on all interfaces): it listens on a free port of 127.0.0.1 and stores blobs in a
temporary directory. Variants add HTTP basic authentication (bcrypt htpasswd) or bearer tokens
from `TokenServer`, a token service that this module runs on 127.0.0.1 too.

Use the fixtures from another test folder by importing them into its `conftest.py`:
`from tests.support.registry import registry, auth_registry, token_registry`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn
from urllib.parse import parse_qs, urlsplit

import bcrypt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import RSAKey

from tools.registry import loopback_env, run_registry_process

REGISTRY_BINARY = "docker-registry"
SKOPEO_BINARY = "skopeo"
TEST_USER = "plimsoll"
TEST_PASSWORD = "correct-horse-battery-staple"
TOKEN_SERVICE = "plimsoll-test-registry"
TOKEN_ISSUER = "plimsoll-test-token-server"


@dataclasses.dataclass(frozen=True)
class LocalRegistry:
    """A running test registry."""

    host: str
    """`127.0.0.1:PORT`, the registry part of image references."""
    url: str
    """`http://127.0.0.1:PORT`."""
    storage_dir: Path
    """Root directory of the registry's filesystem storage."""
    log_path: Path
    credentials: tuple[str, str] | None = None
    """User and password for basic or token authentication, or None for an open registry."""
    token_server: TokenServer | None = None

    def blob_path(self, digest: str) -> Path:
        """Return the file that stores a blob (its `data` file in the storage tree)."""
        algorithm, hex_part = digest.split(":", 1)
        return (
            self.storage_dir
            / "docker/registry/v2/blobs"
            / algorithm
            / hex_part[:2]
            / hex_part
            / "data"
        )

    def push(self, layout_dir: Path, layout_tag: str, repository_tag: str) -> str:
        """Push `layout_dir:layout_tag` as `HOST/repository_tag`; return the pushed reference."""
        reference = f"{self.host}/{repository_tag}"
        push_oci_layout(layout_dir, reference, creds=self.credentials, layout_tag=layout_tag)
        return reference


def loopback_session() -> requests.Session:
    """Return a `requests` session that ignores proxy settings in the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def subprocess_env() -> dict[str, str]:
    """Return the environment for tools that talk to the test registry, with proxies bypassed."""
    return loopback_env()


def push_oci_layout(
    layout_dir: Path,
    ref: str,
    creds: tuple[str, str] | None = None,
    layout_tag: str | None = None,
    all_platforms: bool = True,
) -> None:
    """Push an image of an OCI layout to a test registry with `skopeo copy`.

    `ref` is `HOST:PORT/REPOSITORY:TAG`; the layout's image is the one tagged `layout_tag`, which
    defaults to the tag of `ref`. Digests are preserved, so the pushed manifests and blobs keep
    the layout's digests, and an index is pushed with all its images unless `all_platforms` is
    false. Skips the test when skopeo is not installed.
    """
    skopeo = shutil.which(SKOPEO_BINARY)
    if skopeo is None:
        _unavailable("skopeo is not installed; install the Debian package skopeo")
    tag = layout_tag or ref.rsplit(":", 1)[1]
    command = [
        skopeo,
        "--insecure-policy",
        "copy",
        "--preserve-digests",
        "--retry-times=0",
        "--dest-tls-verify=false",
    ]
    if all_platforms:
        command.append("--all")
    if creds is not None:
        command.append(f"--dest-creds={creds[0]}:{creds[1]}")
    else:
        command.append("--dest-no-creds")
    command += [f"oci:{layout_dir}:{tag}", f"docker://{ref}"]
    result = subprocess.run(
        command, env=subprocess_env(), capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"skopeo copy of {layout_dir}:{tag} to {ref} failed with exit code "
            f"{result.returncode}: {result.stderr.strip()}"
        )


@contextlib.contextmanager
def run_registry(
    workdir: Path,
    credentials: tuple[str, str] | None = None,
    token_server: TokenServer | None = None,
) -> Iterator[LocalRegistry]:
    """Run `docker-registry serve` on 127.0.0.1 until the block exits.

    With `credentials`, the registry requires them by HTTP basic authentication, unless
    `token_server` is given: then the registry requires that server's bearer tokens.
    Skips the test when `docker-registry` is not installed, or fails it under CI.
    """
    if shutil.which(REGISTRY_BINARY) is None:
        _unavailable(
            "docker-registry is not installed; install the Debian package docker-registry "
            "to run the tests against a real registry"
        )
    auth = _auth_config(workdir, credentials, token_server)
    with run_registry_process(workdir, auth) as process:
        yield LocalRegistry(
            host=process.host,
            url=f"http://{process.host}",
            storage_dir=process.storage_dir,
            log_path=process.log_path,
            credentials=credentials,
            token_server=token_server,
        )


def _unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it under CI, where `make test` must have installed the tool."""
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _auth_config(
    workdir: Path, credentials: tuple[str, str] | None, token_server: TokenServer | None
) -> dict[str, object]:
    if token_server is not None:
        return {
            "token": {
                "realm": token_server.realm,
                "service": TOKEN_SERVICE,
                "issuer": TOKEN_ISSUER,
                "rootcertbundle": str(token_server.certificate_path),
            }
        }
    if credentials is not None:
        user, password = credentials
        # Cost 4 is bcrypt's minimum: the registry checks the hash on every request.
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b"2a"))
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(f"{user}:{hashed.decode()}\n")
        return {"htpasswd": {"realm": "plimsoll-test", "path": str(htpasswd)}}
    return {}


class TokenServer:
    """A bearer token service for the registry's token authentication, on 127.0.0.1.

    Tokens are JWTs signed with RS256 by a self-signed certificate that the registry trusts
    (`rootcertbundle`); the certificate goes in the token's `x5c` header. Requests with the
    right basic credentials get every action they ask for; anonymous requests get the actions in
    `anonymous_actions`; wrong credentials get `401`. `requests` records each token request as
    `(user or None, scopes)`.
    """

    def __init__(self, workdir: Path, credentials: tuple[str, str]) -> None:
        """Create the signing key and certificate in `workdir`; `start` serves requests."""
        self.credentials = credentials
        self.anonymous_actions: set[str] = set()
        self.requests: list[tuple[str | None, list[str]]] = []
        self.certificate_path = workdir / "token-certificate.pem"
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        certificate = _self_signed_certificate(private_key)
        self.certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._key = RSAKey.import_key(pem)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def realm(self) -> str:
        """URL of the token endpoint."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def start(self) -> None:
        """Serve token requests on a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def issue(self, user: str | None, scopes: list[str], service: str) -> str:
        """Return a signed token that grants `user` the actions it may have in `scopes`."""
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [action for action in actions.split(",") if action]
            granted = (
                wanted
                if user is not None
                else [action for action in wanted if action in self.anonymous_actions]
            )
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": TOKEN_ISSUER,
            "sub": user or "",
            "aud": service,
            "iat": now,
            "nbf": now - 10,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        return jwt.encode(header, claims, self._key)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                try:
                    user = server._authenticate(self.headers.get("Authorization"))
                except PermissionError:
                    self._send(401, {"details": "invalid credentials"})
                    return
                scopes = query.get("scope", [])
                server.requests.append((user, scopes))
                token = server.issue(user, scopes, query.get("service", [""])[0])
                self._send(200, {"token": token, "access_token": token, "expires_in": 300})

            def _send(self, status: int, body: dict[str, object]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        return Handler

    def _authenticate(self, header: str | None) -> str | None:
        """Return the user of valid basic credentials or None for none; raise for wrong ones."""
        if not header:
            return None
        scheme, _, encoded = header.partition(" ")
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        if scheme.lower() != "basic" or (user, password) != self.credentials:
            raise PermissionError(f"wrong credentials for user {user!r}")
        return user


def _self_signed_certificate(private_key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TOKEN_ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, hashes.SHA256())
    )


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry without authentication, shared by the session."""
    with run_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry that requires HTTP basic authentication with `TEST_USER`, `TEST_PASSWORD`."""
    with run_registry(
        tmp_path_factory.mktemp("auth-registry"), credentials=(TEST_USER, TEST_PASSWORD)
    ) as running:
        yield running


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry that requires bearer tokens from a `TokenServer` (`registry.token_server`)."""
    workdir = tmp_path_factory.mktemp("token-registry")
    credentials = (TEST_USER, TEST_PASSWORD)
    token_server = TokenServer(workdir, credentials)
    token_server.start()
    try:
        with run_registry(workdir, credentials, token_server) as running:
            yield running
    finally:
        token_server.stop()
