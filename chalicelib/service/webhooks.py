"""Delivery of queued watch-mode notifications to the `WEBHOOK_URL` endpoint.

Each notification is POSTed as JSON in Anchore Engine's webhook body shape, only while its
subscription is active. A notification stays in the store until delivered, so a crash loses
none. A failed one is tried again at the next run, until it is older than
`NOTIFICATION_MAX_AGE`, when it is dropped with a warning.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable
from typing import Any

import requests

from chalicelib.service.context import Services
from chalicelib.store import StoreError
from chalicelib.store.base import DEFAULT_ACCOUNT
from chalicelib.store.subscriptions import NotificationRecord

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = (2.0, 5.0)
"""Connect and read timeouts in seconds of one POST."""
RETRY_DELAYS = (0.5, 1.0)
"""Seconds to wait before the second and third POST of a notification within one run."""
RUN_BUDGET_SECONDS = 60.0
"""Time after which a run starts no new delivery; the rest waits for the next run."""
NOTIFICATION_MAX_AGE = datetime.timedelta(hours=24)
"""Age after which an undelivered notification is dropped."""


@dataclasses.dataclass
class DeliveryResult:
    """Counts of one delivery run."""

    delivered: int = 0
    failed: int = 0
    """Notifications whose POST failed in this run; they stay queued."""
    dropped: int = 0
    """Notifications removed undelivered: subscription inactive or gone, or too old."""
    deferred: int = 0
    """Notifications left for the next run: their endpoint failed earlier in this run, the run
    ran out of time, or `WEBHOOK_URL` is empty."""


def webhook_url(template: str, notification_type: str) -> str:
    """Fill Anchore's `<userId>` and `<notification_type>` placeholders of a webhook URL."""
    return template.replace("<userId>", DEFAULT_ACCOUNT).replace(
        "<notification_type>", notification_type
    )


def webhook_body(notification: NotificationRecord, now: datetime.datetime) -> dict[str, Any]:
    """Build the POST body of a notification in Anchore Engine's shape."""
    created = int(notification.created_at.timestamp())
    return {
        "queueId": notification.notification_type,
        "userId": DEFAULT_ACCOUNT,
        "dataId": notification.notification_id,
        "created_at": created,
        "last_updated": int(now.timestamp()),
        "record_state_key": "active",
        "record_state_val": None,
        "tries": notification.tries,
        "max_tries": int((notification.created_at + NOTIFICATION_MAX_AGE).timestamp()),
        "data": {
            "notification_user": DEFAULT_ACCOUNT,
            "notification_user_email": None,
            "notification_type": notification.notification_type,
            "notification_payload": notification.payload,
        },
    }


def deliver_notifications(
    services: Services, *, sleep: Callable[[float], None] = time.sleep
) -> DeliveryResult:
    """POST the pending notifications, oldest first, and remove the delivered ones.

    After a POST to an endpoint fails, the notifications for the same URL wait for the next
    run, so one unreachable endpoint costs one notification's retries per run and the
    notifications for other URLs still go out.
    """
    settings = services.settings
    store = services.store
    result = DeliveryResult()
    try:
        pending = store.list_notifications()
    except StoreError as exc:
        logger.error("reading pending notifications failed: error=%s", exc)
        return result
    if not pending:
        return result

    auth = (settings.webhook_user, settings.webhook_password) if settings.webhook_user else None
    failed_urls: set[str] = set()
    deadline = time.monotonic() + RUN_BUDGET_SECONDS
    with requests.Session() as session:
        for notification in pending:
            now = datetime.datetime.now(datetime.UTC)
            reason = _drop_reason(services, notification, now)
            if reason is not None:
                logger.warning(
                    "notification dropped: type=%s key=%s id=%s reason=%s",
                    notification.notification_type,
                    notification.subscription_key,
                    notification.notification_id,
                    reason,
                )
                store.delete_notification(notification.notification_id)
                result.dropped += 1
                continue
            url = webhook_url(settings.webhook_url, notification.notification_type)
            if not settings.webhook_url or url in failed_urls or time.monotonic() > deadline:
                result.deferred += 1
                continue
            error = _post(session, url, webhook_body(notification, now), auth, sleep)
            if error is None:
                store.delete_notification(notification.notification_id)
                result.delivered += 1
                logger.info(
                    "notification delivered: type=%s key=%s id=%s",
                    notification.notification_type,
                    notification.subscription_key,
                    notification.notification_id,
                )
                continue
            failed_urls.add(url)
            result.failed += 1
            store.record_notification_failure(notification.notification_id, error)
            logger.warning(
                "notification delivery failed, kept for the next run: type=%s id=%s tries=%d "
                "error=%s",
                notification.notification_type,
                notification.notification_id,
                notification.tries + 1,
                error,
            )
    return result


def _drop_reason(
    services: Services, notification: NotificationRecord, now: datetime.datetime
) -> str | None:
    if now - notification.created_at > NOTIFICATION_MAX_AGE:
        return f"undelivered for more than {NOTIFICATION_MAX_AGE}"
    subscription = services.store.find_subscription(
        notification.subscription_key, notification.notification_type
    )
    if subscription is None:
        return "subscription deleted"
    if not subscription.active:
        return "subscription inactive"
    return None


def _post(
    session: requests.Session,
    url: str,
    body: dict[str, Any],
    auth: tuple[str, str] | None,
    sleep: Callable[[float], None],
) -> str | None:
    """POST `body`, trying again after a connection error, a 429 or a 5xx; return the error."""
    error = None
    for attempt in range(len(RETRY_DELAYS) + 1):
        if attempt:
            sleep(RETRY_DELAYS[attempt - 1])
        try:
            response = session.post(url, json=body, auth=auth, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            error = f"POST {url} failed: {exc}"
            continue
        if response.ok:
            return None
        error = f"POST {url} returned HTTP {response.status_code}"
        if response.status_code != 429 and response.status_code < 500:
            return error
    return error
