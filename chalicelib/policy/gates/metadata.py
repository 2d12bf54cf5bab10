"""The `metadata` gate: checks on image attributes such as size, architecture and distro."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from chalicelib.policy.explain import AttributeCause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec, compile_pattern
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues, split_csv

_BYTES = re.compile(r"^([0-9]+)([kmgt]b)?$")
_UNIT_BYTES = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}
_INTEGER = re.compile(r"^\s*\d+\s*$")


def parse_size(text: str) -> int:
    """Convert a size such as `10`, `5mb` or `2gb` to bytes; units are powers of 1024."""
    match = _BYTES.fullmatch(text)
    if not match:
        raise ValueError(f"size {text!r} is invalid; use digits with an optional kb, mb, gb or tb")
    number, unit = match.groups()
    return int(number) * (_UNIT_BYTES[unit] if unit else 1)


def _like_distro(facts: ImageFacts) -> str | None:
    distro = facts.analysis.distro
    if distro is None:
        return None
    # Anchore joins ID_LIKE with commas and falls back to the distro id.
    return ",".join(distro.id_like) or distro.id


@dataclasses.dataclass(frozen=True)
class _Attribute:
    read: Callable[[ImageFacts], object]
    value_pattern: re.Pattern[str] | None = None
    """Form that the rule's `value` must have, None for any string."""
    value_hint: str = ""


_ATTRIBUTES = {
    "size": _Attribute(
        lambda facts: facts.analysis.image_size,
        _BYTES,
        "digits with an optional lower-case kb, mb, gb or tb, such as 512mb",
    ),
    "architecture": _Attribute(
        lambda facts: facts.analysis.architecture or facts.analysis.config.get("architecture")
    ),
    "os_type": _Attribute(lambda facts: facts.analysis.os or facts.analysis.config.get("os")),
    "distro": _Attribute(lambda facts: facts.analysis.distro.id if facts.analysis.distro else None),
    "distro_version": _Attribute(
        lambda facts: facts.analysis.distro.version_id if facts.analysis.distro else None
    ),
    "like_distro": _Attribute(_like_distro),
    "layer_count": _Attribute(
        lambda facts: len(facts.analysis.layers), _INTEGER, "a non-negative integer"
    ),
}


def _check_value(params: ParamValues) -> list[tuple[str, str]]:
    attribute = _ATTRIBUTES.get(params.text("attribute") or "")
    value = params.text("value")
    if attribute is None or value is None or attribute.value_pattern is None:
        return []
    if attribute.value_pattern.match(value):
        return []
    return [
        (
            "value",
            f"value {value!r} is invalid for attribute {params.text('attribute')!r}; "
            f"use {attribute.value_hint}",
        )
    ]


def _like(image_value: object, pattern: str) -> bool:
    return isinstance(image_value, str) and bool(
        compile_pattern(pattern, "value").match(image_value)
    )


Check = Callable[[Any, Any], bool]


def _ordered(compare: Check) -> Check:
    # Anchore Engine failed the whole evaluation when it ordered a missing attribute. Here a
    # missing value never satisfies an ordering check.
    def check(image_value: Any, value: Any) -> bool:
        return image_value is not None and compare(image_value, value)

    return check


_CHECKS: dict[str, Check] = {
    "=": lambda image_value, value: image_value == value,
    "!=": lambda image_value, value: image_value != value,
    ">": _ordered(lambda image_value, value: image_value > value),
    "<": _ordered(lambda image_value, value: image_value < value),
    ">=": _ordered(lambda image_value, value: image_value >= value),
    "<=": _ordered(lambda image_value, value: image_value <= value),
    "exists": lambda image_value, value: bool(image_value),
    "not_exists": lambda image_value, value: not image_value,
    "like": lambda image_value, value: _like(image_value, str(value)),
    "not_like": lambda image_value, value: not _like(image_value, str(value)),
    "in": lambda image_value, value: image_value in split_csv(str(value)),
    "not_in": lambda image_value, value: image_value not in split_csv(str(value)),
}

_CHECKS_WITHOUT_VALUE = ("exists", "not_exists")


def _evaluate_attribute(context: TriggerContext, params: ParamValues) -> list[Firing]:
    name = params.text("attribute") or ""
    check = params.text("check") or ""
    raw_value = params.text("value")
    if check not in _CHECKS_WITHOUT_VALUE and not raw_value:
        return []

    image_value = _ATTRIBUTES[name].read(context.facts)
    # The rule value takes the type of the image value, so sizes and counts compare as numbers.
    value: object = raw_value
    if raw_value is not None and isinstance(image_value, (int, float, str)):
        value = parse_size(raw_value) if name == "size" else type(image_value)(raw_value)

    if not _CHECKS[check](image_value, value):
        return []
    shown_value = "" if value is None else str(value)
    return [
        Firing(
            f"Attribute check for attribute: '{name}' check: '{check}' check_value: "
            f"'{shown_value}' matched image value: '{image_value}'",
            causes=(AttributeCause(name, None if image_value is None else str(image_value)),),
        )
    ]


GATE = GateSpec(
    name="metadata",
    description="Checks on image attributes: size, architecture, OS, distro and layer count.",
    triggers=(
        TriggerSpec(
            name="attribute",
            description="Fires when the image attribute passes the check against the value.",
            evaluate=_evaluate_attribute,
            check_params=_check_value,
            params=(
                ParamSpec(
                    name="attribute",
                    type=ParamType.ENUM,
                    description=(
                        "Image attribute to check; `size` is in bytes and `like_distro` is the "
                        "comma-separated ID_LIKE of os-release."
                    ),
                    example="size",
                    required=True,
                    choices=tuple(_ATTRIBUTES),
                ),
                ParamSpec(
                    name="check",
                    type=ParamType.ENUM,
                    description=(
                        "Comparison of the attribute with `value`: `like` matches a regular "
                        "expression from the start, `in` takes a comma-separated list."
                    ),
                    example=">",
                    required=True,
                    choices=tuple(_CHECKS),
                ),
                ParamSpec(
                    name="value",
                    type=ParamType.STRING,
                    description=(
                        "Value to compare with; for `size` digits with an optional kb, mb, gb "
                        "or tb, for `layer_count` an integer. Every check except `exists` and "
                        "`not_exists` needs it, and does nothing without it."
                    ),
                    example="1073741824",
                ),
            ),
        ),
    ),
)
