"""Readers and tool wrappers the image builder tests share."""

from __future__ import annotations

import dataclasses
import gzip
import io
import hashlib
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from tools.imagebuild import Layer, LayerEntry

import pytest


@dataclasses.dataclass(frozen=True)
class OciImage:
    """One image of an OCI layout, read back from its blobs."""

    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    layer_blobs: list[bytes]
    """Layer blobs as stored, compressed or not."""

    def layer_tar(self, index: int) -> bytes:
        """Return layer `index` as an uncompressed tar."""
        blob = self.layer_blobs[index]
        return gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob

    def layer_members(self, index: int) -> dict[str, tarfile.TarInfo]:
        """Return the tar entries of layer `index` by name, without a trailing `/`."""
        with tarfile.open(fileobj=io.BytesIO(self.layer_tar(index))) as archive:
            return {member.name.rstrip("/"): member for member in archive.getmembers()}

    def layer_file(self, index: int, name: str) -> bytes:
        """Return the content of regular file `name` in layer `index`."""
        with tarfile.open(fileobj=io.BytesIO(self.layer_tar(index))) as archive:
            reader = archive.extractfile(name)
            assert reader is not None, f"{name} is not a regular file in layer {index}"
            return reader.read()


def sha256_digest(data: bytes) -> str:
    """Return `sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_blob(layout: Path, digest: str) -> bytes:
    """Return a blob of the layout, checking that its content matches `digest`."""
    data = (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()
    assert sha256_digest(data) == digest, f"blob {digest} does not match its content"
    return data


def read_oci_image(layout: Path, tag: str) -> OciImage:
    """Read the image tagged `tag` in the OCI layout at `layout`."""
    index = json.loads((layout / "index.json").read_text())
    descriptors = [
        descriptor
        for descriptor in index["manifests"]
        if descriptor["annotations"]["org.opencontainers.image.ref.name"] == tag
    ]
    assert len(descriptors) == 1, f"tag {tag} appears {len(descriptors)} times in index.json"
    manifest_bytes = read_blob(layout, descriptors[0]["digest"])
    assert len(manifest_bytes) == descriptors[0]["size"]
    manifest = json.loads(manifest_bytes)
    config_bytes = read_blob(layout, manifest["config"]["digest"])
    assert len(config_bytes) == manifest["config"]["size"]
    layer_blobs = []
    for descriptor in manifest["layers"]:
        blob = read_blob(layout, descriptor["digest"])
        assert len(blob) == descriptor["size"]
        layer_blobs.append(blob)
    return OciImage(descriptors[0]["digest"], manifest, json.loads(config_bytes), layer_blobs)


def require_tool(name: str) -> str:
    """Return the path of program `name`, skipping the test when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed; tools/install-test-deps.sh installs it")
    return path


def run_tool(*command: str) -> str:
    """Run a program, failing the test with its error output when it exits non-zero."""
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert completed.returncode == 0, f"{' '.join(command)} failed: {completed.stderr}"
    return completed.stdout


def umoci_unpack(layout: Path, tag: str, bundle: Path) -> Path:
    """Unpack the image with `umoci unpack --rootless` and return its root file system."""
    require_tool("umoci")
    run_tool("umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", str(bundle))
    return bundle / "rootfs"


def skopeo_inspect(*arguments: str) -> dict[str, Any]:
    """Return `skopeo inspect` of a transport reference such as `oci:DIR:TAG`.

    Options such as `--tls-verify=false` go before the reference.
    """
    require_tool("skopeo")
    inspected: dict[str, Any] = json.loads(run_tool("skopeo", "inspect", *arguments))
    return inspected


def entry_at(layer: Layer, path: str) -> LayerEntry:
    """Return the entry of `layer` at `path`, failing the test when there is none."""
    entry = layer.get(path)
    assert entry is not None, f"the layer has no entry at {path}"
    return entry
