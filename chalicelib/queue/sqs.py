"""An Amazon SQS queue (or LocalStack, or moto) carrying JSON message bodies."""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.queue.interface import Handler, Message, QueueError

logger = logging.getLogger(__name__)

MAX_MESSAGES_PER_RECEIVE = 10
MAX_WAIT_SECONDS = 20
"""SQS limits of one ReceiveMessage call: 10 messages and a 20-second long poll."""

RETRY_MIN_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
"""Back-off bounds after a failed receive in a polling loop; the wait doubles per failure."""

_REGION_IN_URL = re.compile(r"^https?://sqs\.([a-z0-9-]+)\.")
"""Region in AWS queue URLs (`https://sqs.us-east-1.amazonaws.com/...`) and LocalStack's
(`http://sqs.us-east-1.localhost.localstack.cloud:4566/...`)."""


@functools.cache
def get_sqs_client(region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    """Return a cached boto3 SQS client; tests call `get_sqs_client.cache_clear()` to swap it.

    None for `region_name` or `endpoint_url` leaves the choice to boto3's configuration chain
    (`AWS_REGION`, `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`, config files).
    """
    return boto3.client("sqs", region_name=region_name, endpoint_url=endpoint_url)


def parse_message_body(body: str) -> Message:
    """Decode an SQS message body; raise `QueueError` unless it is a JSON object."""
    try:
        message = json.loads(body)
    except ValueError as error:
        raise QueueError(f"message body {body[:200]!r} is not JSON: {error}") from error
    if not isinstance(message, dict):
        raise QueueError(f"message body {body[:200]!r} is not a JSON object")
    return message


class SqsQueue:
    """Sends and receives JSON messages on one SQS queue."""

    def __init__(
        self, queue_url: str, *, endpoint_url: str | None = None, client: Any = None
    ) -> None:
        """Use the queue at `queue_url`.

        `endpoint_url` points the client at LocalStack or a moto server. `client` replaces the
        cached boto3 client; otherwise the region is read from the queue URL when it has one.
        Raises `QueueError` when no client can be made, usually for a missing region.
        """
        if not queue_url:
            raise ValueError("queue_url is empty; pass the SQS queue URL")
        self.queue_url = queue_url
        if client is None:
            region = _REGION_IN_URL.match(queue_url)
            try:
                client = get_sqs_client(region.group(1) if region else None, endpoint_url)
            except BotoCoreError as error:
                raise QueueError(
                    f"no SQS client for {queue_url}: {error}; set AWS_DEFAULT_REGION to the "
                    "queue's region"
                ) from error
        self._client = client

    def send(self, message: Message) -> None:
        """Send `message` as a JSON body; raise `QueueError` when SQS rejects it."""
        try:
            body = json.dumps(message)
        except (TypeError, ValueError) as error:
            raise QueueError(f"message for {self.queue_url} is not JSON: {error}") from error
        try:
            self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except (BotoCoreError, ClientError) as error:
            raise QueueError(f"sending a message to {self.queue_url} failed: {error}") from error

    def poll(
        self,
        handler: Handler,
        *,
        max_messages: int = 1,
        wait_seconds: int = 10,
        stop: threading.Event | None = None,
    ) -> int:
        """Receive messages and handle each; return how many were handled and deleted.

        A message is deleted after `handler` returns. When the handler raises, or the body is
        not a JSON object, the message is logged and left in the queue. SQS then delivers it
        again after its visibility timeout, until the queue's redrive policy (if any) moves it
        to a dead-letter queue.

        Without `stop` this makes one long-poll receive of up to `wait_seconds` and raises
        `QueueError` when receiving fails. With `stop` it keeps polling until the event is set,
        and a failed receive is logged and retried after a back-off that `stop` interrupts.
        """
        if not 1 <= max_messages <= MAX_MESSAGES_PER_RECEIVE:
            raise ValueError(f"max_messages={max_messages} is invalid; use 1 to 10")
        if not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError(f"wait_seconds={wait_seconds} is invalid; use 0 to 20")

        if stop is None:
            return self._receive_and_handle(handler, max_messages, wait_seconds)

        handled = 0
        retry_seconds = RETRY_MIN_SECONDS
        while not stop.is_set():
            try:
                handled += self._receive_and_handle(handler, max_messages, wait_seconds)
            except QueueError as error:
                logger.error("receive failed, retrying in %.0f s: %s", retry_seconds, error)
                stop.wait(retry_seconds)
                retry_seconds = min(retry_seconds * 2, RETRY_MAX_SECONDS)
                continue
            retry_seconds = RETRY_MIN_SECONDS
        return handled

    def _receive_and_handle(self, handler: Handler, max_messages: int, wait_seconds: int) -> int:
        try:
            response = self._client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            )
        except (BotoCoreError, ClientError) as error:
            raise QueueError(f"receiving from {self.queue_url} failed: {error}") from error

        handled = 0
        for received in response.get("Messages", []):
            if self._handle(handler, received):
                handled += 1
        return handled

    def _handle(self, handler: Handler, received: dict[str, Any]) -> bool:
        """Handle one received message and delete it; return whether both succeeded."""
        message_id = received.get("MessageId")
        receive_count = received.get("Attributes", {}).get("ApproximateReceiveCount")
        try:
            message = parse_message_body(received["Body"])
            handler(message)
        except Exception:  # The message stays queued for redelivery.
            logger.exception(
                "queue message failed, left for redelivery: queue=%s message_id=%s "
                "receive_count=%s",
                self.queue_url,
                message_id,
                receive_count,
            )
            return False

        try:
            self._client.delete_message(
                QueueUrl=self.queue_url, ReceiptHandle=received["ReceiptHandle"]
            )
        except (BotoCoreError, ClientError) as error:
            # The message will be delivered again. Handlers must tolerate that anyway, because
            # a standard SQS queue delivers each message at least once.
            logger.warning(
                "deleting a handled message failed: queue=%s message_id=%s error=%s",
                self.queue_url,
                message_id,
                error,
            )
            return False
        return True
