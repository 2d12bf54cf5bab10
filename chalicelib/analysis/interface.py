"""Data types, source protocol and errors shared by the image analysis code.

The analysis document (`AnalysisReport`) is what the store keeps for each image, what the
vulnerability matcher reads packages from, and what the policy gates read facts from. Every type
here round-trips through JSON with `model_dump(mode="json")` and `model_validate`.
"""

from __future__ import annotations

import enum
from typing import BinaryIO, Protocol

from pydantic import BaseModel, Field


class AnalysisError(Exception):
    """An error that voids the analysis of a whole image.

    The message is shown to the user as the reason for `analysis_failed`, so it names the image,
    layer or file involved and says what to do.
    """


class FileType(str, enum.Enum):
    """Type of an entry in the squashed file view."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "slink"
    HARDLINK = "hlink"
    CHAR_DEVICE = "chardev"
    BLOCK_DEVICE = "blockdev"
    FIFO = "fifo"


class PackageType(str, enum.Enum):
    """Package type as stored; `anchore_type` gives the name Anchore's API uses."""

    DPKG = "dpkg"
    APK = "apk"
    RPM = "rpm"
    PYTHON = "python"
    NPM = "npm"
    GEM = "gem"
    JAVA = "java"
    GO = "go"
    RUST = "rust"
    COMPOSER = "composer"
    NUGET = "nuget"
    BINARY = "binary"

    @property
    def is_os(self) -> bool:
        return self in (PackageType.DPKG, PackageType.APK, PackageType.RPM)


class FileEntry(BaseModel):
    """One path in the squashed view of the image."""

    path: str
    """Absolute path inside the image, normalized, starting with `/`."""
    type: FileType
    mode: int
    """Permission and special bits (`st_mode & 0o7777`), for example `0o4755`."""
    uid: int = 0
    gid: int = 0
    size: int = 0
    sha256: str | None = None
    """Hex digest of the content of regular files and hard links, else None."""
    link_target: str | None = None
    """Target of a symbolic link as written in the tar entry, or the image path a hard link names."""
    layer_digest: str | None = None
    """Digest of the layer that last wrote this path."""


class Package(BaseModel):
    """One installed package found by a cataloger."""

    name: str
    version: str
    type: PackageType
    location: str
    """Path of the package's metadata in the image: the dpkg status file, a `.dist-info`
    directory, a `package.json`."""
    source_name: str | None = None
    """Source package (dpkg `Source:`, apk origin); None where the format has none."""
    source_version: str | None = None
    architecture: str | None = None
    origin: str | None = None
    """Maintainer, vendor or author."""
    licenses: list[str] = Field(default_factory=list)
    size: int | None = None
    purl: str | None = None
    cpes: list[str] = Field(default_factory=list)
    layer_digest: str | None = None
    """Digest of the layer that introduced the package's metadata."""
    files: list[str] = Field(default_factory=list)
    """Paths the package database says the package owns, where it lists them."""
    metadata: dict = Field(default_factory=dict)
    """Format-specific fields (rpm epoch and release, Java manifest entries, Go build settings,
    ...) that have no field of their own."""


class Distro(BaseModel):
    """Distribution of the image, from `/etc/os-release` or a fallback file."""

    id: str
    """Lower-case distribution id: `debian`, `alpine`, `ubuntu`, `rhel`, ..."""
    version_id: str | None = None
    id_like: list[str] = Field(default_factory=list)
    pretty_name: str | None = None


class SecretMatch(BaseModel):
    """Lines of one file that match one named secret pattern."""

    path: str
    name: str
    regex: str
    lines: list[int]
    """One-based line numbers."""


class RetrievedFile(BaseModel):
    """Content of one file that the analysis is configured to store, such as `/etc/passwd`."""

    path: str
    b64_content: str
    """The file's bytes in base64, as Anchore's `retrieved_files` artifact gives them."""


class PackageFileRecord(BaseModel):
    """A file that a package database lists and that the image lacks or has changed.

    The `packages/verify` gate reports it as `missing` when `real_path` is None, and as
    `changed` when `real_digest` differs from `digest` or the file's mode differs from `mode`.
    """

    package: str
    package_type: PackageType
    path: str
    """Path as the package database lists it."""
    digest: str | None = None
    """Hex digest that the package database records for the file's content."""
    digest_algorithm: str | None = None
    """`md5` (dpkg) or `sha1` (apk), or None when the database records no digest."""
    mode: int | None = None
    """Permission bits that the database records (apk `a:` lines), or None."""
    is_config_file: bool = False
    """True for dpkg conffiles, which the gate does not verify because users edit them."""
    real_path: str | None = None
    """Path of the entry in the image after following symbolic links, or None when the image
    has no such entry."""
    real_digest: str | None = None
    """Digest of the file in the image in `digest_algorithm`, known for files whose content a
    cataloger keeps and for files written by a layer above the first one whose package database
    lists them; None otherwise."""


class Unknown(BaseModel):
    """A file that could not be parsed; the analysis goes on without it."""

    location: str
    reason: str


class LayerInfo(BaseModel):
    """One layer of the image, in order from the base."""

    digest: str
    media_type: str
    size: int
    """Compressed size in bytes, as the manifest gives it."""
    diff_id: str | None = None
    uncompressed_size: int | None = None


class AnalysisReport(BaseModel):
    """Everything the analysis found in one image."""

    image_digest: str
    image_id: str
    """Hex sha256 of the config blob, without the `sha256:` prefix."""
    architecture: str | None = None
    os: str | None = None
    layers: list[LayerInfo] = Field(default_factory=list)
    distro: Distro | None = None
    packages: list[Package] = Field(default_factory=list)
    files: list[FileEntry] = Field(default_factory=list)
    passwd: str | None = None
    """Content of `/etc/passwd`, or None when the image has none."""
    secrets: list[SecretMatch] = Field(default_factory=list)
    config: dict = Field(default_factory=dict)
    """The image config blob as JSON."""
    manifest: dict = Field(default_factory=dict)
    history: list[dict] = Field(default_factory=list)
    dockerfile: str | None = None
    dockerfile_mode: str = "Guessed"
    """`Actual` when the user supplied a Dockerfile at add time, else `Guessed` from history."""
    image_size: int = 0
    """Sum of the uncompressed layer sizes in bytes."""
    problems: list[Unknown] = Field(default_factory=list)
    content_matches: list[SecretMatch] = Field(default_factory=list)
    """Lines of files that match the configured content search regexes (off by default)."""
    retrieved_files: list[RetrievedFile] = Field(default_factory=list)
    """Files stored whole for the `retrieved_files` gate; `/etc/passwd` by default."""
    package_verification: list[PackageFileRecord] = Field(default_factory=list)
    """Files of dpkg and apk packages that are missing or differ from the package database."""


class LayerRef(BaseModel):
    """A layer as listed in a manifest."""

    digest: str
    media_type: str
    size: int


class ImageSource(Protocol):
    """An image whose manifest, config and layer blobs can be read.

    Implemented by the registry client and by archive readers. `open_layer` returns the blob as
    stored (compressed or not); the source raises `AnalysisError` (or a subclass) from `read` at
    end of stream when the bytes do not match the digest.
    """

    manifest_digest: str
    manifest: dict
    config: dict
    layers: list[LayerRef]

    def open_layer(self, layer: LayerRef) -> BinaryIO: ...
