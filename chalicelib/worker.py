"""Entry point of the container-image worker function, and a local SQS polling worker.

As a Lambda function, `handler` receives SQS batches from an event source mapping. Run as
`python -m chalicelib.worker`, the module polls `QUEUE_URL` until interrupted, which is how the
local stack scales analysis out to separate processes.
"""

from __future__ import annotations

import json
import logging
import signal
import threading

from chalicelib.config import get_settings
from chalicelib.queue.sqs import SqsQueue
from chalicelib.service.context import get_services
from chalicelib.service.messages import handle_message

logger = logging.getLogger(__name__)


def handler(event: dict, context: object) -> dict:
    """Handle one SQS batch; failed messages are reported back for redelivery."""
    services = get_services()
    failures = []
    for record in event.get("Records", []):
        try:
            handle_message(services, json.loads(record["body"]))
        except Exception:  # noqa: BLE001 - report the message as failed, go on with the batch
            logger.exception("queue message failed: message_id=%s", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}


def main() -> None:
    """Poll the SQS queue of `QUEUE_URL` and handle messages until SIGINT or SIGTERM."""
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    logging.getLogger("chalicelib").setLevel(settings.log_level)
    if not settings.queue_url:
        raise SystemExit("QUEUE_URL is empty; set it to the SQS queue URL the worker polls")
    services = get_services()
    queue = SqsQueue(settings.queue_url, endpoint_url=settings.aws_endpoint_url or None)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    logger.info("worker polling: queue_url=%s", settings.queue_url)
    while not stop.is_set():
        queue.poll(lambda message: handle_message(services, message), stop=stop)


if __name__ == "__main__":
    main()
