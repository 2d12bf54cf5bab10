"""Tests of the SQS queue against moto's in-process AWS mock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.config import Settings
from chalicelib.queue import InProcessQueue, Message, QueueError, make_queue
from chalicelib.queue import sqs as sqs_module
from chalicelib.queue.sqs import SqsQueue, get_sqs_client, parse_message_body

REGION = "us-east-1"
WAIT_SECONDS = 30
"""Upper bound on waiting for a poller thread, so a bug fails the test instead of hanging it."""
REDELIVERY_POLLS = 10
"""Polls of up to one second each while waiting out a one-second visibility timeout."""


@pytest.fixture
def sqs_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Return an SQS client of moto's mock, with the cached client getter reset around it."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        get_sqs_client.cache_clear()
        yield boto3.client("sqs", region_name=REGION)
    get_sqs_client.cache_clear()


@pytest.fixture
def queue_url(sqs_client: Any) -> str:
    """Return the URL of a new queue whose messages become visible again after one second."""
    response = sqs_client.create_queue(
        QueueName="plimsoll-analysis", Attributes={"VisibilityTimeout": "1"}
    )
    url: str = response["QueueUrl"]
    return url


def _counts(sqs_client: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs_client.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def _client_error(operation: str) -> ClientError:
    return ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, operation)


def test_sqs_send_poll_deletes_message(sqs_client: Any, queue_url: str) -> None:
    queue = SqsQueue(queue_url)
    received: list[Message] = []
    queue.send({"type": "analyze", "digest": "sha256:aa", "tags": ["latest"]})

    handled = queue.poll(received.append, wait_seconds=0)

    assert handled == 1
    assert received == [{"type": "analyze", "digest": "sha256:aa", "tags": ["latest"]}]
    assert _counts(sqs_client, queue_url) == (0, 0)


def test_sqs_poll_empty_queue_returns_zero(queue_url: str) -> None:
    assert SqsQueue(queue_url).poll(lambda message: None, wait_seconds=0) == 0


def test_sqs_poll_receives_batch(queue_url: str) -> None:
    queue = SqsQueue(queue_url)
    for index in range(4):
        queue.send({"index": index})
    received: list[Message] = []

    handled = queue.poll(received.append, max_messages=10, wait_seconds=0)

    assert handled == 4
    assert sorted(message["index"] for message in received) == [0, 1, 2, 3]


def test_sqs_failed_handler_message_redelivered(
    sqs_client: Any, queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    queue = SqsQueue(queue_url)
    queue.send({"digest": "sha256:aa"})

    def fail(message: Message) -> None:
        raise RuntimeError("registry unreachable")

    with caplog.at_level(logging.ERROR, logger="chalicelib.queue.sqs"):
        assert queue.poll(fail, wait_seconds=0) == 0
    assert _counts(sqs_client, queue_url) == (0, 1)
    assert "receive_count=1" in caplog.records[0].getMessage()

    received: list[Message] = []
    for _ in range(REDELIVERY_POLLS):
        if queue.poll(received.append, wait_seconds=1):
            break

    assert received == [{"digest": "sha256:aa"}]
    assert _counts(sqs_client, queue_url) == (0, 0)


def test_sqs_invalid_body_left_in_queue(
    sqs_client: Any, queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sqs_client.send_message(QueueUrl=queue_url, MessageBody="not json")
    received: list[Message] = []

    with caplog.at_level(logging.ERROR, logger="chalicelib.queue.sqs"):
        handled = SqsQueue(queue_url).poll(received.append, wait_seconds=0)

    assert handled == 0
    assert received == []
    assert _counts(sqs_client, queue_url) == (0, 1)
    assert "left for redelivery" in caplog.records[0].getMessage()


def test_sqs_poll_with_stop_runs_until_set(queue_url: str) -> None:
    queue = SqsQueue(queue_url)
    stop = threading.Event()
    received: list[Message] = []
    all_received = threading.Event()

    def handle(message: Message) -> None:
        received.append(message)
        if len(received) == 3:
            all_received.set()

    results: list[int] = []
    poller = threading.Thread(
        target=lambda: results.append(queue.poll(handle, wait_seconds=1, stop=stop))
    )
    poller.start()
    for index in range(3):
        queue.send({"index": index})

    assert all_received.wait(WAIT_SECONDS)
    stop.set()
    poller.join(WAIT_SECONDS)
    assert not poller.is_alive()
    assert results == [3]


def test_sqs_poll_with_stop_retries_failed_receive(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sqs_module, "RETRY_MIN_SECONDS", 0.01)
    stop = threading.Event()
    received: list[Message] = []

    class FlakyClient:
        """Fails the first receive, then returns one message and stops the poller."""

        def __init__(self) -> None:
            self.receives = 0
            self.deleted: list[str] = []

        def receive_message(self, **kwargs: Any) -> dict[str, Any]:
            self.receives += 1
            if self.receives == 1:
                raise _client_error("ReceiveMessage")
            stop.set()
            return {"Messages": [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}"}]}

        def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> None:  # noqa: N803
            self.deleted.append(ReceiptHandle)

    client = FlakyClient()
    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/q", client=client)

    with caplog.at_level(logging.ERROR, logger="chalicelib.queue.sqs"):
        handled = queue.poll(received.append, wait_seconds=0, stop=stop)

    assert handled == 1
    assert client.receives == 2
    assert client.deleted == ["r1"]
    assert "receive failed, retrying" in caplog.records[0].getMessage()


def test_sqs_poll_without_stop_raises_receive_error() -> None:
    class DownClient:
        def receive_message(self, **kwargs: Any) -> dict[str, Any]:
            raise _client_error("ReceiveMessage")

    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/q", client=DownClient())

    with pytest.raises(QueueError, match=r"receiving from https://sqs\.us-east-1"):
        queue.poll(lambda message: None, wait_seconds=0)


def test_sqs_failed_delete_not_counted(caplog: pytest.LogCaptureFixture) -> None:
    class NoDeleteClient:
        def receive_message(self, **kwargs: Any) -> dict[str, Any]:
            return {"Messages": [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}"}]}

        def delete_message(self, **kwargs: Any) -> None:
            raise _client_error("DeleteMessage")

    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/q", client=NoDeleteClient())
    received: list[Message] = []

    with caplog.at_level(logging.WARNING, logger="chalicelib.queue.sqs"):
        handled = queue.poll(received.append, wait_seconds=0)

    assert handled == 0
    assert received == [{}]
    assert "deleting a handled message failed" in caplog.records[0].getMessage()


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"max_messages": 0}, "max_messages=0"),
        ({"max_messages": 11}, "max_messages=11"),
        ({"wait_seconds": -1}, "wait_seconds=-1"),
        ({"wait_seconds": 21}, "wait_seconds=21"),
    ],
)
def test_sqs_poll_invalid_limits_rejected(
    queue_url: str, arguments: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        SqsQueue(queue_url).poll(lambda message: None, **arguments)


def test_sqs_send_non_json_rejected(queue_url: str) -> None:
    with pytest.raises(QueueError, match="not JSON"):
        SqsQueue(queue_url).send({"digest": object()})


def test_sqs_send_missing_queue_raises(sqs_client: Any) -> None:
    queue = SqsQueue("https://sqs.us-east-1.amazonaws.com/123456789012/absent")

    with pytest.raises(QueueError, match=r"sending a message to .*/absent failed"):
        queue.send({"digest": "sha256:aa"})


def test_sqs_region_read_from_queue_url(sqs_client: Any) -> None:
    queue = SqsQueue("https://sqs.eu-west-1.amazonaws.com/123456789012/q")

    assert queue._client.meta.region_name == "eu-west-1"


def test_get_sqs_client_cached(sqs_client: Any) -> None:
    assert get_sqs_client(REGION, None) is get_sqs_client(REGION, None)
    assert get_sqs_client(REGION, None) is not get_sqs_client("eu-west-1", None)


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "{bad"])
def test_parse_message_body_rejects_non_object(body: str) -> None:
    with pytest.raises(QueueError, match="message body"):
        parse_message_body(body)


def test_make_queue_sqs_when_url_set(queue_url: str) -> None:
    settings = Settings(queue_url=queue_url, aws_endpoint_url="")

    queue = make_queue(settings, lambda message: None)

    assert isinstance(queue, SqsQueue)
    assert queue.queue_url == queue_url


def test_make_queue_passes_endpoint_url(sqs_client: Any) -> None:
    settings = Settings(
        queue_url="http://localhost:4566/000000000000/q", aws_endpoint_url="http://localhost:4566"
    )

    queue = make_queue(settings, lambda message: None)

    assert isinstance(queue, SqsQueue)
    assert queue._client.meta.endpoint_url == "http://localhost:4566"


def test_make_queue_inprocess_by_default() -> None:
    received: list[Message] = []

    queue = make_queue(Settings(queue_url=""), received.append)

    assert isinstance(queue, InProcessQueue)
    queue.send({"digest": "sha256:aa"})
    assert queue.join(WAIT_SECONDS) is True
    assert received == [{"digest": "sha256:aa"}]
    queue.close(WAIT_SECONDS)
