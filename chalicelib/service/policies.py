"""Use cases of policy bundles and policy checks."""

from __future__ import annotations

import datetime
import hashlib
import logging

from chalicelib.policy import DEFAULT_BUNDLE, evaluate_bundle, validate_bundle
from chalicelib.policy.interface import ImageFacts
from chalicelib.registry import InvalidReferenceError, parse_reference
from chalicelib.service.context import Services
from chalicelib.service.errors import ConflictError, InvalidRequestError, ResourceNotFoundError
from chalicelib.service.images import get_analysis
from chalicelib.service.vulnerabilities import FEED_NAME
from chalicelib.store import ConflictError as StoreConflictError
from chalicelib.store import EvaluationRecord, PolicyRecord, Store
from chalicelib.vulns.matcher import vuln_namespace

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
    """Validate and store a new bundle, inactive unless the body says `active`."""
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


def check_image(
    services: Services,
    digest: str,
    tag: str,
    *,
    policy_id: str | None = None,
    interactive: bool = False,
    now: datetime.datetime | None = None,
) -> tuple[PolicyRecord, EvaluationRecord]:
    """Evaluate a bundle on an analyzed image for one tag; store it unless interactive."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        fulltag = parse_reference(tag).fulltag
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc
    if policy_id:
        policy = get_policy(services, policy_id)
    else:
        policy = services.store.active_policy()
        if policy is None:
            raise ResourceNotFoundError("no active policy bundle; activate one first")

    facts = build_facts(services, digest)
    document = evaluate_bundle(policy.bundle, facts, fulltag, now=now)
    final_action = str(document.get("final_action", "stop")).lower()
    status = "fail" if final_action == "stop" else "pass"
    document["image_digest"] = digest
    document["status"] = status
    key = f"{policy.policy_id}:admin:{digest}:{fulltag}:{final_action.upper()}:{now.isoformat()}"
    record = EvaluationRecord(
        eval_id=hashlib.md5(key.encode()).hexdigest(),  # noqa: S324 - an id, not a secret
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


def evaluation_history(
    services: Services, digest: str, tag: str, policy_id: str | None = None
) -> tuple[str, list[EvaluationRecord]]:
    """Return the normalized tag and the stored evaluations of an image for it, newest first."""
    get_analysis(services, digest)
    try:
        fulltag = parse_reference(tag).fulltag
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc
    records = services.store.list_evaluations(digest, fulltag)
    if policy_id:
        records = [r for r in records if r.policy_id == policy_id]
    return fulltag, records


def build_facts(services: Services, digest: str) -> ImageFacts:
    """Collect what the gates read about one analyzed image."""
    image, report = get_analysis(services, digest)
    matches, first_seen = services.store.get_matches(digest)
    groups = [g for g in services.store.list_feed_groups() if g.feed == FEED_NAME]
    return ImageFacts(
        image_digest=digest,
        image_id=report.image_id,
        analysis=report,
        vulnerabilities=matches,
        vuln_namespace=vuln_namespace(report.distro),
        feed_last_sync={g.group: g.last_sync for g in groups},
        feed_record_counts={g.group: g.record_count for g in groups},
        first_seen=first_seen,
    )
