"""Watch mode: the watchers of subscriptions and the notifications they queue.

Each watcher reads the subscriptions of one type, compares what it finds now with what the
subscription's `watch_state` recorded last, and queues a notification for each change of an
active subscription. `run_watchers` runs them all and then delivers the queued notifications
(see `chalicelib.service.webhooks`). A failure on one subscription is logged, recorded as an
event when a registry caused it, and never stops the others.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from chalicelib.registry import RegistryError, parse_reference
from chalicelib.service.context import Services
from chalicelib.service.errors import ServiceError
from chalicelib.service.images import AddImageRequest, add_image
from chalicelib.service.policies import check_image
from chalicelib.service.registries import registry_client
from chalicelib.service.subscriptions import (
    ANALYSIS_UPDATE,
    POLICY_EVAL,
    REPO_UPDATE,
    TAG_UPDATE,
    VULN_UPDATE,
    analysis_state,
    ensure_tag_subscriptions,
    list_repository_tags,
    repository_value,
)
from chalicelib.service.vulnerabilities import EVENT_VULN_UPDATE
from chalicelib.service.webhooks import DeliveryResult, deliver_notifications
from chalicelib.store import EventRecord, ImageRecord, StoreError
from chalicelib.store.base import DEFAULT_ACCOUNT
from chalicelib.store.subscriptions import SubscriptionRecord

logger = logging.getLogger(__name__)

EVENT_REGISTRY_LOOKUP_FAILED = "system.image_analysis.registry_lookup_failed"
EVENT_LIST_TAGS_FAILED = "system.repository.list_tags_fail"
EVENT_LIMIT = 1000
"""Events read per `vuln_update` subscription and run; later ones wait for the next run."""


@dataclasses.dataclass
class WatchResult:
    """Counts and errors of one run of the watchers."""

    images_added: list[str] = dataclasses.field(default_factory=list)
    """Digests added because a watched tag moved or a watched repository got a tag."""
    notifications_queued: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    """One message per subscription that failed in this run."""
    delivery: DeliveryResult = dataclasses.field(default_factory=DeliveryResult)


def run_watchers(services: Services) -> WatchResult:
    """Run every watcher once, in dependency order, then deliver pending notifications.

    Repositories come first, because they add tags that the tag watchers then see.
    """
    started = time.monotonic()
    result = WatchResult()
    watchers: list[tuple[str, Callable[[Services, SubscriptionRecord, WatchResult], None]]] = [
        (REPO_UPDATE, watch_repository),
        (TAG_UPDATE, watch_tag),
        (ANALYSIS_UPDATE, watch_analysis),
        (VULN_UPDATE, watch_vulnerabilities),
        (POLICY_EVAL, watch_policy),
    ]
    for subscription_type, watcher in watchers:
        # The analysis and vulnerability watchers read inactive subscriptions too and only move
        # their state forward, so switching one on does not report what happened while it was off.
        only_active = subscription_type in (REPO_UPDATE, TAG_UPDATE, POLICY_EVAL)
        try:
            subscriptions = services.store.list_subscriptions(
                subscription_type=subscription_type, active=True if only_active else None
            )
        except StoreError as exc:
            _fail(result, f"listing {subscription_type} subscriptions failed: {exc}")
            continue
        for subscription in subscriptions:
            try:
                watcher(services, subscription, result)
            except (RegistryError, ServiceError, StoreError) as exc:
                _fail(
                    result,
                    f"{subscription_type} watcher failed on {subscription.subscription_key}: {exc}",
                )
            except Exception as exc:  # noqa: BLE001 - one subscription must not stop the others
                logger.exception(
                    "watcher crashed: type=%s key=%s",
                    subscription_type,
                    subscription.subscription_key,
                )
                result.errors.append(
                    f"{subscription_type} watcher crashed on {subscription.subscription_key}: "
                    f"{exc!r}"
                )
    result.delivery = deliver_notifications(services)
    logger.info(
        "watchers done: images_added=%d notifications_queued=%d delivered=%d errors=%d "
        "seconds=%.1f",
        len(result.images_added),
        result.notifications_queued,
        result.delivery.delivered,
        len(result.errors),
        time.monotonic() - started,
    )
    return result


def _fail(result: WatchResult, message: str) -> None:
    logger.warning("%s", message)
    result.errors.append(message)


def watch_tag(services: Services, subscription: SubscriptionRecord, result: WatchResult) -> None:
    """Add the image a watched tag points at now when it differs from the digest seen last.

    The new image carries the previous image's annotations forward, its analysis is queued,
    and a `tag_update` notification lists the previous digests and the new one.
    """
    fulltag = subscription.subscription_key
    try:
        reference = parse_reference(fulltag)
        with registry_client(services, reference) as client:
            resolved = client.resolve(reference)
    except RegistryError as exc:
        _record_registry_failure(services, EVENT_REGISTRY_LOOKUP_FAILED, "tag", fulltag, exc)
        raise

    before = _SeenTag.read(services, fulltag, subscription)
    if before.digest == resolved.manifest_digest:
        return
    record = add_image(
        services,
        AddImageRequest(
            pullstring=f"{reference.name}@{resolved.manifest_digest}",
            tag=fulltag,
            annotations=before.annotations,
            reactivate_subscriptions=False,
        ),
    )
    result.images_added.append(record.digest)
    _tag_moved(services, fulltag, before, record, result)


@dataclasses.dataclass
class _SeenTag:
    """The state of a tag before a watcher adds the image that the tag points at now."""

    images: list[ImageRecord]
    subscription: SubscriptionRecord | None
    """The tag's `tag_update` subscription, which records the digest seen last."""
    digest: str | None
    """The digest seen last: the subscription's, else the store's newest for the tag."""
    annotations: dict[str, str]
    """The annotations of the tag's newest stored image, carried to a new digest."""

    @classmethod
    def read(
        cls, services: Services, fulltag: str, subscription: SubscriptionRecord | None = None
    ) -> _SeenTag:
        """Read the tag's images and `tag_update` subscription from the store."""
        if subscription is None:
            subscription = services.store.find_subscription(fulltag, TAG_UPDATE)
        images = services.store.list_images(fulltag=fulltag)
        latest = newest_image(images, fulltag)
        # The digest the tag watcher saw last wins over the store's newest one. A tag moved
        # back to an older digest keeps that digest's old tag row, so the store would keep
        # naming the other digest as newest and every run would report the move again.
        state = (subscription.watch_state if subscription is not None else None) or {}
        digest = state.get("digest") or (latest.digest if latest is not None else None)
        annotations = dict(latest.annotations) if latest is not None else {}
        return cls(images, subscription, digest, annotations)


def _tag_moved(
    services: Services, fulltag: str, before: _SeenTag, record: ImageRecord, result: WatchResult
) -> None:
    """Record that `fulltag` now points at `record` and queue its one `tag_update`.

    Both the tag watcher and the repository watcher come here after adding a new digest of a
    known tag, so the first to find the move notifies and the other finds nothing new.
    The notification is queued only while the tag's `tag_update` subscription is active.
    """
    subscription = before.subscription
    if subscription is not None:
        services.store.update_subscription(
            subscription.subscription_id, watch_state={"digest": record.digest}
        )
    logger.info(
        "watched tag moved: tag=%s previous=%s current=%s", fulltag, before.digest, record.digest
    )
    if subscription is None or not subscription.active:
        return
    queue_notification(
        services,
        TAG_UPDATE,
        fulltag,
        {
            "last_eval": [image.digest for image in _tag_history(before.images, fulltag)],
            "curr_eval": [record.digest],
            "annotations": before.annotations,
        },
        result,
    )


def watch_repository(
    services: Services, subscription: SubscriptionRecord, result: WatchResult
) -> None:
    """Add an image for each tag of a watched repository that is new since the last run.

    A tag whose image cannot be added stays out of `repotags`, so the next run tries again.
    Tags already in `repotags` are left to their `tag_update` subscriptions. A new tag that
    the store has at another digest is handled as a moved tag (see `_tag_moved`).
    """
    key = subscription.subscription_key
    value = repository_value(subscription)
    reference = parse_reference(key)
    try:
        tags = list_repository_tags(services, reference)
    except ServiceError as exc:
        _record_registry_failure(services, EVENT_LIST_TAGS_FAILED, "repository", key, exc)
        raise

    known = set(value["repotags"])
    watched = [tag for tag in tags if tag in known]
    for tag in tags:
        if tag in known:
            continue
        fulltag = f"{reference.name}:{tag}"
        before = _SeenTag.read(services, fulltag)
        try:
            record = add_image(
                services,
                AddImageRequest(
                    pullstring=fulltag,
                    annotations=before.annotations,
                    autosubscribe=value["autosubscribe"],
                    reactivate_subscriptions=False,
                ),
            )
        except ServiceError as exc:
            _record_registry_failure(services, EVENT_REGISTRY_LOOKUP_FAILED, "tag", fulltag, exc)
            _fail(result, f"repo_update watcher could not add {fulltag}: {exc}")
            continue
        watched.append(tag)
        result.images_added.append(record.digest)
        logger.info("watched repository got a tag: repository=%s tag=%s", key, tag)
        # A tag new to the repository's list may be stored already, because a user added it
        # or it left the registry and came back. A different digest now is a move.
        if before.digest is not None and before.digest != record.digest:
            _tag_moved(services, fulltag, before, record, result)

    value.update(tagcount=len(tags), repotags=sorted(watched))
    if value != repository_value(subscription):
        services.store.update_subscription(subscription.subscription_id, value=json.dumps(value))


def watch_analysis(
    services: Services, subscription: SubscriptionRecord, result: WatchResult
) -> None:
    """Notify when the analysis of the tag's newest image ends, with success or failure."""
    fulltag = subscription.subscription_key
    image = newest_image(services.store.list_images(fulltag=fulltag), fulltag)
    if image is None:
        return
    current = analysis_state(image)
    previous = subscription.watch_state
    if previous == current:
        return
    services.store.update_subscription(subscription.subscription_id, watch_state=current)
    finished = current["analysis_status"] in ("analyzed", "analysis_failed")
    if previous is None or not finished or not subscription.active:
        return
    queue_notification(
        services,
        ANALYSIS_UPDATE,
        fulltag,
        {
            "last_eval": _analysis_eval(previous),
            "curr_eval": _analysis_eval(current),
            "annotations": current["annotations"],
        },
        result,
    )


def _analysis_eval(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "imageDigest": state.get("digest"),
        "analysis_status": state.get("analysis_status"),
        "annotations": state.get("annotations") or {},
    }


def watch_vulnerabilities(
    services: Services, subscription: SubscriptionRecord, result: WatchResult
) -> None:
    """Notify about the vulnerability updates recorded for the tag's newest image.

    Feed syncs record each change of an image's matches as a
    `user.checks.tag.vulnerabilities.update` event per tag. This watcher reads the events
    stored since its last run; an inactive subscription only moves its position forward.
    """
    fulltag = subscription.subscription_key
    state = subscription.watch_state or {}
    now = datetime.datetime.now(datetime.UTC)
    if "since" not in state:
        services.store.update_subscription(
            subscription.subscription_id, watch_state={"since": now.isoformat(), "seen": []}
        )
        return
    since = datetime.datetime.fromisoformat(state["since"])
    seen = set(state.get("seen") or [])
    events = services.store.list_events(
        event_type=EVENT_VULN_UPDATE, resource_id=fulltag, since=since, limit=EVENT_LIMIT
    )
    events = [event for event in reversed(events) if event.generated_uuid not in seen]
    if not events:
        return
    image = newest_image(services.store.list_images(fulltag=fulltag), fulltag)
    for event in events:
        if not subscription.active or image is None:
            continue
        if event.details.get("imageDigest") != image.digest:
            continue
        queue_notification(
            services,
            VULN_UPDATE,
            fulltag,
            {
                "diff_vulnerability_result": event.details.get("diff_vulnerability_result", {}),
                "imageDigest": image.digest,
                "annotations": event.details.get("annotations") or dict(image.annotations),
            },
            result,
        )
    newest = max(event.created_at for event in events)
    at_newest = [event.generated_uuid for event in events if event.created_at == newest]
    if newest == since:
        at_newest += sorted(seen)
    services.store.update_subscription(
        subscription.subscription_id,
        watch_state={"since": newest.isoformat(), "seen": at_newest},
    )


def watch_policy(services: Services, subscription: SubscriptionRecord, result: WatchResult) -> None:
    """Evaluate the tag's newest analyzed image; notify when the final action changes.

    The first evaluation after the subscription is switched on is notified too, with an empty
    `last_eval`. The extra digests that Anchore reads from the value (`{"digests": [...]}`)
    are not evaluated. Evaluations are stored as the check API stores them, and an unchanged image,
    bundle and feed state reuses the stored one.
    """
    fulltag = subscription.subscription_key
    images = services.store.list_images(fulltag=fulltag, analysis_status="analyzed")
    image = newest_image(images, fulltag)
    if image is None:
        return
    _, evaluation = check_image(services, image.digest, fulltag)
    previous = subscription.watch_state or {}
    current = {
        "digest": image.digest,
        "final_action": evaluation.final_action,
        "eval_id": evaluation.eval_id,
    }
    if previous == current:
        return
    services.store.update_subscription(subscription.subscription_id, watch_state=current)
    if previous.get("final_action") == evaluation.final_action:
        return
    queue_notification(
        services,
        POLICY_EVAL,
        fulltag,
        {
            "last_eval": _stored_evaluation(services, previous, fulltag),
            "curr_eval": evaluation.result,
            "annotations": dict(image.annotations),
        },
        result,
    )


def _stored_evaluation(services: Services, state: dict[str, Any], fulltag: str) -> dict[str, Any]:
    digest, eval_id = state.get("digest"), state.get("eval_id")
    if not digest or not eval_id:
        return {}
    for record in services.store.list_evaluations(digest, fulltag):
        if record.eval_id == eval_id:
            return record.result
    return {}


def queue_notification(
    services: Services,
    notification_type: str,
    key: str,
    fields: dict[str, Any],
    result: WatchResult | None = None,
) -> str | None:
    """Store a notification in Anchore's `notification_payload` shape; return its id.

    Nothing is stored, and None returned, when `WEBHOOK_URL` is not set.
    """
    if not services.settings.webhook_url:
        logger.debug(
            "notification not queued, WEBHOOK_URL is empty: type=%s key=%s", notification_type, key
        )
        return None
    notification_id = uuid.uuid4().hex
    payload = {
        "userId": DEFAULT_ACCOUNT,
        "subscription_key": key,
        "subscription_type": notification_type,
        "notificationId": notification_id,
        **fields,
    }
    services.store.add_notification(notification_id, notification_type, key, payload)
    if result is not None:
        result.notifications_queued += 1
    logger.info(
        "notification queued: type=%s key=%s id=%s", notification_type, key, notification_id
    )
    return notification_id


def newest_image(images: list[ImageRecord], fulltag: str) -> ImageRecord | None:
    """Return the image whose row for `fulltag` was created last: the tag's current image."""
    # NOTE: after a tag moves back to an older digest, this still returns the digest it moved
    # away from, because the older digest's tag row keeps its first creation time.
    history = _tag_history(images, fulltag)
    return history[-1] if history else None


def _tag_history(images: list[ImageRecord], fulltag: str) -> list[ImageRecord]:
    dated = []
    for image in images:
        times = [tag.created_at for tag in image.tags if tag.fulltag == fulltag]
        if times:
            dated.append((max(times), image.digest, image))
    return [image for _, _, image in sorted(dated, key=lambda item: (item[0], item[1]))]


def _record_registry_failure(
    services: Services, event_type: str, resource_type: str, resource_id: str, error: Exception
) -> None:
    """Store an error event for a failed registry request; a store failure is only logged."""
    event = EventRecord(
        generated_uuid=uuid.uuid4().hex,
        event_type=event_type,
        level="error",
        message=f"Registry request of a watched {resource_type} failed",
        details={"error": str(error)},
        resource_type=resource_type,
        resource_id=resource_id,
        created_at=datetime.datetime.now(datetime.UTC),
    )
    try:
        services.store.add_event(event)
    except StoreError as exc:
        logger.error("event not stored: type=%s resource=%s error=%s", event_type, resource_id, exc)
