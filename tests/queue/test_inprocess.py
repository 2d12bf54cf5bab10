"""Tests of the in-process queue and its worker threads."""

from __future__ import annotations

import logging
import threading

import pytest

from chalicelib.queue import InProcessQueue, Message, QueueError

WAIT_SECONDS = 30
"""Upper bound on waiting for worker threads, so a bug fails the test instead of hanging it."""


def test_inprocess_delivers_in_order() -> None:
    received: list[Message] = []
    queue = InProcessQueue(received.append)

    for index in range(5):
        queue.send({"type": "analyze", "index": index})

    assert queue.join(WAIT_SECONDS) is True
    assert [message["index"] for message in received] == [0, 1, 2, 3, 4]
    queue.close(WAIT_SECONDS)


def test_inprocess_survives_raising_handler(caplog: pytest.LogCaptureFixture) -> None:
    received: list[Message] = []

    def handle(message: Message) -> None:
        if message["digest"] == "sha256:bad":
            raise RuntimeError("registry unreachable")
        received.append(message)

    queue = InProcessQueue(handle)
    with caplog.at_level(logging.ERROR, logger="chalicelib.queue.inprocess"):
        queue.send({"digest": "sha256:bad"})
        queue.send({"digest": "sha256:good"})
        assert queue.join(WAIT_SECONDS) is True

    assert received == [{"digest": "sha256:good"}]
    [failure] = caplog.records
    assert "sha256:bad" in failure.getMessage()
    assert failure.exc_info is not None
    assert "registry unreachable" in str(failure.exc_info[1])
    queue.close(WAIT_SECONDS)


def test_inprocess_sends_json_copy() -> None:
    received: list[Message] = []
    queue = InProcessQueue(received.append)
    message: Message = {"tags": ("latest", "12"), "annotations": {"team": "web"}}

    queue.send(message)
    message["annotations"]["team"] = "changed after send"
    queue.join(WAIT_SECONDS)

    assert received == [{"tags": ["latest", "12"], "annotations": {"team": "web"}}]
    queue.close(WAIT_SECONDS)


def test_inprocess_rejects_non_json_message() -> None:
    queue = InProcessQueue(lambda message: None)

    with pytest.raises(QueueError, match="not JSON"):
        queue.send({"digest": object()})
    queue.close(WAIT_SECONDS)


def test_inprocess_join_times_out_while_busy() -> None:
    release = threading.Event()

    def wait_for_release(message: Message) -> None:
        release.wait(WAIT_SECONDS)

    queue = InProcessQueue(wait_for_release)
    queue.send({"type": "analyze"})

    finished_early = queue.join(timeout=0.05)
    release.set()

    assert finished_early is False
    assert queue.join(WAIT_SECONDS) is True
    queue.close(WAIT_SECONDS)


def test_inprocess_workers_run_in_parallel() -> None:
    workers = 3
    # Each handler waits until all three run at once, which one thread alone could not do.
    barrier = threading.Barrier(workers, timeout=WAIT_SECONDS)

    def meet_others(message: Message) -> None:
        barrier.wait()

    queue = InProcessQueue(meet_others, workers=workers)

    for index in range(workers):
        queue.send({"index": index})

    assert queue.join(WAIT_SECONDS) is True
    assert barrier.broken is False
    queue.close(WAIT_SECONDS)


def test_inprocess_close_handles_queued_messages() -> None:
    received: list[Message] = []
    queue = InProcessQueue(received.append)
    for index in range(3):
        queue.send({"index": index})

    queue.close(WAIT_SECONDS)

    assert len(received) == 3
    with pytest.raises(QueueError, match="closed"):
        queue.send({"index": 3})


def test_inprocess_close_twice_is_noop() -> None:
    queue = InProcessQueue(lambda message: None)

    queue.close(WAIT_SECONDS)
    queue.close(WAIT_SECONDS)


def test_inprocess_zero_workers_rejected() -> None:
    with pytest.raises(ValueError, match="workers=0"):
        InProcessQueue(lambda message: None, workers=0)
