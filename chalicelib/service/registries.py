"""Registry credentials: `/v1/registries`, and the registry client used to pull an image.

Credentials are chosen for an image as Anchore Engine chooses them. Stored entries are tried
from the longest `registry` string to the shortest. An entry applies when it ends with `*` and
the image's `registry/repository` starts with the text before the `*`, when it equals
`registry/repository`, or when it equals the registry host.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from chalicelib.registry import RegistryClient
from chalicelib.registry.errors import AuthenticationError, RegistryError
from chalicelib.registry.reference import ImageReference, normalize_registry_host
from chalicelib.service.context import Services
from chalicelib.service.errors import InvalidRequestError, ResourceNotFoundError, UpstreamError
from chalicelib.service.errors import ConflictError as ServiceConflictError
from chalicelib.store import RegistryRecord
from chalicelib.store.records import ConflictError, NotFoundError

logger = logging.getLogger(__name__)

REGISTRY_TYPES = ("docker_v2", "awsecr")
"""Registry types that Anchore Engine's API accepts. An `awsecr` entry's AWS keys are exchanged
for an ECR login token."""

AWS_AUTO_USER = "awsauto"
"""`registry_user` of an `awsecr` entry that takes AWS credentials from the environment."""

_ECR_HOST = re.compile(r"(?P<account>\d+)\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?")
_REGISTRY_TEXT = re.compile(r"[^\s/]+(/[^\s]*)?")


def parse_registry_request(body: Any) -> RegistryRecord:
    """Validate a `RegistryConfigurationRequest` body into a record.

    Raises `InvalidRequestError` naming the first invalid or missing field.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "the request body must be a JSON object with registry, registry_user and "
            "registry_pass"
        )
    registry = _registry_pattern(_required_text(body, "registry"))

    registry_type = body.get("registry_type") or "docker_v2"
    if registry_type not in REGISTRY_TYPES:
        raise InvalidRequestError(
            f"registry_type {registry_type!r} is not supported; use one of "
            f"{', '.join(REGISTRY_TYPES)}"
        )
    if registry_type == "awsecr" and not _ECR_HOST.fullmatch(_registry_host(registry)):
        raise InvalidRequestError(
            f"registry {registry!r} is not an Amazon ECR host "
            "(ACCOUNT.dkr.ecr.REGION.amazonaws.com); use registry_type docker_v2"
        )

    verify = body.get("registry_verify", True)
    if not isinstance(verify, bool):
        raise InvalidRequestError(f"registry_verify {verify!r} is not a boolean; use true or false")
    name = body.get("registry_name") or registry
    if not isinstance(name, str):
        raise InvalidRequestError(f"registry_name {name!r} is not a string")

    return RegistryRecord(
        registry=registry,
        registry_name=name,
        registry_type=registry_type,
        registry_user=_required_text(body, "registry_user"),
        registry_pass=_required_text(body, "registry_pass"),
        registry_verify=verify,
    )


def add_registry(services: Services, record: RegistryRecord, *, validate: bool) -> RegistryRecord:
    """Store credentials, after checking them against the registry when `validate` is set."""
    if validate:
        check_credentials(services, record)
    try:
        return services.store.add_registry(record)
    except ConflictError as error:
        raise ServiceConflictError(str(error)) from error


def update_registry(
    services: Services, registry: str, record: RegistryRecord, *, validate: bool
) -> RegistryRecord:
    """Replace stored credentials, after checking them when `validate` is set."""
    get_registry(services, registry)
    if validate:
        check_credentials(services, record)
    try:
        return services.store.update_registry(registry, record)
    except ValueError as error:
        raise InvalidRequestError(str(error)) from error
    except NotFoundError as error:
        raise ResourceNotFoundError(str(error)) from error


def get_registry(services: Services, registry: str) -> RegistryRecord:
    """Return stored credentials of `registry`; raise `ResourceNotFoundError` when none exist."""
    record = services.store.get_registry(registry)
    if record is None:
        raise ResourceNotFoundError(
            f"registry {registry} has no stored credentials; add them with POST /v1/registries"
        )
    return record


def delete_registry(services: Services, registry: str) -> None:
    """Delete stored credentials of `registry`."""
    try:
        services.store.delete_registry(registry)
    except NotFoundError as error:
        raise ResourceNotFoundError(str(error)) from error


def check_credentials(services: Services, record: RegistryRecord) -> None:
    """Log in to the registry with the record's credentials; raise `InvalidRequestError` if refused.

    A wildcard or repository path in `record.registry` is dropped: the check reaches the host.
    """
    host = _registry_host(record.registry)
    try:
        with _client_for(record) as client:
            client.ping(host)
    except AuthenticationError as error:
        raise InvalidRequestError(
            f"{error}; or store them unchecked with validate=false "
            "(anchore-cli registry add --skip-validate)"
        ) from error
    except RegistryError as error:
        raise UpstreamError(
            f"cannot check the credentials against registry {host}: {error}; retry later, or "
            "store them unchecked with validate=false (anchore-cli registry add --skip-validate)"
        ) from error
    logger.info("registry credentials checked: registry=%s", record.registry)


def find_credentials(records: list[RegistryRecord], reference: ImageReference) -> RegistryRecord | None:
    """Return the entry that applies to `reference`, by Anchore Engine's rules, or None."""
    image_path = f"{reference.registry}/{reference.repository}"
    for record in sorted(records, key=lambda r: len(r.registry), reverse=True):
        pattern = record.registry
        if pattern.endswith("*") and image_path.startswith(pattern[:-1]):
            return record
        if pattern in (image_path, reference.registry):
            return record
    return None


@contextlib.contextmanager
def registry_client(services: Services, reference: ImageReference) -> Iterator[RegistryClient]:
    """Yield the client to pull `reference` with: the shared one, or one with stored credentials."""
    record = find_credentials(services.store.list_registries(), reference)
    if record is None:
        yield services.registry
        return
    logger.debug("using stored credentials: registry=%s image=%s", record.registry, reference)
    with _client_for(record, reference.registry) as client:
        yield client


def _client_for(record: RegistryRecord, registry: str | None = None) -> RegistryClient:
    host = registry or _registry_host(record.registry)
    if record.registry_type == "awsecr":
        credentials = _ecr_credentials(record, host)
    else:
        credentials = (record.registry_user, record.registry_pass)
    return RegistryClient(credentials={host: credentials}, verify_tls=record.registry_verify)


def _ecr_credentials(record: RegistryRecord, host: str) -> tuple[str, str]:
    """Exchange the record's AWS keys (or the environment's, for `awsauto`) for an ECR login."""
    import boto3
    import botocore.exceptions

    match = _ECR_HOST.fullmatch(host.lower())
    if match is None:
        raise AuthenticationError(f"registry {host} is not an Amazon ECR host")
    keys: dict[str, str] = {}
    if record.registry_user != AWS_AUTO_USER:
        keys = {
            "aws_access_key_id": record.registry_user,
            "aws_secret_access_key": record.registry_pass,
        }
    try:
        client = boto3.client("ecr", region_name=match["region"], **keys)
        response = client.get_authorization_token(registryIds=[match["account"]])
        token = response["authorizationData"][0]["authorizationToken"]
        user, _, password = base64.b64decode(token).decode().partition(":")
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise AuthenticationError(
            f"getting an ECR login for {host} failed: {error}; check the AWS keys of the entry"
        ) from error
    except (KeyError, IndexError, ValueError) as error:
        raise AuthenticationError(f"ECR returned an unreadable login for {host}: {error}") from error
    return user, password


def _required_text(body: dict, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(f"{field} is missing or not a non-empty string; set it")
    return value


def _registry_pattern(text: str) -> str:
    """Return a stored `registry` value with its host normalized; raise if it is invalid."""
    registry = text.strip()
    if "://" in registry or not _REGISTRY_TEXT.fullmatch(registry):
        reason = "contains a URL scheme" if "://" in registry else "is invalid"
        raise InvalidRequestError(
            f"registry {registry!r} {reason}; give host[:port], optionally followed by "
            "/repository or a trailing *"
        )
    host, slash, path = registry.partition("/")
    return normalize_registry_host(host) + slash + path


def _registry_host(pattern: str) -> str:
    """Return the host of a stored `registry` value, without its path or wildcard."""
    return pattern.partition("/")[0].rstrip("*")
