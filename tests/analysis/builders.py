"""Layer tars and in-memory images built inside the tests."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

from chalicelib.analysis.interface import LayerRef

GZIP_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
TAR_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar"


@dataclasses.dataclass
class Item:
    """One tar entry to write: a file, directory, symlink, hard link or device."""

    name: str
    kind: str = "file"
    content: bytes = b""
    target: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0


def file(name: str, content: bytes | str = b"", mode: int = 0o644, uid: int = 0) -> Item:
    data = content.encode() if isinstance(content, str) else content
    return Item(name, "file", data, mode=mode, uid=uid)


def directory(name: str, mode: int = 0o755) -> Item:
    return Item(name, "dir", mode=mode)


def symlink(name: str, target: str) -> Item:
    return Item(name, "symlink", target=target, mode=0o777)


def hardlink(name: str, target: str) -> Item:
    return Item(name, "hardlink", target=target)


def whiteout(name: str) -> Item:
    """A `.wh.` marker deleting `name` (a path inside the layer) from lower layers."""
    head, _, base = name.rpartition("/")
    return file(f"{head}/.wh.{base}" if head else f".wh.{base}")


def opaque(directory_name: str) -> Item:
    return file(f"{directory_name.rstrip('/')}/.wh..wh..opq")


def tar_bytes(items: Iterable[Item], *, tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    """Write `items` as an uncompressed tar archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as archive:
        for item in items:
            info = tarfile.TarInfo(item.name)
            info.mode = item.mode
            info.uid = item.uid
            info.gid = item.gid
            if item.kind == "file":
                info.size = len(item.content)
                archive.addfile(info, io.BytesIO(item.content))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "chardev": tarfile.CHRTYPE,
                "fifo": tarfile.FIFOTYPE,
            }[item.kind]
            info.linkname = item.target
            archive.addfile(info)
    return buffer.getvalue()


def layer_bytes(items: Iterable[Item], *, compress: bool = True) -> bytes:
    data = tar_bytes(items)
    return gzip.compress(data, compresslevel=1) if compress else data


def tree_items(root: Path, prefix: str = "") -> list[Item]:
    """Return a file item for every regular file under `root`, placed under `prefix`."""
    items = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            items.append(file(f"{prefix.strip('/')}/{relative}".lstrip("/"), path.read_bytes()))
    return items


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class MemoryImageSource:
    """An `ImageSource` over layer blobs held in memory."""

    def __init__(self, blobs: list[bytes], *, history: list[dict] | None = None) -> None:
        self.blobs = {sha256(blob): blob for blob in blobs}
        self.layers = [
            LayerRef(
                digest=sha256(blob),
                media_type=GZIP_MEDIA_TYPE if blob[:2] == b"\x1f\x8b" else TAR_MEDIA_TYPE,
                size=len(blob),
            )
            for blob in blobs
        ]
        self.opened: list[str] = []
        self.config = {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha256(b"diff" + blob) for blob in blobs]},
            "history": history or [],
        }
        config_digest = sha256(json.dumps(self.config).encode())
        self.manifest = {
            "schemaVersion": 2,
            "config": {"digest": config_digest, "size": 1},
            "layers": [layer.model_dump() for layer in self.layers],
        }
        self.manifest_digest = sha256(json.dumps(self.manifest).encode())

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        self.opened.append(layer.digest)
        return io.BytesIO(self.blobs[layer.digest])


def image(*layers: list[Item], history: list[dict] | None = None) -> MemoryImageSource:
    """Build an image whose layers hold `layers`, gzip-compressed."""
    return MemoryImageSource([layer_bytes(items) for items in layers], history=history)


def directory_reader(root: Path) -> Callable[[str], bytes | None]:
    """Return a `ParseContext.read` function that reads image paths from the tree at `root`."""

    def read(path: str) -> bytes | None:
        candidate = root / path.lstrip("/")
        return candidate.read_bytes() if candidate.is_file() else None

    return read
