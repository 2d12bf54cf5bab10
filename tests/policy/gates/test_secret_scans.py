"""Tests of the secret_scans gate."""

from __future__ import annotations

from chalicelib.analysis.interface import SecretMatch
from tests.policy.factories import make_facts, messages

AWS = SecretMatch(
    path="/root/.aws/credentials", name="AWS_ACCESS_KEY", regex="AKIA[0-9A-Z]{16}", lines=[2]
)
KEY = SecretMatch(path="/etc/ssl/private/key.pem", name="PRIV_KEY", regex="-----BEGIN.*", lines=[1])
FACTS = make_facts({"secrets": [AWS, KEY]})


def checks(params: dict[str, str] | None = None, facts=FACTS) -> list[str]:
    return messages("secret_scans", "content_regex_checks", params, facts)


def test_found_fires_per_match() -> None:
    assert checks() == [
        "Secret content search analyzer found regexp match in container: "
        "file=/root/.aws/credentials regexp=AWS_ACCESS_KEY=AKIA[0-9A-Z]{16}",
        "Secret content search analyzer found regexp match in container: "
        "file=/etc/ssl/private/key.pem regexp=PRIV_KEY=-----BEGIN.*",
    ]


def test_name_filter() -> None:
    assert len(checks({"content_regex_name": "PRIV_KEY"})) == 1
    assert checks({"content_regex_name": "API_KEY"}) == []
    # Anchore tests the name as a substring of the parameter.
    assert len(checks({"content_regex_name": "AWS_ACCESS_KEY,PRIV_KEY"})) == 2


def test_filename_filter() -> None:
    assert len(checks({"filename_regex": "/etc/.*"})) == 1
    assert checks({"filename_regex": "/home/.*"}) == []


def test_notfound_fires_once_when_nothing_matches() -> None:
    assert checks({"match_type": "notfound"}) == []
    assert checks({"match_type": "notfound", "content_regex_name": "API_KEY"}) == [
        "Secret content search analyzer did not find regexp match in container: "
        "filename_regex=* content_regex_name=API_KEY"
    ]
    assert checks({"match_type": "notfound"}, make_facts()) == [
        "Secret content search analyzer did not find regexp match in container: "
        "filename_regex=* content_regex_name=all"
    ]
    assert checks({"match_type": "notfound", "filename_regex": "/home/.*"}) == [
        "Secret content search analyzer did not find regexp match in container: "
        "filename_regex=/home/.* content_regex_name=all"
    ]
