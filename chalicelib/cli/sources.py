"""Image sources named the way Syft names them: `registry:`, `docker-archive:`, `oci-dir:`, ...

`open_source` turns a command-line SOURCE into an `ImageSource` for the analyzer and the subject
that its SBOM describes. A plain directory (`dir:PATH`) becomes an image of one uncompressed layer,
streamed as a tar from the directory without copying it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import logging
import os
import re
import stat
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from chalicelib.analysis.interface import AnalysisError, LayerRef, Unknown
from chalicelib.analysis.sbom import SbomSubject, SubjectKind
from chalicelib.cli.credentials import (
    PASSWORD_VARIABLE,
    USERNAME_VARIABLE,
    CredentialsError,
    registry_credentials,
)
from chalicelib.cli.layouts import config_platform, open_layout, platform_matches
from chalicelib.registry import AuthenticationError, DockerArchiveSource
from chalicelib.registry.errors import InvalidImageLayoutError
from chalicelib.registry.blobstore import open_store
from chalicelib.registry.platform import DEFAULT_PLATFORM, Platform
from chalicelib.registry.reference import parse_reference

if TYPE_CHECKING:
    from chalicelib.registry import RegistryClient

logger = logging.getLogger(__name__)

SCHEMES = ("registry", "docker-archive", "oci-archive", "oci-dir", "docker", "dir")
"""Source schemes, as Syft spells them: `SCHEME:VALUE`."""

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".oci")
"""Ends of bare values that name an image file rather than an image in a registry."""
_FILE_EXTENSION = re.compile(r"[^:@]*\.[A-Za-z0-9]+")
"""The last component of a bare value with a file extension and no tag or digest."""

DIRECTORY_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"
_READ_SIZE = 1024 * 1024
_TAR_BLOCK = tarfile.BLOCKSIZE


class SourceError(Exception):
    """An error opening a SOURCE argument; the message names the source and what to do."""


@dataclasses.dataclass
class OpenedSource:
    """An opened image source, what its SBOM describes, and how to release it."""

    source: Any
    """The `ImageSource` to analyze."""
    subject: SbomSubject
    problems: list[Unknown] = dataclasses.field(default_factory=list)
    """Files of a directory source that could not be read; filled while the layer streams."""
    cleanup: contextlib.ExitStack = dataclasses.field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        """Close the source and delete any temporary file it used."""
        self.cleanup.close()


DockerClientFactory = Callable[[], Any]


def _docker_from_env() -> Any:
    import docker

    return docker.from_env()


def open_source(
    text: str,
    platform: str | None = None,
    docker_client_factory: DockerClientFactory = _docker_from_env,
) -> OpenedSource:
    """Open the source that `text` names and return it with its SBOM subject.

    `text` is `SCHEME:VALUE` with a scheme of `SCHEMES`, or a bare value: an existing path is read
    as an OCI layout, a `docker save` archive or a plain directory, and anything else as a
    registry reference, unless it starts like a path. `platform` (`os/arch[/variant]`) picks the
    image of a multi-platform registry image or OCI layout, and is checked against the config of
    an image that has no index to pick from. Raises `SourceError` when the source cannot be
    opened or is for another platform.
    """
    scheme, value = _split_scheme(text)
    if platform is not None:
        try:
            Platform.parse(platform)
        except AnalysisError as error:
            raise SourceError(str(error)) from error
    try:
        if scheme is None:
            scheme = _guess_scheme(value)
            logger.info("reading %s as %s:%s", text, scheme, value)
            if scheme == "registry" and _looks_like_file_name(value):
                logger.warning(
                    "%s: no local file of that name exists, so it is read as a registry "
                    "reference; if you meant a file, check its path",
                    value,
                )
        opened = _open(scheme, value, platform, docker_client_factory)
    except (AnalysisError, OSError) as error:
        raise SourceError(f"{text}: {error}") from error
    try:
        if platform is not None and _needs_platform_check(scheme, opened.source):
            _check_platform(text, opened.source, platform)
    except SourceError:
        opened.close()
        raise
    return opened


def _split_scheme(text: str) -> tuple[str | None, str]:
    if not text.strip():
        raise SourceError(
            "the source is empty; give a registry reference, a path, or SCHEME:VALUE with a "
            f"scheme of {', '.join(SCHEMES)}"
        )
    scheme, sep, value = text.partition(":")
    if sep and scheme in SCHEMES:
        if not value:
            raise SourceError(f"{text}: the source after {scheme}: is empty; give a path or name")
        return scheme, value
    return None, text


def _guess_scheme(value: str) -> str:
    """Return the scheme of a bare value: a layout or archive path, a directory or a reference."""
    path = Path(value)
    if path.is_dir():
        if (path / "oci-layout").is_file():
            return "oci-dir"
        if (path / "manifest.json").is_file():
            return "docker-archive"
        return "dir"
    if path.is_file():
        # NOTE: this indexes the archive once more, which decompresses a compressed archive
        # twice. Naming the scheme (`docker-archive:` or `oci-archive:`) avoids the extra pass.
        try:
            store = open_store(path, "file")
        except InvalidImageLayoutError as error:
            raise SourceError(str(error)) from error
        try:
            if store.exists("manifest.json"):
                return "docker-archive"
            if store.exists("oci-layout"):
                return "oci-archive"
        finally:
            store.close()
        raise SourceError(
            f"{value} is neither a `docker save` archive nor an OCI layout archive; give an "
            "image archive, a directory, or a registry reference"
        )
    if _looks_like_path(value):
        raise SourceError(
            f"{value}: no such file or directory; check the path, or to analyze an image from "
            "a registry, name it as registry:REFERENCE, for example "
            "registry:docker.io/library/alpine:3.20"
        )
    return "registry"


def _looks_like_file_name(value: str) -> bool:
    """Return whether a bare value reads as a file name, though it is a valid image reference.

    Such a value ends in an archive suffix (`.tar`, `.tar.gz`, `.tgz`, `.oci`), or contains a
    `/` and ends in a component with a file extension and no tag (`some/dir/image.json`).
    """
    if value.lower().endswith(_ARCHIVE_SUFFIXES):
        return True
    _, slash, last = value.rpartition("/")
    return bool(slash) and _FILE_EXTENSION.fullmatch(last) is not None


def _looks_like_path(value: str) -> bool:
    """Return whether a bare value is meant as a path rather than an image reference.

    Such a value starts with `/`, `./`, `../` or `~`, or contains a path separator that no
    reference contains: a backslash, which is the separator on Windows.
    """
    return value.startswith(("/", "./", "../", "~")) or "\\" in value


def _open(
    scheme: str, value: str, platform: str | None, docker_client_factory: DockerClientFactory
) -> OpenedSource:
    if scheme == "registry":
        return _open_registry(value, platform or DEFAULT_PLATFORM)
    if scheme == "docker-archive":
        archive = DockerArchiveSource(value)
        return _opened_archive(archive, value, archive.repo_tags)
    if scheme in ("oci-archive", "oci-dir"):
        if scheme == "oci-dir" and not Path(value).exists():
            raise SourceError(
                f"oci-dir:{value}: no such directory; give the path of an OCI layout directory"
            )
        if scheme == "oci-dir" and not Path(value).is_dir():
            raise SourceError(f"oci-dir:{value} is not a directory; use oci-archive: for a tar")
        return _opened_archive(open_layout(value, platform), value, [])
    if scheme == "docker":
        return _open_docker(value, docker_client_factory)
    if scheme == "dir":
        if platform is not None:
            raise SourceError(f"dir:{value}: --platform applies to images, not to directories")
        return _open_directory(value)
    raise SourceError(f"unknown source scheme {scheme!r}; use one of {', '.join(SCHEMES)}")


def _opened_archive(source: Any, name: str, tags: list[str]) -> OpenedSource:
    opened = OpenedSource(source=source, subject=SbomSubject(name=name, tags=tuple(tags)))
    opened.cleanup.callback(source.close)
    return opened


def registry_client(reference: str) -> RegistryClient:
    """Return a registry client with the credentials for the registry of `reference`.

    The credentials come from the Docker client config and the environment (see
    `chalicelib.cli.credentials`). Raises `InvalidReferenceError` for an invalid reference and
    `SourceError` for incomplete credentials in the environment.
    """
    registry = parse_reference(reference).registry
    try:
        credentials = registry_credentials(registry)
    except CredentialsError as error:
        raise SourceError(f"{reference}: {error}") from error
    # Imported here, because the client loads `requests`, which local sources never need.
    from chalicelib.registry import RegistryClient

    return RegistryClient(credentials=credentials)


LOGIN_HINT = (
    f"log in with `docker login REGISTRY`, or set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}"
)
"""How to give `plimsoll analyze` credentials, appended to authentication errors."""


def _open_registry(reference: str, platform: str) -> OpenedSource:
    client = registry_client(reference)
    try:
        image = client.resolve(reference, platform)
    except AuthenticationError as error:
        client.close()
        raise AuthenticationError(f"{error}; {LOGIN_HINT}") from error
    except BaseException:
        client.close()
        raise
    pinned = image.pinned_reference
    fulltag = image.reference.fulltag
    tags = (fulltag,) if image.reference.tag and fulltag else ()
    repo_digest = f"{pinned.registry}/{pinned.repository}@{image.manifest_digest}"
    subject = SbomSubject(name=reference, tags=tags, repo_digests=(repo_digest,))
    opened = OpenedSource(source=image, subject=subject)
    opened.cleanup.callback(client.close)
    return opened


def _open_docker(name: str, docker_client_factory: DockerClientFactory) -> OpenedSource:
    """Save the image `name` from the local Docker daemon to a temporary archive and open it."""
    import docker.errors

    try:
        client = docker_client_factory()
        image = client.images.get(name)
    except docker.errors.ImageNotFound as error:
        raise SourceError(
            f"docker:{name}: the image is not in the local Docker daemon; pull it first, or "
            "read it from its registry with registry:REFERENCE"
        ) from error
    except docker.errors.DockerException as error:
        raise SourceError(
            f"docker:{name}: no Docker daemon is reachable ({error}); start Docker or set "
            "DOCKER_HOST, or save the image with `docker save` and use docker-archive:PATH"
        ) from error

    opened = OpenedSource(source=None, subject=SbomSubject(name=name))
    handle = tempfile.NamedTemporaryFile(prefix="plimsoll-docker-", suffix=".tar", delete=False)
    opened.cleanup.callback(os.unlink, handle.name)
    try:
        with handle:
            for chunk in image.save():
                handle.write(chunk)
        archive = DockerArchiveSource(handle.name)
    except docker.errors.DockerException as error:
        opened.close()
        raise SourceError(f"docker:{name}: saving the image failed: {error}") from error
    except BaseException:
        opened.close()
        raise
    opened.cleanup.callback(archive.close)
    opened.source = archive
    tags = tuple(str(tag) for tag in (getattr(image, "tags", None) or archive.repo_tags))
    opened.subject = SbomSubject(name=name, tags=tags)
    return opened


def _needs_platform_check(scheme: str, source: Any) -> bool:
    """Return whether the platform of an opened image is not yet checked against --platform.

    An archive or a Docker daemon image has one platform, which nothing has checked. An image
    chosen from an image index blob (`parent_digest` is set) matched the platform of its index
    entry. Any other registry image or OCI layout image is checked, because an image that
    `index.json` lists alone is taken whatever its platform.
    """
    if scheme in ("docker-archive", "docker"):
        return True
    if scheme in ("oci-dir", "oci-archive", "registry"):
        return getattr(source, "parent_digest", None) is None
    return False


def _check_platform(text: str, source: Any, platform: str) -> None:
    """Raise `SourceError` when the image config names a platform other than `platform`."""
    wanted = Platform.parse(platform)
    found = config_platform(getattr(source, "config", None) or {})
    if found is None:
        logger.warning(
            "%s does not name its platform, so --platform %s is not checked", text, platform
        )
        return
    if platform_matches(*found, wanted):
        return
    raise SourceError(
        f"{text}: the image is for {found[0]}, not {wanted}; give the image of that platform, "
        "or leave out --platform"
    )


def _open_directory(value: str) -> OpenedSource:
    root = Path(value)
    if not root.exists():
        raise SourceError(f"dir:{value}: no such directory; give the path of a directory")
    if not root.is_dir():
        raise SourceError(f"dir:{value} is not a directory; give the path of a directory")
    source = DirectorySource(root)
    subject = SbomSubject(name=value, kind=SubjectKind.DIRECTORY)
    return OpenedSource(source=source, subject=subject, problems=source.problems)


class DirectorySource:
    """A plain directory as an image of one uncompressed layer, read as a stream of tar entries.

    Implements `chalicelib.analysis.interface.ImageSource`. Symbolic links are recorded as links
    and never followed, and files are opened with `O_NOFOLLOW`, so nothing outside the directory
    is read. The analyzer then resolves links inside the image root. Files and directories that
    cannot be read are left out and listed in `problems`.

    NOTE: the layer digest is a sha256 of the directory's absolute path, not of the tar stream,
    which is not known before the stream is read; two scans of a changed directory share it.
    """

    def __init__(self, root: Path) -> None:
        """Describe the directory `root`; nothing is read until `open_layer`."""
        self.root = root.resolve()
        self.problems: list[Unknown] = []
        digest = "sha256:" + hashlib.sha256(f"dir:{self.root}".encode()).hexdigest()
        self.manifest_digest = digest
        self.config: dict[str, Any] = {"os": "linux", "rootfs": {"type": "layers"}}
        self.layers = [LayerRef(digest=digest, media_type=DIRECTORY_LAYER_MEDIA_TYPE, size=0)]
        self.manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "config": {"digest": digest},
            "layers": [layer.model_dump() for layer in self.layers],
        }

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        """Stream the directory as an uncompressed tar."""
        return _ChunkStream(_tar_chunks(self.root, self.problems))  # type: ignore[return-value]


class _ChunkStream(io.RawIOBase):
    """A read-only stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        while not self._done and (size is None or size < 0 or len(self._buffer) < size):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._done = True
            else:
                self._buffer += chunk
        if size is None or size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)


def _tar_chunks(root: Path, problems: list[Unknown]) -> Iterator[bytes]:
    """Yield the tar stream of the tree under `root`, in sorted order, without following links."""
    hard_links: dict[tuple[int, int], str] = {}

    def walk_error(error: OSError) -> None:
        problems.append(Unknown(location=_image_path(root, error.filename), reason=str(error)))

    for directory, dirnames, filenames in os.walk(root, onerror=walk_error):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            member = os.path.relpath(path, root).replace(os.sep, "/")
            try:
                yield from _entry_chunks(path, member, hard_links)
            except OSError as error:
                logger.warning("skipping %s: %s", path, error)
                problems.append(Unknown(location="/" + member, reason=f"not read: {error}"))
    yield b"\0" * (2 * _TAR_BLOCK)


def _entry_chunks(
    path: str, member: str, hard_links: dict[tuple[int, int], str]
) -> Iterator[bytes]:
    status = os.lstat(path)
    info = tarfile.TarInfo(member)
    info.mode = stat.S_IMODE(status.st_mode)
    info.uid, info.gid = status.st_uid, status.st_gid
    info.mtime = int(status.st_mtime)
    mode = status.st_mode
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
        yield _header(info)
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
        yield _header(info)
    elif stat.S_ISREG(mode):
        key = (status.st_dev, status.st_ino)
        if status.st_nlink > 1 and key in hard_links:
            info.type = tarfile.LNKTYPE
            info.linkname = hard_links[key]
            yield _header(info)
            return
        yield from _file_chunks(path, info)
        if status.st_nlink > 1:
            hard_links[key] = member
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(status.st_rdev), os.minor(status.st_rdev)
        yield _header(info)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
        yield _header(info)
    # Sockets have no tar type, and an image has none, so they are left out.


def _file_chunks(path: str, info: tarfile.TarInfo) -> Iterator[bytes]:
    """Yield the header and content of a regular file, opened without following a link."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise OSError(f"{path} changed to a non-regular file while being read")
        info.type = tarfile.REGTYPE
        info.size = status.st_size
        yield _header(info)
        remaining = info.size
        while remaining > 0:
            chunk = handle.read(min(_READ_SIZE, remaining))
            if not chunk:
                # The file shrank while being read; pad it so the tar stays well-formed.
                logger.warning("%s shrank while being read; padding it with zeros", path)
                chunk = b"\0" * min(_READ_SIZE, remaining)
            remaining -= len(chunk)
            yield chunk
    padding = -info.size % _TAR_BLOCK
    if padding:
        yield b"\0" * padding


def _header(info: tarfile.TarInfo) -> bytes:
    return info.tobuf(format=tarfile.PAX_FORMAT, encoding="utf-8", errors="surrogateescape")


def _image_path(root: Path, filename: str | None) -> str:
    relative = os.path.relpath(filename, root) if filename else "."
    return "/" if relative == "." else "/" + relative.replace(os.sep, "/")
