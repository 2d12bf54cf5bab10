"""Tests of the retrieved_files gate."""

from __future__ import annotations

from tests.policy.factories import fire, make_facts, messages

FACTS = make_facts(
    {"passwd": "root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n"}
)


def test_content_not_available() -> None:
    assert (
        messages("retrieved_files", "content_not_available", {"path": "/etc/passwd"}, FACTS) == []
    )
    assert messages(
        "retrieved_files", "content_not_available", {"path": "/etc/httpd.conf"}, FACTS
    ) == ["Cannot locate file in the image analysis"]
    assert messages(
        "retrieved_files", "content_not_available", {"path": "/etc/passwd"}, make_facts()
    ) == ["Cannot locate file in the image analysis"]


def test_content_regex_match_and_no_match() -> None:
    params = {"path": "/etc/passwd", "regex": "app:.*", "check": "match"}

    (firing,) = fire("retrieved_files", "content_regex", params, FACTS, rule_id="r7")

    assert (
        firing.message
        == "Content regex 'app:.*' check 'match' found in retrieved file '/etc/passwd'"
    )
    assert firing.trigger_id == "r7+file:///etc/passwd"
    assert fire("retrieved_files", "content_regex", {**params, "check": "no_match"}, FACTS) == []
    assert (
        len(
            fire(
                "retrieved_files",
                "content_regex",
                {**params, "regex": "nobody"},
                FACTS,
                rule_id=None,
            )
        )
        == 0
    )
    (no_match,) = fire(
        "retrieved_files",
        "content_regex",
        {**params, "regex": "nobody", "check": "no_match"},
        FACTS,
        rule_id=None,
    )
    assert no_match.trigger_id == "None+file:///etc/passwd"


def test_content_regex_matches_tokens_not_lines() -> None:
    # `/bin/sh` is a token inside a line, and match() anchors at the token start.
    params = {"path": "/etc/passwd", "regex": "/home/app", "check": "match"}

    assert fire("retrieved_files", "content_regex", params, FACTS) == []
    assert fire("retrieved_files", "content_regex", {**params, "regex": "root:x"}, FACTS)


def test_content_regex_without_file_fires_nothing() -> None:
    params = {"path": "/etc/httpd.conf", "regex": ".*", "check": "no_match"}

    assert fire("retrieved_files", "content_regex", params, FACTS) == []
