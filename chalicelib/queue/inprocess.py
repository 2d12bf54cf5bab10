"""A queue served by worker threads of the same process, for the embedded mode."""

from __future__ import annotations

import json
import logging
import queue
import threading

from chalicelib.queue.interface import Handler, Message, QueueError

logger = logging.getLogger(__name__)

MAX_LOGGED_MESSAGE_CHARS = 500


class InProcessQueue:
    """Hands each message to `handler` on one of `workers` daemon threads.

    Messages are copied through JSON on `send`, so the handler receives what SQS would deliver
    and a message that SQS could not carry fails at once. A handler exception is logged with
    the message and the thread goes on with the next one; there is no redelivery.
    """

    def __init__(self, handler: Handler, *, workers: int = 1) -> None:
        """Start `workers` threads (at least 1) that call `handler` for each message."""
        if workers < 1:
            raise ValueError(f"workers={workers} is invalid; an in-process queue needs at least 1")
        self._handler = handler
        self._messages: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._closed = False
        self._pending = 0
        self._state = threading.Condition()
        self._threads = [
            threading.Thread(target=self._work, name=f"plimsoll-queue-{index}", daemon=True)
            for index in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def send(self, message: Message) -> None:
        """Queue a copy of `message`.

        Raises `QueueError` when the message is not a JSON object or the queue is closed.
        """
        try:
            copy = json.loads(json.dumps(message))
        except (TypeError, ValueError) as error:
            raise QueueError(
                f"message {_describe(message)} cannot be queued because it is not JSON: {error}"
            ) from error
        if not isinstance(copy, dict):
            raise QueueError(f"message {_describe(message)} is not a JSON object")
        with self._state:
            if self._closed:
                raise QueueError("the in-process queue is closed and accepts no more messages")
            self._pending += 1
            self._messages.put(copy)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every sent message has been handled; return False if `timeout` ran out."""
        with self._state:
            return self._state.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting messages, let the workers handle the queued ones, and wait for them.

        Waits up to `timeout` seconds per thread; a thread still running then stays behind as
        a daemon thread.
        """
        with self._state:
            if self._closed:
                return
            self._closed = True
            # One stop marker per worker, queued behind the messages already sent.
            for _ in self._threads:
                self._messages.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            message = self._messages.get()
            if message is None:
                return
            try:
                self._handler(message)
            except Exception:  # One bad message must not stop the worker.
                logger.exception("queue message failed: message=%s", _describe(message))
            finally:
                with self._state:
                    self._pending -= 1
                    self._state.notify_all()


def _describe(message: object) -> str:
    text = repr(message)
    if len(text) > MAX_LOGGED_MESSAGE_CHARS:
        return text[:MAX_LOGGED_MESSAGE_CHARS] + "...(truncated)"
    return text
