"""Use cases of subscriptions and watched repositories, with Anchore Engine's rules.

A subscription is identified by its key and type. Tag subscriptions (`tag_update`,
`analysis_update`, `policy_eval`, `vuln_update`) have a full tag `registry/repository:tag` as
key; `repo_update` has `registry/repository`. Adding an image creates the four tag
subscriptions of its tag, so users only switch `active` on and off.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

from chalicelib.registry import (
    ImageReference,
    InvalidReferenceError,
    ManifestNotFoundError,
    RegistryError,
    parse_reference,
)
from chalicelib.service.context import Services
from chalicelib.service.errors import (
    ConflictError,
    InvalidRequestError,
    ResourceNotFoundError,
    UpstreamError,
)
from chalicelib.service.registries import registry_client
from chalicelib.store import ImageRecord
from chalicelib.store import ConflictError as StoreConflictError
from chalicelib.store import NotFoundError as StoreNotFoundError
from chalicelib.store.base import DEFAULT_ACCOUNT
from chalicelib.store.subscriptions import SubscriptionRecord, subscription_id

logger = logging.getLogger(__name__)

TAG_UPDATE = "tag_update"
ANALYSIS_UPDATE = "analysis_update"
POLICY_EVAL = "policy_eval"
VULN_UPDATE = "vuln_update"
REPO_UPDATE = "repo_update"

TAG_SUBSCRIPTION_TYPES = (TAG_UPDATE, ANALYSIS_UPDATE, POLICY_EVAL, VULN_UPDATE)
"""Types keyed by a full tag, created for every tag an image is added with."""
SUBSCRIPTION_TYPES = (*TAG_SUBSCRIPTION_TYPES, REPO_UPDATE)

DEFAULT_LOOKUP_TAG = "latest"


def require_type(subscription_type: str) -> None:
    """Raise `InvalidRequestError` when `subscription_type` is not one of Anchore's five."""
    if subscription_type not in SUBSCRIPTION_TYPES:
        raise InvalidRequestError(
            f"subscription_type {subscription_type!r} is not supported; use one of "
            + ", ".join(SUBSCRIPTION_TYPES)
        )


def normalize_key(key: str, subscription_type: str) -> str:
    """Return the key as stored: a normalized full tag, or `registry/repository`.

    A key that is not an image reference is returned unchanged, as Anchore stores keys as given.
    """
    try:
        reference = parse_reference(key)
    except InvalidReferenceError:
        return key
    if subscription_type == REPO_UPDATE:
        return reference.name
    return reference.fulltag or key


def list_subscriptions(
    services: Services, key: str | None = None, subscription_type: str | None = None
) -> list[SubscriptionRecord]:
    """Return the subscriptions that match the given key and type."""
    if subscription_type is not None:
        require_type(subscription_type)
        if key is not None:
            key = normalize_key(key, subscription_type)
    records = services.store.list_subscriptions(key=key, subscription_type=subscription_type)
    if key is not None and subscription_type is None and not records:
        # Without a type the key form is unknown; try the normalized tag and repository forms.
        for kind in (TAG_UPDATE, REPO_UPDATE):
            normalized = normalize_key(key, kind)
            if normalized != key:
                records += services.store.list_subscriptions(key=normalized)
    return records


def get_subscription(services: Services, identifier: str) -> SubscriptionRecord:
    """Return one subscription, raising `ResourceNotFoundError`."""
    record = services.store.get_subscription(identifier)
    if record is None:
        raise ResourceNotFoundError(
            f"subscription {identifier} not found; list subscriptions with GET /subscriptions"
        )
    return record


def create_subscription(services: Services, body: Any) -> SubscriptionRecord:
    """Create a subscription from a `SubscriptionRequest` body.

    Raises `InvalidRequestError` for a missing key or an unknown type and `ConflictError` when
    the key already has a subscription of that type.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "the request body must be a JSON object with subscription_key and subscription_type"
        )
    key = body.get("subscription_key")
    subscription_type = body.get("subscription_type")
    if not isinstance(key, str) or not key:
        raise InvalidRequestError("subscription_key is missing or not a non-empty string")
    if not isinstance(subscription_type, str):
        raise InvalidRequestError("subscription_type is missing or not a string")
    require_type(subscription_type)
    value = _value_text(body.get("subscription_value"))
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise InvalidRequestError(f"active {active!r} is not a boolean; use true or false")
    try:
        return services.store.add_subscription(
            normalize_key(key, subscription_type), subscription_type, active=active, value=value
        )
    except StoreConflictError as exc:
        raise ConflictError(str(exc)) from exc


def update_subscription(services: Services, identifier: str, body: Any) -> SubscriptionRecord:
    """Apply a `SubscriptionUpdate` body (`active`, `subscription_value`) to a subscription."""
    if not isinstance(body, dict):
        raise InvalidRequestError(
            "the request body must be a JSON object with active or subscription_value"
        )
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise InvalidRequestError(f"active {active!r} is not a boolean; use true or false")
    value = _value_text(body.get("subscription_value"))
    try:
        record = services.store.update_subscription(identifier, active=active, value=value)
    except StoreNotFoundError as exc:
        raise ResourceNotFoundError(str(exc)) from exc
    logger.info(
        "subscription updated: type=%s key=%s active=%s",
        record.subscription_type,
        record.subscription_key,
        record.active,
    )
    return record


def delete_subscription(services: Services, identifier: str) -> None:
    """Delete a subscription, raising `ResourceNotFoundError` when it does not exist."""
    try:
        services.store.delete_subscription(identifier)
    except StoreNotFoundError as exc:
        raise ResourceNotFoundError(str(exc)) from exc


def _value_text(value: object) -> str | None:
    """Return a subscription value as stored text; Anchore stores values as strings."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    raise InvalidRequestError(
        f"subscription_value {value!r} is not a string; send text or a JSON-encoded string"
    )


def analysis_state(image: ImageRecord) -> dict[str, Any]:
    """Return what the `analysis_update` watcher compares: digest, status and analysis time."""
    return {
        "digest": image.digest,
        "analysis_status": str(image.analysis_status),
        "analyzed_at": image.analyzed_at.isoformat() if image.analyzed_at else None,
        "annotations": dict(image.annotations),
    }


def ensure_tag_subscriptions(
    services: Services,
    fulltag: str,
    image: ImageRecord,
    *,
    autosubscribe: bool,
    reactivate: bool = True,
) -> None:
    """Create the four tag subscriptions of `fulltag` that do not exist yet.

    New ones start as Anchore starts them: `analysis_update` active, `tag_update` active only
    with `autosubscribe`, `policy_eval` and `vuln_update` inactive. With `reactivate`, as for a
    user's add, an existing `analysis_update` is switched on again, and so is `tag_update`
    with `autosubscribe`. Existing `policy_eval` and `vuln_update` keep their state.
    """
    store = services.store
    now = datetime.datetime.now(datetime.UTC).isoformat()
    initial = {
        TAG_UPDATE: (autosubscribe, None),
        ANALYSIS_UPDATE: (True, analysis_state(image)),
        POLICY_EVAL: (False, None),
        VULN_UPDATE: (False, {"since": now, "seen": []}),
    }
    for subscription_type, (active, state) in initial.items():
        existing = store.find_subscription(fulltag, subscription_type)
        if existing is None:
            try:
                store.add_subscription(
                    fulltag, subscription_type, active=active, watch_state=state
                )
            except StoreConflictError:
                logger.debug(
                    "subscription added concurrently: type=%s key=%s", subscription_type, fulltag
                )
            continue
        switch_on = subscription_type == ANALYSIS_UPDATE or (
            subscription_type == TAG_UPDATE and autosubscribe
        )
        if reactivate and switch_on and not existing.active:
            store.update_subscription(existing.subscription_id, active=True)


def repository_value(subscription: SubscriptionRecord) -> dict[str, Any]:
    """Return the parsed value of a `repo_update` subscription, with defaults filled in."""
    try:
        value = json.loads(subscription.subscription_value or "{}")
    except ValueError:
        value = {}
    if not isinstance(value, dict):
        value = {}
    return {
        "autosubscribe": bool(value.get("autosubscribe", False)),
        "lookuptag": value.get("lookuptag") or DEFAULT_LOOKUP_TAG,
        "tagcount": int(value.get("tagcount") or 0),
        "repotags": [tag for tag in value.get("repotags") or [] if isinstance(tag, str)],
    }


def parse_repository(text: str) -> ImageReference:
    """Parse `registry/repository`; a tag or digest in the text is ignored."""
    try:
        return parse_reference(text)
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc


def list_repository_tags(services: Services, reference: ImageReference) -> list[str]:
    """List the tags of a repository with the credentials stored for it."""
    try:
        with registry_client(services, reference) as client:
            return client.list_tags(reference)
    except ManifestNotFoundError as exc:
        raise ResourceNotFoundError(f"repository {reference.name} not found: {exc}") from exc
    except RegistryError as exc:
        raise UpstreamError(f"cannot list the tags of {reference.name}: {exc}") from exc


def add_repository(
    services: Services,
    repository: str,
    *,
    autosubscribe: bool,
    lookuptag: str | None = None,
    dryrun: bool = False,
) -> SubscriptionRecord:
    """Watch a repository: list its tags and create or update its `repo_update` subscription.

    The repository watcher adds an image for each listed tag that the value's `repotags` does
    not name yet, so the first run after this call adds every tag. This call records no tags,
    as Anchore's does not: `repotags` names the tags whose image the watcher has added, and
    the existing tags are what a user who watches a repository wants analyzed. A tag stored
    before is not duplicated by that run, and a new digest of it is reported as a moved tag.
    Adding a watched repository again keeps its `repotags`. With `dryrun` nothing is
    stored, and the returned record's `repotags` are the tags that would be watched.
    """
    reference = parse_repository(repository)
    tags = list_repository_tags(services, reference)
    key = reference.name
    existing = services.store.find_subscription(key, REPO_UPDATE)
    stored_tags = repository_value(existing)["repotags"] if existing else []
    value = {
        "autosubscribe": autosubscribe,
        "lookuptag": lookuptag or DEFAULT_LOOKUP_TAG,
        "tagcount": len(tags),
        "repotags": sorted(tags) if dryrun else stored_tags,
    }
    text = json.dumps(value)
    if dryrun:
        now = datetime.datetime.now(datetime.UTC)
        return SubscriptionRecord(
            subscription_id=subscription_id(DEFAULT_ACCOUNT, key, REPO_UPDATE),
            subscription_key=key,
            subscription_type=REPO_UPDATE,
            subscription_value=text,
            active=False,
            created_at=now,
            last_updated=now,
        )
    logger.info("repository watched: repository=%s tags=%d", key, len(tags))
    if existing is None:
        try:
            return services.store.add_subscription(key, REPO_UPDATE, active=True, value=text)
        except StoreConflictError:
            existing = services.store.find_subscription(key, REPO_UPDATE)
            if existing is None:
                raise
    return services.store.update_subscription(existing.subscription_id, active=True, value=text)
