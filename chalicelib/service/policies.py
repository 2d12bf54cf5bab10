"""Use cases of policy bundles and policy checks."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.policy import DEFAULT_BUNDLE, validate_bundle
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.replay import (
    Replay,
    ReplayError,
    bundle_digest,
    canonical_digest,
    evaluate_recorded,
)
from chalicelib.policy.replay import replay_evaluation as replay_stored
from chalicelib.registry import InvalidReferenceError, parse_reference
from chalicelib.service.context import Services
from chalicelib.service.errors import ConflictError, InvalidRequestError, ResourceNotFoundError
from chalicelib.service.images import get_analysis, get_image
from chalicelib.service.vulnerabilities import FEED_NAME
from chalicelib.store import ConflictError as StoreConflictError
from chalicelib.store import EvaluationRecord, FeedGroupRecord, ImageRecord, PolicyRecord, Store
from chalicelib.vulns.interface import CvssScore, VulnMatch
from chalicelib.vulns.matcher import vuln_namespace
from chalicelib.vulns.nvd import matches_cve_ids, nvd_scores, with_nvd_severity

logger = logging.getLogger(__name__)


def ensure_default_policy(store: Store) -> None:
    """Store Anchore's default bundle as the active one when no bundle is stored yet."""
    if store.list_policies():
        return
    try:
        store.add_policy(DEFAULT_BUNDLE, active=True)
    except StoreConflictError:
        return  # another process stored it first
    logger.info("stored the default policy bundle as active: policy_id=%s", DEFAULT_BUNDLE["id"])


def _check_bundle(bundle: object) -> dict:
    if not isinstance(bundle, dict):
        raise InvalidRequestError("the request body is not a policy bundle JSON object")
    problems = validate_bundle(bundle, strict=True)
    if problems:
        messages = [str(problem) for problem in problems]
        raise InvalidRequestError(
            f"policy bundle {bundle.get('id')!r} is invalid: {len(messages)} problem(s): "
            + "; ".join(messages),
            detail={"validation_errors": messages},
        )
    return bundle


def add_policy(services: Services, bundle: object) -> PolicyRecord:
    """Validate and store a new bundle, inactive unless the body sets `active`."""
    active = False
    if isinstance(bundle, dict) and "active" in bundle:
        bundle = dict(bundle)
        active = bool(bundle.pop("active"))
    checked = _check_bundle(bundle)
    try:
        return services.store.add_policy(checked, active=active)
    except StoreConflictError as exc:
        raise ConflictError(
            f"policy bundle {checked['id']!r} already exists; update it with PUT /policies/ID"
        ) from exc


def get_policy(services: Services, policy_id: str) -> PolicyRecord:
    """Return a stored bundle, raising `ResourceNotFoundError`."""
    record = services.store.get_policy(policy_id)
    if record is None:
        raise ResourceNotFoundError(f"policy bundle {policy_id!r} not found")
    return record


def update_policy(
    services: Services, policy_id: str, body: object, *, activate: bool = False
) -> PolicyRecord:
    """Replace a bundle and optionally make it the active one.

    `body` is a `PolicyBundleRecord` (with `policybundle` and `active`), as anchore-cli sends,
    or a bare bundle.
    """
    get_policy(services, policy_id)
    if isinstance(body, dict) and "policybundle" in body:
        bundle = body["policybundle"]
        activate = activate or bool(body.get("active"))
    else:
        bundle = body
    checked = _check_bundle(bundle)
    if checked.get("id") != policy_id:
        raise InvalidRequestError(
            f"bundle id {checked.get('id')!r} does not match policy id {policy_id!r} in the URL"
        )
    record = services.store.update_policy(policy_id, checked)
    if activate:
        record = services.store.activate_policy(policy_id)
    return record


def delete_policy(services: Services, policy_id: str) -> None:
    """Delete a bundle; the active one cannot be deleted."""
    get_policy(services, policy_id)
    try:
        services.store.delete_policy(policy_id)
    except StoreConflictError as exc:
        raise ConflictError(
            f"policy bundle {policy_id!r} is active; activate another bundle before deleting it"
        ) from exc


def _fulltag(tag: str) -> str:
    try:
        fulltag = parse_reference(tag).fulltag
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc
    if fulltag is None:
        raise InvalidRequestError(
            f"tag {tag!r} names a digest without a tag; give the tag to evaluate, such as "
            "registry/repository:tag"
        )
    return fulltag


def _select_policy(services: Services, policy_id: str | None) -> PolicyRecord:
    if policy_id:
        return get_policy(services, policy_id)
    policy = services.store.active_policy()
    if policy is None:
        raise ResourceNotFoundError("no active policy bundle; activate one first")
    return policy


@dataclasses.dataclass(frozen=True)
class _VulnerabilityState:
    """The image's matches and the feed groups, read before the analysis is loaded."""

    matches: list[VulnMatch]
    first_seen: dict[str, datetime.datetime]
    groups: list[FeedGroupRecord]


def _vulnerability_state(services: Services, digest: str) -> _VulnerabilityState:
    matches, first_seen = services.store.get_matches(digest)
    groups = [g for g in services.store.list_feed_groups() if g.feed == FEED_NAME]
    return _VulnerabilityState(matches, first_seen, groups)


def check_key(
    policy: PolicyRecord, image: ImageRecord, fulltag: str, state: _VulnerabilityState
) -> str:
    """Return the digest of everything a check's result depends on, except the clock.

    That is the bundle and its id, the image digest and the time of its analysis, the tag, the
    feed groups' record counts and last syncs, and the image's matches with their first-seen
    times. Matches count on their own because an image is matched after it is analyzed and
    again after each feed sync, so they change while the feed state may not.
    """
    return canonical_digest(
        {
            "policy_id": policy.policy_id,
            "bundle_digest": bundle_digest(policy.bundle),
            "image_digest": image.digest,
            "analyzed_at": image.analyzed_at.isoformat() if image.analyzed_at else None,
            "tag": fulltag,
            "vulnerability_data": {
                group.group: [
                    group.record_count,
                    group.last_sync.isoformat() if group.last_sync else None,
                ]
                for group in state.groups
            },
            "matches": _matches_digest(state.matches),
            "first_seen": {key: seen.isoformat() for key, seen in state.first_seen.items()},
        }
    )


def _matches_digest(matches: list[VulnMatch]) -> str:
    # Pydantic's JSON output keeps the field order of the model, and it is several times faster
    # than building dictionaries for canonical JSON, which matters on the reuse path.
    digest = hashlib.sha256()
    for match in matches:
        digest.update(match.model_dump_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _stored_result(
    services: Services,
    image: ImageRecord,
    fulltag: str,
    policy_id: str,
    key: str,
    now: datetime.datetime,
) -> EvaluationRecord | None:
    """Return the newest stored evaluation with `key` if it is still valid at `now`, else None.

    Only the newest evaluation with the key is read. An older one cannot be valid longer: with
    the same inputs, its `valid_until` is the first result change after an earlier time.
    """
    record = services.store.find_evaluation(image.digest, fulltag, policy_id, key)
    if record is None:
        return None
    valid_until = record.result.get("valid_until")
    if valid_until and now >= datetime.datetime.fromisoformat(valid_until):
        return None
    return record


def check_image(
    services: Services,
    digest: str,
    tag: str,
    *,
    policy_id: str | None = None,
    interactive: bool = False,
    now: datetime.datetime | None = None,
) -> tuple[PolicyRecord, EvaluationRecord]:
    """Evaluate a bundle on an analyzed image for one tag; store it unless interactive.

    When a stored evaluation has the same `check_key` and its `valid_until` has not passed,
    that evaluation is returned and nothing is evaluated or stored: same bundle, analysis,
    matches and feed state give the same result. Raises `ResourceNotFoundError` when the
    image is not analyzed or the policy is missing, and `InvalidRequestError` for a bad tag.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    fulltag = _fulltag(tag)
    policy = _select_policy(services, policy_id)
    image = get_image(services, digest)
    if image.analysis_status != "analyzed":
        raise ResourceNotFoundError(
            f"image is not analyzed - analysis_status: {image.analysis_status}"
        )
    state = _vulnerability_state(services, digest)
    key = check_key(policy, image, fulltag, state)
    stored = _stored_result(services, image, fulltag, policy.policy_id, key, now)
    if stored is not None:
        logger.debug(
            "check served from stored evaluation: image_digest=%s tag=%s eval_id=%s",
            digest,
            fulltag,
            stored.eval_id,
        )
        return policy, stored

    analysis_document = services.store.get_analysis(digest)
    if analysis_document is None:
        raise ResourceNotFoundError(f"image {digest} has no stored analysis; add it again")
    report = AnalysisReport.model_validate(analysis_document)
    facts = _facts(digest, report, state, _nvd_cvss(services, state.matches))
    document = evaluate_recorded(
        policy.bundle,
        facts,
        fulltag,
        now=now,
        analysis_digest=canonical_digest(analysis_document),
    )
    final_action = str(document.get("final_action", "stop")).lower()
    status = "fail" if final_action == "stop" else "pass"
    document["image_digest"] = digest
    document["status"] = status
    document["check_key"] = key
    eval_key = (
        f"{policy.policy_id}:admin:{digest}:{fulltag}:{final_action.upper()}:{now.isoformat()}"
    )
    record = EvaluationRecord(
        eval_id=hashlib.md5(eval_key.encode()).hexdigest(),  # noqa: S324 - an id, not a secret
        policy_id=policy.policy_id,
        image_digest=digest,
        tag=fulltag,
        final_action=final_action,
        status=status,
        result=document,
        created_at=now,
    )
    if not interactive:
        services.store.add_evaluation(record)
    return policy, record


def resolve_image_id(services: Services, image_id: str, tag: str) -> str:
    """Return the digest of the image with `image_id` to check for `tag`.

    Several manifests can share one image id (the same config pushed with other layers'
    compression). The newest image that carries the tag wins, else the newest image.
    """
    records = services.store.find_images_by_id(image_id)
    if not records:
        raise ResourceNotFoundError(f"no image with image id {image_id}")
    fulltag = _fulltag(tag)
    tagged = [record for record in records if fulltag in {t.fulltag for t in record.tags}]
    return (tagged or records)[-1].digest


def replay_evaluation(
    services: Services, digest: str, eval_id: str
) -> tuple[EvaluationRecord, Replay]:
    """Recompute a stored evaluation of an image from its recorded inputs.

    Raises `ResourceNotFoundError` for an unknown evaluation or an image without a stored
    analysis, and `ConflictError` when the analysis changed since the evaluation or the
    evaluation has no recorded inputs.
    """
    record = next(
        (r for r in services.store.list_evaluations(digest) if r.eval_id == eval_id), None
    )
    if record is None:
        raise ResourceNotFoundError(f"evaluation {eval_id} of image {digest} not found")
    analysis_document = services.store.get_analysis(digest)
    if analysis_document is None:
        raise ResourceNotFoundError(
            f"image {digest} has no stored analysis, so evaluation {eval_id} cannot be replayed; "
            "the image was deleted or is being analyzed again"
        )
    try:
        replay = replay_stored(record.result, analysis_document)
    except ReplayError as exc:
        raise ConflictError(f"evaluation {eval_id}: {exc}") from exc
    return record, replay


def evaluation_history(
    services: Services, digest: str, tag: str, policy_id: str | None = None
) -> tuple[str, list[EvaluationRecord]]:
    """Return the normalized tag and the stored evaluations of an image for it, newest first."""
    get_analysis(services, digest)
    fulltag = _fulltag(tag)
    records = services.store.list_evaluations(digest, fulltag)
    if policy_id:
        records = [r for r in records if r.policy_id == policy_id]
    return fulltag, records


def build_facts(services: Services, digest: str) -> ImageFacts:
    """Collect what the gates read about one analyzed image."""
    _, report = get_analysis(services, digest)
    state = _vulnerability_state(services, digest)
    return _facts(digest, report, state, _nvd_cvss(services, state.matches))


def _nvd_cvss(services: Services, matches: list[VulnMatch]) -> dict[str, list[CvssScore]]:
    """Look up the stored NVD scores of every CVE id of the matches, ids and aliases, at once.

    The check key needs no digest of the NVD scores: NVD records are the feed group `nvd`, and
    every sync that swaps a group in sets its last sync, which is part of the key.
    """
    return nvd_scores(matches_cve_ids(matches), services.store.find_vuln_records)


def _facts(
    digest: str,
    report: AnalysisReport,
    state: _VulnerabilityState,
    nvd_cvss: dict[str, list[CvssScore]],
) -> ImageFacts:
    # A match whose record has no severity takes NVD's at read time, as in the API rows, so the
    # gates and the vulnerability listing agree. Replay reads the recorded matches instead.
    return ImageFacts(
        image_digest=digest,
        image_id=report.image_id,
        analysis=report,
        vulnerabilities=with_nvd_severity(state.matches, nvd_cvss),
        nvd_cvss=nvd_cvss,
        vuln_namespace=vuln_namespace(report.distro),
        feed_last_sync={g.group: g.last_sync for g in state.groups},
        feed_record_counts={g.group: g.record_count for g in state.groups},
        first_seen=state.first_seen,
        content_matches=report.content_matches,
    )
