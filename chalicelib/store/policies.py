"""Policy bundles, the account's active bundle, and stored evaluations."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.store.base import StorePart, require_aware
from chalicelib.store.models import Evaluation, Policy
from chalicelib.store.records import ConflictError, EvaluationRecord, NotFoundError, PolicyRecord

logger = logging.getLogger(__name__)


class PolicyStorePart(StorePart):
    """Store methods for policy bundles and evaluations."""

    def add_policy(self, bundle: dict[str, Any], *, active: bool = False) -> PolicyRecord:
        """Store a new bundle under `bundle["id"]`, activating it when `active` is set.

        Raises `ConflictError` when a bundle with that id exists, and ValueError when the
        bundle has no string `id`.
        """
        policy_id = _bundle_id(bundle)
        now = self._now()
        with self._db.transaction(f"add policy {policy_id}", write=True) as session:
            rows = _lock_policies(session, self._account)
            if policy_id in rows:
                raise ConflictError(
                    f"policy {policy_id} already exists; update it or delete it first"
                )
            if active:
                _deactivate(session, rows.values(), now)
            row = Policy(
                account=self._account,
                policy_id=policy_id,
                active=active,
                bundle=bundle,
                created_at=now,
                last_updated=now,
            )
            session.add(row)
            session.flush()
            record = _policy_record(row)
        logger.info("policy added: policy_id=%s active=%s", policy_id, active)
        return record

    def get_policy(self, policy_id: str) -> PolicyRecord | None:
        """Return the bundle stored under `policy_id`, or None."""
        with self._db.transaction(f"get policy {policy_id}", write=False) as session:
            row = session.get(Policy, (self._account, policy_id))
            return _policy_record(row) if row is not None else None

    def list_policies(self) -> list[PolicyRecord]:
        """Return every bundle of the account, oldest first."""
        statement = (
            select(Policy)
            .where(Policy.account == self._account)
            .order_by(Policy.created_at, Policy.policy_id)
        )
        with self._db.transaction("list policies", write=False) as session:
            return [_policy_record(row) for row in session.scalars(statement)]

    def update_policy(self, policy_id: str, bundle: dict[str, Any]) -> PolicyRecord:
        """Replace the bundle stored under `policy_id`, keeping its active flag.

        Raises `NotFoundError` for an unknown id, and ValueError when the bundle's `id` is
        present and differs from `policy_id`.
        """
        if "id" in bundle and bundle["id"] != policy_id:
            raise ValueError(
                f"bundle id {bundle['id']!r} differs from policy id {policy_id!r}; "
                "a bundle cannot change its id"
            )
        with self._db.transaction(f"update policy {policy_id}", write=True) as session:
            row = _require_policy(session, self._account, policy_id)
            row.bundle = bundle
            row.last_updated = self._now()
            session.flush()
            return _policy_record(row)

    def activate_policy(self, policy_id: str) -> PolicyRecord:
        """Make `policy_id` the account's only active bundle, in one transaction.

        Raises `NotFoundError` for an unknown id.
        """
        now = self._now()
        with self._db.transaction(f"activate policy {policy_id}", write=True) as session:
            rows = _lock_policies(session, self._account)
            row = rows.get(policy_id)
            if row is None:
                raise NotFoundError(f"no policy has id {policy_id}; add the bundle first")
            if not row.active:
                _deactivate(session, rows.values(), now)
                row.active = True
                row.last_updated = now
                session.flush()
            record = _policy_record(row)
        logger.info("policy activated: policy_id=%s", policy_id)
        return record

    def active_policy(self) -> PolicyRecord | None:
        """Return the account's active bundle, or None when no bundle is active."""
        statement = select(Policy).where(Policy.account == self._account, Policy.active)
        with self._db.transaction("get active policy", write=False) as session:
            row = session.scalars(statement).one_or_none()
            return _policy_record(row) if row is not None else None

    def delete_policy(self, policy_id: str) -> None:
        """Delete the bundle; its evaluations are kept.

        Raises `NotFoundError` for an unknown id and `ConflictError` for the active bundle.
        """
        with self._db.transaction(f"delete policy {policy_id}", write=True) as session:
            row = _require_policy(session, self._account, policy_id)
            if row.active:
                raise ConflictError(
                    f"policy {policy_id} is active and cannot be deleted; "
                    "activate another policy first"
                )
            session.delete(row)
        logger.info("policy deleted: policy_id=%s", policy_id)

    def add_evaluation(self, record: EvaluationRecord) -> None:
        """Store one evaluation; evaluations that share an `eval_id` are all kept."""
        created_at = require_aware(record.created_at, "created_at")
        with self._db.transaction(f"add evaluation {record.eval_id}", write=True) as session:
            session.add(
                Evaluation(
                    account=self._account,
                    eval_id=record.eval_id,
                    policy_id=record.policy_id,
                    image_digest=record.image_digest,
                    tag=record.tag,
                    final_action=record.final_action,
                    status=record.status,
                    result=record.result,
                    created_at=created_at,
                )
            )

    def find_evaluation(
        self, digest: str, tag: str, policy_id: str, check_key: str
    ) -> EvaluationRecord | None:
        """Return the newest evaluation of the image and tag by `policy_id` with `check_key`.

        The key is compared inside the stored JSON document (`result["check_key"]`) by the
        database, so only the matching row is read. Returns None when no evaluation matches.
        """
        statement = (
            select(Evaluation)
            .where(
                Evaluation.account == self._account,
                Evaluation.image_digest == digest,
                Evaluation.tag == tag,
                Evaluation.policy_id == policy_id,
                Evaluation.result["check_key"].as_string() == check_key,
            )
            .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
            .limit(1)
        )
        with self._db.transaction(f"find evaluation of {digest}", write=False) as session:
            row = session.scalars(statement).one_or_none()
            return _evaluation_record(row) if row is not None else None

    def list_evaluations(self, digest: str, tag: str | None = None) -> list[EvaluationRecord]:
        """Return the evaluations of the image, of one full tag if given, newest first."""
        statement = (
            select(Evaluation)
            .where(Evaluation.account == self._account, Evaluation.image_digest == digest)
            .order_by(Evaluation.created_at.desc(), Evaluation.id.desc())
        )
        if tag is not None:
            statement = statement.where(Evaluation.tag == tag)
        with self._db.transaction(f"list evaluations of {digest}", write=False) as session:
            return [_evaluation_record(row) for row in session.scalars(statement)]


def _bundle_id(bundle: dict[str, Any]) -> str:
    policy_id = bundle.get("id")
    if not isinstance(policy_id, str) or not policy_id:
        raise ValueError(f"bundle id {policy_id!r} is invalid; the bundle needs a string id")
    return policy_id


def _lock_policies(session: Session, account: str) -> dict[str, Policy]:
    """Load the account's bundles, locking their rows until the transaction ends.

    On PostgreSQL two concurrent activations would otherwise each deactivate the bundles they
    saw and then both activate their own. SQLite ignores FOR UPDATE, but its write transactions
    already exclude each other.
    """
    statement = select(Policy).where(Policy.account == account).with_for_update()
    return {row.policy_id: row for row in session.scalars(statement)}


def _deactivate(session: Session, rows: Iterable[Policy], now: datetime.datetime) -> None:
    """Clear the active flag of `rows` and flush, before another bundle becomes active.

    The flush comes first because the unique index on active bundles is checked per statement.
    """
    for row in rows:
        if row.active:
            row.active = False
            row.last_updated = now
    session.flush()


def _require_policy(session: Session, account: str, policy_id: str) -> Policy:
    row = session.get(Policy, (account, policy_id))
    if row is None:
        raise NotFoundError(f"no policy has id {policy_id}; add the bundle first")
    return row


def _policy_record(row: Policy) -> PolicyRecord:
    return PolicyRecord(
        policy_id=row.policy_id,
        active=row.active,
        bundle=row.bundle,
        created_at=row.created_at,
        last_updated=row.last_updated,
    )


def _evaluation_record(row: Evaluation) -> EvaluationRecord:
    return EvaluationRecord(
        eval_id=row.eval_id,
        policy_id=row.policy_id,
        image_digest=row.image_digest,
        tag=row.tag,
        final_action=row.final_action,
        status=row.status,
        result=row.result,
        created_at=row.created_at,
    )
