"""Package lists of analyses, queries of images by package or vulnerability, and the
recorded changes of image matches after feed syncs."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from chalicelib.analysis.interface import Package
from chalicelib.store.base import StorePart, require_aware
from chalicelib.store.images import (
    _image_record,
    _package_rows,
    _replace_packages,
    _require_image,
)
from chalicelib.store.models import Image, ImageAnalysis, ImagePackage, VulnMatchRow, VulnUpdate
from chalicelib.store.records import (
    ImageRecord,
    ImageStatus,
    NotFoundError,
    PackageRow,
    VulnUpdateRecord,
)
from chalicelib.vulns.interface import VulnMatch

logger = logging.getLogger(__name__)

IMAGE_LOAD_BATCH_SIZE = 500
"""Digests per `IN (...)` when loading the images a query found."""


class PackageStorePart(StorePart):
    """Store methods for package lists, image queries and vulnerability updates."""

    def get_image_packages(self, digest: str) -> list[Package] | None:
        """Return the packages of the image's analysis, in document order, without files.

        Returns None when the image has no analysis, or an analysis stored before package
        lists were kept apart; `save_image_packages` fills those in.
        """
        count_statement = select(ImageAnalysis.package_count).where(
            ImageAnalysis.account == self._account, ImageAnalysis.digest == digest
        )
        statement = (
            select(ImagePackage)
            .where(ImagePackage.account == self._account, ImagePackage.digest == digest)
            .order_by(ImagePackage.seq)
        )
        with self._db.transaction(f"get packages of {digest}", write=False) as session:
            if session.scalar(count_statement) is None:
                return None
            return [
                Package(
                    name=row.name,
                    version=row.version,
                    type=row.package_type,
                    location=row.location,
                    source_name=row.source_name,
                    source_version=row.source_version,
                    purl=row.purl,
                )
                for row in session.scalars(statement)
            ]

    def save_image_packages(self, digest: str, packages: Sequence[dict[str, Any]]) -> None:
        """Store the package list of an analysis stored before package lists were kept apart.

        `packages` are the `packages` of the analysis document. Raises `NotFoundError` when the
        image has no stored analysis.
        """
        rows = _package_rows(self._account, digest, packages)
        with self._db.transaction(f"save packages of {digest}", write=True) as session:
            analysis = session.get(ImageAnalysis, (self._account, digest))
            if analysis is None:
                raise NotFoundError(f"image {digest} has no stored analysis; analyze it first")
            analysis.package_count = len(rows)
            _replace_packages(session, self._account, digest, rows)

    def find_images_by_package(
        self, name: str, *, package_type: str | None = None, version: str | None = None
    ) -> list[tuple[ImageRecord, list[PackageRow]]]:
        """Return the analyzed images containing package `name`, oldest first, with its rows.

        `package_type` (as stored: `dpkg`, `apk`, `python`, `npm`, ...) and `version` narrow
        the match when given.
        """
        statement = select(ImagePackage).where(
            ImagePackage.account == self._account, ImagePackage.name == name
        )
        if package_type is not None:
            statement = statement.where(ImagePackage.package_type == package_type)
        if version is not None:
            statement = statement.where(ImagePackage.version == version)
        found: dict[str, list[PackageRow]] = defaultdict(list)
        with self._db.transaction(f"find images by package {name}", write=False) as session:
            for row in session.scalars(statement.order_by(ImagePackage.digest, ImagePackage.seq)):
                found[row.digest].append(
                    PackageRow(row.name, row.version, row.package_type, row.location)
                )
            images = _load_images(session, self._account, list(found))
        return [(image, found[image.digest]) for image in images]

    def find_images_by_vulnerability(
        self, vuln_id: str
    ) -> list[tuple[ImageRecord, list[VulnMatch]]]:
        """Return the images with a stored match of `vuln_id`, oldest first, with the matches."""
        statement = (
            select(VulnMatchRow.digest, VulnMatchRow.vuln_match)
            .where(VulnMatchRow.account == self._account, VulnMatchRow.vuln_id == vuln_id)
            .order_by(VulnMatchRow.digest, VulnMatchRow.match_key)
        )
        found: dict[str, list[VulnMatch]] = defaultdict(list)
        with self._db.transaction(f"find images by {vuln_id}", write=False) as session:
            for digest, document in session.execute(statement):
                found[digest].append(VulnMatch.model_validate(document))
            images = _load_images(session, self._account, list(found))
        return [(image, found[image.digest]) for image in images]

    def add_vuln_update(
        self,
        digest: str,
        *,
        added: Sequence[VulnMatch],
        updated: Sequence[VulnMatch],
        removed: Sequence[VulnMatch],
        created_at: datetime.datetime,
    ) -> None:
        """Record how the image's matches changed; raise `NotFoundError` for an unknown digest."""
        created_at = require_aware(created_at, "created_at")
        with self._db.transaction(f"add vulnerability update of {digest}", write=True) as session:
            _require_image(session, self._account, digest)
            session.add(
                VulnUpdate(
                    account=self._account,
                    digest=digest,
                    added=[match.model_dump(mode="json") for match in added],
                    updated=[match.model_dump(mode="json") for match in updated],
                    removed=[match.model_dump(mode="json") for match in removed],
                    created_at=created_at,
                )
            )

    def list_vuln_updates(self, digest: str) -> list[VulnUpdateRecord]:
        """Return the recorded match changes of the image, oldest first."""
        statement = (
            select(VulnUpdate)
            .where(VulnUpdate.account == self._account, VulnUpdate.digest == digest)
            .order_by(VulnUpdate.created_at, VulnUpdate.id)
        )
        with self._db.transaction(f"list vulnerability updates of {digest}", write=False) as s:
            return [
                VulnUpdateRecord(
                    digest=row.digest,
                    added=list(row.added),
                    updated=list(row.updated),
                    removed=list(row.removed),
                    created_at=row.created_at,
                )
                for row in s.scalars(statement)
            ]


def _load_images(session: Session, account: str, digests: list[str]) -> list[ImageRecord]:
    """Return the active images among `digests`, oldest first."""
    images: list[ImageRecord] = []
    for start in range(0, len(digests), IMAGE_LOAD_BATCH_SIZE):
        statement = (
            select(Image)
            .where(
                Image.account == account,
                Image.digest.in_(digests[start : start + IMAGE_LOAD_BATCH_SIZE]),
                Image.image_status == ImageStatus.ACTIVE,
            )
            .options(selectinload(Image.tags))
        )
        images.extend(_image_record(row) for row in session.scalars(statement))
    images.sort(key=lambda image: (image.created_at, image.digest))
    return images
