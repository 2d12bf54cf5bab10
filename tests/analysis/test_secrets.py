"""Tests of the secret scan and its literal prefilter."""

from __future__ import annotations

import re

import pytest

from chalicelib.analysis.interface import AnalysisError
from chalicelib.analysis.options import DEFAULT_SECRET_PATTERNS, AnalysisOptions, SecretPattern
from chalicelib.analysis.secrets import SecretScanner, required_literal

SAMPLES = {
    "AWS_ACCESS_KEY": b"aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
    "AWS_SECRET_KEY": b"AWS_SECRET_ACCESS_KEY = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
    "PRIV_KEY": b"-----BEGIN RSA PRIVATE KEY-----\n",
    "DOCKER_AUTH": b'        "auth": "dXNlcjpwYXNzd29yZA=="\n',
    "API_KEY": b"api_key = 0123456789ABCDEFGHIJ0123\n",
}


def scan(content: bytes, patterns: tuple[SecretPattern, ...] = DEFAULT_SECRET_PATTERNS):
    return SecretScanner(patterns).scan("/f", content)


def test_default_patterns_are_anchores_names() -> None:
    assert [pattern.name for pattern in DEFAULT_SECRET_PATTERNS] == [
        "AWS_ACCESS_KEY",
        "AWS_SECRET_KEY",
        "PRIV_KEY",
        "DOCKER_AUTH",
        "API_KEY",
    ]


@pytest.mark.parametrize(("name", "line"), sorted(SAMPLES.items()))
def test_secrets_default_pattern_matches(name: str, line: bytes) -> None:
    content = b"# header\n\n" + line + b"tail\n"
    matches = scan(content)
    assert [match.name for match in matches] == [name]
    assert matches[0].lines == [3]
    assert matches[0].path == "/f"


def test_secrets_lines_are_one_based_per_line() -> None:
    key = SAMPLES["PRIV_KEY"]
    matches = scan(key + b"abc\n" + key + b"def\n" + key)
    assert matches[0].lines == [1, 3, 5]


def test_secrets_case_insensitive_literal() -> None:
    assert scan(b"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n")[0].lines == [1]


def test_secrets_no_match_on_short_key() -> None:
    assert scan(b"aws_access_key_id = AKIA\n") == []


def test_secrets_match_is_anchored_per_line() -> None:
    # `re.match` semantics: a pattern without a leading `.*` must match at the line start.
    assert scan(b"x -----BEGIN RSA PRIVATE KEY-----\n") == []


def test_secrets_pattern_without_literal_scans_every_line() -> None:
    pattern = SecretPattern("DIGITS", r"\d{4}")
    matches = scan(b"ab\n1234\nx\r9999\n", (pattern,))
    assert matches[0].lines == [2]


def test_secrets_carriage_return_is_not_a_line_break() -> None:
    pattern = SecretPattern("WORD", r"(?i)secret")
    assert scan(b"a\rsecret\nsecret\n", (pattern,))[0].lines == [2]


def test_secrets_scan_agrees_with_plain_line_matching() -> None:
    content = b"\n".join(SAMPLES.values()) + b"\nnothing here\napi-key:short\n" * 3
    for pattern in DEFAULT_SECRET_PATTERNS:
        expected = [
            number
            for number, line in enumerate(content.split(b"\n"), start=1)
            if re.match(pattern.regex.encode(), line + b"\n")
        ]
        found = [match.lines for match in scan(content, (pattern,))]
        assert found == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"(?i).*aws_access_key_id( *=+ *).*", "aws_access_key_id"),
        (r"(?i)-+BEGIN(.*)PRIVATE KEY-+", "PRIVATE KEY"),
        (r"(?i).*\"auth\": *\".+\"", '"auth":'),
        (r"abc|defgh", None),
        (r"ab", None),
        (r"a{2}bcd", "bcd"),
        (r"x{a}yz", "x{a}yz"),
        (r"token[0-9]+value", "token"),
        (r"(group)only", "only"),
        (r"keys?", "key"),
    ],
)
def test_required_literal(regex: str, expected: str | None) -> None:
    assert required_literal(regex) == expected


def test_secret_pattern_parse() -> None:
    assert SecretPattern.parse("NAME=a=b") == SecretPattern("NAME", "a=b")
    with pytest.raises(ValueError, match="NAME=REGEX"):
        SecretPattern.parse("no-separator")


def test_options_reject_invalid_regex() -> None:
    with pytest.raises(AnalysisError, match="BROKEN"):
        AnalysisOptions(secret_patterns=(SecretPattern("BROKEN", "(unclosed"),))


def test_options_reject_non_positive_limit() -> None:
    with pytest.raises(AnalysisError, match="max_layer_bytes=0"):
        AnalysisOptions(max_layer_bytes=0)
