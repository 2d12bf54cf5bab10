"""Tests of the metadata gate."""

from __future__ import annotations

from chalicelib.analysis.interface import Distro, LayerInfo
from chalicelib.policy.bundle import compile_rule
from chalicelib.policy.gates.metadata import parse_size
from tests.policy.factories import make_facts, make_rule, messages

FACTS = make_facts(
    {
        "image_size": 5 * 1024 * 1024,
        "architecture": "amd64",
        "os": "linux",
        "distro": Distro(id="ubuntu", version_id="22.04", id_like=["debian"]),
        "layers": [LayerInfo(digest=f"sha256:{i}", media_type="tar", size=1) for i in range(3)],
    }
)


def check(attribute: str, check: str, value: str | None = None, facts=FACTS) -> list[str]:
    params = {"attribute": attribute, "check": check}
    if value is not None:
        params["value"] = value
    return messages("metadata", "attribute", params, facts)


def test_parse_size_units() -> None:
    assert parse_size("10") == 10
    assert parse_size("1kb") == 1024
    assert parse_size("2gb") == 2 * 1024**3


def test_size_compares_in_bytes() -> None:
    assert check("size", ">", "4mb") == [
        "Attribute check for attribute: 'size' check: '>' check_value: '4194304' matched image "
        "value: '5242880'"
    ]
    assert check("size", ">", "1gb") == []
    assert check("size", "=", "5242880")


def test_layer_count_compares_as_integer() -> None:
    assert check("layer_count", ">=", "3")
    assert check("layer_count", ">", "10") == []
    assert check("layer_count", "<", "4")
    assert check("layer_count", "<=", "2") == []


def test_string_attributes() -> None:
    assert check("architecture", "=", "amd64")
    assert check("os_type", "in", "windows, linux")
    assert check("os_type", "not_in", "linux") == []
    assert check("distro", "like", "ubu")
    assert check("distro", "not_like", "deb") == [
        "Attribute check for attribute: 'distro' check: 'not_like' check_value: 'deb' matched "
        "image value: 'ubuntu'"
    ]
    assert check("distro_version", "!=", "20.04")
    assert check("like_distro", "=", "debian")


def test_like_distro_falls_back_to_distro_id() -> None:
    facts = make_facts({"distro": Distro(id="alpine", version_id="3.18")})

    assert check("like_distro", "=", "alpine", facts)


def test_exists_checks() -> None:
    assert check("architecture", "exists") == [
        "Attribute check for attribute: 'architecture' check: 'exists' check_value: '' matched "
        "image value: 'amd64'"
    ]
    assert check("distro", "not_exists") == []
    assert check("distro", "not_exists", facts=make_facts()) == [
        "Attribute check for attribute: 'distro' check: 'not_exists' check_value: '' matched "
        "image value: 'None'"
    ]


def test_checks_that_need_a_value_do_nothing_without_one() -> None:
    assert check("architecture", "=") == []


def test_missing_attribute_never_satisfies_ordering() -> None:
    assert check("distro_version", ">", "1", make_facts()) == []
    assert check("distro_version", "!=", "1", make_facts())


def test_value_is_validated_per_attribute() -> None:
    def problems(attribute: str, value: str) -> list[str]:
        rule = make_rule(
            "metadata", "attribute", {"attribute": attribute, "check": "=", "value": value}
        )
        return [p.message for p in compile_rule(rule, "p1", 1, strict=True)[1]]

    assert problems("size", "10MB") == [
        "policy 'p1' rule 1 (id 'rule-1') gate 'metadata' trigger 'attribute' parameter 'value': "
        "value '10MB' is invalid for attribute 'size'; use digits with an optional lower-case kb, "
        "mb, gb or tb, such as 512mb"
    ]
    assert problems("size", "10mb") == []
    assert len(problems("layer_count", "three")) == 1
    assert problems("distro", "anything") == []
