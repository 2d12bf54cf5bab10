"""Tests of the secret scan and its literal prefilter."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from chalicelib.analysis.interface import AnalysisError
from chalicelib.analysis.options import DEFAULT_SECRET_PATTERNS, AnalysisOptions, SecretPattern
from chalicelib.analysis.secrets import SecretScanner, required_literal, required_literals

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


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (r"(?i)-+BEGIN(.*)PRIVATE KEY-+", ["BEGIN", "PRIVATE KEY"]),
        (r"(?i).*api(-|_)key( *=+ *).*", ["api", "key"]),
        (r"abc|defgh", []),
        (r"\d{4}-\d{2}", []),
    ],
)
def test_required_literals(regex: str, expected: list[str]) -> None:
    assert required_literals(regex) == expected


# Patterns beside Anchore's defaults that match common lines of /etc and /usr/share/doc, so that
# the comparison below reaches the line matching. Some share substrings, some are case-sensitive,
# and one has no required literal.
EXTRA_PATTERNS = (
    SecretPattern("ROOT_ENTRY", r"root:x:0:0"),
    SecretPattern("ROOT_SHELL", r".*root:/bin/(ba)?sh"),
    SecretPattern("SHEBANG", r"#!/bin/(ba)?sh"),
    SecretPattern("GPL", r"(?i).*gnu general public license.*"),
    SecretPattern("GPL_VERSION", r"(?i).*general public license,? version [0-9]"),
    SecretPattern("COPYRIGHT", r".*Copyright \(C\) [0-9]{4}"),
    SecretPattern("DATE", r".*[0-9]{4}-[0-9]{2}-[0-9]{2}"),
)
REAL_FILE_LIMIT = 1500


def real_files() -> list[tuple[str, bytes]]:
    """Return up to `REAL_FILE_LIMIT` files of at most 10,000 bytes from /etc and /usr/share/doc."""
    found: list[tuple[str, bytes]] = []
    for root in ("/etc", "/usr/share/doc"):
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            for name in sorted(names):
                path = Path(directory, name)
                try:
                    if path.is_symlink() or not path.is_file() or path.stat().st_size > 10_000:
                        continue
                    found.append((str(path), path.read_bytes()))
                except OSError:
                    continue
                if len(found) >= REAL_FILE_LIMIT:
                    return found
    return found


def matched_lines(pattern: SecretPattern, content: bytes) -> list[int]:
    """Match `pattern` at the start of every line that `readlines` returns, newline included."""
    line_regex = re.compile(pattern.regex.encode())
    lines = io.BytesIO(content).readlines()
    return [number for number, line in enumerate(lines, start=1) if line_regex.match(line)]


def test_secrets_scan_agrees_on_real_files() -> None:
    files = real_files()
    if len(files) < 100:
        pytest.skip(f"only {len(files)} small files under /etc and /usr/share/doc")
    patterns = (*DEFAULT_SECRET_PATTERNS, *EXTRA_PATTERNS)
    scanner = SecretScanner(patterns)
    # Every fifth file also gets a line of each secret sample, so the default patterns match.
    planted = b"".join(SAMPLES.values())
    matched = 0
    for number, (path, content) in enumerate(files):
        if number % 5 == 0:
            middle = content.find(b"\n", len(content) // 2) + 1
            content = content[:middle] + planted + content[middle:]
        expected = [
            (pattern.name, lines)
            for pattern in patterns
            if (lines := matched_lines(pattern, content))
        ]
        found = [(match.name, match.lines) for match in scanner.scan(path, content)]
        assert found == expected, path
        matched += len(found)
    assert matched > len(files) // 5


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
