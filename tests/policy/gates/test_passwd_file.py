"""Tests of the passwd_file gate."""

from __future__ import annotations

from chalicelib.policy.gates.passwd_file import parse_passwd
from tests.policy.factories import make_facts, messages

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin

ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin
broken:x
"""
FACTS = make_facts({"passwd": PASSWD})


def test_parse_passwd_keys_fields_by_user() -> None:
    entries = parse_passwd(PASSWD + "root:x:0:0:again:/root:/bin/sh\n")

    assert list(entries) == ["root", "daemon", "ftp", "broken"]
    assert entries["root"] == ["x", "0", "0", "again", "/root", "/bin/sh"]
    assert entries["broken"] == ["x"]


def test_content_not_available() -> None:
    message = "Cannot locate /etc/passwd in image stored files archive: check analyzer settings."
    assert messages("passwd_file", "content_not_available", facts=make_facts()) == [message]
    assert messages("passwd_file", "content_not_available", facts=make_facts({"passwd": ""})) == [
        message
    ]
    assert messages("passwd_file", "content_not_available", facts=FACTS) == []


def test_blacklist_usernames_and_alias() -> None:
    expected = [
        "Blacklisted user 'ftp' found in image's /etc/passwd: "
        "pentry=ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin"
    ]
    assert messages("passwd_file", "blacklist_usernames", {"user_names": "ftp, games"}, FACTS) == (
        expected
    )
    assert messages("passwd_file", "blacklist_usernames", {"UserNameBlacklist": "ftp"}, FACTS) == (
        expected
    )


def test_blacklist_userids_and_alias() -> None:
    expected = [
        "Blacklisted uid '0' found in image's /etc/passwd: pentry=root:x:0:0:root:/root:/bin/bash",
        "Blacklisted uid '1' found in image's /etc/passwd: "
        "pentry=daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
    ]
    assert messages("passwd_file", "blacklist_userids", {"user_ids": "0,1,99"}, FACTS) == expected
    assert messages("passwd_file", "blacklist_userids", {"useridblacklist": "00,1"}, FACTS) == (
        expected
    )


def test_blacklist_groupids() -> None:
    assert messages("passwd_file", "blacklist_groupids", {"group_ids": "50"}, FACTS) == [
        "Blacklisted gid '50' found in image's /etc/passwd: "
        "pentry=ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin"
    ]


def test_blacklist_shells() -> None:
    assert messages("passwd_file", "blacklist_shells", {"shells": "/sbin/nologin"}, FACTS) == [
        "Blacklisted shell '/sbin/nologin' found in image's /etc/passwd: "
        "pentry=ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin"
    ]


def test_blacklist_full_entry() -> None:
    entry = "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin"

    assert messages("passwd_file", "blacklist_full_entry", {"entry": f" {entry} "}, FACTS) == [
        f"Blacklisted pentry '{entry}' found in image's /etc/passwd: pentry={entry}"
    ]
    assert messages("passwd_file", "blacklist_full_entry", {"entry": "daemon:x"}, FACTS) == []


def test_denylists_fire_nothing_without_passwd() -> None:
    facts = make_facts()

    assert messages("passwd_file", "blacklist_usernames", {"user_names": "root"}, facts) == []
    assert messages("passwd_file", "blacklist_userids", {"user_ids": "0"}, facts) == []
