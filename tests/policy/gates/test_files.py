"""Tests of the files gate."""

from __future__ import annotations

import pytest

from chalicelib.analysis.interface import FileEntry, FileType, SecretMatch
from chalicelib.policy.gate import TriggerEvaluationError
from tests.policy.factories import make_facts, messages

SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

FACTS = make_facts(
    {
        "files": [
            FileEntry(path="/etc", type=FileType.DIR, mode=0o755),
            FileEntry(path="/etc/passwd", type=FileType.FILE, mode=0o644, sha256=SHA),
            FileEntry(path="/etc/ssl/key.pem", type=FileType.FILE, mode=0o600),
            FileEntry(path="/usr/bin/passwd", type=FileType.FILE, mode=0o4755),
            FileEntry(path="/var/mail", type=FileType.DIR, mode=0o2775),
        ]
    }
)


def test_name_match_fires_per_matching_path() -> None:
    assert messages("files", "name_match", {"regex": r".*\.pem"}, FACTS) == [
        "Application of regex matched file found in container: file=/etc/ssl/key.pem "
        r"regexp=.*\.pem"
    ]
    assert len(messages("files", "name_match", {"regex": "/etc/"}, FACTS)) == 2


def test_name_match_invalid_regex_fails_evaluation() -> None:
    with pytest.raises(TriggerEvaluationError, match="not a valid regular expression"):
        messages("files", "name_match", {"regex": r"*\.pem"}, FACTS)


def test_suid_or_guid_set() -> None:
    assert messages("files", "suid_or_guid_set", facts=FACTS) == [
        "SUID or SGID found set on file /usr/bin/passwd. Mode: 0o4755",
        "SUID or SGID found set on file /var/mail. Mode: 0o2775",
    ]


def attribute(params: dict[str, str]) -> list[str]:
    return messages("files", "attribute_match", params, FACTS)


def test_attribute_match_checksum() -> None:
    assert attribute({"filename": "/etc/passwd", "checksum": SHA}) == [
        f"filename=/etc/passwd and checksum={SHA} op=equals specified_checksum={SHA}"
    ]
    assert attribute({"filename": "/etc/passwd", "checksum": "00"}) == []
    assert attribute(
        {"filename": "/etc/passwd", "checksum": "00", "checksum_match": "not_equals"}
    ) == [f"filename=/etc/passwd and checksum={SHA} op=not_equals specified_checksum=00"]


def test_attribute_match_checksum_algorithm() -> None:
    params = {"filename": "/etc/passwd", "checksum": SHA, "checksum_algorithm": "sha256"}

    assert len(attribute(params)) == 1


def test_attribute_match_mode() -> None:
    assert attribute({"filename": "/etc/passwd", "mode": "00644"}) == [
        "filename=/etc/passwd and mode=0o644 op=equals specified_mode=0o644"
    ]
    assert attribute({"filename": "/etc/passwd", "mode": "0600"}) == []
    assert attribute({"filename": "/etc/passwd", "mode": "0600", "mode_op": "not_equals"}) == [
        "filename=/etc/passwd and mode=0o644 op=not_equals specified_mode=0o600"
    ]


def test_attribute_match_needs_every_check_to_hold() -> None:
    both = {"filename": "/etc/passwd", "checksum": SHA, "mode": "0644"}

    assert attribute(both) == [
        f"filename=/etc/passwd and checksum={SHA} op=equals specified_checksum={SHA} "
        "and mode=0o644 op=equals specified_mode=0o644"
    ]
    assert attribute({**both, "mode": "0600"}) == []


def test_attribute_match_without_checks_fires_nothing() -> None:
    assert attribute({"filename": "/etc/passwd"}) == []


def test_attribute_match_missing_file() -> None:
    assert attribute({"filename": "/nope", "mode": "0644"}) == []
    assert attribute({"filename": "/nope", "skip_missing": "true"}) == []
    assert attribute({"filename": "/nope", "skip_missing": "false"}) == [
        "filename=/nope and skip_missing=False"
    ]


def test_content_regex_match_without_content_search_fires_nothing() -> None:
    assert messages("files", "content_regex_match", facts=FACTS) == []


def test_content_regex_match_filters_by_name_or_regex() -> None:
    facts = make_facts(
        content_matches=[
            SecretMatch(path="/app/config", name="PASSWORD", regex=".*password.*", lines=[3]),
            SecretMatch(path="/app/env", name="TOKEN", regex="token=.*", lines=[1, 9]),
        ]
    )

    assert messages("files", "content_regex_match", facts=facts) == [
        "File content analyzer found regexp match in container: file=/app/config "
        "regexp=PASSWORD=.*password.*",
        "File content analyzer found regexp match in container: file=/app/env "
        "regexp=TOKEN=token=.*",
    ]
    for wanted in ("TOKEN", "token=.*", "TOKEN=token=.*"):
        found = messages("files", "content_regex_match", {"regex_name": wanted}, facts)
        assert len(found) == 1, wanted
    assert messages("files", "content_regex_match", {"regex_name": "TOK"}, facts) == []
