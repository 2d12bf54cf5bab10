"""Trigger parameters: declared types, validation of bundle values, and typed access.

Every parameter value in a `1_0` bundle is a JSON string, whatever it encodes: numbers,
booleans and lists are written as strings (`"80,443"`, `"true"`). Parameter names are matched
in lower case, and a parameter may also be given under one of its aliases.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Mapping


class ParamType(str, enum.Enum):
    """Type of a parameter value, which decides its syntax and validation."""

    STRING = "str"
    CSV = "csv"
    """Comma-separated list of non-empty items; spaces around items are dropped."""
    CSV_INT = "csv-int"
    ENUM = "enum"
    """One of `ParamSpec.choices`, matched case-sensitively as Anchore Engine does."""
    BOOL = "bool"
    """`true` or `false` in any case."""
    INT = "int"
    """Non-negative integer."""
    FLOAT = "float"
    REGEX = "regex"
    """Python regular expression that compiles."""


# The list patterns accept what Anchore Engine 1.1 accepts: items separated by commas, with
# optional spaces around each item.
_CSV_PATTERN = r"^\s*(\s*([^,]+)\s*,)*\s*([^,]+)\s*$"
_CSV_INT_PATTERN = r"^\s*(\s*(\d+)\s*,)*\s*(\d+)\s*$"
_INT_PATTERN = r"^\s*\d+\s*$"
_FLOAT_PATTERN = r"^\s*-?(\d+(\.\d*)?|\.\d+)\s*$"

_EXPECTED = {
    ParamType.STRING: "a string",
    ParamType.CSV: "a comma-separated list such as a,b",
    ParamType.CSV_INT: "a comma-separated list of integers such as 80,443",
    ParamType.BOOL: "true or false",
    ParamType.INT: "a non-negative integer such as 7",
    ParamType.FLOAT: "a decimal number such as 7.5",
    ParamType.REGEX: "a regular expression that compiles",
}

_TYPE_PATTERNS = {
    ParamType.CSV: _CSV_PATTERN,
    ParamType.CSV_INT: _CSV_INT_PATTERN,
    ParamType.INT: _INT_PATTERN,
    ParamType.FLOAT: _FLOAT_PATTERN,
}


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """Declaration of one trigger parameter."""

    name: str
    """Canonical name, lower case."""
    type: ParamType
    description: str
    example: str | None = None
    required: bool = False
    default: str | None = None
    """Value the trigger behaves as if given when the parameter is omitted, None for no value."""
    choices: tuple[str, ...] = ()
    """Allowed values of an `ENUM` parameter, in display order."""
    aliases: tuple[str, ...] = ()
    """Older names accepted in place of `name`, lower case."""
    pattern: str | None = None
    """Extra regular expression that a `STRING` value must match."""
    pattern_hint: str | None = None
    """Description of `pattern` in words, for error messages."""

    def check_value(self, value: object) -> str | None:
        """Return why `value` is invalid for this parameter, or None when it is valid."""
        if not isinstance(value, str):
            return f"value {value!r} is a {type(value).__name__}, not a string; quote it"
        if self.type is ParamType.ENUM:
            if value not in self.choices:
                return f"value {value!r} is invalid; use one of {', '.join(self.choices)}"
            return None
        if self.type is ParamType.BOOL:
            if value.lower() not in ("true", "false"):
                return f"value {value!r} is invalid; use {_EXPECTED[self.type]}"
            return None
        if self.type is ParamType.REGEX:
            try:
                re.compile(value)
            except re.error as exc:
                return f"value {value!r} is not a valid regular expression: {exc}"
            return None
        type_pattern = _TYPE_PATTERNS.get(self.type)
        if type_pattern and not re.match(type_pattern, value):
            return f"value {value!r} is invalid; use {_EXPECTED[self.type]}"
        if self.pattern and not re.match(self.pattern, value):
            return f"value {value!r} is invalid; use {self.pattern_hint or self.pattern}"
        return None

    def json_schema(self) -> dict[str, object]:
        """Return the JSON schema that a valid value satisfies."""
        schema: dict[str, object] = {"type": "string"}
        if self.type is ParamType.ENUM:
            schema["enum"] = list(self.choices)
        elif self.type is ParamType.BOOL:
            schema["enum"] = ["true", "false"]
            schema["description"] = "case-insensitive"
        elif self.type is ParamType.REGEX:
            schema["format"] = "regex"
        elif self.type in _TYPE_PATTERNS:
            schema["pattern"] = _TYPE_PATTERNS[self.type]
        elif self.pattern:
            schema["pattern"] = self.pattern
        return schema

    def spec_json(self) -> dict[str, object]:
        """Return the `TriggerParamSpec` document of `GET /v1/system/policy_spec`."""
        return {
            "name": self.name,
            "description": self.description,
            "example": self.example,
            "required": self.required,
            "type": self.type.value,
            "default": self.default,
            "aliases": list(self.aliases),
            "validator": {
                "type": self.type.value,
                "description": _describe_validator(self),
                "criteria": self.json_schema(),
            },
            "state": "active",
            "superceded_by": None,
        }


def _describe_validator(spec: ParamSpec) -> str:
    if spec.type is ParamType.ENUM:
        return f"one of: {', '.join(spec.choices)}"
    if spec.type is ParamType.STRING and spec.pattern_hint:
        return spec.pattern_hint
    return _EXPECTED[spec.type]


def split_csv(value: str) -> list[str]:
    """Split a comma-separated parameter value into stripped items."""
    return [item.strip() for item in value.strip().split(",")]


class ParamValues:
    """Validated parameter values of one rule, keyed by canonical parameter name.

    Getters return None for a parameter that the rule does not set, so each trigger decides
    its own default, as the parameter table documents it.
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def as_dict(self) -> dict[str, str]:
        """Return the raw string values."""
        return dict(self._values)

    def text(self, name: str) -> str | None:
        """Return the raw string value."""
        return self._values.get(name)

    def items(self, name: str) -> list[str] | None:
        """Return a comma-separated value as a list of stripped items."""
        value = self._values.get(name)
        return None if value is None else split_csv(value)

    def integers(self, name: str) -> list[int] | None:
        """Return a comma-separated list of integers."""
        items = self.items(name)
        return None if items is None else [int(item) for item in items]

    def flag(self, name: str) -> bool | None:
        """Return a `true`/`false` value as a bool."""
        value = self._values.get(name)
        return None if value is None else value.lower() == "true"

    def integer(self, name: str) -> int | None:
        """Return an integer value."""
        value = self._values.get(name)
        return None if value is None else int(value)

    def number(self, name: str) -> float | None:
        """Return a decimal value."""
        value = self._values.get(name)
        return None if value is None else float(value)
