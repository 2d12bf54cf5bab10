"""The `Store` facade: one object for every table, over SQLite or PostgreSQL."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from chalicelib.store.base import DEFAULT_ACCOUNT, utc_now
from chalicelib.store.database import Database
from chalicelib.store.events import EventStorePart
from chalicelib.store.feeds import FeedStorePart
from chalicelib.store.images import ImageStorePart
from chalicelib.store.layercache import LayerCacheStorePart
from chalicelib.store.packages import PackageStorePart
from chalicelib.store.policies import PolicyStorePart
from chalicelib.store.rematch import RematchStorePart
from chalicelib.store.registries import RegistryStorePart
from chalicelib.store.subscriptions import SubscriptionStorePart


class Store(
    ImageStorePart,
    PackageStorePart,
    FeedStorePart,
    PolicyStorePart,
    EventStorePart,
    LayerCacheStorePart,
    RegistryStorePart,
    RematchStorePart,
    SubscriptionStorePart,
):
    """Persistence of images, analyses, vulnerability data, policies, evaluations, events,
    registry credentials, subscriptions and pending webhook notifications.

    Every public method runs in its own transaction and is safe to call from several threads.
    Database failures raise `StoreError` (or its `NotFoundError` and `ConflictError`
    subclasses) naming the operation; invalid arguments raise ValueError.
    """

    def __init__(self, url: str, *, clock: Callable[[], datetime.datetime] | None = None) -> None:
        """Open the store at `url` without connecting yet; call `migrate` before first use.

        `url` is `sqlite:///PATH` (the parent directory is created) or
        `postgresql+pg8000://USER:PASSWORD@HOST:PORT/DB`. `clock` returns the current time as
        an aware datetime; tests pass a fixed clock.
        """
        self._db = Database(url)
        self._account = DEFAULT_ACCOUNT
        self._clock = clock or utc_now

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision; safe at every start and concurrently."""
        self._db.migrate()

    def close(self) -> None:
        """Close the store's database connections."""
        self._db.close()
