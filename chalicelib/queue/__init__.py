"""Work queue: the `Queue` protocol, an in-process queue and an SQS queue."""

from __future__ import annotations

from chalicelib.config import Settings
from chalicelib.queue.inprocess import InProcessQueue
from chalicelib.queue.interface import Handler, Message, Queue, QueueError

__all__ = ["Handler", "InProcessQueue", "Message", "Queue", "QueueError", "make_queue"]


def make_queue(settings: Settings, handler: Handler) -> Queue:
    """Return the queue that the settings select.

    With `QUEUE_URL` set this is an `SqsQueue`, and `handler` is not used because separate
    workers (the worker function or `python -m chalicelib.worker`) receive the messages.
    Otherwise it is an `InProcessQueue` whose thread calls `handler`.
    """
    if settings.queue_url:
        # Imported here so the embedded mode does not load boto3.
        from chalicelib.queue.sqs import SqsQueue

        return SqsQueue(settings.queue_url, endpoint_url=settings.aws_endpoint_url or None)
    return InProcessQueue(handler)
