"""Builders of image facts, rules and bundles for the policy engine tests."""

from __future__ import annotations

import datetime
from typing import Any

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.policy.bundle import compile_rule
from chalicelib.policy.gate import Firing, TriggerContext
from chalicelib.policy.interface import ImageFacts
from chalicelib.vulns.interface import Severity, VulnMatch

NOW = datetime.datetime(2024, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
IMAGE_ID = "a" * 64
IMAGE_DIGEST = "sha256:" + "b" * 64


def make_facts(analysis: dict[str, Any] | None = None, **fields: Any) -> ImageFacts:
    """Return facts of an empty image, with `analysis` fields and facts `fields` set."""
    report = AnalysisReport(image_digest=IMAGE_DIGEST, image_id=IMAGE_ID, **(analysis or {}))
    return ImageFacts(image_digest=IMAGE_DIGEST, image_id=IMAGE_ID, analysis=report, **fields)


def make_match(**fields: Any) -> VulnMatch:
    """Return a vulnerability match of a dpkg package, with `fields` overriding defaults."""
    values: dict[str, Any] = {
        "vuln_id": "CVE-2020-0001",
        "severity": Severity.MEDIUM,
        "package_name": "libssl1.1",
        "package_version": "1.1.1d-0+deb10u3",
        "package_type": "dpkg",
        "package_path": "/var/lib/dpkg/status",
        "namespace": "debian:10",
        "url": "https://security-tracker.debian.org/tracker/CVE-2020-0001",
    }
    values.update(fields)
    return VulnMatch(**values)


def make_rule(
    gate: str,
    trigger: str,
    params: dict[str, str] | None = None,
    *,
    action: str = "STOP",
    rule_id: str | None = "rule-1",
) -> dict[str, Any]:
    """Return a rule document."""
    rule: dict[str, Any] = {
        "gate": gate,
        "trigger": trigger,
        "action": action,
        "params": [{"name": name, "value": value} for name, value in (params or {}).items()],
    }
    if rule_id is not None:
        rule["id"] = rule_id
    return rule


def fire(
    gate: str,
    trigger: str,
    params: dict[str, str] | None = None,
    facts: ImageFacts | None = None,
    *,
    now: datetime.datetime = NOW,
    rule_id: str | None = "rule-1",
) -> list[Firing]:
    """Validate one rule strictly and return its firings on `facts`."""
    rule, problems = compile_rule(
        make_rule(gate, trigger, params, rule_id=rule_id), "policy-1", 1, strict=True
    )
    assert not problems, [problem.message for problem in problems]
    assert rule is not None
    context = TriggerContext(facts=facts or make_facts(), now=now, rule_id=rule_id, cache={})
    return rule.trigger.evaluate(context, rule.params)


def messages(*args: Any, **kwargs: Any) -> list[str]:
    """Return the messages of `fire(*args, **kwargs)`."""
    return [firing.message for firing in fire(*args, **kwargs)]


def make_bundle(
    rules: list[dict[str, Any]] | None = None,
    *,
    whitelist_items: list[dict[str, Any]] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Return a bundle with one policy `p1`, one whitelist `w1` and a catch-all mapping."""
    bundle: dict[str, Any] = {
        "id": "bundle-1",
        "version": "1_0",
        "name": "test bundle",
        "policies": [{"id": "p1", "version": "1_0", "name": "policy one", "rules": rules or []}],
        "whitelists": [
            {"id": "w1", "version": "1_0", "name": "whitelist one", "items": whitelist_items or []}
        ],
        "mappings": mappings
        if mappings is not None
        else [mapping_rule(policy_id="p1", whitelist_ids=["w1"])],
    }
    bundle.update(fields)
    return bundle


def mapping_rule(
    registry: str = "*",
    repository: str = "*",
    image_type: str = "tag",
    value: str = "*",
    **fields: Any,
) -> dict[str, Any]:
    """Return a mapping or image selection rule."""
    rule: dict[str, Any] = {
        "name": fields.pop("name", f"{registry}/{repository}:{value}"),
        "registry": registry,
        "repository": repository,
        "image": {"type": image_type, "value": value},
    }
    rule.update(fields)
    return rule
