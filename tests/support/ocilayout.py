"""Write small synthetic OCI image layouts for tests.

Every byte is deterministic (tar and gzip timestamps are zero), so a layout written twice has the
same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"


def make_tar(files: Mapping[str, bytes]) -> bytes:
    """Return an uncompressed tar of regular files, with zero timestamps and root ownership."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """Compress `data` with gzip and a zero timestamp."""
    return gzip.compress(data, mtime=0)


def sha256_digest(data: bytes) -> str:
    """Return `sha256:HEX` of `data`."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class OciLayoutWriter:
    """Build an OCI image layout directory blob by blob.

    `add_*` methods store blobs and return their descriptors; `tag` adds a descriptor to
    `index.json` under a ref name. `index.json` is rewritten after every `tag`.
    """

    def __init__(self, root: Path) -> None:
        """Create the layout skeleton (`oci-layout`, `blobs/sha256`, empty `index.json`)."""
        self.root = root
        (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        self.index_entries: list[dict[str, Any]] = []
        self._write_index()

    def add_blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        """Store a blob and return its descriptor."""
        digest = sha256_digest(data)
        (self.blob_path(digest)).write_bytes(data)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def blob_path(self, digest: str) -> Path:
        """Return the file of a blob in the layout."""
        return self.root / "blobs" / "sha256" / digest.removeprefix("sha256:")

    def add_image(
        self,
        layers: Sequence[tuple[bytes, str]],
        architecture: str = "amd64",
        os: str = "linux",
        variant: str | None = None,
        config_extra: Mapping[str, Any] | None = None,
        layer_media_types: Sequence[str] | None = None,
        config_media_type: str = OCI_CONFIG,
    ) -> dict[str, Any]:
        """Store an image and return its manifest descriptor, with its platform.

        `layers` are `(uncompressed tar, media type)` pairs; a `+gzip` media type stores the
        layer gzip-compressed. `layer_media_types`, when given, replaces the media types written
        in the manifest (to describe a layer falsely). `config_extra` adds config fields.
        """
        layer_descriptors = []
        diff_ids = []
        for tar_bytes, media_type in layers:
            diff_ids.append(sha256_digest(tar_bytes))
            blob = gzip_bytes(tar_bytes) if media_type.endswith("+gzip") else tar_bytes
            layer_descriptors.append(self.add_blob(blob, media_type))
        if layer_media_types is not None:
            for descriptor, media_type in zip(layer_descriptors, layer_media_types, strict=True):
                descriptor["mediaType"] = media_type

        platform: dict[str, Any] = {"architecture": architecture, "os": os}
        if variant:
            platform["variant"] = variant
        config = {
            **platform,
            "config": {"Env": ["PATH=/usr/bin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"test layer {i}"} for i in range(len(layers))],
            **(config_extra or {}),
        }
        config_descriptor = self.add_blob(_json_bytes(config), config_media_type)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config_descriptor,
            "layers": layer_descriptors,
        }
        descriptor = self.add_blob(_json_bytes(manifest), OCI_MANIFEST)
        descriptor["platform"] = platform
        return descriptor

    def add_index(
        self, manifests: Sequence[Mapping[str, Any]], media_type: str = OCI_INDEX
    ) -> dict[str, Any]:
        """Store an image index of `manifests` descriptors and return its descriptor."""
        index = {"schemaVersion": 2, "mediaType": media_type, "manifests": list(manifests)}
        return self.add_blob(_json_bytes(index), media_type)

    def tag(self, descriptor: Mapping[str, Any], ref_name: str) -> None:
        """List `descriptor` in `index.json` under `ref_name`."""
        entry = {key: value for key, value in descriptor.items() if key != "platform"}
        entry["annotations"] = {REF_NAME: ref_name}
        self.index_entries.append(entry)
        self._write_index()

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index_entries}
        (self.root / "index.json").write_text(json.dumps(index, indent=2))


def two_layer_image(
    writer: OciLayoutWriter, architecture: str = "amd64", label: str = "test"
) -> dict[str, Any]:
    """Add an image with a gzip layer and an uncompressed layer; return its descriptor.

    `label` goes into a file of each layer, so images with different labels share no blob.
    """
    base = make_tar(
        {"etc/os-release": b"ID=plimsoll-test\n", f"arch/{architecture}": label.encode()}
    )
    app = make_tar({"app/label.txt": f"{label} on {architecture}\n".encode()})
    return writer.add_image([(base, OCI_LAYER_GZIP), (app, OCI_LAYER)], architecture=architecture)


def write_test_layout(root: Path) -> dict[str, dict[str, Any]]:
    """Write a layout with a two-layer image tagged `single` and an amd64 + arm64 index `multi`.

    Returns the descriptors by name: `single`, `multi` (the index), `amd64` and `arm64`.
    """
    writer = OciLayoutWriter(root)
    single = two_layer_image(writer, label="single")
    amd64 = two_layer_image(writer, "amd64", label="multi")
    arm64 = writer.add_image(
        [(make_tar({"arch/arm64": b"1\n"}), OCI_LAYER_GZIP)], architecture="arm64", variant="v8"
    )
    multi = writer.add_index([amd64, arm64])
    writer.tag(single, "single")
    writer.tag(multi, "multi")
    return {"single": single, "multi": multi, "amd64": amd64, "arm64": arm64}


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True).encode()
