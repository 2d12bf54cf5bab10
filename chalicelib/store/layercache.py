"""Layer reader results stored by cache key, so the service reads a shared layer once."""

from __future__ import annotations

import logging

from sqlalchemy import select

from chalicelib.store.base import StorePart
from chalicelib.store.models import LayerCacheRow
from chalicelib.store.records import ConflictError

logger = logging.getLogger(__name__)


class LayerCacheStorePart(StorePart):
    """Store methods for the layer cache."""

    def get_cached_layer(self, cache_key: str) -> bytes | None:
        """Return the payload stored under `cache_key`, or None."""
        with self._db.transaction(f"read cached layer {cache_key}", write=False) as session:
            return session.scalar(
                select(LayerCacheRow.payload).where(
                    LayerCacheRow.account == self._account, LayerCacheRow.cache_key == cache_key
                )
            )

    def put_cached_layer(self, cache_key: str, layer_digest: str, payload: bytes) -> None:
        """Store `payload` under `cache_key`; a row that another worker stored first is kept.

        Both rows describe the same layer read, so the first one stays.
        """
        try:
            with self._db.transaction(f"cache layer {layer_digest}", write=True) as session:
                if session.get(LayerCacheRow, (self._account, cache_key)) is not None:
                    return
                session.add(
                    LayerCacheRow(
                        account=self._account,
                        cache_key=cache_key,
                        layer_digest=layer_digest,
                        payload=payload,
                        payload_size=len(payload),
                        created_at=self._now(),
                    )
                )
        except ConflictError:
            logger.debug("layer already cached layer=%s key=%s", layer_digest, cache_key)


class StoreLayerCache:
    """A `LayerCache` of the analysis over the store's `layer_cache` table.

    NOTE: rows are never deleted, so the table grows with every distinct layer analyzed;
    deleting rows whose `created_at` is old is safe because a missing row only costs a read.
    """

    def __init__(self, store: LayerCacheStorePart) -> None:
        """Read and write cached layers through `store`."""
        self.store = store

    def get(self, key: str) -> bytes | None:
        """Return the payload stored under `key`, or None."""
        return self.store.get_cached_layer(key)

    def put(self, key: str, layer_digest: str, payload: bytes) -> None:
        """Store `payload`, the encoded contents of the layer `layer_digest`, under `key`."""
        self.store.put_cached_layer(key, layer_digest, payload)
