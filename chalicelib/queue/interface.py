"""The queue protocol that carries analysis messages, and its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Message = dict[str, Any]
"""A queue message: a JSON object."""

Handler = Callable[[Message], None]
"""Handles one message; raising leaves the message for redelivery where the queue supports it."""


class QueueError(Exception):
    """A message could not be sent, received or decoded; the message names the queue."""


class Queue(Protocol):
    """A destination for work that the service layer runs outside the request."""

    def send(self, message: Message) -> None:
        """Send `message`, a JSON object; raise `QueueError` when it cannot be sent."""
        ...
