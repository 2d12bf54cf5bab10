"""Types shared by the SBOM writers: the subject, the options and per-document lookups."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import hashlib
import importlib.metadata
from collections.abc import Iterator

from chalicelib.analysis.interface import (
    AnalysisReport,
    FileEntry,
    FileType,
    Package,
    PackageType,
)
from chalicelib.analysis.sbom.licenses import License, normalize_licenses

TOOL_NAME = "plimsoll"
TOOL_VENDOR = "Plimsoll"


class SubjectKind(str, enum.Enum):
    """Kind of thing an SBOM describes."""

    IMAGE = "image"
    DIRECTORY = "directory"


class FileSelection(str, enum.Enum):
    """Files of the image that an SBOM lists, with the same choices as Syft's file selection."""

    NONE = "none"
    OWNED_BY_PACKAGE = "owned-by-package"
    ALL = "all"


@dataclasses.dataclass(frozen=True)
class SbomSubject:
    """The image or directory that an SBOM describes, as the user named it."""

    name: str
    """The reference, archive path or directory the user gave, or the image digest."""
    kind: SubjectKind = SubjectKind.IMAGE
    tags: tuple[str, ...] = ()
    """Full tag references of the image, such as `docker.io/library/alpine:3.10`."""
    repo_digests: tuple[str, ...] = ()
    """Digest references of the image, such as `docker.io/library/alpine@sha256:...`."""


@dataclasses.dataclass(frozen=True)
class SbomOptions:
    """Settings shared by the SBOM writers."""

    files: FileSelection = FileSelection.OWNED_BY_PACKAGE
    created: datetime.datetime | None = None
    """Creation time written in the document; None means now."""


@functools.cache
def tool_version() -> str:
    """Return the installed version of Plimsoll, or `0.0.0` when it is not installed."""
    try:
        return importlib.metadata.version(TOOL_NAME)
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def package_version(package: Package) -> str:
    """Return the version of `package` as Syft 1.18.1 writes it in an SBOM.

    Syft's version of an rpm package with an epoch is `EPOCH:VERSION-RELEASE`, such as
    `1:2.0.0-1.cm2`. The analysis document keeps Anchore's `VERSION-RELEASE`, and the purl
    keeps the epoch as a qualifier, as Syft's purl does.
    """
    epoch = package.metadata.get("epoch") if package.type is PackageType.RPM else None
    if isinstance(epoch, int) and not isinstance(epoch, bool):
        return f"{epoch}:{package.version}"
    return package.version


class SbomContext:
    """Lookups that a writer needs for one report: ids, licenses, layers and owned files."""

    def __init__(
        self, report: AnalysisReport, subject: SbomSubject, options: SbomOptions
    ) -> None:
        """Index `report` for writing an SBOM of `subject` with `options`."""
        self.report = report
        self.subject = subject
        self.options = options
        created = options.created or datetime.datetime.now(datetime.timezone.utc)
        if created.tzinfo is None:
            created = created.replace(tzinfo=datetime.timezone.utc)
        self.created = created.astimezone(datetime.timezone.utc).replace(microsecond=0)
        self._diff_ids = {layer.digest: layer.diff_id for layer in report.layers}
        self.package_ids = _package_ids(report.packages)
        self._files = {entry.path: entry for entry in report.files}
        self.file_owners = self._owners()

    @property
    def timestamp(self) -> str:
        """Creation time as RFC 3339 in UTC with a `Z` suffix."""
        return self.created.strftime("%Y-%m-%dT%H:%M:%SZ")

    def package_id(self, index: int) -> str:
        """Return the id of the package at `index` in `report.packages`."""
        return self.package_ids[index]

    def packages(self) -> Iterator[tuple[str, Package]]:
        """Yield each package of the report with its id."""
        for index, package in enumerate(self.report.packages):
            yield self.package_ids[index], package

    def licenses(self, package: Package) -> list[License]:
        """Return the package's licenses, normalized to SPDX expressions where possible."""
        return normalize_licenses(package.licenses)

    def diff_id(self, layer_digest: str | None) -> str | None:
        """Return the diff id (digest of the uncompressed tar) of a layer, when known."""
        if layer_digest is None:
            return None
        return self._diff_ids.get(layer_digest) or None

    def file(self, path: str) -> FileEntry | None:
        """Return the squashed view's entry at `path`, or None when the image has none."""
        return self._files.get(path)

    def selected_files(self) -> list[FileEntry]:
        """Return the files the options select: regular files, hard links and symbolic links."""
        if self.options.files is FileSelection.NONE:
            return []
        if self.options.files is FileSelection.ALL:
            entries = [entry for entry in self.report.files if entry.type is not FileType.DIR]
        else:
            entries = [self._files[path] for path in self.file_owners]
        return sorted(entries, key=lambda entry: entry.path)

    def _owners(self) -> dict[str, list[str]]:
        """Map each file that a package owns, and the image contains, to the owners' ids."""
        owners: dict[str, list[str]] = {}
        for package_id, package in self.packages():
            for path in package.files:
                entry = self._files.get(path)
                if entry is None or entry.type is FileType.DIR:
                    continue
                owners.setdefault(path, [])
                if package_id not in owners[path]:
                    owners[path].append(package_id)
        return owners


def file_id(path: str) -> str:
    """Return a stable id of the file at `path`: 16 hex digits of a sha256."""
    return hashlib.sha256(f"file\0{path}".encode()).hexdigest()[:16]


def _package_ids(packages: list[Package]) -> list[str]:
    """Return a stable id per package: 16 hex digits of a sha256 of its identity.

    Two packages with the same type, name, version, architecture and location get suffixes, so
    every id in a document is unique.
    """
    ids = []
    seen: dict[str, int] = {}
    for package in packages:
        identity = "\0".join(
            (
                package.type.value,
                package.name,
                package.version,
                package.architecture or "",
                package.location,
            )
        )
        package_id = hashlib.sha256(identity.encode()).hexdigest()[:16]
        count = seen.get(package_id, 0)
        seen[package_id] = count + 1
        ids.append(package_id if count == 0 else f"{package_id}-{count}")
    return ids
