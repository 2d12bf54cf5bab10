"""Tests of the dockerfile gate and of Dockerfile parsing and inference."""

from __future__ import annotations

from chalicelib.policy.gates.dockerfile import infer_dockerfile, parse_dockerfile
from tests.policy.factories import make_facts, messages

DOCKERFILE = """\
# build stage
FROM debian:12
RUN apt-get update && \\
    # a comment inside the continuation
    apt-get install -y curl
EXPOSE 80 443/tcp 53/udp
USER app
HEALTHCHECK CMD curl -f http://localhost/
"""


def actual(text: str = DOCKERFILE) -> dict:
    return {"dockerfile": text, "dockerfile_mode": "Actual"}


def test_parse_dockerfile_groups_lines_by_directive() -> None:
    parsed = parse_dockerfile(DOCKERFILE)

    assert list(parsed) == ["FROM", "RUN", "EXPOSE", "USER", "HEALTHCHECK"]
    assert parsed["RUN"] == ["RUN apt-get update && apt-get install -y curl"]
    assert parsed["EXPOSE"] == ["EXPOSE 80 443/tcp 53/udp"]


def test_parse_dockerfile_upper_cases_directive_keys_only() -> None:
    parsed = parse_dockerfile("from alpine\nrun echo hi\nRUN echo two\n")

    assert parsed == {"FROM": ["from alpine"], "RUN": ["run echo hi", "RUN echo two"]}


def test_infer_dockerfile_reads_nop_and_shell_history() -> None:
    history = [
        {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by": "/bin/sh -c apt-get update"},
        {"created_by": "/bin/sh -c #(nop)  EXPOSE 22"},
        {"empty_layer": True},
    ]

    assert infer_dockerfile(history) == (
        "FROM scratch\nADD file:abc in /\nRUN /bin/sh -c apt-get update\nEXPOSE 22\n"
    )


def test_infer_dockerfile_keeps_buildkit_directives() -> None:
    history = [
        {"created_by": "RUN /bin/sh -c apk add curl # buildkit"},
        {"created_by": "EXPOSE map[22/tcp:{} 8080/tcp:{}]"},
        {"created_by": "USER nobody"},
        {"CreatedBy": 'CMD ["sh"]'},
    ]

    assert infer_dockerfile(history).splitlines() == [
        "FROM scratch",
        "RUN /bin/sh -c apk add curl",
        "EXPOSE 22/tcp 8080/tcp",
        "USER nobody",
        'CMD ["sh"]',
    ]


def test_instruction_not_exists_fires_once_when_absent() -> None:
    facts = make_facts(actual("FROM alpine\n"))

    assert messages(
        "dockerfile", "instruction", {"instruction": "HEALTHCHECK", "check": "not_exists"}, facts
    ) == ["Dockerfile directive 'HEALTHCHECK' not found, matching condition 'not_exists' check"]


def test_instruction_not_exists_is_quiet_when_present() -> None:
    facts = make_facts(actual())

    assert not messages(
        "dockerfile", "instruction", {"instruction": "HEALTHCHECK", "check": "not_exists"}, facts
    )


def test_instruction_exists_fires_per_line() -> None:
    facts = make_facts(actual("FROM a\nRUN one\nRUN two\n"))

    assert messages(
        "dockerfile", "instruction", {"instruction": "RUN", "check": "exists"}, facts
    ) == [
        "Dockerfile directive 'RUN' check 'exists' matched against '' for line 'one'",
        "Dockerfile directive 'RUN' check 'exists' matched against '' for line 'two'",
    ]


def test_instruction_value_checks() -> None:
    facts = make_facts(actual("FROM debian:12\nUSER root\n"))
    cases = [
        ("=", "debian:12", True),
        ("=", "debian", False),
        ("!=", "debian", True),
        ("like", "deb.*", True),
        ("like", "12", False),
        ("not_like", "alpine.*", True),
        ("in", "alpine:3, debian:12", True),
        ("not_in", "alpine:3,debian:12", False),
    ]
    for check, value, fires in cases:
        found = messages(
            "dockerfile",
            "instruction",
            {"instruction": "FROM", "check": check, "value": value},
            facts,
        )
        assert bool(found) == fires, (check, value)


def test_instruction_message_names_value_and_line() -> None:
    facts = make_facts(actual("FROM debian:12\n"))

    assert messages(
        "dockerfile",
        "instruction",
        {"instruction": "FROM", "check": "=", "value": "debian:12"},
        facts,
    ) == ["Dockerfile directive 'FROM' check '=' matched against 'debian:12' for line 'debian:12'"]


def test_instruction_without_required_value_does_nothing() -> None:
    facts = make_facts(actual("FROM debian:12\n"))

    assert not messages("dockerfile", "instruction", {"instruction": "FROM", "check": "="}, facts)


def test_instruction_actual_dockerfile_only_skips_guessed() -> None:
    facts = make_facts({"history": [], "dockerfile_mode": "Guessed"})
    params = {"instruction": "HEALTHCHECK", "check": "not_exists"}

    assert messages("dockerfile", "instruction", params, facts)
    assert not messages(
        "dockerfile", "instruction", {**params, "actual_dockerfile_only": "true"}, facts
    )
    assert messages(
        "dockerfile",
        "instruction",
        {**params, "actual_dockerfile_only": "TRUE"},
        make_facts(actual("FROM a\n")),
    )


def test_instruction_reads_guessed_dockerfile_from_history() -> None:
    facts = make_facts({"history": [{"created_by": "/bin/sh -c #(nop)  USER app"}]})

    assert messages(
        "dockerfile", "instruction", {"instruction": "USER", "check": "=", "value": "app"}, facts
    )


def test_unknown_dockerfile_mode_fires_nothing() -> None:
    facts = make_facts({"dockerfile_mode": "unknown"})

    assert not messages(
        "dockerfile", "instruction", {"instruction": "HEALTHCHECK", "check": "not_exists"}, facts
    )
    assert not messages(
        "dockerfile", "effective_user", {"users": "root", "type": "blacklist"}, facts
    )


def test_empty_actual_dockerfile_fires_nothing() -> None:
    facts = make_facts(actual(""))

    assert not messages(
        "dockerfile", "instruction", {"instruction": "HEALTHCHECK", "check": "not_exists"}, facts
    )


def test_effective_user_defaults_to_root() -> None:
    facts = make_facts(actual("FROM alpine\n"))

    assert messages(
        "dockerfile", "effective_user", {"users": "root", "type": "blacklist"}, facts
    ) == ["User root found as effective user, which is explicity not allowed"]


def test_effective_user_uses_last_user_line() -> None:
    facts = make_facts(actual("FROM a\nUSER root\nUSER [app]\n"))

    assert not messages(
        "dockerfile", "effective_user", {"users": "root", "type": "blacklist"}, facts
    )
    assert messages(
        "dockerfile", "effective_user", {"users": "root,docker", "type": "whitelist"}, facts
    ) == ["User app found as effective user, which is not on the allowed list"]
    assert not messages(
        "dockerfile", "effective_user", {"users": "root, app", "type": "whitelist"}, facts
    )


def test_exposed_ports_blacklist_matches_protocol_forms() -> None:
    facts = make_facts(actual())

    assert messages(
        "dockerfile", "exposed_ports", {"ports": "22,443,53", "type": "blacklist"}, facts
    ) == [
        "Dockerfile exposes port (443/tcp) which is in policy file DENIEDPORTS list",
        "Dockerfile exposes port (53/udp) which is in policy file DENIEDPORTS list",
    ]


def test_exposed_ports_whitelist_fires_for_unlisted_ports() -> None:
    facts = make_facts(actual())

    assert messages(
        "dockerfile", "exposed_ports", {"ports": "80,443", "type": "whitelist"}, facts
    ) == ["Dockerfile exposes port (53/udp) which is not in policy file ALLOWEDPORTS list"]


def test_exposed_ports_zero_is_an_ordinary_port() -> None:
    facts = make_facts(actual())

    assert not messages("dockerfile", "exposed_ports", {"ports": "0", "type": "blacklist"}, facts)


def test_exposed_ports_actual_dockerfile_only() -> None:
    facts = make_facts({"history": [{"created_by": "EXPOSE map[22/tcp:{}]"}]})
    params = {"ports": "22", "type": "blacklist"}

    assert messages("dockerfile", "exposed_ports", params, facts) == [
        "Dockerfile exposes port (22/tcp) which is in policy file DENIEDPORTS list"
    ]
    assert not messages(
        "dockerfile", "exposed_ports", {**params, "actual_dockerfile_only": "true"}, facts
    )


def test_no_dockerfile_provided() -> None:
    assert messages("dockerfile", "no_dockerfile_provided", facts=make_facts()) == [
        "Image was not analyzed with an actual Dockerfile"
    ]
    assert not messages("dockerfile", "no_dockerfile_provided", facts=make_facts(actual()))
