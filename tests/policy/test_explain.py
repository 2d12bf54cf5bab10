"""Tests of the causes that firings name, and of the explanations in evaluation documents."""

from __future__ import annotations

import datetime
from typing import Any

from chalicelib.analysis.interface import (
    Distro,
    FileEntry,
    FileType,
    LayerInfo,
    Package,
    PackageType,
    SecretMatch,
)
from chalicelib.policy import evaluate_bundle
from chalicelib.policy.gates.dockerfile import infer_layer_digests, parse_dockerfile_lines
from tests.policy.factories import (
    IMAGE_ID,
    NOW,
    fire,
    make_bundle,
    make_facts,
    make_match,
    make_rule,
)

BASE = "sha256:" + "1" * 64
APP = "sha256:" + "2" * 64
LAYERS = [
    LayerInfo(digest=BASE, media_type="tar", size=1),
    LayerInfo(digest=APP, media_type="tar", size=1),
]
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
    {"created_by": '/bin/sh -c #(nop)  CMD ["bash"]', "empty_layer": True},
    {"created_by": "/bin/sh -c #(nop)  EXPOSE 22", "empty_layer": True},
    {"created_by": "/bin/sh -c apt-get install -y openssh-server"},
    {"created_by": "/bin/sh -c #(nop)  USER root", "empty_layer": True},
]
OPENSSL = Package(
    name="openssl",
    version="3.0.11-1~deb12u2",
    type=PackageType.DPKG,
    location="/var/lib/dpkg/status",
    layer_digest=BASE,
    licenses=["GPL-2.0", "Apache-2.0"],
)
PASSWD = "root:x:0:0:root:/root:/bin/bash\n\nftp:x:14:50::/var/ftp:/sbin/nologin\n"
FACTS = make_facts(
    {
        "layers": LAYERS,
        "history": HISTORY,
        "packages": [OPENSSL],
        "passwd": PASSWD,
        "distro": Distro(id="debian", version_id="12"),
        "files": [
            FileEntry(path="/etc/passwd", type=FileType.FILE, mode=0o644, layer_digest=APP),
            FileEntry(path="/usr/bin/su", type=FileType.FILE, mode=0o4755, layer_digest=BASE),
            FileEntry(path="/root/.aws/credentials", type=FileType.FILE, mode=0o600),
        ],
        "secrets": [
            SecretMatch(
                path="/root/.aws/credentials", name="AWS_ACCESS_KEY", regex="AKIA.*", lines=[2, 5]
            )
        ],
    },
    vulnerabilities=[
        make_match(
            package_name="openssl",
            package_version="3.0.11-1~deb12u2",
            package_path="/var/lib/dpkg/status",
            namespace="debian:12",
        )
    ],
    vuln_namespace="debian:12",
    feed_record_counts={"debian:12": 40},
    feed_last_sync={"debian:12": NOW - datetime.timedelta(days=9)},
)


def causes(gate: str, trigger: str, params: dict[str, str] | None = None) -> list[list[dict]]:
    return [
        [cause.to_json() for cause in firing.causes]
        for firing in fire(gate, trigger, params, FACTS)
    ]


def test_infer_layer_digests_skips_empty_layers() -> None:
    assert infer_layer_digests(HISTORY, [BASE, APP]) == [None, BASE, None, None, APP, None]


def test_parse_dockerfile_lines_numbers_continued_instructions() -> None:
    text = (
        "# comment\nFROM debian:12\n\n"
        "RUN apt-get update && \\\n    apt-get install -y curl\nUSER app\n"
    )

    parsed = parse_dockerfile_lines(text)

    assert [(line.number, line.text) for line in parsed["RUN"]] == [
        (4, "RUN apt-get update && apt-get install -y curl")
    ]
    assert parsed["USER"][0].number == 6
    assert parsed["FROM"][0].layer_digest is None


def test_dockerfile_line_of_guessed_instruction_names_its_layer() -> None:
    assert causes("dockerfile", "instruction", {"instruction": "RUN", "check": "exists"}) == [
        [
            {
                "kind": "dockerfile",
                "mode": "Guessed",
                "line": 5,
                "text": "RUN /bin/sh -c apt-get install -y openssh-server",
                "layer_digest": APP,
            }
        ]
    ]


def test_dockerfile_exposed_port_and_user_name_their_lines() -> None:
    (port,) = causes("dockerfile", "exposed_ports", {"ports": "22", "type": "blacklist"})
    (user,) = causes("dockerfile", "effective_user", {"users": "root", "type": "blacklist"})

    assert [(c["line"], c["text"], c["layer_digest"]) for c in port] == [(4, "EXPOSE 22", None)]
    assert [(c["line"], c["text"]) for c in user] == [(6, "USER root")]


def test_dockerfile_absent_instruction_names_the_whole_dockerfile() -> None:
    (absent,) = causes(
        "dockerfile", "instruction", {"instruction": "HEALTHCHECK", "check": "not_exists"}
    )

    assert absent == [
        {"kind": "dockerfile", "mode": "Guessed", "line": None, "text": None, "layer_digest": None}
    ]


def test_actual_dockerfile_lines_have_no_layer() -> None:
    facts = make_facts({"dockerfile": "FROM debian\nUSER root\n", "dockerfile_mode": "Actual"})

    (firing,) = fire("dockerfile", "effective_user", {"users": "root", "type": "blacklist"}, facts)

    assert [cause.to_json() for cause in firing.causes] == [
        {
            "kind": "dockerfile",
            "mode": "Actual",
            "line": 2,
            "text": "USER root",
            "layer_digest": None,
        }
    ]


def test_vulnerability_names_match_and_package_layer() -> None:
    (firing,) = causes("vulnerabilities", "package", {"package_type": "all"})

    assert firing == [
        {
            "kind": "vulnerability",
            "id": "CVE-2020-0001",
            "namespace": "debian:12",
            "severity": "Medium",
            "url": "https://security-tracker.debian.org/tracker/CVE-2020-0001",
        },
        {
            "kind": "package",
            "name": "openssl",
            "version": "3.0.11-1~deb12u2",
            "type": "dpkg",
            "location": "/var/lib/dpkg/status",
            "layer_digest": BASE,
        },
    ]


def test_vulnerability_of_unknown_package_has_no_layer() -> None:
    facts = make_facts(vulnerabilities=[make_match()])

    (firing,) = fire("vulnerabilities", "package", {"package_type": "all"}, facts)

    package = firing.causes[1].to_json()
    assert (package["name"], package["layer_digest"]) == ("libssl1.1", None)


def test_vulnerability_blacklist_names_each_listed_match() -> None:
    (firing,) = causes("vulnerabilities", "blacklist", {"vulnerability_ids": "CVE-2020-0001,CVE-1"})

    assert [cause["kind"] for cause in firing] == ["vulnerability", "package"]


def test_feed_triggers_name_the_feed_group() -> None:
    (stale,) = causes("vulnerabilities", "stale_feed_data", {"max_days_since_sync": "2"})

    assert stale == [
        {
            "kind": "feed_group",
            "group": "debian:12",
            "record_count": 40,
            "last_sync": (NOW - datetime.timedelta(days=9)).isoformat(),
        }
    ]
    facts = make_facts({"distro": Distro(id="debian", version_id="13")}, vuln_namespace="debian:13")
    (missing,) = fire("vulnerabilities", "vulnerability_data_unavailable", {}, facts)
    assert missing.causes[0].to_json()["record_count"] == 0


def test_package_triggers_name_the_package() -> None:
    (blacklisted,) = causes("packages", "blacklist", {"name": "openssl"})
    (old,) = causes("packages", "required_package", {"name": "openssl", "version": "3.1"})
    (licensed,) = causes("licenses", "blacklist_partial_match", {"licenses": "GPL,Apache"})

    for found in (blacklisted, old, licensed):
        assert [(c["kind"], c["name"], c["layer_digest"]) for c in found] == [
            ("package", "openssl", BASE)
        ]


def test_language_package_denylist_names_each_copy() -> None:
    copies = [
        Package(
            name="left-pad", version="1.0.0", type=PackageType.NPM, location=f"/app{n}/package.json"
        )
        for n in (1, 2)
    ]
    facts = make_facts({"packages": copies})

    (firing,) = fire("npms", "blacklisted_name_version", {"name": "left-pad"}, facts)

    assert [cause.to_json()["location"] for cause in firing.causes] == [
        "/app1/package.json",
        "/app2/package.json",
    ]


def test_file_triggers_name_file_layer_and_lines() -> None:
    (suid,) = causes("files", "suid_or_guid_set")
    (secret,) = causes("secret_scans", "content_regex_checks")
    (user,) = causes("passwd_file", "blacklist_usernames", {"user_names": "ftp"})
    (retrieved,) = causes(
        "retrieved_files",
        "content_regex",
        {"path": "/etc/passwd", "regex": "ftp.*", "check": "match"},
    )

    assert suid == [{"kind": "file", "path": "/usr/bin/su", "layer_digest": BASE, "lines": []}]
    assert secret == [
        {"kind": "file", "path": "/root/.aws/credentials", "layer_digest": None, "lines": [2, 5]}
    ]
    assert user == [{"kind": "file", "path": "/etc/passwd", "layer_digest": APP, "lines": [3]}]
    assert retrieved == [{"kind": "file", "path": "/etc/passwd", "layer_digest": APP, "lines": [3]}]


def test_metadata_names_the_attribute() -> None:
    (firing,) = causes(
        "metadata", "attribute", {"attribute": "distro", "check": "=", "value": "debian"}
    )

    assert firing == [{"kind": "attribute", "name": "distro", "value": "debian"}]


def test_always_has_no_cause() -> None:
    assert causes("always", "always") == [[]]


def evaluate(bundle: dict[str, Any]) -> dict[str, Any]:
    return evaluate_bundle(bundle, FACTS, "docker.io/library/app:1", now=NOW)


def test_document_explains_each_row_in_order() -> None:
    bundle = make_bundle(
        [
            make_rule("always", "always", action="WARN", rule_id="r-always"),
            make_rule("packages", "blacklist", {"name": "openssl"}, rule_id="r-openssl"),
        ]
    )

    document = evaluate(bundle)

    rows = document["result"][IMAGE_ID]["result"]["rows"]
    explanations = document["explanations"]
    assert [(e["row"], e["trigger_id"]) for e in explanations] == [
        (index, row[2]) for index, row in enumerate(rows)
    ]
    assert [(e["gate"], e["trigger"], e["policy_id"], e["rule_id"]) for e in explanations] == [
        ("always", "always", "p1", "r-always"),
        ("packages", "blacklist", "p1", "r-openssl"),
    ]
    assert explanations[1]["causes"][0]["name"] == "openssl"


def test_failed_evaluation_has_no_explanations() -> None:
    document = evaluate(make_bundle(version="2_0"))

    assert document["explanations"] == []
    assert document["valid_until"] is None
