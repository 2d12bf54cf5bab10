"""Selection of mapping rules and image rules by image reference, and Anchore's pattern forms.

A pattern in a bundle (registry, repository, tag, whitelist trigger id) has one of two forms. A
glob must match the whole value, and its `*` matches any run of characters. After the prefix
`regexp:` comes a raw regular expression, which must match from the start of the value.
"""

from __future__ import annotations

import re

from chalicelib.registry.reference import DOCKER_HUB, ImageReference, parse_reference

REGEXP_PREFIX = "regexp:"

_DOCKER_HUB_PREFIX = "dockerhub/"


def pattern_regex(pattern: str) -> str:
    """Return the regular expression for a bundle pattern (glob or `regexp:` form)."""
    stripped = pattern.strip()
    if stripped.startswith(REGEXP_PREFIX):
        return stripped[len(REGEXP_PREFIX) :]
    return "^" + "(.*)".join(re.escape(part) for part in pattern.split("*")) + "$"


def pattern_problem(pattern: str) -> str | None:
    """Return why a `regexp:` pattern does not compile, or None when the pattern is usable."""
    try:
        re.compile(pattern_regex(pattern))
    except re.error as exc:
        return f"pattern {pattern!r} is not a valid regular expression: {exc}"
    return None


def pattern_matches(pattern: str, value: str) -> bool:
    """Return whether `value` matches a bundle pattern."""
    return re.match(pattern_regex(pattern), value) is not None


def parse_evaluated_tag(tag: str) -> ImageReference:
    """Parse the tag an image is evaluated as, with Docker's defaults.

    A reference without a registry is on Docker Hub, where an official image's repository gets
    the `library/` namespace, so `nginx` is `docker.io/library/nginx:latest`. The prefix
    `dockerhub/` is read as `docker.io/`, as Anchore Engine does. Raises
    `InvalidReferenceError` naming the tag when it is not a valid image reference.
    """
    text = tag.strip()
    if text.startswith(_DOCKER_HUB_PREFIX):
        text = DOCKER_HUB + "/" + text[len(_DOCKER_HUB_PREFIX) :]
    return parse_reference(text)


def selection_rule_matches(
    rule: dict, reference: ImageReference, image_id: str, image_digest: str
) -> bool:
    """Return whether a mapping rule or image selection rule selects the image.

    Registry and repository patterns must match first. Then an `image` of type `tag` matches
    the tag by pattern, or equals the image id or digest. Types `digest` and `id` require
    equality with the image's digest or id.
    """
    if not pattern_matches(rule["registry"], reference.registry):
        return False
    if not pattern_matches(rule["repository"], reference.repository):
        return False
    image = rule["image"]
    value: str = image["value"]
    if image.get("type") == "digest":
        return value == image_digest
    if image.get("type") == "id":
        return value == image_id
    if image.get("type") == "tag":
        return (
            pattern_matches(value, reference.tag or "")
            or value == image_id
            or value == image_digest
        )
    return False


def first_matching_rule(
    rules: list[dict], reference: ImageReference, image_id: str, image_digest: str
) -> dict | None:
    """Return the first rule that selects the image, or None."""
    for rule in rules:
        if selection_rule_matches(rule, reference, image_id, image_digest):
            return rule
    return None
