"""Event handlers: analysis messages from SQS, the scheduled feed sync and watchers."""

from __future__ import annotations

import json
import logging
import os

from chalice import Blueprint, Rate
from chalice.app import SQSEvent

from chalicelib.service.context import get_services
from chalicelib.service.messages import handle_message
from chalicelib.service.vulnerabilities import sync_feeds
from chalicelib.service.watch import run_watchers

logger = logging.getLogger(__name__)

blueprint = Blueprint(__name__)

ANALYSIS_QUEUE_NAME = os.environ.get("ANALYSIS_QUEUE_NAME", "plimsoll-analysis")
"""Name of the SQS queue whose messages the handler consumes; Chalice needs it at import."""


@blueprint.on_sqs_message(queue=ANALYSIS_QUEUE_NAME, batch_size=1)
def handle_analysis_messages(event: SQSEvent) -> None:
    """Run each message of an SQS batch; an error fails the batch so SQS delivers it again."""
    services = get_services()
    for record in event:
        message = json.loads(record.body)
        logger.info("received queue message: type=%s", message.get("type"))
        handle_message(services, message)


@blueprint.schedule(Rate(6, unit=Rate.HOURS))
def scheduled_feed_sync(event: object) -> None:
    """Sync the vulnerability feeds of `FEED_SOURCES` and match stored images again.

    The sync stores its progress as `system.feeds.sync.*` events; an error that voids it is
    logged and raised, so the scheduler records a failed invocation.
    """
    if not get_services().settings.feed_sources:
        logger.info("scheduled feed sync skipped: FEED_SOURCES is empty")
        return
    result = sync_feeds(get_services())
    logger.info(
        "scheduled feed sync done: groups=%d errors=%d updated_images=%d seconds=%.1f",
        len(result.groups),
        len(result.errors),
        result.updated_images,
        result.seconds,
    )


@blueprint.schedule(Rate(10, unit=Rate.MINUTES))
def scheduled_watch(event: object) -> None:
    """Run the watchers of subscriptions and deliver their notifications.

    The rate is fixed when the app is deployed; `WATCH_INTERVAL_SECONDS=0` turns the runs into
    no-ops, and other values only set the local server's interval.
    """
    services = get_services()
    if services.settings.watch_interval_seconds == 0:
        logger.info("scheduled watch skipped: WATCH_INTERVAL_SECONDS is 0")
        return
    run_watchers(services)
