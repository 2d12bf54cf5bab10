"""Platform parsing, normalization and selection from index entries."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.registry.errors import InvalidPlatformError
from chalicelib.registry.platform import Platform, describe_platforms, select_platform_entry


def _selected(entries: list[dict[str, Any]], platform: str) -> str | None:
    """Return the digest of the entry selected for `platform`, or None."""
    entry = select_platform_entry(entries, Platform.parse(platform), "test index")
    return None if entry is None else str(entry["digest"])


def _entry(digest: str, os: str, architecture: str, variant: str | None = None) -> dict[str, Any]:
    platform = {"os": os, "architecture": architecture}
    if variant:
        platform["variant"] = variant
    return {"digest": digest, "platform": platform}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/amd64/v1", Platform("linux", "amd64")),
        ("linux/amd64/v3", Platform("linux", "amd64", "v3")),
        ("linux/arm64", Platform("linux", "arm64")),
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/arm", Platform("linux", "arm", "v7")),
        ("linux/arm/7", Platform("linux", "arm", "v7")),
        ("linux/arm/v6", Platform("linux", "arm", "v6")),
        ("linux/armhf", Platform("linux", "arm", "v7")),
        ("linux/armel", Platform("linux", "arm", "v6")),
        ("Linux/AMD64", Platform("linux", "amd64")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_platform_parse_normalizes(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64", "linux/arm/v7/extra", ""])
def test_platform_parse_rejects_invalid(text: str) -> None:
    with pytest.raises(InvalidPlatformError, match="OS/ARCHITECTURE"):
        Platform.parse(text)


def test_platform_str() -> None:
    assert str(Platform.parse("linux/arm/v6")) == "linux/arm/v6"
    assert str(Platform.parse("linux/arm64/v8")) == "linux/arm64"


def test_select_platform_exact_match() -> None:
    entries = [
        _entry("a", "linux", "amd64"),
        _entry("b", "linux", "arm64", "v8"),
        _entry("c", "linux", "arm", "v7"),
    ]

    assert _selected(entries, "linux/arm64") == "b"
    assert _selected(entries, "linux/arm/v7") == "c"
    assert _selected(entries, "linux/amd64") == "a"


def test_select_platform_prefers_exact_variant() -> None:
    entries = [_entry("v6", "linux", "arm", "v6"), _entry("v7", "linux", "arm", "v7")]

    assert _selected(entries, "linux/arm") == "v7"


def test_select_platform_falls_back_to_other_variant() -> None:
    entries = [_entry("v2", "linux", "amd64", "v2")]

    assert _selected(entries, "linux/amd64") == "v2"


def test_select_platform_keeps_requested_variant_strict() -> None:
    entries = [_entry("v6", "linux", "arm", "v6")]

    assert _selected(entries, "linux/arm/v7") is None


def test_select_platform_skips_attestations() -> None:
    entries = [
        _entry("att", "unknown", "unknown"),
        {"digest": "no-platform"},
        _entry("a", "linux", "amd64"),
    ]

    assert _selected(entries, "linux/amd64") == "a"


def test_select_platform_missing_returns_none() -> None:
    entries = [_entry("a", "linux", "amd64")]

    assert _selected(entries, "linux/s390x") is None


def test_describe_platforms_lists_distinct_platforms() -> None:
    entries = [_entry("a", "linux", "amd64"), _entry("b", "linux", "amd64"), {"digest": "c"}]

    assert describe_platforms(entries) == "linux/amd64"
    assert describe_platforms([]) == "none"
