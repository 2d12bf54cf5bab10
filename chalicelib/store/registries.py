"""Registry credentials of the account."""

from __future__ import annotations

import datetime
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.store.base import StorePart
from chalicelib.store.models import RegistryCredential
from chalicelib.store.records import ConflictError, NotFoundError, RegistryRecord

logger = logging.getLogger(__name__)


class RegistryStorePart(StorePart):
    """Store methods for registry credentials."""

    def add_registry(self, record: RegistryRecord) -> RegistryRecord:
        """Store credentials under `record.registry`.

        Raises `ConflictError` when that registry already has credentials.
        """
        now = self._now()
        with self._db.transaction(f"add registry {record.registry}", write=True) as session:
            if session.get(RegistryCredential, (self._account, record.registry)) is not None:
                raise ConflictError(
                    f"registry {record.registry} already has credentials; update or delete them"
                )
            row = RegistryCredential(account=self._account, created_at=now)
            _assign(row, record, now)
            session.add(row)
            session.flush()
            stored = _registry_record(row)
        logger.info("registry added: registry=%s user=%s", record.registry, record.registry_user)
        return stored

    def get_registry(self, registry: str) -> RegistryRecord | None:
        """Return the credentials stored under `registry`, or None."""
        with self._db.transaction(f"get registry {registry}", write=False) as session:
            row = session.get(RegistryCredential, (self._account, registry))
            return _registry_record(row) if row is not None else None

    def list_registries(self) -> list[RegistryRecord]:
        """Return every stored registry credential of the account, ordered by registry."""
        statement = (
            select(RegistryCredential)
            .where(RegistryCredential.account == self._account)
            .order_by(RegistryCredential.pattern)
        )
        with self._db.transaction("list registries", write=False) as session:
            return [_registry_record(row) for row in session.scalars(statement)]

    def update_registry(self, registry: str, record: RegistryRecord) -> RegistryRecord:
        """Replace the credentials stored under `registry`.

        Raises `NotFoundError` when none are stored and ValueError when `record.registry`
        names another registry.
        """
        if record.registry != registry:
            raise ValueError(
                f"registry {record.registry!r} in the request differs from {registry!r} in the "
                "path; delete the credentials and add them under the new registry"
            )
        now = self._now()
        with self._db.transaction(f"update registry {registry}", write=True) as session:
            row = _require_registry(session, self._account, registry)
            _assign(row, record, now)
            session.flush()
            stored = _registry_record(row)
        logger.info("registry updated: registry=%s user=%s", registry, record.registry_user)
        return stored

    def delete_registry(self, registry: str) -> None:
        """Delete the credentials stored under `registry`; raise `NotFoundError` if none are."""
        with self._db.transaction(f"delete registry {registry}", write=True) as session:
            session.delete(_require_registry(session, self._account, registry))
        logger.info("registry deleted: registry=%s", registry)


def _require_registry(session: Session, account: str, registry: str) -> RegistryCredential:
    row = session.get(RegistryCredential, (account, registry))
    if row is None:
        raise NotFoundError(f"registry {registry} has no stored credentials; add them first")
    return row


def _assign(row: RegistryCredential, record: RegistryRecord, now: datetime.datetime) -> None:
    row.pattern = record.registry
    row.registry_name = record.registry_name
    row.registry_type = record.registry_type
    row.registry_user = record.registry_user
    row.registry_pass = record.registry_pass
    row.registry_verify = record.registry_verify
    row.last_updated = now


def _registry_record(row: RegistryCredential) -> RegistryRecord:
    return RegistryRecord(
        registry=row.pattern,
        registry_name=row.registry_name,
        registry_type=row.registry_type,
        registry_user=row.registry_user,
        registry_pass=row.registry_pass,
        registry_verify=row.registry_verify,
        created_at=row.created_at,
        last_updated=row.last_updated,
    )
