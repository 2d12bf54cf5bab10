"""Inputs recorded with an evaluation, and the replay of a stored evaluation from them.

A recorded evaluation document carries, beside Anchore's fields:

- `bundle_digest`: `sha256:` digest of the canonical JSON of the bundle evaluated;
- `analysis_digest`: digest of the canonical JSON of the image's stored analysis document;
- `vulnerability_data`: per feed group (namespace), its record count and last sync time;
- `evaluated_at`: the evaluation time in ISO 8601 with microseconds, because whitelist expiry
  and day counts compare against it more finely than the epoch seconds of `created_at`;
- `replay_inputs`: the other facts the gates read (the image's distro namespace, its
  vulnerability matches with their first-seen times, NVD scores and content matches).

Canonical JSON sorts object keys and writes no spaces, so equal documents give equal digests.
A replay evaluates the stored bundle on facts rebuilt from these fields and the image's current
analysis, whose digest must still equal `analysis_digest`.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from chalicelib.analysis.interface import AnalysisReport, SecretMatch
from chalicelib.policy.evaluation import DEFAULT_USER_ID, evaluate_bundle
from chalicelib.policy.gate import as_utc
from chalicelib.policy.interface import ImageFacts, PolicyError
from chalicelib.vulns.interface import CvssScore, VulnMatch

logger = logging.getLogger(__name__)

COMPARED_FIELDS = (
    "final_action",
    "final_action_reason",
    "matched_mapping_rule",
    "matched_whitelisted_images_rule",
    "matched_blacklisted_images_rule",
    "result",
    "evaluation_problems",
    "explanations",
    "valid_until",
)
"""Fields of an evaluation document that a replay must reproduce."""


class ReplayError(PolicyError):
    """A stored evaluation cannot be replayed; the message gives the reason and the remedy."""


class AnalysisChangedError(ReplayError):
    """The image's analysis differs from the one the stored evaluation read."""


def canonical_json(value: Any) -> bytes:
    """Return `value` as canonical JSON in UTF-8: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_digest(value: Any) -> str:
    """Return `sha256:<hex>` of the canonical JSON of `value`."""
    return "sha256:" + hashlib.sha256(canonical_json(value)).hexdigest()


def bundle_digest(bundle: dict) -> str:
    """Return the digest that identifies a bundle's content."""
    return canonical_digest(bundle)


class FeedGroupState(BaseModel):
    """Record count and last sync of one vulnerability feed group."""

    record_count: int
    last_sync: datetime.datetime | None = None


class ReplayInputs(BaseModel):
    """Facts besides the analysis that an evaluation read, as `replay_inputs` stores them."""

    vuln_namespace: str | None = None
    matches: list[VulnMatch] = Field(default_factory=list)
    first_seen: dict[str, datetime.datetime] = Field(default_factory=dict)
    fix_first_seen: dict[str, datetime.datetime] = Field(default_factory=dict)
    nvd_cvss: dict[str, list[CvssScore]] = Field(default_factory=dict)
    content_matches: list[SecretMatch] = Field(default_factory=list)


def vulnerability_data_state(facts: ImageFacts) -> dict[str, dict[str, Any]]:
    """Return the record count and last sync of every feed group in `facts`, as JSON."""
    groups = sorted(set(facts.feed_record_counts) | set(facts.feed_last_sync))
    return {
        group: FeedGroupState(
            record_count=facts.feed_record_counts.get(group, 0),
            last_sync=facts.feed_last_sync.get(group),
        ).model_dump(mode="json")
        for group in groups
    }


def replay_inputs(facts: ImageFacts) -> dict[str, Any]:
    """Return the `replay_inputs` JSON of `facts`."""
    inputs = ReplayInputs(
        vuln_namespace=facts.vuln_namespace,
        matches=facts.vulnerabilities,
        first_seen=facts.first_seen,
        fix_first_seen=facts.fix_first_seen,
        nvd_cvss=facts.nvd_cvss,
        content_matches=facts.content_matches,
    )
    return inputs.model_dump(mode="json")


def evaluate_recorded(
    bundle: dict,
    facts: ImageFacts,
    tag: str,
    *,
    now: datetime.datetime,
    analysis_digest: str,
    user_id: str = DEFAULT_USER_ID,
) -> dict:
    """Evaluate like `evaluate_bundle` and record in the document what a replay needs.

    `analysis_digest` is `canonical_digest` of the stored analysis document that `facts` was
    built from. The recorded fields are listed in the module documentation.
    """
    now = as_utc(now)
    document = evaluate_bundle(bundle, facts, tag, now=now, user_id=user_id)
    document["bundle_digest"] = bundle_digest(bundle)
    document["analysis_digest"] = analysis_digest
    document["vulnerability_data"] = vulnerability_data_state(facts)
    document["evaluated_at"] = now.isoformat()
    document["replay_inputs"] = replay_inputs(facts)
    return document


@dataclasses.dataclass(frozen=True)
class Replay:
    """Outcome of a replay: the recomputed document and how it compares with the stored one."""

    document: dict
    """The evaluation document recomputed from the stored inputs."""
    differences: tuple[str, ...]
    """Fields of `COMPARED_FIELDS` whose values differ; empty when the replay is identical."""

    @property
    def identical(self) -> bool:
        return not self.differences


def replay_evaluation(stored: dict, analysis_document: dict) -> Replay:
    """Recompute a stored evaluation document from its recorded inputs.

    `analysis_document` is the image's stored analysis document as JSON. Raises
    `AnalysisChangedError` when its digest differs from the recorded one, and `ReplayError`
    when the document has no recorded inputs or they are invalid.
    """
    inputs, groups, evaluated_at = _recorded_inputs(stored)
    current = canonical_digest(analysis_document)
    if current != stored["analysis_digest"]:
        raise AnalysisChangedError(
            f"the analysis of image {stored.get('image_digest') or stored.get('image_id')} "
            f"changed since the evaluation: its digest was {stored['analysis_digest']} and is "
            f"now {current}, so the evaluation cannot be replayed; run a new check instead"
        )
    try:
        report = AnalysisReport.model_validate(analysis_document)
    except ValidationError as exc:
        raise ReplayError(f"the stored analysis document is invalid: {exc}") from exc

    facts = ImageFacts(
        image_digest=report.image_digest,
        image_id=stored.get("image_id") or report.image_id,
        analysis=report,
        vulnerabilities=inputs.matches,
        vuln_namespace=inputs.vuln_namespace,
        feed_last_sync={group: state.last_sync for group, state in groups.items()},
        feed_record_counts={group: state.record_count for group, state in groups.items()},
        first_seen=inputs.first_seen,
        fix_first_seen=inputs.fix_first_seen,
        nvd_cvss=inputs.nvd_cvss,
        content_matches=inputs.content_matches,
    )
    document = evaluate_recorded(
        stored["bundle"],
        facts,
        stored["tag"],
        now=evaluated_at,
        analysis_digest=current,
        user_id=stored.get("user_id") or DEFAULT_USER_ID,
    )
    differences = tuple(
        field
        for field in COMPARED_FIELDS
        if canonical_json(document.get(field)) != canonical_json(stored.get(field))
    )
    if differences:
        logger.warning(
            "replay differs from the stored evaluation: image_id=%s tag=%s fields=%s",
            facts.image_id,
            stored["tag"],
            ",".join(differences),
        )
    return Replay(document=document, differences=differences)


def _recorded_inputs(
    stored: dict,
) -> tuple[ReplayInputs, dict[str, FeedGroupState], datetime.datetime]:
    missing = [
        field
        for field in (
            "bundle",
            "tag",
            "bundle_digest",
            "analysis_digest",
            "vulnerability_data",
            "evaluated_at",
            "replay_inputs",
        )
        if field not in stored
    ]
    if missing:
        raise ReplayError(
            f"the evaluation was stored without {', '.join(missing)}, so it cannot be replayed; "
            "only evaluations stored since replay support was added can be"
        )
    if bundle_digest(stored["bundle"]) != stored["bundle_digest"]:
        raise ReplayError(
            f"the stored bundle does not match its recorded digest {stored['bundle_digest']}; "
            "the evaluation record was altered and cannot be replayed"
        )
    try:
        inputs = ReplayInputs.model_validate(stored["replay_inputs"])
        groups = {
            group: FeedGroupState.model_validate(state)
            for group, state in stored["vulnerability_data"].items()
        }
        evaluated_at = as_utc(datetime.datetime.fromisoformat(stored["evaluated_at"]))
    except (ValidationError, AttributeError, TypeError, ValueError) as exc:
        raise ReplayError(f"the recorded replay inputs are invalid: {exc}") from exc
    return inputs, groups, evaluated_at
