"""Registry credentials for `plimsoll analyze`, read the way the Docker client stores them.

The Docker client config file is `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json` when
`DOCKER_CONFIG` is unset. Its `auths` object maps a registry to an entry with `auth`, the
base64 encoding of `user:password`, or with `username` and `password`. Docker Hub's key is
`https://index.docker.io/v1/`. The environment variables `PLIMSOLL_REGISTRY_USERNAME` and
`PLIMSOLL_REGISTRY_PASSWORD` give credentials for the registry of the analyzed image and take
precedence over the file.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from pathlib import Path
from typing import Any

from chalicelib.registry.reference import normalize_registry_host

logger = logging.getLogger(__name__)

USERNAME_VARIABLE = "PLIMSOLL_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "PLIMSOLL_REGISTRY_PASSWORD"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
"""The `auths` key under which `docker login` stores Docker Hub credentials."""


class CredentialsError(Exception):
    """Credentials in the environment are incomplete; the message names the variable to set."""


def docker_config_path() -> Path:
    """Return the path of the Docker client config file, whether or not it exists."""
    directory = os.environ.get("DOCKER_CONFIG")
    if directory:
        return Path(directory) / "config.json"
    return Path.home() / ".docker" / "config.json"


def registry_credentials(registry: str) -> dict[str, tuple[str, str]]:
    """Return `(user, password)` by registry, for a client that pulls from `registry`.

    The map contains every registry of the Docker client config file, with the credentials of the
    environment variables for `registry` in place of the file's. Raises `CredentialsError` when
    only one of the two variables is set.
    """
    registry = normalize_registry_host(registry)
    credentials, helper_registries = read_docker_config(docker_config_path())

    user = os.environ.get(USERNAME_VARIABLE)
    password = os.environ.get(PASSWORD_VARIABLE)
    if user and password:
        credentials[registry] = (user, password)
    elif user or password:
        present = USERNAME_VARIABLE if user else PASSWORD_VARIABLE
        missing = PASSWORD_VARIABLE if user else USERNAME_VARIABLE
        raise CredentialsError(
            f"{present} is set but {missing} is not; set both for registry {registry}, or neither"
        )

    if registry not in credentials and registry in helper_registries:
        logger.warning(
            "the Docker config names a credential helper for registry %s, which plimsoll does "
            "not run, so the registry is accessed anonymously; set %s and %s to authenticate",
            registry,
            USERNAME_VARIABLE,
            PASSWORD_VARIABLE,
        )
    return credentials


def read_docker_config(path: Path) -> tuple[dict[str, tuple[str, str]], set[str]]:
    """Read the `auths` of a Docker client config file.

    Returns the credentials by registry (`host[:port]`, Docker Hub as `docker.io`) and the
    registries whose credentials a credential helper keeps. A missing file gives no
    credentials. A file or entry that cannot be read is skipped with a warning, as is an entry
    with only an `identitytoken`, because that token is exchanged by an OAuth flow that is not
    implemented.
    """
    if not path.is_file():
        return {}, set()
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        logger.warning("ignoring Docker config %s, which cannot be read: %s", path, error)
        return {}, set()
    if not isinstance(document, dict):
        logger.warning("ignoring Docker config %s, which is not a JSON object", path)
        return {}, set()

    auths = document.get("auths")
    credentials: dict[str, tuple[str, str]] = {}
    empty_entries: set[str] = set()
    for key, entry in (auths if isinstance(auths, dict) else {}).items():
        registry = registry_of_config_key(key)
        pair = _entry_credentials(entry, key, path)
        if pair is not None:
            credentials[registry] = pair
        else:
            empty_entries.add(registry)

    # NOTE: credential helpers (`credsStore`, `credHelpers`) are not run. Their registries are
    # only listed, so that a warning can explain why no credentials were sent.
    helpers = document.get("credHelpers")
    helper_registries = {registry_of_config_key(key) for key in helpers or {}}
    if document.get("credsStore"):
        helper_registries |= empty_entries
    return credentials, helper_registries


def registry_of_config_key(key: str) -> str:
    """Return the registry of an `auths` key: `https://host:5000/v2/` becomes `host:5000`.

    `docker login` writes plain `host[:port]` keys, except for Docker Hub, whose key is the URL
    `https://index.docker.io/v1/`. A key of any registry given as a URL is reduced to its host
    and port.
    """
    host = key.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme) :]
    return normalize_registry_host(host.split("/", 1)[0])


def _entry_credentials(entry: Any, key: str, path: Path) -> tuple[str, str] | None:
    """Return the user and password of one `auths` entry, or None when it has none."""
    if not isinstance(entry, dict):
        logger.warning("ignoring auths entry %r of %s, which is not an object", key, path)
        return None
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, separator, password = decoded.partition(":")
        if not (separator and user):
            logger.warning(
                "ignoring auths entry %r of %s: its auth is not the base64 encoding of "
                "USER:PASSWORD",
                key,
                path,
            )
            return None
        return user, password
    user, password = entry.get("username"), entry.get("password")
    if isinstance(user, str) and user and isinstance(password, str):
        return user, password
    if entry.get("identitytoken"):
        logger.warning(
            "ignoring auths entry %r of %s: it contains only an identity token, which plimsoll "
            "cannot use; give a user and password",
            key,
            path,
        )
    return None
