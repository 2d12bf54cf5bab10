"""Tests of parameter validation and typed access."""

from __future__ import annotations

import pytest

from chalicelib.policy.params import ParamSpec, ParamType, ParamValues

CASES = [
    (ParamType.STRING, "anything at all", True),
    (ParamType.STRING, "", True),
    (ParamType.CSV, "a", True),
    (ParamType.CSV, " a , b,c ", True),
    (ParamType.CSV, "a,,b", False),
    (ParamType.CSV, "a,", False),
    (ParamType.CSV, "", False),
    (ParamType.CSV_INT, "80", True),
    (ParamType.CSV_INT, "80, 443", True),
    (ParamType.CSV_INT, "80,http", False),
    (ParamType.CSV_INT, "-1", False),
    (ParamType.BOOL, "true", True),
    (ParamType.BOOL, "FALSE", True),
    (ParamType.BOOL, "yes", False),
    (ParamType.INT, "7", True),
    (ParamType.INT, " 7 ", True),
    (ParamType.INT, "7.5", False),
    (ParamType.INT, "-7", False),
    (ParamType.FLOAT, "7", True),
    (ParamType.FLOAT, "7.5", True),
    (ParamType.FLOAT, ".5", True),
    (ParamType.FLOAT, "-0.5", True),
    (ParamType.FLOAT, "", False),
    (ParamType.FLOAT, "seven", False),
    (ParamType.REGEX, r".*\.jar", True),
    (ParamType.REGEX, r"*\.jar", False),
    (ParamType.REGEX, "(unclosed", False),
]


@pytest.mark.parametrize(("param_type", "value", "valid"), CASES)
def test_check_value_by_type(param_type: ParamType, value: str, valid: bool) -> None:
    spec = ParamSpec(name="p", type=param_type, description="test")

    problem = spec.check_value(value)

    assert (problem is None) == valid, problem


def test_enum_is_case_sensitive() -> None:
    spec = ParamSpec(name="p", type=ParamType.ENUM, description="test", choices=("RUN", "FROM"))

    assert spec.check_value("RUN") is None
    assert spec.check_value("run") == "value 'run' is invalid; use one of RUN, FROM"


def test_non_string_value_is_invalid() -> None:
    spec = ParamSpec(name="p", type=ParamType.INT, description="test")

    assert spec.check_value(0.1) == "value 0.1 is a float, not a string; quote it"
    assert spec.check_value(2) == "value 2 is a int, not a string; quote it"


def test_string_pattern() -> None:
    spec = ParamSpec(
        name="mode",
        type=ParamType.STRING,
        description="test",
        pattern="^[0-7]+$",
        pattern_hint="octal digits",
    )

    assert spec.check_value("0644") is None
    assert spec.check_value("0999") == "value '0999' is invalid; use octal digits"


def test_json_schema_per_type() -> None:
    enum_spec = ParamSpec(name="p", type=ParamType.ENUM, description="d", choices=("a", "b"))
    csv_spec = ParamSpec(name="p", type=ParamType.CSV_INT, description="d")

    assert enum_spec.json_schema() == {"type": "string", "enum": ["a", "b"]}
    assert csv_spec.json_schema()["pattern"] == r"^\s*(\s*(\d+)\s*,)*\s*(\d+)\s*$"


def test_param_values_conversions() -> None:
    values = ParamValues(
        {"ports": "80, 443", "users": " root ,app", "flag": "True", "days": " 7 ", "score": "5.5"}
    )

    assert values.integers("ports") == [80, 443]
    assert values.items("users") == ["root", "app"]
    assert values.flag("flag") is True
    assert values.integer("days") == 7
    assert values.number("score") == 5.5
    assert values.text("missing") is None
    assert values.items("missing") is None
    assert values.flag("missing") is None
