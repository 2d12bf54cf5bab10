"""The collaborators a use case needs, built once per process from the settings."""

from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable

from chalicelib.config import Settings, get_settings
from chalicelib.queue import make_queue
from chalicelib.queue.interface import Queue
from chalicelib.registry import RegistryClient
from chalicelib.store import Store

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Services:
    """Store, queue and registry client of one process.

    The queue's handler is the message dispatcher of `chalicelib.service.messages`, so an
    in-process queue analyzes images on a thread of the API process.
    """

    settings: Settings
    store: Store
    registry: RegistryClient
    queue: Queue | None = None
    feed_sync_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def enqueue(self, message: dict) -> None:
        """Send `message` to the analysis queue."""
        if self.queue is None:
            raise RuntimeError("the queue is not set up; build services with build_services()")
        self.queue.send(message)


def build_services(
    settings: Settings, *, handler: Callable[[Services, dict], None] | None = None
) -> Services:
    """Open the store (applying migrations), the registry client and the queue."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.effective_database_url)
    store.migrate()
    services = Services(settings=settings, store=store, registry=RegistryClient())
    if handler is None:
        from chalicelib.service.messages import handle_message

        handler = handle_message
    bound = functools.partial(handler, services)
    services.queue = make_queue(settings, bound)
    from chalicelib.service.policies import ensure_default_policy

    ensure_default_policy(services.store)
    logger.info(
        "services ready: database=%s queue=%s",
        settings.effective_database_url.split("@")[-1],
        settings.queue_url or "in-process",
    )
    return services


_lock = threading.Lock()
_services: Services | None = None


def get_services() -> Services:
    """Return the process-wide services, building them on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = build_services(get_settings())
        return _services


def set_services(services: Services | None) -> None:
    """Replace the process-wide services; tests use this to inject their own."""
    global _services
    with _lock:
        _services = services
