"""Image reference parsing and normalization with Docker's rules."""

from __future__ import annotations

import pytest

from chalicelib.registry.errors import InvalidReferenceError
from chalicelib.registry.reference import ImageReference, normalize_registry_host, parse_reference

DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64

VALID_CASES = [
    # (input, registry, repository, tag, digest)
    ("nginx", "docker.io", "library/nginx", "latest", None),
    ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
    ("user/app", "docker.io", "user/app", "latest", None),
    ("user/app:v2", "docker.io", "user/app", "v2", None),
    ("docker.io/nginx", "docker.io", "library/nginx", "latest", None),
    ("docker.io/library/nginx", "docker.io", "library/nginx", "latest", None),
    ("index.docker.io/nginx", "docker.io", "library/nginx", "latest", None),
    ("registry-1.docker.io/user/app:1", "docker.io", "user/app", "1", None),
    ("quay.io/org/app", "quay.io", "org/app", "latest", None),
    ("ghcr.io/org/team/app:main", "ghcr.io", "org/team/app", "main", None),
    ("localhost/app", "localhost", "app", "latest", None),
    ("localhost:5000/app:dev", "localhost:5000", "app", "dev", None),
    ("127.0.0.1:5000/x/y:1", "127.0.0.1:5000", "x/y", "1", None),
    ("[::1]:5000/app", "[::1]:5000", "app", "latest", None),
    ("Registry/app", "Registry", "app", "latest", None),
    # A host:port without a path is a repository and a tag, as in Docker.
    ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ("a__b/c.d-e/f---g", "docker.io", "a__b/c.d-e/f---g", "latest", None),
    ("nginx:Tag_1.0-rc", "docker.io", "library/nginx", "Tag_1.0-rc", None),
    (f"nginx@{DIGEST}", "docker.io", "library/nginx", None, DIGEST),
    (f"nginx:1.25@{DIGEST}", "docker.io", "library/nginx", "1.25", DIGEST),
    (f"127.0.0.1:5000/x/y:1@{DIGEST}", "127.0.0.1:5000", "x/y", "1", DIGEST),
    (f"app@sha512:{'c' * 128}", "docker.io", "library/app", None, f"sha512:{'c' * 128}"),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), VALID_CASES)
def test_parse_reference_normalizes(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_reference(text)

    assert reference.registry == registry
    assert reference.repository == repository
    assert reference.tag == tag
    assert reference.digest == digest


INVALID_CASES = [
    # (input, part of the message)
    ("", "empty"),
    ("NGINX", "lower-case"),
    ("library/Nginx", "lower-case"),
    ("nginx:", "tag ''"),
    ("nginx:-dev", "tag '-dev'"),
    ("nginx:.dev", "tag '.dev'"),
    ("nginx:" + "t" * 129, "tag"),
    ("a:b:c", "tag 'b:c'"),
    ("nginx@sha256:abc", "digest 'sha256:abc'"),
    ("nginx@md5:" + "a" * 32, "'md5' is not supported"),
    ("nginx@sha256:" + "A" * 64, "lower-case hex"),
    ("nginx@sha256:" + "a" * 63, "64"),
    ("@" + DIGEST, "repository name is missing"),
    ("https://docker.io/nginx", "URL scheme"),
    ("a" * 64, "image id"),
    ("-nginx", "invalid reference format"),
    ("nginx/", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("my app", "invalid reference format"),
    ("quay.io/" + "a" * 250, "maximum of 255"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID_CASES)
def test_parse_reference_rejects_invalid(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as raised:
        parse_reference(text)

    message = str(raised.value)
    assert fragment in message
    if text:
        assert repr(text) in message


def test_invalid_reference_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        parse_reference("NGINX")


def test_reference_error_names_expected_form() -> None:
    with pytest.raises(InvalidReferenceError, match=r"REPOSITORY\[:TAG\]"):
        parse_reference("-nginx")


def test_reference_fulltag_and_fulldigest() -> None:
    reference = parse_reference(f"127.0.0.1:5000/x/y:1@{DIGEST}")

    assert reference.fulltag == "127.0.0.1:5000/x/y:1"
    assert reference.fulldigest == f"127.0.0.1:5000/x/y@{DIGEST}"
    assert str(reference) == f"127.0.0.1:5000/x/y:1@{DIGEST}"


def test_reference_without_tag_has_no_fulltag() -> None:
    reference = parse_reference(f"nginx@{DIGEST}")

    assert reference.fulltag is None
    assert reference.fulldigest == f"docker.io/library/nginx@{DIGEST}"
    assert str(reference) == f"docker.io/library/nginx@{DIGEST}"


def test_reference_without_digest_has_no_fulldigest() -> None:
    assert parse_reference("nginx").fulldigest is None


@pytest.mark.parametrize(
    ("text", "api_registry"),
    [
        ("nginx", "registry-1.docker.io"),
        ("index.docker.io/user/app", "registry-1.docker.io"),
        ("quay.io/org/app", "quay.io"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000"),
    ],
)
def test_reference_api_registry(text: str, api_registry: str) -> None:
    assert parse_reference(text).api_registry == api_registry


def test_reference_with_digest_keeps_tag() -> None:
    pinned = parse_reference("quay.io/org/app:v1").with_digest(OTHER_DIGEST)

    assert pinned == ImageReference("quay.io", "org/app", "v1", OTHER_DIGEST)


def test_reference_with_digest_rejects_invalid_digest() -> None:
    with pytest.raises(InvalidReferenceError, match="sha256"):
        parse_reference("quay.io/org/app:v1").with_digest("sha256:short")


def test_parsed_reference_round_trips() -> None:
    for text, *_ in VALID_CASES:
        reference = parse_reference(text)

        assert parse_reference(str(reference)) == reference


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("Registry-1.Docker.IO", "docker.io"),
        ("Quay.io", "quay.io"),
        ("127.0.0.1:5000", "127.0.0.1:5000"),
    ],
)
def test_normalize_registry_host(host: str, normalized: str) -> None:
    assert normalize_registry_host(host) == normalized
