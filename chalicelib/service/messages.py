"""Dispatch of queue messages to use cases, shared by every queue consumer."""

from __future__ import annotations

import logging

from chalicelib.service.context import Services
from chalicelib.service.images import ANALYZE_MESSAGE, analyze

logger = logging.getLogger(__name__)


def handle_message(services: Services, message: dict) -> None:
    """Run the use case a message names; unknown messages are logged and dropped."""
    kind = message.get("type")
    if kind == ANALYZE_MESSAGE:
        analyze(services, message["image_digest"], message["pullstring"])
        return
    logger.error("dropped queue message of unknown type: type=%r message=%r", kind, message)
