"""Image references parsed and normalized with Docker's rules.

The grammar is the one of Docker's `distribution/reference` package:
`[registry/]path[:tag][@digest]`. The registry is a host name or a bracketed IPv6 address, with
an optional port. Each path component is lower-case letters and digits joined by `.`, `_`, `__`
or dashes. Normalization follows `docker pull`: a name without a registry is on Docker Hub
(`docker.io`), and a one-component Docker Hub name gets the `library/` prefix.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.registry.errors import InvalidReferenceError

DOCKER_HUB = "docker.io"
"""Registry name of Docker Hub as shown to users and stored."""

DOCKER_HUB_API_HOST = "registry-1.docker.io"
"""Host that serves Docker Hub's registry API."""

_DOCKER_HUB_ALIASES = frozenset({DOCKER_HUB, "index.docker.io", DOCKER_HUB_API_HOST})
_OFFICIAL_REPOSITORY_PREFIX = "library/"
_NAME_MAX_LENGTH = 255
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

_ALPHANUMERIC = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALPHANUMERIC}(?:{_SEPARATOR}{_ALPHANUMERIC})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"\w[\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IMAGE_ID_RE = re.compile(r"[a-f0-9]{64}")

_EXPECTED_FORM = (
    "expected [REGISTRY[:PORT]/]REPOSITORY[:TAG][@sha256:DIGEST], "
    "for example docker.io/library/nginx:1.25"
)


@dataclasses.dataclass(frozen=True)
class ImageReference:
    """A normalized image reference; build one with `parse_reference`.

    `tag` is None only when the reference was given by digest alone. `digest` is None when the
    reference names a tag only.
    """

    registry: str
    """Registry as users see it: `docker.io` for Docker Hub, else `host[:port]` as written."""
    repository: str
    """Repository path inside the registry, with `library/` for official Docker Hub images."""
    tag: str | None = None
    digest: str | None = None
    """Manifest digest `algorithm:hex`, when the reference pins one."""

    @property
    def name(self) -> str:
        """Registry and repository: `registry/repository`."""
        return f"{self.registry}/{self.repository}"

    @property
    def fulltag(self) -> str | None:
        """`registry/repository:tag`, or None when the reference has no tag."""
        return f"{self.name}:{self.tag}" if self.tag is not None else None

    @property
    def fulldigest(self) -> str | None:
        """`registry/repository@digest`, or None when the reference has no digest."""
        return f"{self.name}@{self.digest}" if self.digest is not None else None

    @property
    def api_registry(self) -> str:
        """Host and port to send registry API requests to (Docker Hub's API host for docker.io)."""
        return DOCKER_HUB_API_HOST if self.registry == DOCKER_HUB else self.registry

    def with_digest(self, digest: str) -> ImageReference:
        """Return a copy of this reference pinned to `digest`, keeping the tag."""
        return dataclasses.replace(self, digest=_validate_digest(digest, f"{self.name}@{digest}"))

    def __str__(self) -> str:
        text = self.name
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def normalize_registry_host(host: str) -> str:
    """Return the registry name users see for `host`: Docker Hub's aliases become `docker.io`.

    Host names are compared without regard to case, so the result is lower-case.
    """
    lowered = host.strip().lower()
    return DOCKER_HUB if lowered in _DOCKER_HUB_ALIASES else lowered


def parse_reference(text: str) -> ImageReference:
    """Parse and normalize an image reference with Docker's rules.

    `nginx` becomes `docker.io/library/nginx:latest` and `user/app` becomes
    `docker.io/user/app:latest`. The first path component is a registry when it contains `.` or
    `:`, is `localhost`, or has upper-case letters. A reference with a digest and no tag keeps no
    tag; a reference with neither gets the tag `latest`.

    Raises `InvalidReferenceError` naming the input and the expected form.
    """
    if not text:
        raise InvalidReferenceError(f"image reference is empty; {_EXPECTED_FORM}")
    if _IMAGE_ID_RE.fullmatch(text):
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: a 64-character hex string is an image id, "
            f"not a repository name; {_EXPECTED_FORM}"
        )

    match = _REFERENCE_RE.fullmatch(text)
    if match is None:
        raise InvalidReferenceError(f"invalid image reference {text!r}: {_diagnose(text)}")
    name, tag, digest = match.groups()
    if len(name) > _NAME_MAX_LENGTH:
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: the name is {len(name)} characters long, "
            f"more than the maximum of {_NAME_MAX_LENGTH}"
        )
    if digest is not None:
        digest = _validate_digest(digest, text)

    registry, repository = _split_registry(name)
    if repository.lower() != repository:
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: repository name must be lower-case"
        )
    if tag is None and digest is None:
        tag = "latest"
    return ImageReference(registry=registry, repository=repository, tag=tag, digest=digest)


def _split_registry(name: str) -> tuple[str, str]:
    """Split a matched name into registry and repository with Docker's normalization."""
    first, slash, rest = name.partition("/")
    is_registry = bool(slash) and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    )
    if is_registry:
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name

    if registry.lower() in _DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in repository:
            repository = _OFFICIAL_REPOSITORY_PREFIX + repository
    return registry, repository


def _validate_digest(digest: str, text: str) -> str:
    """Return `digest` when its algorithm is supported and its hex part has the right length."""
    algorithm, _, hex_part = digest.partition(":")
    expected_length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if expected_length is None:
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: digest algorithm {algorithm!r} is not "
            f"supported; use sha256, sha384 or sha512"
        )
    if len(hex_part) != expected_length or not re.fullmatch(r"[a-f0-9]+", hex_part):
        raise InvalidReferenceError(
            f"invalid image reference {text!r}: a {algorithm} digest is {expected_length} "
            f"lower-case hex characters after '{algorithm}:'"
        )
    return digest


def _diagnose(text: str) -> str:
    """Explain why `text` does not match the reference grammar."""
    if _REFERENCE_RE.fullmatch(text.lower()):
        return "repository name must be lower-case"
    if "://" in text:
        return f"a reference has no URL scheme; {_EXPECTED_FORM}"
    name_and_tag, at, digest = text.partition("@")
    if at and not name_and_tag:
        return f"the repository name is missing; {_EXPECTED_FORM}"
    if at and not _DIGEST_RE.fullmatch(digest):
        return f"digest {digest!r} is invalid: expected sha256: and 64 lower-case hex characters"
    last_component = name_and_tag.rsplit("/", 1)[-1]
    if ":" in last_component:
        tag = last_component.split(":", 1)[1]
        if not _TAG_RE.fullmatch(tag):
            return (
                f"tag {tag!r} is invalid: a tag is 1 to 128 letters, digits, '_', '.' or '-' "
                "and does not start with '.' or '-'"
            )
    return f"invalid reference format; {_EXPECTED_FORM}"
