"""Tests of image reference parsing, bundle patterns and mapping selection."""

from __future__ import annotations

import pytest

from chalicelib.policy.matching import (
    first_matching_rule,
    parse_evaluated_tag,
    pattern_matches,
    selection_rule_matches,
)
from chalicelib.registry.errors import InvalidReferenceError
from chalicelib.registry.reference import ImageReference
from tests.policy.factories import mapping_rule

IMAGE_ID = "0" * 64
DIGEST = "sha256:123abc"

REFERENCES = [
    ("nginx", ImageReference("docker.io", "library/nginx", "latest", None)),
    ("nginx:1.25", ImageReference("docker.io", "library/nginx", "1.25", None)),
    ("docker.io/nginx:latest", ImageReference("docker.io", "library/nginx", "latest", None)),
    ("index.docker.io/library/nginx", ImageReference("docker.io", "library/nginx", "latest", None)),
    ("dockerhub/library/ruby:latest", ImageReference("docker.io", "library/ruby", "latest", None)),
    ("bitnami/redis:7", ImageReference("docker.io", "bitnami/redis", "7", None)),
    ("quay.io/coreos/etcd:v3.5", ImageReference("quay.io", "coreos/etcd", "v3.5", None)),
    ("localhost:5000/app", ImageReference("localhost:5000", "app", "latest", None)),
    ("localhost/app:dev", ImageReference("localhost", "app", "dev", None)),
    (
        f"gcr.io/proj/app@sha256:{'c' * 64}",
        ImageReference("gcr.io", "proj/app", None, f"sha256:{'c' * 64}"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), REFERENCES)
def test_parse_evaluated_tag(text: str, expected: ImageReference) -> None:
    assert parse_evaluated_tag(text) == expected


def test_parse_evaluated_tag_rejects_invalid_reference() -> None:
    with pytest.raises(InvalidReferenceError, match="Nginx"):
        parse_evaluated_tag("docker.io/Nginx:latest")


PATTERNS = [
    ("*", "anything", True),
    ("*", "", True),
    ("docker.io", "docker.io", True),
    ("docker.io", "docker.iox", False),
    ("docker.?o", "docker.io", False),
    ("*-dev", "1.8-dev", True),
    ("*-dev", "1.8-dev-2", False),
    ("library/*", "library/nginx", True),
    ("lib*ary/ng*x", "library/nginx", True),
    ("regexp:^1\\.\\d+$", "1.25", True),
    ("regexp:1\\.2", "1.25", True),
    ("regexp:1\\.2", "v1.25", False),
    ("  regexp:v.*", "v2", True),
]


@pytest.mark.parametrize(("pattern", "value", "matches"), PATTERNS)
def test_pattern_matches(pattern: str, value: str, matches: bool) -> None:
    assert pattern_matches(pattern, value) is matches


# Truth table of mapping rules: (registry, repository, image type, value), tag, expected.
MAPPINGS = [
    (("*", "*", "tag", "*"), "docker.io/nginx:latest", True),
    (("*", "*", "tag", "latest"), "docker.io/nginx:alpine", False),
    (("gcr.io", "*", "tag", "*"), "docker.io/nginx:latest", False),
    (("*", "mysql", "tag", "*"), "docker.io/nginx:latest", False),
    (("docker.io", "library/mysql", "tag", "latest"), "docker.io/mysql:alpine", False),
    (("*", "*", "tag", "*-dev"), "docker.io/nginx:1.8-dev", True),
    (("docker.io", "*", "tag", "*"), "docker.io/nginx:latest", True),
    (("docker.io", "library/nginx", "tag", "*"), "nginx", True),
    (("docker.io", "nginx", "tag", "*"), "docker.io/nginx:latest", False),
    (("docker.io", "library/nginx", "tag", "latest"), "docker.io/library/nginx:latest", True),
    (("*", "regexp:library/(nginx|httpd)", "tag", "*"), "httpd:2.4", True),
    (("regexp:.*\\.example\\.com", "*", "tag", "*"), "registry.example.com/app:1", True),
    (("regexp:.*\\.example\\.com", "*", "tag", "*"), "docker.io/app:1", False),
    (("*", "*", "tag", IMAGE_ID), "docker.io/nginx:latest", True),
    (("*", "*", "tag", DIGEST), "docker.io/nginx:latest", True),
    (("*", "*", "digest", DIGEST), "docker.io/nginx:latest", True),
    (("*", "*", "digest", "sha256:123abd"), "docker.io/nginx:latest", False),
    (("gcr.io", "*", "digest", DIGEST), "docker.io/nginx:latest", False),
    (("*", "mysql", "digest", DIGEST), "docker.io/nginx:latest", False),
    (("*", "*", "id", IMAGE_ID), "docker.io/nginx:latest", True),
    (("*", "*", "id", "1" * 64), "docker.io/nginx:latest", False),
    (("*", "mysql", "id", IMAGE_ID), "docker.io/nginx:latest", False),
    (("*", "*", "tag", "*"), f"docker.io/nginx@sha256:{'f' * 64}", True),
    (("*", "*", "tag", "latest"), f"docker.io/nginx@sha256:{'f' * 64}", False),
]


@pytest.mark.parametrize(("rule", "tag", "expected"), MAPPINGS)
def test_selection_rule_truth_table(
    rule: tuple[str, str, str, str], tag: str, expected: bool
) -> None:
    registry, repository, image_type, value = rule
    reference = parse_evaluated_tag(tag)

    matched = selection_rule_matches(
        mapping_rule(registry, repository, image_type, value), reference, IMAGE_ID, DIGEST
    )

    assert matched is expected


def test_first_matching_rule_wins() -> None:
    rules = [
        mapping_rule("gcr.io", name="gcr"),
        mapping_rule("docker.io", "library/*", name="official"),
        mapping_rule(name="catch-all"),
    ]

    def pick(tag: str) -> str | None:
        rule = first_matching_rule(rules, parse_evaluated_tag(tag), IMAGE_ID, DIGEST)
        return None if rule is None else rule["name"]

    assert pick("nginx") == "official"
    assert pick("gcr.io/proj/app:1") == "gcr"
    assert pick("quay.io/org/app:1") == "catch-all"
    assert first_matching_rule(rules[:1], parse_evaluated_tag("nginx"), IMAGE_ID, DIGEST) is None
