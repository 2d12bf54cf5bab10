"""Client for the OCI distribution API: resolve image references, stream blobs, list tags.

Every manifest and blob is checked against its digest. Registries on loopback addresses and
registries the caller lists as insecure are reached over plain HTTP, all others over HTTPS.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from chalicelib.analysis.interface import LayerRef
from chalicelib.registry.auth import RegistryAuth
from chalicelib.registry.digest import compute_digest, open_verified, parse_digest, verify_content
from chalicelib.registry.errors import (
    AuthenticationError,
    BlobNotFoundError,
    DigestMismatchError,
    InvalidManifestError,
    ManifestNotFoundError,
    RegistryError,
    RegistryUnavailableError,
)
from chalicelib.registry.manifest import (
    MANIFEST_ACCEPT,
    MAX_CONFIG_SIZE,
    MAX_MANIFEST_SIZE,
    Descriptor,
    ManifestBlob,
    parse_manifest,
    read_image_parts,
    walk_to_image,
)
from chalicelib.registry.platform import DEFAULT_PLATFORM, Platform
from chalicelib.registry.reference import (
    DOCKER_HUB,
    DOCKER_HUB_API_HOST,
    ImageReference,
    normalize_registry_host,
    parse_reference,
)
from chalicelib.registry.transport import describe_request_error, is_loopback, request_proxies

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 60.0)
"""Connect and read timeouts in seconds for each request."""

_MAX_TAG_PAGES = 1000
_TAGS_PAGE_SIZE = 1000


@dataclasses.dataclass
class ResolvedImage:
    """An image resolved in a registry to one platform manifest, with its config read.

    Implements `chalicelib.analysis.interface.ImageSource`: `open_layer` streams a layer blob from
    the registry and raises `DigestMismatchError` at end of stream if the bytes do not match.
    """

    reference: ImageReference
    """The reference as requested, with its tag and digest."""
    manifest_digest: str
    """Digest of the platform manifest: the image's identity (`imageDigest`)."""
    media_type: str
    raw_manifest: bytes
    """The platform manifest as received; its sha256 is `manifest_digest`."""
    manifest: dict[str, Any]
    parent_digest: str | None
    """Digest of the manifest list or image index the platform manifest was chosen from."""
    config_digest: str
    config: dict[str, Any]
    image_id: str
    """Hex sha256 of the config blob, without the `sha256:` prefix."""
    layers: list[LayerRef]
    platform: str
    """The platform requested, for example `linux/amd64`."""
    client: RegistryClient = dataclasses.field(repr=False, compare=False)

    @property
    def pinned_reference(self) -> ImageReference:
        """The reference with its digest set to `manifest_digest`."""
        return self.reference.with_digest(self.manifest_digest)

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        """Stream a layer blob as stored, checking its digest and size at end of stream."""
        return self.client.open_blob(self.reference, layer.digest, size=layer.size)


class RegistryClient:
    """A client for OCI distribution registries (Docker Registry HTTP API v2).

    One client keeps one HTTP session, the registries' authentication challenges and cached
    bearer tokens, so reuse it for many requests. Close it with `close()` or a `with` block.

    NOTE: the token cache has no lock and `requests` does not document sessions as thread-safe,
    so sharing one client between threads is untested.
    """

    def __init__(
        self,
        credentials: Mapping[str, tuple[str, str]] | None = None,
        insecure_registries: Iterable[str] = (),
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retries: int = 2,
        session: requests.Session | None = None,
        user_agent: str = "plimsoll",
        verify_tls: bool = True,
    ) -> None:
        """Create a client.

        `credentials` maps a registry (`host[:port]`; Docker Hub as `docker.io` or one of its
        API host names) to `(user, password)`, used for HTTP basic authentication and for token
        requests. `insecure_registries` lists registries to reach over plain HTTP although they
        are not on a loopback address. `timeout` is the connect and read timeout in seconds of
        each request. `retries` is how many times a request is repeated after a connection error
        or an HTTP 502, 503 or 504 response. `session` replaces the client's own session.
        `verify_tls=False` accepts any TLS certificate, for registries with self-signed ones.
        """
        self._session = session or requests.Session()
        retry = Retry(
            total=retries,
            connect=retries,
            read=retries,
            status=retries,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD"}),
            backoff_factor=0.5,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = user_agent
        self._timeout = timeout
        # Passed with each request: a session-level `verify=False` loses to REQUESTS_CA_BUNDLE,
        # because requests merges the environment into the request settings first.
        self._verify = verify_tls
        self._insecure = frozenset(normalize_registry_host(r) for r in insecure_registries)
        normalized_credentials = {
            normalize_registry_host(registry): pair
            for registry, pair in (credentials or {}).items()
        }
        self._auth = RegistryAuth(
            self._session, normalized_credentials, timeout, self._check_realm, verify=verify_tls
        )

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def resolve(self, ref: ImageReference | str, platform: str = DEFAULT_PLATFORM) -> ResolvedImage:
        """Resolve a reference to one platform image and read its config.

        A reference with a digest is fetched by digest (the tag is kept but not used). A manifest
        list or image index is resolved to the entry for `platform` (`os/architecture[/variant]`)
        and its digest becomes `parent_digest`. Raises `ManifestNotFoundError`,
        `PlatformNotFoundError`, `AuthenticationError`, `DigestMismatchError`,
        `UnsupportedMediaTypeError` (schema 1, artifacts, zstd layers), `InvalidManifestError`
        and `RegistryUnavailableError`.
        """
        reference = _as_reference(ref)
        wanted = Platform.parse(platform)
        where = str(reference)

        first = self.fetch_manifest(reference)
        image_manifest, parent_digest = walk_to_image(
            first, wanted, lambda descriptor, _: self.fetch_manifest(reference, descriptor), where
        )
        parts = read_image_parts(
            image_manifest,
            parent_digest,
            lambda descriptor, _: self.fetch_blob(reference, descriptor.digest, descriptor.size),
            where,
        )
        manifest_digest = cast(str, image_manifest.digest)
        logger.info(
            "resolved %s for %s to %s (parent %s)", where, wanted, manifest_digest, parent_digest
        )
        return ResolvedImage(
            reference=reference,
            manifest_digest=manifest_digest,
            media_type=image_manifest.media_type,
            raw_manifest=image_manifest.raw,
            manifest=image_manifest.document,
            parent_digest=parent_digest,
            config_digest=parts.config_descriptor.digest,
            config=parts.config,
            image_id=parts.image_id,
            layers=parts.layers,
            platform=str(wanted),
            client=self,
        )

    def fetch_manifest(
        self, ref: ImageReference | str, descriptor: Descriptor | None = None
    ) -> ManifestBlob:
        """Fetch and check one manifest or index, without following an index.

        Fetches `descriptor.digest` when a descriptor is given, else the reference's digest, else
        its tag. The digest of the bytes received must equal the digest requested and the
        registry's `Docker-Content-Digest` header; a descriptor's size must match too.
        """
        reference = _as_reference(ref)
        target = descriptor.digest if descriptor else reference.digest or reference.tag
        if target is None:
            raise ManifestNotFoundError(f"{reference} has neither a tag nor a digest to fetch")
        if target == reference.tag:
            label = f"manifest of {reference}"
        else:
            label = f"manifest {target} of {reference}"
        headers = {"Accept": MANIFEST_ACCEPT, "Accept-Encoding": "identity"}

        with self._get(reference, f"manifests/{target}", headers=headers, stream=True) as response:
            self._raise_for_status(response, reference, label, ManifestNotFoundError)
            raw = self._read_limited(response, MAX_MANIFEST_SIZE, label, reference)
            content_type = response.headers.get("Content-Type")
            header_digest = response.headers.get("Docker-Content-Digest")

        digest = compute_digest(raw)
        if target != reference.tag:
            verify_content(raw, target, descriptor.size if descriptor else None, label)
            digest = target
        if header_digest:
            _check_header_digest(raw, header_digest, label, reference)
        hint = content_type or (descriptor.media_type if descriptor else None)
        return parse_manifest(raw, hint, digest, label)

    def fetch_blob(
        self,
        ref: ImageReference | str,
        digest: str,
        size: int | None = None,
        max_size: int = MAX_CONFIG_SIZE,
    ) -> bytes:
        """Fetch a small blob (an image config) into memory and check its digest and size."""
        label = f"blob {digest} of {_as_reference(ref)}"
        if size is not None and size > max_size:
            raise InvalidManifestError(
                f"{label} is {size} bytes, more than the {max_size} bytes accepted for a config"
            )
        with self.open_blob(ref, digest, size=size) as stream:
            data = stream.read(max_size + 1)
            if len(data) > max_size:
                raise InvalidManifestError(
                    f"{label} is more than the {max_size} bytes accepted for a config"
                )
            # Read to the end so that the stream checks the digest.
            stream.read()
        return data

    def open_blob(
        self, ref: ImageReference | str, digest: str, size: int | None = None
    ) -> BinaryIO:
        """Stream a blob as stored, raising `DigestMismatchError` at end of stream on mismatch.

        `size`, when given, is the expected length in bytes. Connection errors while reading
        raise `RegistryUnavailableError`. Close the stream when done.
        """
        reference = _as_reference(ref)
        parse_digest(digest, f"blob request for {reference}")
        label = f"blob {digest} of {reference}"
        headers = {"Accept-Encoding": "identity"}
        response = self._get(reference, f"blobs/{digest}", headers=headers, stream=True)
        try:
            self._raise_for_status(response, reference, label, BlobNotFoundError)
        except RegistryError:
            response.close()
            raise

        # NOTE: the read timeout bounds each socket read, not the whole blob, so a registry that
        # sends a byte every few seconds keeps the download, and the analysis, going.
        def read_chunk(amount: int) -> bytes:
            try:
                chunk: bytes = response.raw.read(amount, decode_content=False)
                return chunk
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise RegistryUnavailableError(
                    f"reading {label} from registry {reference.registry} failed: "
                    f"{_describe_read_error(error)}; retry later"
                ) from error

        return open_verified(read_chunk, digest, size, label, close_source=response.close)

    def list_tags(self, ref: ImageReference | str) -> list[str]:
        """Return the tags of the reference's repository in the registry's order.

        Follows `Link: <...>; rel="next"` pagination. Raises `ManifestNotFoundError` when the
        repository does not exist.
        """
        reference = _as_reference(ref)
        label = f"tags of {reference.name}"
        path = f"tags/list?n={_TAGS_PAGE_SIZE}"
        tags: list[str] = []
        seen: set[str] = set()
        for _ in range(_MAX_TAG_PAGES):
            with self._get(reference, path, headers={"Accept": "application/json"}) as response:
                self._raise_for_status(response, reference, label, ManifestNotFoundError)
                page = _tags_page(response, label)
                next_link = response.links.get("next", {}).get("url")
            for tag in page:
                if tag not in seen:
                    seen.add(tag)
                    tags.append(tag)
            if not next_link:
                return tags
            # The link is relative to the request URL; keep only what follows `/v2/NAME/`.
            next_url = urljoin(self._api_url(reference, path), next_link)
            prefix = self._api_url(reference, "")
            if not next_url.startswith(prefix):
                raise RegistryError(
                    f"registry {reference.registry} sent a next-page link {next_link!r} outside "
                    f"{reference.name} while listing tags; the registry is misbehaving"
                )
            path = next_url[len(prefix) :]
        raise RegistryError(
            f"{label} span more than {_MAX_TAG_PAGES} pages; the registry is misbehaving"
        )

    def _get(
        self,
        reference: ImageReference,
        path: str,
        headers: dict[str, str],
        stream: bool = False,
    ) -> requests.Response:
        """Send a GET for `/v2/<repository>/<path>`, authenticating after at most one challenge."""
        scope = f"repository:{reference.repository}:pull"
        url = self._api_url(reference, path)
        return self._authorized_get(url, reference.registry, scope, str(reference), headers, stream)

    def ping(self, registry: str) -> None:
        """Check that `registry` accepts this client's credentials, with `GET /v2/`.

        Raises `AuthenticationError` when the registry or its token service rejects them,
        `RegistryUnavailableError` when it cannot be reached, and `RegistryError` when it
        returns another status.
        """
        registry = normalize_registry_host(registry)
        api_host = DOCKER_HUB_API_HOST if registry == DOCKER_HUB else registry
        scheme = "http" if self._allows_plain_http(registry) else "https"
        subject = "a login check (GET /v2/)"
        with self._authorized_get(f"{scheme}://{api_host}/v2/", registry, "", subject, {}) as response:
            if response.status_code != 200:
                raise RegistryError(
                    f"registry {registry} returned HTTP {response.status_code} for GET /v2/; "
                    "check that it is an OCI distribution (Docker v2) registry"
                )

    def _authorized_get(
        self,
        url: str,
        registry: str,
        scope: str,
        subject: str,
        headers: dict[str, str],
        stream: bool = False,
    ) -> requests.Response:
        """Send a GET for `url`, authenticating after at most one challenge.

        An empty `scope` requests a token that grants no repository access, as `docker login`
        does.
        """
        for attempt in range(2):
            request_headers = dict(headers)
            request_headers.update(self._auth.headers(registry, scope, subject))
            try:
                response = self._session.get(
                    url,
                    headers=request_headers,
                    timeout=self._timeout,
                    stream=stream,
                    proxies=request_proxies(),
                    verify=self._verify,
                )
            except requests.RequestException as error:
                raise RegistryUnavailableError(
                    f"request to registry {registry} for {subject} failed: "
                    f"{describe_request_error(error)}; check that the registry is up and "
                    "reachable from here, or retry later"
                ) from error
            if response.status_code != 401:
                return response
            response.close()
            if attempt == 0:
                self._auth.handle_unauthorized(registry, scope, response, subject)
        raise self._auth.rejection_error(registry, scope, subject)

    def _api_url(self, reference: ImageReference, path: str) -> str:
        scheme = "http" if self._allows_plain_http(reference.registry) else "https"
        return f"{scheme}://{reference.api_registry}/v2/{reference.repository}/{path}"

    def _allows_plain_http(self, registry: str) -> bool:
        return is_loopback(registry) or normalize_registry_host(registry) in self._insecure

    def _check_realm(self, realm: str) -> None:
        """Raise `AuthenticationError` unless a token realm is HTTPS or may use plain HTTP."""
        parts = urlsplit(realm)
        host = parts.netloc.rpartition("@")[2]
        if host and parts.scheme == "https":
            return
        if host and parts.scheme == "http" and self._allows_plain_http(host):
            return
        raise AuthenticationError(
            f"token realm {realm!r} is not an https URL; credentials are sent only over HTTPS "
            "unless the realm's host is a loopback address or listed as an insecure registry"
        )

    @staticmethod
    def _raise_for_status(
        response: requests.Response,
        reference: ImageReference,
        label: str,
        not_found: type[RegistryError],
    ) -> None:
        """Raise the error for a response that is not `200 OK`."""
        status = response.status_code
        if status == 200:
            return
        registry = reference.registry
        detail = _error_detail(response)
        if status == 404:
            raise not_found(
                f"{label} not found in registry {registry}{detail}; check that the repository, "
                "tag or digest exists"
            )
        if status == 403:
            raise AuthenticationError(
                f"registry {registry} denied access to {label}{detail}; check that the "
                "credentials may pull this repository"
            )
        if status == 429:
            raise RegistryUnavailableError(
                f"registry {registry} is rate-limiting requests for {label}{detail}; "
                "retry later or configure credentials with a higher limit"
            )
        if status >= 500:
            raise RegistryUnavailableError(
                f"registry {registry} returned HTTP {status} for {label}{detail}; retry later"
            )
        raise RegistryError(
            f"registry {registry} returned HTTP {status} for {label}{detail}; "
            "check the image reference"
        )

    @staticmethod
    def _read_limited(
        response: requests.Response, limit: int, label: str, reference: ImageReference
    ) -> bytes:
        """Read a response body of at most `limit` bytes."""
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                body += chunk
                if len(body) > limit:
                    raise InvalidManifestError(
                        f"{label} is larger than {limit} bytes, the maximum for a manifest"
                    )
        except requests.RequestException as error:
            raise RegistryUnavailableError(
                f"reading {label} from registry {reference.registry} failed: {error}; retry later"
            ) from error
        return bytes(body)


def _describe_read_error(error: BaseException) -> str:
    """Return the cause of a failed read of a response body, without urllib3's repetitions.

    urllib3 words a dropped connection as a tuple of its message and the `IncompleteRead` that
    the message already contains, and a read timeout with the connection pool's repr.
    """
    if isinstance(error, urllib3.exceptions.ReadTimeoutError):
        return "timed out waiting for data"
    if isinstance(error, urllib3.exceptions.ProtocolError) and error.args:
        return str(error.args[0])
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return str(error)


def _as_reference(ref: ImageReference | str) -> ImageReference:
    return ref if isinstance(ref, ImageReference) else parse_reference(ref)


def _check_header_digest(
    raw: bytes, header_digest: str, label: str, reference: ImageReference
) -> None:
    """Raise `DigestMismatchError` when the content does not have the registry's digest."""
    try:
        algorithm, _ = parse_digest(header_digest, f"Docker-Content-Digest header of {label}")
    except InvalidManifestError:
        logger.warning(
            "ignoring invalid Docker-Content-Digest %r from %s for %s",
            header_digest,
            reference.registry,
            label,
        )
        return
    actual = compute_digest(raw, algorithm)
    if actual != header_digest:
        raise DigestMismatchError(
            f"{label} has digest {actual} but registry {reference.registry} gives "
            f"{header_digest} in Docker-Content-Digest; the manifest is corrupt or was replaced "
            "in transit, so retry, and push the image again if it persists"
        )


def _error_detail(response: requests.Response) -> str:
    """Return the registry's error codes and messages as ` (CODE: message)`, or ``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = [
        f"{error.get('code', '?')}: {error.get('message', '')}".strip()
        for error in errors
        if isinstance(error, dict)
    ]
    return f" ({'; '.join(parts)})" if parts else ""


def _tags_page(response: requests.Response, label: str) -> list[str]:
    try:
        body = response.json()
    except ValueError as error:
        raise RegistryError(
            f"{label}: the registry returned a response that is not JSON"
        ) from error
    tags = body.get("tags") if isinstance(body, dict) else None
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise RegistryError(f"{label}: the registry returned an invalid tag list")
    return tags
