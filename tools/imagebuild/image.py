"""Image config and history, the OCI layout and `docker save` writers, and pushing with skopeo.

The builder needs no Docker daemon and no root: layers are serialized to temporary files while
their digests are computed, then written as blobs. Every timestamp is fixed, so the same layers
and config give the same digests on every run.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from tools.imagebuild.errors import ImageBuildError, run_tool
from tools.imagebuild.layer import FIXED_MTIME, Layer

logger = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_COPY_CHUNK = 1024 * 1024


def run_step(command: str) -> str:
    """Return the history `created_by` of a Dockerfile `RUN command` in shell form."""
    return f"/bin/sh -c {command}"


def nop_step(instruction: str) -> str:
    """Return the history `created_by` of a Dockerfile instruction that runs nothing.

    The classic Docker builder writes these as `/bin/sh -c #(nop) ` plus the instruction; tools
    that guess a Dockerfile from the history strip that prefix.
    """
    return f"/bin/sh -c #(nop) {instruction}"


@dataclasses.dataclass
class ImageConfig:
    """The run-time part (`config`) of the image config, with Docker's field names on output."""

    env: list[str] = dataclasses.field(default_factory=list)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    user: str | None = None
    working_dir: str | None = None
    exposed_ports: list[str] = dataclasses.field(default_factory=list)
    """Ports as `22/tcp`."""
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    """Docker's `Healthcheck` object: `Test`, `Retries`, and `Interval`, `Timeout` in ns."""

    def to_json(self) -> dict[str, Any]:
        """Return the config as the `config` member of an image config blob."""
        result: dict[str, Any] = {}
        if self.user is not None:
            result["User"] = self.user
        if self.exposed_ports:
            result["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.env:
            result["Env"] = list(self.env)
        if self.entrypoint is not None:
            result["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            result["Cmd"] = list(self.cmd)
        if self.healthcheck is not None:
            result["Healthcheck"] = dict(self.healthcheck)
        if self.working_dir is not None:
            result["WorkingDir"] = self.working_dir
        if self.labels:
            result["Labels"] = dict(self.labels)
        return result


@dataclasses.dataclass(frozen=True)
class BuiltLayer:
    """A layer as written: its blob digest and size, media type and diff id."""

    digest: str
    size: int
    media_type: str
    diff_id: str
    uncompressed_size: int


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    """Digests of a written image; `manifest_digest` is None for a `docker save` archive."""

    manifest_digest: str | None
    config_digest: str
    layers: list[BuiltLayer]

    @property
    def image_id(self) -> str:
        """The config digest without `sha256:`, as Anchore's API shows it."""
        return self.config_digest.removeprefix("sha256:")


@dataclasses.dataclass(frozen=True)
class _LayerTar:
    path: Path
    diff_id: str
    size: int


@dataclasses.dataclass(frozen=True)
class _HistoryStep:
    created_by: str | None
    layer: Layer | None
    comment: str | None = None


class ImageBuilder:
    """An image being assembled: layers and config steps in Dockerfile order.

    Layers come from `add_layer`. The methods named after Dockerfile instructions (`env`,
    `expose`, `user`, ...) change the config and add a history entry without a layer, in the
    format the classic Docker builder writes. Nothing touches the disk until a writer runs.
    """

    def __init__(
        self, architecture: str = "amd64", os: str = "linux", created: int = FIXED_MTIME
    ) -> None:
        """Create an empty image for `architecture` and `os`, dated `created` (Unix seconds)."""
        self.architecture = architecture
        self.os = os
        self.created = created
        self.config = ImageConfig()
        self._steps: list[_HistoryStep] = []

    @property
    def layers(self) -> list[Layer]:
        """The layers, base first."""
        return [step.layer for step in self._steps if step.layer is not None]

    def add_layer(self, created_by: str | None = None, comment: str | None = None) -> Layer:
        """Append and return an empty layer; see `Layer` for `created_by` and `comment`."""
        layer = Layer(created_by, comment)
        self._steps.append(_HistoryStep(created_by, layer, comment))
        return layer

    def add_history(self, created_by: str, comment: str | None = None) -> None:
        """Append a history entry that made no layer (`empty_layer`)."""
        self._steps.append(_HistoryStep(created_by, None, comment))

    def env(self, name: str, value: str) -> None:
        """Set an environment variable, as `ENV name=value`."""
        self.config.env = [item for item in self.config.env if item.split("=")[0] != name]
        self.config.env.append(f"{name}={value}")
        self.add_history(nop_step(f" ENV {name}={value}"))

    def expose(self, port: int, protocol: str = "tcp") -> None:
        """Declare an exposed port, as `EXPOSE port/protocol`."""
        self.config.exposed_ports.append(f"{port}/{protocol}")
        self.add_history(nop_step(f" EXPOSE {port}/{protocol}"))

    def user(self, name: str) -> None:
        """Set the user the container runs as, as `USER name`."""
        self.config.user = name
        self.add_history(nop_step(f" USER {name}"))

    def workdir(self, path: str) -> None:
        """Set the working directory, as `WORKDIR path`."""
        self.config.working_dir = path
        self.add_history(nop_step(f"WORKDIR {path}"))

    def label(self, name: str, value: str) -> None:
        """Set a label, as `LABEL name=value`."""
        self.config.labels[name] = value
        self.add_history(nop_step(f" LABEL {name}={value}"))

    def entrypoint(self, args: Sequence[str]) -> None:
        """Set the entrypoint in exec form, as `ENTRYPOINT [...]`."""
        self.config.entrypoint = list(args)
        self.add_history(nop_step(f" ENTRYPOINT {json.dumps(list(args))}"))

    def cmd(self, args: Sequence[str]) -> None:
        """Set the default command in exec form, as `CMD [...]`."""
        self.config.cmd = list(args)
        self.add_history(nop_step(f" CMD {json.dumps(list(args))}"))

    def healthcheck(
        self, command: str, interval: int = 30, timeout: int = 30, retries: int = 3
    ) -> None:
        """Set a shell-form health check, as `HEALTHCHECK --interval=... CMD command`.

        `interval` and `timeout` are in seconds. The history entry has the form the classic
        Docker builder writes (a Go struct dump), not the Dockerfile line.
        """
        self.config.healthcheck = {
            "Test": ["CMD-SHELL", command],
            "Interval": interval * 1_000_000_000,
            "Timeout": timeout * 1_000_000_000,
            "Retries": retries,
        }
        dump = (
            f'&{{["CMD-SHELL" {json.dumps(command)}] "{_go_duration(interval)}" '
            f'"{_go_duration(timeout)}" "0s" \'\\x{retries:02x}\'}}'
        )
        self.add_history(nop_step(f" HEALTHCHECK {dump}"))

    def write_oci_layout(
        self,
        directory: Path,
        tag: str,
        compression: Literal["gzip", "none"] = "gzip",
    ) -> BuiltImage:
        """Write the image into the OCI image layout at `directory` under `tag`.

        An existing layout keeps its other images; an image already tagged `tag` is untagged.
        Layers are gzip-compressed unless `compression` is `none`. Returns the digests.
        """
        if compression not in ("gzip", "none"):
            raise ImageBuildError(f"compression {compression!r} is not supported; use gzip or none")
        blobs = directory / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)

        built_layers = []
        with self._serialized_layers() as layer_tars:
            for layer_tar in layer_tars:
                if compression == "gzip":
                    digest, size = _write_gzip_blob(layer_tar.path, blobs)
                    media_type = OCI_LAYER_GZIP
                else:
                    digest, size = _write_blob_from_file(layer_tar.path, blobs)
                    media_type = OCI_LAYER_TAR
                built_layers.append(
                    BuiltLayer(digest, size, media_type, layer_tar.diff_id, layer_tar.size)
                )

        config_bytes = self._config_bytes([layer.diff_id for layer in built_layers])
        config_digest = _write_blob(config_bytes, blobs)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": [
                {"mediaType": layer.media_type, "digest": layer.digest, "size": layer.size}
                for layer in built_layers
            ],
        }
        manifest_bytes = _canonical_json(manifest)
        manifest_digest = _write_blob(manifest_bytes, blobs)

        (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        _tag_in_index(directory / "index.json", tag, manifest_digest, len(manifest_bytes))
        logger.info("wrote %s:%s as %s", directory, tag, manifest_digest)
        return BuiltImage(manifest_digest, config_digest, built_layers)

    def write_docker_archive(self, path: Path, tag: str) -> BuiltImage:
        """Write the image as a `docker save` tar archive at `path`, tagged `tag`.

        `tag` is a `repository:tag` reference; a reference without a tag gets `:latest`. The
        layers are uncompressed `<id>/layer.tar` members, as Docker wrote them before version 25.
        """
        reference = tag if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:latest"
        repository, _, tag_name = reference.rpartition(":")
        path.parent.mkdir(parents=True, exist_ok=True)

        with self._serialized_layers() as layer_tars:
            built_layers = [
                BuiltLayer(tar.diff_id, tar.size, DOCKER_LAYER, tar.diff_id, tar.size)
                for tar in layer_tars
            ]
            config_bytes = self._config_bytes([layer.diff_id for layer in built_layers])
            config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
            layer_files = [tar.path for tar in layer_tars]
            _write_docker_tar(
                path, config_bytes, config_digest, layer_files, built_layers, repository, tag_name
            )
        logger.info("wrote %s as %s", path, reference)
        return BuiltImage(None, config_digest, built_layers)

    @contextlib.contextmanager
    def _serialized_layers(self) -> Iterator[list[_LayerTar]]:
        """Write each layer as an uncompressed tar into a temporary directory."""
        with tempfile.TemporaryDirectory() as work_dir:
            layer_tars = []
            for index, layer in enumerate(self.layers):
                layer_path = Path(work_dir) / f"layer-{index}.tar"
                with layer_path.open("wb") as raw:
                    hashing = _HashingWriter(raw)
                    layer.write_tar(hashing)  # type: ignore[arg-type]
                diff_id = "sha256:" + hashing.sha256.hexdigest()
                layer_tars.append(_LayerTar(layer_path, diff_id, hashing.size))
            yield layer_tars

    def _config_bytes(self, diff_ids: list[str]) -> bytes:
        created = _timestamp(self.created)
        history = []
        layer_diff_ids = iter(diff_ids)
        for step in self._steps:
            entry: dict[str, Any] = {"created": created}
            if step.layer is None:
                entry["created_by"] = step.created_by
                entry["empty_layer"] = True
            else:
                diff_hex = next(layer_diff_ids).removeprefix("sha256:")
                entry["created_by"] = step.created_by or nop_step(f"ADD file:{diff_hex} in / ")
            if step.comment:
                entry["comment"] = step.comment
            history.append(entry)
        config = {
            "architecture": self.architecture,
            "os": self.os,
            "created": created,
            "config": self.config.to_json(),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        }
        return _canonical_json(config)


def push(
    layout_dir: Path,
    tag: str,
    reference: str,
    creds: tuple[str, str] | str | None = None,
) -> None:
    """Copy the image `tag` of an OCI layout to the registry `reference` with skopeo.

    TLS is not verified, which suits a test registry on a loopback address. 127.0.0.1, localhost
    and ::1 are added to `NO_PROXY` so that a proxy set in the environment is bypassed. `creds`
    is a (user, password) pair or a `user:password` string for the destination registry.
    """
    command = [
        "skopeo", "copy", "--insecure-policy", "--dest-tls-verify=false",
        f"oci:{layout_dir}:{tag}", f"docker://{reference}",
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="imagebuild-auth-") as auth_dir:
        if creds is not None:
            # An auth file keeps the password out of the process list and out of error messages.
            auth_file = Path(auth_dir) / "auth.json"
            _write_auth_file(auth_file, reference.split("/", 1)[0], creds)
            command[2:2] = ["--dest-authfile", str(auth_file)]
        run_tool(command, env=_no_proxy_env())
    logger.info("pushed %s:%s to %s", layout_dir, tag, reference)


def _write_auth_file(path: Path, registry: str, creds: tuple[str, str] | str) -> None:
    """Write a containers-auth.json file with the credentials for `registry`."""
    if isinstance(creds, str):
        user, colon, password = creds.partition(":")
        if not colon:
            raise ImageBuildError("credentials must be given as USER:PASSWORD")
    else:
        user, password = creds
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.touch(mode=0o600)
    path.write_text(json.dumps({"auths": {registry: {"auth": token}}}))


def _no_proxy_env() -> dict[str, str]:
    loopback = ["127.0.0.1", "localhost", "::1"]
    env = {}
    for name in ("NO_PROXY", "no_proxy"):
        present = [item for item in os.environ.get(name, "").split(",") if item]
        env[name] = ",".join(present + [host for host in loopback if host not in present])
    return env


class _HashingWriter(io.RawIOBase):
    """A write-only stream that passes bytes on to `target`, counting and hashing them."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.target.write(view)
        self.sha256.update(view)
        self.size += view.nbytes
        return view.nbytes


def _write_blob(data: bytes, blobs: Path) -> str:
    digest = hashlib.sha256(data).hexdigest()
    target = blobs / digest
    if not target.exists():
        temporary = blobs / f".{digest}.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, target)
    return f"sha256:{digest}"


def _write_blob_from_file(source: Path, blobs: Path) -> tuple[str, int]:
    with tempfile.NamedTemporaryFile(dir=blobs, prefix=".blob-", delete=False) as raw:
        hashing = _HashingWriter(raw)
        with source.open("rb") as reader:
            shutil.copyfileobj(reader, hashing, _COPY_CHUNK)
    return _move_blob(Path(raw.name), hashing, blobs)


def _write_gzip_blob(source: Path, blobs: Path) -> tuple[str, int]:
    with tempfile.NamedTemporaryFile(dir=blobs, prefix=".blob-", delete=False) as raw:
        hashing = _HashingWriter(raw)
        # A zero gzip mtime and no file name keep the compressed bytes reproducible.
        with (
            gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=hashing,
                compresslevel=6,
                mtime=0,
            ) as compressed,
            source.open("rb") as reader,
        ):
            shutil.copyfileobj(reader, compressed, _COPY_CHUNK)
    return _move_blob(Path(raw.name), hashing, blobs)


def _move_blob(temporary: Path, hashing: _HashingWriter, blobs: Path) -> tuple[str, int]:
    digest = hashing.sha256.hexdigest()
    temporary.chmod(0o644)  # NamedTemporaryFile creates 0o600 files
    os.replace(temporary, blobs / digest)
    return f"sha256:{digest}", hashing.size


def _tag_in_index(index_path: Path, tag: str, digest: str, size: int) -> None:
    index: dict[str, Any] = {"schemaVersion": 2, "manifests": []}
    if index_path.exists():
        try:
            index = json.loads(index_path.read_text())
        except ValueError as error:
            raise ImageBuildError(
                f"{index_path} is not valid JSON; delete the layout directory and write it again"
            ) from error
    manifests = [
        descriptor
        for descriptor in index.get("manifests", [])
        if descriptor.get("annotations", {}).get(REF_NAME_ANNOTATION) != tag
    ]
    manifests.append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest,
            "size": size,
            "annotations": {REF_NAME_ANNOTATION: tag},
        }
    )
    index["manifests"] = manifests
    index_path.write_bytes(_canonical_json(index))


def _write_docker_tar(
    path: Path,
    config_bytes: bytes,
    config_digest: str,
    layer_files: list[Path],
    layers: list[BuiltLayer],
    repository: str,
    tag: str,
) -> None:
    config_name = config_digest.removeprefix("sha256:") + ".json"
    layer_names = []
    parent_id = ""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as archive:
        for layer_file, layer in zip(layer_files, layers, strict=True):
            # Docker's legacy layer ids chain the parent's id, so equal layers at different
            # depths (two empty layers, say) still get distinct directories.
            layer_id = hashlib.sha256(f"{parent_id}\n{layer.diff_id}".encode()).hexdigest()
            legacy = {"id": layer_id, "created": "1970-01-01T00:00:00Z"}
            if parent_id:
                legacy["parent"] = parent_id
            _add_bytes(archive, f"{layer_id}/VERSION", b"1.0")
            _add_bytes(archive, f"{layer_id}/json", _canonical_json(legacy))
            with layer_file.open("rb") as reader:
                info = _tar_member_info(f"{layer_id}/layer.tar", layer.uncompressed_size)
                archive.addfile(info, reader)
            layer_names.append(f"{layer_id}/layer.tar")
            parent_id = layer_id
        _add_bytes(archive, config_name, config_bytes)
        manifest = [
            {"Config": config_name, "RepoTags": [f"{repository}:{tag}"], "Layers": layer_names}
        ]
        _add_bytes(archive, "manifest.json", _canonical_json(manifest))
        _add_bytes(archive, "repositories", _canonical_json({repository: {tag: parent_id}}))


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    archive.addfile(_tar_member_info(name, len(data)), io.BytesIO(data))


def _tar_member_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = FIXED_MTIME
    return info


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _timestamp(seconds: int) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _go_duration(seconds: int) -> str:
    """Format whole seconds as Go's `time.Duration.String` does (`30s`, `5m0s`, `1h0m0s`)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
