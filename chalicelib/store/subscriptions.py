"""Subscriptions of the account and the webhook notifications its watchers queue."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from chalicelib.store.base import StorePart
from chalicelib.store.models import NotificationRow, SubscriptionRow
from chalicelib.store.records import ConflictError, NotFoundError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SubscriptionRecord:
    """One stored subscription, in Anchore's `Subscription` terms."""

    subscription_id: str
    subscription_key: str
    """Full tag `registry/repository:tag`, or `registry/repository` for `repo_update`."""
    subscription_type: str
    subscription_value: str | None
    active: bool
    created_at: datetime.datetime
    last_updated: datetime.datetime
    watch_state: dict[str, Any] | None = None
    """The state the watcher of this subscription recorded last, such as a digest."""


@dataclasses.dataclass(frozen=True)
class NotificationRecord:
    """One webhook notification waiting for delivery."""

    notification_id: str
    notification_type: str
    """The subscription type that produced it, such as `tag_update`."""
    subscription_key: str
    payload: dict[str, Any]
    """Anchore's `notification_payload`: userId, subscription_key and the type's fields."""
    tries: int
    last_error: str | None
    created_at: datetime.datetime
    last_tried_at: datetime.datetime | None


def subscription_id(account: str, key: str, subscription_type: str) -> str:
    """Return Anchore's subscription id: md5 hex of `<account>+<key>+<type>`."""
    text = f"{account}+{key}+{subscription_type}"
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - an id, not a secret


class SubscriptionStorePart(StorePart):
    """Store methods for subscriptions and pending notifications."""

    def add_subscription(
        self,
        key: str,
        subscription_type: str,
        *,
        active: bool,
        value: str | None = None,
        watch_state: dict[str, Any] | None = None,
    ) -> SubscriptionRecord:
        """Store a new subscription; raise `ConflictError` when the key and type exist."""
        now = self._now()
        identifier = subscription_id(self._account, key, subscription_type)
        operation = f"add subscription {subscription_type} {key}"
        with self._db.transaction(operation, write=True) as session:
            if session.get(SubscriptionRow, (self._account, identifier)) is not None:
                raise ConflictError(
                    f"subscription {subscription_type} for {key} already exists "
                    f"(subscription_id {identifier}); update it instead"
                )
            row = SubscriptionRow(
                account=self._account,
                subscription_id=identifier,
                subscription_key=key,
                subscription_type=subscription_type,
                subscription_value=value,
                active=active,
                watch_state=watch_state,
                created_at=now,
                last_updated=now,
            )
            session.add(row)
            session.flush()
            record = _subscription_record(row)
        logger.info(
            "subscription added: type=%s key=%s active=%s", subscription_type, key, active
        )
        return record

    def get_subscription(self, identifier: str) -> SubscriptionRecord | None:
        """Return the subscription with id `identifier`, or None."""
        with self._db.transaction(f"get subscription {identifier}", write=False) as session:
            row = session.get(SubscriptionRow, (self._account, identifier))
            return _subscription_record(row) if row is not None else None

    def find_subscription(self, key: str, subscription_type: str) -> SubscriptionRecord | None:
        """Return the subscription of `subscription_type` on `key`, or None."""
        return self.get_subscription(subscription_id(self._account, key, subscription_type))

    def list_subscriptions(
        self,
        *,
        key: str | None = None,
        subscription_type: str | None = None,
        active: bool | None = None,
    ) -> list[SubscriptionRecord]:
        """Return the account's subscriptions that pass every given filter, by key and type."""
        statement = select(SubscriptionRow).where(SubscriptionRow.account == self._account)
        if key is not None:
            statement = statement.where(SubscriptionRow.subscription_key == key)
        if subscription_type is not None:
            statement = statement.where(SubscriptionRow.subscription_type == subscription_type)
        if active is not None:
            statement = statement.where(SubscriptionRow.active == active)
        statement = statement.order_by(
            SubscriptionRow.subscription_key, SubscriptionRow.subscription_type
        )
        with self._db.transaction("list subscriptions", write=False) as session:
            return [_subscription_record(row) for row in session.scalars(statement)]

    def update_subscription(
        self,
        identifier: str,
        *,
        active: bool | None = None,
        value: str | None = None,
        watch_state: dict[str, Any] | None = None,
    ) -> SubscriptionRecord:
        """Change the given fields of a subscription; None leaves a field as it is.

        Raises `NotFoundError` when no subscription has id `identifier`.
        """
        now = self._now()
        with self._db.transaction(f"update subscription {identifier}", write=True) as session:
            row = _require_subscription(session, self._account, identifier)
            if active is not None:
                row.active = active
            if value is not None:
                row.subscription_value = value
            if watch_state is not None:
                # JSON columns are saved only when assigned a new object.
                row.watch_state = dict(watch_state)
            row.last_updated = now
            session.flush()
            return _subscription_record(row)

    def delete_subscription(self, identifier: str) -> None:
        """Delete a subscription; raise `NotFoundError` when no subscription has that id."""
        with self._db.transaction(f"delete subscription {identifier}", write=True) as session:
            row = _require_subscription(session, self._account, identifier)
            key, kind = row.subscription_key, row.subscription_type
            session.delete(row)
        logger.info("subscription deleted: type=%s key=%s", kind, key)

    def add_notification(
        self, notification_id: str, notification_type: str, key: str, payload: dict[str, Any]
    ) -> None:
        """Queue one webhook notification for delivery."""
        now = self._now()
        operation = f"add notification {notification_type} {key}"
        with self._db.transaction(operation, write=True) as session:
            session.add(
                NotificationRow(
                    account=self._account,
                    notification_id=notification_id,
                    notification_type=notification_type,
                    subscription_key=key,
                    payload=payload,
                    tries=0,
                    last_error=None,
                    created_at=now,
                    last_tried_at=None,
                )
            )

    def list_notifications(self, limit: int = 1000) -> list[NotificationRecord]:
        """Return up to `limit` pending notifications of the account, oldest first."""
        statement = (
            select(NotificationRow)
            .where(NotificationRow.account == self._account)
            .order_by(NotificationRow.created_at, NotificationRow.id)
            .limit(limit)
        )
        with self._db.transaction("list notifications", write=False) as session:
            return [_notification_record(row) for row in session.scalars(statement)]

    def record_notification_failure(self, notification_id: str, error: str) -> None:
        """Count one failed delivery of a pending notification and keep its error."""
        now = self._now()
        statement = select(NotificationRow).where(
            NotificationRow.notification_id == notification_id
        )
        operation = f"record failure of notification {notification_id}"
        with self._db.transaction(operation, write=True) as session:
            row = session.scalars(statement).first()
            if row is None:
                return
            row.tries += 1
            row.last_error = error
            row.last_tried_at = now

    def delete_notification(self, notification_id: str) -> None:
        """Remove a delivered or dropped notification; a missing one is ignored."""
        statement = delete(NotificationRow).where(
            NotificationRow.notification_id == notification_id
        )
        with self._db.transaction(f"delete notification {notification_id}", write=True) as session:
            session.execute(statement)


def _require_subscription(session: Session, account: str, identifier: str) -> SubscriptionRow:
    row = session.get(SubscriptionRow, (account, identifier))
    if row is None:
        raise NotFoundError(f"subscription {identifier} not found; list subscriptions to find its id")
    return row


def _subscription_record(row: SubscriptionRow) -> SubscriptionRecord:
    return SubscriptionRecord(
        subscription_id=row.subscription_id,
        subscription_key=row.subscription_key,
        subscription_type=row.subscription_type,
        subscription_value=row.subscription_value,
        active=row.active,
        created_at=row.created_at,
        last_updated=row.last_updated,
        watch_state=dict(row.watch_state) if row.watch_state is not None else None,
    )


def _notification_record(row: NotificationRow) -> NotificationRecord:
    return NotificationRecord(
        notification_id=row.notification_id,
        notification_type=row.notification_type,
        subscription_key=row.subscription_key,
        payload=dict(row.payload),
        tries=row.tries,
        last_error=row.last_error,
        created_at=row.created_at,
        last_tried_at=row.last_tried_at,
    )
