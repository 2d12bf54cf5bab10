"""Image records, their tags, analysis documents and vulnerability matches."""

from __future__ import annotations

import datetime
import gzip
import json
import logging
from typing import Any

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from chalicelib.store.base import StorePart, affected_rows, insert_rows, require_aware
from chalicelib.store.models import (
    Image,
    ImageAnalysis,
    ImageLookup,
    ImagePackage,
    ImageTag,
    VulnMatchRow,
)
from chalicelib.store.records import (
    AnalysisStatus,
    ConflictError,
    ImageRecord,
    ImageStatus,
    ImageSummary,
    NewImage,
    NotFoundError,
    StoreError,
    TagRecord,
)
from chalicelib.vulns.interface import VulnMatch

logger = logging.getLogger(__name__)

ANALYSIS_COMPRESSION_LEVEL = 6
"""gzip level of stored analysis documents: the zlib default, close to level 9 in size on JSON
and several times faster."""

_NO_SYNC = {"synchronize_session": False}
"""Bulk UPDATE and DELETE options: each statement runs in its own short session, so there are no
loaded objects to keep in step."""


def match_key(match: VulnMatch) -> str:
    """Return the key that identifies a match across scans: `<vuln>+<package>+<path>`."""
    return f"{match.vuln_id}+{match.package_name}+{match.package_path}"


class ImageStorePart(StorePart):
    """Store methods for images, analyses and matches."""

    def upsert_image(self, image: NewImage) -> tuple[ImageRecord, bool]:
        """Insert the image, or update the stored one; return the record and whether it is new.

        For a stored digest, a new tag gets a tag row with `tag_detected_at` set to now. The
        annotations are merged, with the new values winning. The Dockerfile is replaced when
        one is given, and a missing parent digest or image id is filled in. The analysis status
        and the stored analysis stay as they are.
        """
        try:
            return self._upsert_image_once(image)
        except ConflictError:
            # Another process inserted the same digest or tag between this read and insert.
            # A second pass finds the committed rows and updates them.
            logger.debug("retrying upsert after a concurrent insert: digest=%s", image.digest)
            return self._upsert_image_once(image)

    def _upsert_image_once(self, image: NewImage) -> tuple[ImageRecord, bool]:
        now = self._now()
        created_at = require_aware(image.created_at, "created_at") if image.created_at else now
        with self._db.transaction(f"upsert image {image.digest}", write=True) as session:
            row = session.get(Image, (self._account, image.digest))
            created = row is None
            if row is None:
                row = Image(
                    account=self._account,
                    digest=image.digest,
                    parent_digest=image.parent_digest,
                    image_id=image.image_id,
                    analysis_status=AnalysisStatus.NOT_ANALYZED,
                    image_status=ImageStatus.ACTIVE,
                    annotations=dict(image.annotations),
                    manifest=image.manifest,
                    dockerfile=image.dockerfile,
                    created_at=created_at,
                    last_updated=now,
                    tags=[],
                )
                session.add(row)
            else:
                # JSON columns are saved only when assigned a new object, so build a new dict.
                row.annotations = {**row.annotations, **image.annotations}
                if image.dockerfile is not None:
                    row.dockerfile = image.dockerfile
                row.parent_digest = row.parent_digest or image.parent_digest
                row.image_id = row.image_id or image.image_id
                row.manifest = row.manifest or image.manifest
                row.last_updated = now

            if image.tag is not None:
                _add_tag(row, image, image.tag, created_at=created_at, now=now)
            session.flush()
            record = _image_record(row)

        if created:
            logger.info("image added: digest=%s tag=%s", image.digest, image.tag)
        return record, created

    def get_image(self, digest: str) -> ImageRecord | None:
        """Return the image with manifest digest `digest`, or None."""
        with self._db.transaction(f"get image {digest}", write=False) as session:
            row = session.get(Image, (self._account, digest), options=[selectinload(Image.tags)])
            return _image_record(row) if row is not None else None

    def list_images(
        self,
        *,
        fulltag: str | None = None,
        analysis_status: str | None = None,
        image_status: str | None = ImageStatus.ACTIVE,
    ) -> list[ImageRecord]:
        """Return the images that match every given filter, oldest first.

        `fulltag` selects images that the tag ever pointed at; `image_status` None means any
        status. Raises ValueError for an unknown `analysis_status`.
        """
        statement = (
            select(Image)
            .where(Image.account == self._account)
            .options(selectinload(Image.tags))
            .order_by(Image.created_at, Image.digest)
        )
        if fulltag is not None:
            statement = statement.where(Image.tags.any(ImageTag.fulltag == fulltag))
        if analysis_status is not None:
            statement = statement.where(Image.analysis_status == _analysis_status(analysis_status))
        if image_status is not None:
            statement = statement.where(Image.image_status == image_status)
        with self._db.transaction("list images", write=False) as session:
            return [_image_record(row) for row in session.scalars(statement)]

    def find_images_by_id(self, image_id: str) -> list[ImageRecord]:
        """Return the images whose config digest is `image_id` (hex, no `sha256:`), oldest first."""
        statement = (
            select(Image)
            .where(Image.account == self._account, Image.image_id == image_id)
            .options(selectinload(Image.tags))
            .order_by(Image.created_at, Image.digest)
        )
        with self._db.transaction(f"find images by id {image_id}", write=False) as session:
            return [_image_record(row) for row in session.scalars(statement)]

    def claim_analysis(self, digest: str) -> bool:
        """Move the image from `not_analyzed` to `analyzing`; return True only for the winner.

        The check and the change are one conditional UPDATE, so of several workers that claim
        the same image (a queue message delivered twice) exactly one gets True. Returns False
        for an image in any other state and for an unknown digest.
        """
        statement = (
            update(Image)
            .where(
                Image.account == self._account,
                Image.digest == digest,
                Image.analysis_status == AnalysisStatus.NOT_ANALYZED,
            )
            .values(analysis_status=AnalysisStatus.ANALYZING, last_updated=self._now())
            .execution_options(**_NO_SYNC)
        )
        with self._db.transaction(f"claim analysis of {digest}", write=True) as session:
            claimed = affected_rows(session.execute(statement)) == 1
        logger.debug("analysis claim: digest=%s claimed=%s", digest, claimed)
        return claimed

    def reset_analysis(self, digest: str) -> None:
        """Set the image back to `not_analyzed` and `active` for a forced or failed re-add.

        The stored analysis stays readable until a new one replaces it. Raises `NotFoundError`
        for an unknown digest.
        """
        self._update_image(
            digest,
            f"reset analysis of {digest}",
            analysis_status=AnalysisStatus.NOT_ANALYZED,
            image_status=ImageStatus.ACTIVE,
            failure_reason=None,
        )

    def finish_analysis(self, digest: str, report: dict[str, Any], summary: ImageSummary) -> None:
        """Store the analysis document and mark the image `analyzed` with its summary fields.

        The document is stored as gzip-compressed JSON, replacing an older one, and its
        `packages` are stored apart too (see `get_image_packages`). Raises `NotFoundError` for
        an unknown digest and `StoreError` when `report` is not JSON data.
        """
        try:
            document_json = json.dumps(report, separators=(",", ":")).encode()
        except (TypeError, ValueError) as error:
            raise StoreError(
                f"analysis of {digest} cannot be stored because it is not JSON data: {error}"
            ) from error
        # Compress before the transaction opens, so the write lock is held only for the write.
        document = gzip.compress(document_json, compresslevel=ANALYSIS_COMPRESSION_LEVEL)
        package_rows = _package_rows(self._account, digest, report.get("packages") or [])
        now = self._now()

        with self._db.transaction(f"finish analysis of {digest}", write=True) as session:
            row = _require_image(session, self._account, digest)
            row.analysis_status = AnalysisStatus.ANALYZED
            row.analyzed_at = now
            row.failure_reason = None
            row.last_updated = now
            row.image_id = summary.image_id
            row.arch = summary.arch
            row.distro = summary.distro
            row.distro_version = summary.distro_version
            row.image_size = summary.image_size
            row.layer_count = summary.layer_count
            row.dockerfile_mode = summary.dockerfile_mode
            session.merge(
                ImageAnalysis(
                    account=self._account,
                    digest=digest,
                    document=document,
                    document_size=len(document_json),
                    package_count=len(package_rows),
                    created_at=now,
                    # The lookups of the last match belong to the replaced package list.
                    lookups_stored=False,
                )
            )
            _replace_packages(session, self._account, digest, package_rows)
        logger.info(
            "analysis stored: digest=%s json_bytes=%d stored_bytes=%d",
            digest,
            len(document_json),
            len(document),
        )

    def fail_analysis(self, digest: str, reason: str) -> None:
        """Mark the image `analysis_failed` with `reason`; raise `NotFoundError` if unknown."""
        self._update_image(
            digest,
            f"record failed analysis of {digest}",
            analysis_status=AnalysisStatus.ANALYSIS_FAILED,
            failure_reason=reason,
        )

    def get_analysis(self, digest: str) -> dict[str, Any] | None:
        """Return the stored analysis document of the image, or None if there is none."""
        statement = select(ImageAnalysis.document).where(
            ImageAnalysis.account == self._account, ImageAnalysis.digest == digest
        )
        with self._db.transaction(f"get analysis of {digest}", write=False) as session:
            document = session.scalar(statement)
        if document is None:
            return None
        try:
            report: dict[str, Any] = json.loads(gzip.decompress(document))
        except (OSError, EOFError, ValueError) as error:
            raise StoreError(
                f"stored analysis of {digest} is corrupt ({error}); re-add the image with force "
                "to analyze it again"
            ) from error
        return report

    def delete_image(self, digest: str) -> bool:
        """Delete the image with its tags, analysis and matches; return False if it was unknown.

        Evaluations of the image are kept, as in Anchore, because they are an audit record.
        """
        statement = (
            delete(Image)
            .where(Image.account == self._account, Image.digest == digest)
            .execution_options(**_NO_SYNC)
        )
        # The tag, analysis and match rows go with it through ON DELETE CASCADE.
        with self._db.transaction(f"delete image {digest}", write=True) as session:
            deleted = affected_rows(session.execute(statement)) > 0
        if deleted:
            logger.info("image deleted: digest=%s", digest)
        return deleted

    def save_matches(
        self,
        digest: str,
        matches: list[VulnMatch],
        *,
        now: datetime.datetime,
        lookups: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Replace the image's matches, keeping `first_seen` of the keys stored before.

        A key (see `match_key`) seen for the first time gets `now`. When `matches` contains a key
        twice, the first match is stored. `lookups`, the (namespace, package name) pairs that
        matching looked up, replace the image's stored lookups when given; a feed sync
        re-matches only images with a changed pair. Raises `NotFoundError` for an unknown digest.
        """
        now = require_aware(now, "now")
        with self._db.transaction(f"save matches of {digest}", write=True) as session:
            _require_image(session, self._account, digest)
            in_image = (VulnMatchRow.account == self._account, VulnMatchRow.digest == digest)
            stored = session.execute(
                select(VulnMatchRow.match_key, VulnMatchRow.first_seen).where(*in_image)
            )
            first_seen = {key: seen for key, seen in stored}
            session.execute(delete(VulnMatchRow).where(*in_image).execution_options(**_NO_SYNC))

            rows: dict[str, dict[str, Any]] = {}
            for match in matches:
                key = match_key(match)
                if key in rows:
                    logger.debug("duplicate match skipped: digest=%s key=%s", digest, key)
                    continue
                rows[key] = {
                    "account": self._account,
                    "digest": digest,
                    "match_key": key,
                    "vuln_id": match.vuln_id,
                    "vuln_match": match.model_dump(mode="json"),
                    "first_seen": first_seen.get(key, now),
                }
            insert_rows(session, VulnMatchRow, list(rows.values()))
            if lookups is not None:
                _replace_lookups(session, self._account, digest, lookups)
        logger.debug("matches saved: digest=%s count=%d", digest, len(rows))

    def get_matches(self, digest: str) -> tuple[list[VulnMatch], dict[str, datetime.datetime]]:
        """Return the image's matches ordered by key, and `first_seen` by key.

        An unknown digest gives two empty collections.
        """
        statement = (
            select(VulnMatchRow)
            .where(VulnMatchRow.account == self._account, VulnMatchRow.digest == digest)
            .order_by(VulnMatchRow.match_key)
        )
        with self._db.transaction(f"get matches of {digest}", write=False) as session:
            rows = session.scalars(statement).all()
        matches = [VulnMatch.model_validate(row.vuln_match) for row in rows]
        return matches, {row.match_key: row.first_seen for row in rows}

    def _update_image(self, digest: str, operation: str, **values: Any) -> None:
        statement = (
            update(Image)
            .where(Image.account == self._account, Image.digest == digest)
            .values(last_updated=self._now(), **values)
            .execution_options(**_NO_SYNC)
        )
        with self._db.transaction(operation, write=True) as session:
            if affected_rows(session.execute(statement)) == 0:
                raise NotFoundError(f"{operation} failed: no image has digest {digest}")


def _require_image(session: Session, account: str, digest: str) -> Image:
    row = session.get(Image, (account, digest))
    if row is None:
        raise NotFoundError(f"no image has digest {digest}; add the image first")
    return row


def _replace_lookups(
    session: Session, account: str, digest: str, lookups: Sequence[tuple[str, str]]
) -> None:
    in_image = (ImageLookup.account == account, ImageLookup.digest == digest)
    session.execute(delete(ImageLookup).where(*in_image).execution_options(**_NO_SYNC))
    rows = [
        {"account": account, "digest": digest, "namespace": namespace, "package": name}
        for namespace, name in sorted(set(lookups))
    ]
    insert_rows(session, ImageLookup, rows)
    session.execute(
        update(ImageAnalysis)
        .where(ImageAnalysis.account == account, ImageAnalysis.digest == digest)
        .values(lookups_stored=True)
        .execution_options(**_NO_SYNC)
    )


def _package_rows(
    account: str, digest: str, packages: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "account": account,
            "digest": digest,
            "seq": seq,
            "name": package["name"],
            "version": package["version"],
            "package_type": package["type"],
            "location": package.get("location", ""),
            "source_name": package.get("source_name"),
            "source_version": package.get("source_version"),
            "purl": package.get("purl"),
        }
        for seq, package in enumerate(packages)
    ]


def _replace_packages(
    session: Session, account: str, digest: str, rows: list[dict[str, Any]]
) -> None:
    session.execute(
        delete(ImagePackage)
        .where(ImagePackage.account == account, ImagePackage.digest == digest)
        .execution_options(**_NO_SYNC)
    )
    insert_rows(session, ImagePackage, rows)


def _add_tag(
    row: Image,
    image: NewImage,
    tag: str,
    *,
    created_at: datetime.datetime,
    now: datetime.datetime,
) -> None:
    """Add `registry/repository:tag` of `image` to `row`, or refresh the stored tag row."""
    key = (image.registry, image.repository, tag)
    for tag_row in row.tags:
        if (tag_row.registry_name, tag_row.repository, tag_row.tag) == key:
            tag_row.last_updated = now
            return
    row.tags.append(
        ImageTag(
            registry_name=image.registry,
            repository=image.repository,
            tag=tag,
            fulltag=f"{image.registry}/{image.repository}:{tag}",
            created_at=created_at,
            tag_detected_at=now,
            last_updated=now,
        )
    )


def _analysis_status(value: str) -> AnalysisStatus:
    try:
        return AnalysisStatus(value)
    except ValueError:
        allowed = ", ".join(status.value for status in AnalysisStatus)
        raise ValueError(f"analysis status {value!r} is unknown; use one of {allowed}") from None


def _image_record(row: Image) -> ImageRecord:
    return ImageRecord(
        digest=row.digest,
        parent_digest=row.parent_digest,
        image_id=row.image_id,
        analysis_status=AnalysisStatus(row.analysis_status),
        image_status=ImageStatus(row.image_status),
        annotations=dict(row.annotations),
        created_at=row.created_at,
        last_updated=row.last_updated,
        analyzed_at=row.analyzed_at,
        failure_reason=row.failure_reason,
        manifest=row.manifest,
        dockerfile=row.dockerfile,
        arch=row.arch,
        distro=row.distro,
        distro_version=row.distro_version,
        image_size=row.image_size,
        layer_count=row.layer_count,
        dockerfile_mode=row.dockerfile_mode,
        tags=tuple(
            TagRecord(
                registry=tag.registry_name,
                repository=tag.repository,
                tag=tag.tag,
                fulltag=tag.fulltag,
                created_at=tag.created_at,
                tag_detected_at=tag.tag_detected_at,
                last_updated=tag.last_updated,
            )
            for tag in sorted(row.tags, key=lambda tag: (tag.created_at, tag.fulltag))
        ),
    )
