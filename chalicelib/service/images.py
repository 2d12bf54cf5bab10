"""Use cases of images: add, analyze, read back, delete."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import logging
import re

from chalicelib.analysis import AnalysisOptions, analyze_image
from chalicelib.analysis.interface import AnalysisError, AnalysisReport
from chalicelib.registry import (
    AuthenticationError,
    InvalidReferenceError,
    ManifestNotFoundError,
    RegistryError,
    parse_reference,
)
from chalicelib.service.context import Services
from chalicelib.service.errors import (
    InvalidRequestError,
    ResourceNotFoundError,
    UpstreamError,
)
from chalicelib.service.registries import registry_client
from chalicelib.service.subscriptions import ensure_tag_subscriptions
from chalicelib.service.vulnerabilities import match_image
from chalicelib.vulns.interface import VulnsError
from chalicelib.store import ImageRecord, ImageSummary, NewImage, StoreError
from chalicelib.store.layercache import StoreLayerCache

logger = logging.getLogger(__name__)

_IMAGE_ID = re.compile(r"[0-9a-fA-F]{64}")

ANALYZE_MESSAGE = "analyze_image"


@dataclasses.dataclass(frozen=True)
class AddImageRequest:
    """Body of `POST /images`, with the legacy top-level fields normalized."""

    pullstring: str
    """A tag reference (`registry/repo:tag`) or a digest reference (`registry/repo@sha256:...`)."""
    tag: str | None = None
    """The tag to record with a digest reference."""
    dockerfile: str | None = None
    annotations: dict = dataclasses.field(default_factory=dict)
    force: bool = False
    created_at: datetime.datetime | None = None
    autosubscribe: bool = False
    """Whether the tag's `tag_update` subscription is switched on (Anchore's query parameter)."""
    reactivate_subscriptions: bool = True
    """Whether existing tag subscriptions are switched on again, as a user's add does.
    Watchers pass False, so they leave the user's choices alone."""


def decode_dockerfile(value: str | None) -> str | None:
    """Decode the base64 Dockerfile of an add request, raising `InvalidRequestError`."""
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequestError(
            "dockerfile is not base64-encoded UTF-8 text; send base64 of the Dockerfile"
        ) from exc


def add_image(services: Services, request: AddImageRequest) -> ImageRecord:
    """Resolve the reference against its registry, store the image and queue its analysis.

    Adding an image that is already stored returns it, with new tags and annotations merged.
    Its analysis is queued again only with `force` or after a failed analysis. The four
    subscriptions of the tag are created when missing (see `ensure_tag_subscriptions`).
    """
    try:
        reference = parse_reference(request.pullstring)
        tag_reference = parse_reference(request.tag) if request.tag else None
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc
    try:
        with registry_client(services, reference) as client:
            resolved = client.resolve(reference)
    except ManifestNotFoundError as exc:
        raise ResourceNotFoundError(f"cannot add image {request.pullstring}: {exc}") from exc
    except AuthenticationError as exc:
        raise UpstreamError(
            f"cannot add image {request.pullstring}: {exc}; store credentials with "
            f"POST /v1/registries (anchore-cli registry add {reference.registry} USER PASSWORD)"
        ) from exc
    except RegistryError as exc:
        raise UpstreamError(f"cannot add image {request.pullstring}: {exc}") from exc

    named = tag_reference or reference
    record, created = services.store.upsert_image(
        NewImage(
            digest=resolved.manifest_digest,
            parent_digest=resolved.parent_digest,
            image_id=resolved.image_id,
            manifest=resolved.manifest,
            registry=named.registry,
            repository=named.repository,
            tag=named.tag,
            dockerfile=request.dockerfile,
            annotations=request.annotations,
            created_at=request.created_at,
        )
    )
    if named.fulltag is not None:
        ensure_tag_subscriptions(
            services,
            named.fulltag,
            record,
            autosubscribe=request.autosubscribe,
            reactivate=request.reactivate_subscriptions,
        )
    requeue = request.force or record.analysis_status == "analysis_failed"
    if requeue and not created:
        services.store.reset_analysis(record.digest)
    if created or requeue:
        pullstring = f"{reference.registry}/{reference.repository}@{record.digest}"
        services.enqueue(
            {"type": ANALYZE_MESSAGE, "image_digest": record.digest, "pullstring": pullstring}
        )
        logger.info("queued analysis: image_digest=%s pullstring=%s", record.digest, pullstring)
    return services.store.get_image(record.digest) or record


def analyze(services: Services, image_digest: str, pullstring: str) -> None:
    """Analyze one queued image and store the result, or the reason it failed.

    A message delivered twice is analyzed once: only the caller that moves the image from
    `not_analyzed` to `analyzing` goes on. The limits of the analysis are the defaults of
    `AnalysisOptions`, except those set in the settings (`MAX_LAYER_BYTES`, ...).
    """
    store = services.store
    if not store.claim_analysis(image_digest):
        logger.info("skipped analysis, image not waiting for one: image_digest=%s", image_digest)
        return
    image = store.get_image(image_digest)
    dockerfile = image.dockerfile if image else None
    try:
        reference = parse_reference(pullstring)
        with registry_client(services, reference) as client:
            source = client.resolve(reference)
            report = analyze_image(
                source,
                dockerfile=dockerfile,
                options=AnalysisOptions(**services.settings.analysis_limits),
                layer_cache=StoreLayerCache(store),
            )
    except (RegistryError, InvalidReferenceError) as exc:
        _fail(services, image_digest, f"cannot pull {pullstring}: {exc}")
        return
    except AnalysisError as exc:
        _fail(services, image_digest, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - a worker must record every failure on the image
        logger.exception("analysis crashed: image_digest=%s", image_digest)
        _fail(services, image_digest, f"internal error during analysis: {exc!r}")
        return

    # Matches are stored before the image turns `analyzed`, so a client that waited for that
    # status reads its vulnerabilities at once.
    try:
        match_image(services, image_digest, report)
    except (StoreError, VulnsError) as exc:
        logger.error("matching failed: image_digest=%s error=%s", image_digest, exc)
    store.finish_analysis(image_digest, report.model_dump(mode="json"), summarize(report))
    logger.info(
        "analyzed image: image_digest=%s packages=%d files=%d",
        image_digest,
        len(report.packages),
        len(report.files),
    )


def _fail(services: Services, image_digest: str, reason: str) -> None:
    logger.warning("analysis failed: image_digest=%s reason=%s", image_digest, reason)
    services.store.fail_analysis(image_digest, reason)


def summarize(report: AnalysisReport) -> ImageSummary:
    """Build the summary fields stored on the image record."""
    return ImageSummary(
        image_id=report.image_id,
        arch=report.architecture,
        distro=report.distro.id if report.distro else None,
        distro_version=report.distro.version_id if report.distro else None,
        image_size=report.image_size,
        layer_count=len(report.layers),
        dockerfile_mode=report.dockerfile_mode,
    )


def get_image(services: Services, digest: str) -> ImageRecord:
    """Return the stored image, raising `ResourceNotFoundError`."""
    image = services.store.get_image(digest)
    if image is None:
        raise ResourceNotFoundError(f"image {digest} not found; add it with POST /images first")
    return image


def get_analysis(services: Services, digest: str) -> tuple[ImageRecord, AnalysisReport]:
    """Return the image and its analysis, raising `ResourceNotFoundError` until it is analyzed."""
    image = get_image(services, digest)
    document = services.store.get_analysis(digest) if image.analysis_status == "analyzed" else None
    if document is None:
        raise ResourceNotFoundError(
            f"image is not analyzed - analysis_status: {image.analysis_status}"
        )
    return image, AnalysisReport.model_validate(document)


def find_images_by_tag(services: Services, fulltag: str) -> list[ImageRecord]:
    """Return the images stored under a tag reference, normalized with Docker's rules.

    A 64-character hex string is an image id, as Anchore Engine reads it: anchore-cli looks up
    an image given by id with `GET /v1/images?fulltag=ID`.
    """
    if _IMAGE_ID.fullmatch(fulltag):
        return services.store.find_images_by_id(fulltag.lower())
    try:
        normalized = parse_reference(fulltag).fulltag
    except InvalidReferenceError as exc:
        raise InvalidRequestError(str(exc)) from exc
    return services.store.list_images(fulltag=normalized)


def requeue_unfinished(services: Services) -> int:
    """Queue again the images whose analysis an earlier process left unfinished.

    Only for the in-process queue, where queued messages die with the process.
    """
    count = 0
    for status in ("analyzing", "not_analyzed"):
        for image in services.store.list_images(analysis_status=status):
            if status == "analyzing":
                services.store.reset_analysis(image.digest)
            if not image.tags:
                continue
            tag = image.tags[0]
            pullstring = f"{tag.registry}/{tag.repository}@{image.digest}"
            services.enqueue(
                {"type": ANALYZE_MESSAGE, "image_digest": image.digest, "pullstring": pullstring}
            )
            count += 1
    if count:
        logger.info("queued unfinished analyses again: count=%d", count)
    return count
