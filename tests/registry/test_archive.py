"""OCI layouts and `docker save` archives read as image sources."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from chalicelib.analysis.interface import ImageSource
from chalicelib.registry.archive import DockerArchiveSource, OciLayoutSource
from chalicelib.registry.blobstore import open_store
from chalicelib.registry.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidImageLayoutError,
    ManifestNotFoundError,
    PlatformNotFoundError,
    UnsupportedMediaTypeError,
)
from chalicelib.registry.manifest import DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST
from tests.support.ocilayout import (
    OCI_LAYER_GZIP,
    OciLayoutWriter,
    gzip_bytes,
    make_tar,
    sha256_digest,
    two_layer_image,
    write_test_layout,
)

STEREOSCOPE = "acceptance-fixtures/images/stereoscope"
TRIVY_OCI = "acceptance-fixtures/images/trivy-oci"
ALPINE_310 = "acceptance-fixtures/images/trivy-alpine-310.docker-archive.tar.gz"

VALID_OCI_MANIFEST = "sha256:c1ed04a3da941a5dd09b58b16c37f065557863d382ef97995ddac885a8452ebb"
MULTI_INDEX = "sha256:a1a8d08faa5fe3d2ccc0ba54874e39dede9a17120f883c5cb56f2fd9309067c8"
MULTI_AMD64 = "sha256:e7c26a4b4d156fd9947ee82295b7b78acf7aa54b93b8f3e4b9f608179ffb20e8"
MULTI_ARM64 = "sha256:5ed07065bcbc6c52e3ad28526557d7b6833613fc79257b1a786de85e37c03b05"
ALPINE_310_IMAGE_ID = "af341ccd2df8b0e2d67cf8dd32e087bfda4e5756ebd1c76bbf3efa0dc246590e"
ALPINE_310_DIFF_ID = "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028"


def _read_layers(source: ImageSource) -> list[bytes]:
    contents = []
    for layer in source.layers:
        with source.open_layer(layer) as stream:
            contents.append(stream.read())
    return contents


def _tar_directory(directory: Path, archive: Path, compress: bool = False) -> Path:
    with tarfile.open(archive, "w:gz" if compress else "w") as tar:
        for path in sorted(directory.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(directory)), recursive=False)
    return archive


# OCI layouts from other scanners' test suites.


def test_oci_layout_reads_valid_directory(shared_dir: Path) -> None:
    with OciLayoutSource(shared_dir / STEREOSCOPE / "valid_oci_dir") as source:
        contents = _read_layers(source)

    assert source.manifest_digest == VALID_OCI_MANIFEST
    assert source.parent_digest is None
    assert source.image_id == "61ee19e869a529075634f762c1eb191962777e0803598758cbf076edfadfb046"
    assert [layer.media_type for layer in source.layers] == [OCI_LAYER_GZIP]
    assert contents[0][:2] == b"\x1f\x8b"
    assert len(contents[0]) == source.layers[0].size


@pytest.mark.parametrize("ref_name", ["latest", "1.0"])
def test_oci_layout_selects_by_ref_name(shared_dir: Path, ref_name: str) -> None:
    with OciLayoutSource(shared_dir / STEREOSCOPE / "valid_oci_dir", ref_name=ref_name) as source:
        assert source.manifest_digest == VALID_OCI_MANIFEST


def test_oci_layout_reads_tar_archive(shared_dir: Path) -> None:
    with OciLayoutSource(shared_dir / STEREOSCOPE / "valid-oci.tar") as source:
        contents = _read_layers(source)

    assert source.manifest_digest == VALID_OCI_MANIFEST
    assert len(contents) == 1


def test_oci_layout_follows_index_to_index(shared_dir: Path) -> None:
    with OciLayoutSource(shared_dir / STEREOSCOPE / "multiplatform_oci_dir") as source:
        contents = _read_layers(source)

    assert source.manifest_digest == MULTI_AMD64
    assert source.parent_digest == MULTI_INDEX
    assert source.config["architecture"] == "amd64"
    assert len(contents) == 1


def test_oci_layout_selects_platform(shared_dir: Path) -> None:
    path = shared_dir / STEREOSCOPE / "multiplatform_oci_dir"

    with OciLayoutSource(path, platform="linux/arm64") as source:
        assert source.manifest_digest == MULTI_ARM64
        assert source.parent_digest == MULTI_INDEX
        assert source.config["architecture"] == "arm64"


@pytest.mark.parametrize("ref_name", ["latest", "docker.io/library/multi-platform:latest"])
def test_oci_layout_matches_containerd_name(shared_dir: Path, ref_name: str) -> None:
    path = shared_dir / STEREOSCOPE / "multiplatform_oci_dir"

    with OciLayoutSource(path, ref_name=ref_name) as source:
        assert source.manifest_digest == MULTI_AMD64


def test_oci_layout_missing_platform(shared_dir: Path) -> None:
    path = shared_dir / STEREOSCOPE / "multiplatform_oci_dir"

    with pytest.raises(PlatformNotFoundError, match="it has linux/amd64, linux/arm64"):
        OciLayoutSource(path, platform="linux/s390x")


def test_oci_layout_manifest_without_media_type(shared_dir: Path) -> None:
    with OciLayoutSource(shared_dir / TRIVY_OCI / "test.oci") as source:
        contents = _read_layers(source)

    assert source.manifest_digest.startswith("sha256:afb744871f99")
    assert len(contents) == 1


def test_oci_layout_unknown_ref_name(shared_dir: Path) -> None:
    path = shared_dir / TRIVY_OCI / "test_image_tag.oci"

    with pytest.raises(
        ManifestNotFoundError, match=r"no image named 'nope'; its names are '0\.0\.1'"
    ):
        OciLayoutSource(path, ref_name="nope")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        (f"{STEREOSCOPE}/invalid_file", "oci-layout file is missing"),
        (f"{STEREOSCOPE}/no_manifests", "oci-layout file is missing"),
        (f"{STEREOSCOPE}/valid_manifest", "oci-layout file is missing"),
        (f"{TRIVY_OCI}/test_bad_index_json.oci", "not valid JSON"),
        (f"{TRIVY_OCI}/test_index_json_dir.oci", "missing or not a file"),
        (f"{TRIVY_OCI}/test_no_valid_manifests.oci", "has no schemaVersion, so it is not an OCI"),
        (f"{TRIVY_OCI}/no_such_layout.oci", "does not exist"),
    ],
)
def test_oci_layout_rejects_invalid_layout(shared_dir: Path, name: str, fragment: str) -> None:
    with pytest.raises(InvalidImageLayoutError, match=fragment) as raised:
        OciLayoutSource(shared_dir / name)

    assert str(shared_dir / name) in str(raised.value)


def test_oci_layout_rejects_unknown_manifest_type(shared_dir: Path) -> None:
    with pytest.raises(UnsupportedMediaTypeError, match="application/badmedia"):
        OciLayoutSource(shared_dir / TRIVY_OCI / "test_invalid_oci_image.oci")


# Synthetic OCI layouts.


def test_oci_layout_synthetic_layers_match_content(tmp_path: Path) -> None:
    descriptors = write_test_layout(tmp_path)

    with OciLayoutSource(tmp_path, ref_name="single") as source:
        contents = _read_layers(source)

    assert source.manifest_digest == descriptors["single"]["digest"]
    assert [sha256_digest(content) for content in contents] == [
        layer.digest for layer in source.layers
    ]


def test_oci_layout_ambiguous_without_ref_name(tmp_path: Path) -> None:
    write_test_layout(tmp_path)

    with pytest.raises(ManifestNotFoundError, match=r"contains 2 images.*'multi', 'single'"):
        OciLayoutSource(tmp_path)


def test_oci_layout_index_json_lists_platforms(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    amd64 = two_layer_image(writer, "amd64")
    arm64 = two_layer_image(writer, "arm64")
    # Entries with platforms and no ref names, as `docker buildx --output type=oci` writes.
    (tmp_path / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "manifests": [amd64, arm64]})
    )

    with OciLayoutSource(tmp_path, platform="linux/arm64") as source:
        assert source.manifest_digest == arm64["digest"]
        assert source.parent_digest is None


def test_oci_layout_wrapper_index_without_platform(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    amd64 = two_layer_image(writer, "amd64")
    inner = writer.add_index([amd64])
    wrapper = writer.add_index([inner])
    writer.tag(wrapper, "latest")

    with OciLayoutSource(tmp_path) as source:
        assert source.manifest_digest == amd64["digest"]
        assert source.parent_digest == wrapper["digest"]


def test_oci_layout_tar_gzip(tmp_path: Path) -> None:
    descriptors = write_test_layout(tmp_path / "layout")
    archive = _tar_directory(tmp_path / "layout", tmp_path / "layout.tar.gz", compress=True)

    with OciLayoutSource(archive, ref_name="multi", platform="linux/arm64") as source:
        contents = _read_layers(source)

    assert source.manifest_digest == descriptors["arm64"]["digest"]
    assert len(contents) == 1


def test_oci_layout_detects_corrupt_layer_at_end(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    writer.tag(two_layer_image(writer), "latest")
    source = OciLayoutSource(tmp_path)
    layer = source.layers[1]
    blob = writer.blob_path(layer.digest)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x01
    blob.write_bytes(bytes(data))

    with source.open_layer(layer) as stream:
        head = stream.read(512)
        with pytest.raises(DigestMismatchError, match=f"not the expected {layer.digest}"):
            stream.read()

    assert head == bytes(data[:512])


def test_oci_layout_detects_corrupt_manifest(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    descriptor = two_layer_image(writer)
    writer.tag(descriptor, "latest")
    blob = writer.blob_path(descriptor["digest"])
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":2'))

    with pytest.raises(DigestMismatchError, match=descriptor["digest"]):
        OciLayoutSource(tmp_path)


def test_oci_layout_detects_corrupt_config(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    writer.tag(two_layer_image(writer), "latest")
    manifest = json.loads(writer.blob_path(writer.index_entries[0]["digest"]).read_bytes())
    config_blob = writer.blob_path(manifest["config"]["digest"])
    config_blob.write_bytes(config_blob.read_bytes().replace(b"linux", b"LINUX"))

    with pytest.raises(DigestMismatchError, match=manifest["config"]["digest"]):
        OciLayoutSource(tmp_path)


def test_oci_layout_missing_layer_blob(tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path)
    writer.tag(two_layer_image(writer), "latest")
    manifest = json.loads(writer.blob_path(writer.index_entries[0]["digest"]).read_bytes())
    missing = manifest["layers"][0]["digest"]
    writer.blob_path(missing).unlink()

    with pytest.raises(BlobNotFoundError, match=f"layer {missing} is missing"):
        OciLayoutSource(tmp_path)


def test_oci_layout_rejects_unknown_layout_version(tmp_path: Path) -> None:
    write_test_layout(tmp_path)
    (tmp_path / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')

    with pytest.raises(InvalidImageLayoutError, match=r"imageLayoutVersion '2\.0\.0'"):
        OciLayoutSource(tmp_path, ref_name="single")


def test_oci_layout_open_layer_of_other_image(tmp_path: Path) -> None:
    descriptors = write_test_layout(tmp_path)
    with OciLayoutSource(tmp_path, ref_name="multi", platform="linux/arm64") as arm64:
        foreign_layer = arm64.layers[0]

    with OciLayoutSource(tmp_path, ref_name="single") as source:
        assert source.manifest_digest == descriptors["single"]["digest"]
        with pytest.raises(BlobNotFoundError, match="is not a layer of image"):
            source.open_layer(foreign_layer)


# `docker save` archives.


def test_docker_archive_reads_alpine(shared_dir: Path) -> None:
    with DockerArchiveSource(shared_dir / ALPINE_310) as source:
        contents = _read_layers(source)

    assert source.image_id == ALPINE_310_IMAGE_ID
    assert source.repo_tags == ["alpine:3.10"]
    assert source.media_type == DOCKER_MANIFEST
    assert [layer.digest for layer in source.layers] == [ALPINE_310_DIFF_ID]
    assert [layer.media_type for layer in source.layers] == [DOCKER_LAYER]
    assert source.config["rootfs"]["diff_ids"] == [ALPINE_310_DIFF_ID]
    assert source.platform == "linux/amd64"
    assert sha256_digest(contents[0]) == ALPINE_310_DIFF_ID


def test_docker_archive_manifest_digest_is_stable(shared_dir: Path) -> None:
    with DockerArchiveSource(shared_dir / ALPINE_310) as first:
        digest = first.manifest_digest
        raw = first.raw_manifest
    with DockerArchiveSource(shared_dir / ALPINE_310) as second:
        assert second.manifest_digest == digest

    assert sha256_digest(raw) == digest
    assert json.loads(raw)["config"]["digest"] == f"sha256:{ALPINE_310_IMAGE_ID}"


@pytest.mark.parametrize("repo_tag", ["alpine:3.10", "docker.io/library/alpine:3.10"])
def test_docker_archive_selects_repo_tag(shared_dir: Path, repo_tag: str) -> None:
    with DockerArchiveSource(shared_dir / ALPINE_310, repo_tag=repo_tag) as source:
        assert source.image_id == ALPINE_310_IMAGE_ID


def test_docker_archive_unknown_repo_tag(shared_dir: Path) -> None:
    with pytest.raises(ManifestNotFoundError, match=r"its tags are alpine:3\.10"):
        DockerArchiveSource(shared_dir / ALPINE_310, repo_tag="alpine:3.11")


def _docker_archive(
    path: Path,
    images: list[dict[str, Any]],
    compress: bool = False,
    extra_members: dict[str, bytes] | None = None,
    links: dict[str, str] | None = None,
) -> Path:
    """Write a legacy `docker save` archive.

    Each image is `{"tags": [...], "layers": [(name, bytes)], "config_name": optional}`;
    `links` adds symbolic links (name -> target) as Docker writes for repeated layers.
    """
    manifest = []
    members: dict[str, bytes] = dict(extra_members or {})
    for image in images:
        diff_ids = [
            sha256_digest(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
            for _, data in image["layers"]
        ]
        config = json.dumps(
            {
                "architecture": "arm64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": diff_ids},
            }
        ).encode()
        config_name = image.get("config_name") or f"{hashlib.sha256(config).hexdigest()}.json"
        members[config_name] = config
        for name, data in image["layers"]:
            if name not in (links or {}):
                members[name] = data
        manifest.append(
            {
                "Config": config_name,
                "RepoTags": image["tags"],
                "Layers": [name for name, _ in image["layers"]],
            }
        )
    members["manifest.json"] = json.dumps(manifest).encode()

    with tarfile.open(path, "w:gz" if compress else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


LAYER_A = make_tar({"etc/a": b"a\n"})
LAYER_B = make_tar({"etc/b": b"b\n"})


def test_docker_archive_follows_layer_symlinks(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar",
        [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A), ("b/layer.tar", LAYER_A)]}],
        links={"b/layer.tar": "../a/layer.tar"},
    )

    with DockerArchiveSource(archive) as source:
        contents = _read_layers(source)

    assert contents == [LAYER_A, LAYER_A]
    assert [layer.size for layer in source.layers] == [len(LAYER_A), len(LAYER_A)]


def test_docker_archive_gzip_layer(tmp_path: Path) -> None:
    compressed = gzip_bytes(LAYER_B)
    archive = _docker_archive(
        tmp_path / "image.tar.gz",
        [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A), ("b/layer.tar", compressed)]}],
        compress=True,
    )

    with DockerArchiveSource(archive) as source:
        contents = _read_layers(source)

    assert [layer.media_type for layer in source.layers] == [DOCKER_LAYER, DOCKER_LAYER_GZIP]
    assert source.layers[1].digest == sha256_digest(compressed)
    assert contents == [LAYER_A, compressed]
    assert source.platform == "linux/arm64"


def test_docker_archive_several_images(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "images.tar",
        [
            {"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A)]},
            {"tags": ["other:2", "other:latest"], "layers": [("b/layer.tar", LAYER_B)]},
        ],
    )

    with pytest.raises(
        ManifestNotFoundError, match=r"contains 2 images.*app:1, other:2, other:latest"
    ):
        DockerArchiveSource(archive)
    with DockerArchiveSource(archive, repo_tag="other:latest") as source:
        assert source.layers[0].digest == sha256_digest(LAYER_B)
        assert source.repo_tags == ["other:2", "other:latest"]


def test_docker_archive_detects_corrupt_layer(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar", [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A)]}]
    )
    corrupt = archive.read_bytes().replace(b"a\n\x00", b"z\n\x00", 1)
    archive.write_bytes(corrupt)

    with (
        DockerArchiveSource(archive) as source,
        source.open_layer(source.layers[0]) as stream,
        pytest.raises(DigestMismatchError, match=sha256_digest(LAYER_A)),
    ):
        stream.read()


def test_docker_archive_detects_renamed_config(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar",
        [
            {
                "tags": ["app:1"],
                "layers": [("a/layer.tar", LAYER_A)],
                "config_name": "0" * 64 + ".json",
            }
        ],
    )

    with pytest.raises(DigestMismatchError, match="not the one its name gives"):
        DockerArchiveSource(archive)


def _rewrite_layer_list(archive: Path, layers: list[str]) -> None:
    """Rewrite the `Layers` of the first image in the manifest.json of `archive`."""
    members = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            stream = tar.extractfile(member)
            assert stream is not None
            members[member.name] = stream.read()
    manifest = json.loads(members["manifest.json"])
    manifest[0]["Layers"] = layers
    members["manifest.json"] = json.dumps(manifest).encode()
    with tarfile.open(archive, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_docker_archive_rejects_layer_count_mismatch(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar", [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A)]}]
    )
    _rewrite_layer_list(archive, ["a/layer.tar", "a/layer.tar"])

    with pytest.raises(InvalidImageLayoutError, match=r"lists 2 layers.*has 1 diff id;"):
        DockerArchiveSource(archive)


def test_docker_archive_layer_count_mismatch_singular(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar",
        [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A), ("b/layer.tar", LAYER_B)]}],
    )
    _rewrite_layer_list(archive, ["a/layer.tar"])

    with pytest.raises(InvalidImageLayoutError, match=r"lists 1 layer for .*has 2 diff ids;"):
        DockerArchiveSource(archive)


def test_oci_layout_rejects_docker_archive(tmp_path: Path) -> None:
    archive = _docker_archive(
        tmp_path / "image.tar", [{"tags": ["app:1"], "layers": [("a/layer.tar", LAYER_A)]}]
    )

    with pytest.raises(InvalidImageLayoutError, match="like a `docker save` archive") as error:
        OciLayoutSource(archive)

    assert "docker-archive:PATH" in str(error.value)
    assert "skopeo" not in str(error.value)


def test_docker_archive_with_oci_layout_uses_its_manifest(tmp_path: Path) -> None:
    # Docker 25 and later write an OCI layout next to manifest.json.
    layout = tmp_path / "layout"
    writer = OciLayoutWriter(layout)
    descriptor = two_layer_image(writer, label="docker25")
    writer.tag(descriptor, "app:1")
    manifest = json.loads(writer.blob_path(descriptor["digest"]).read_bytes())
    docker_manifest = [
        {
            "Config": "blobs/sha256/" + manifest["config"]["digest"].removeprefix("sha256:"),
            "RepoTags": ["app:1"],
            "Layers": [
                "blobs/sha256/" + layer["digest"].removeprefix("sha256:")
                for layer in manifest["layers"]
            ],
        }
    ]
    (layout / "manifest.json").write_text(json.dumps(docker_manifest))
    archive = _tar_directory(layout, tmp_path / "docker25.tar")

    with DockerArchiveSource(archive) as source:
        contents = _read_layers(source)

    assert source.manifest_digest == descriptor["digest"]
    assert source.layers[0].media_type == OCI_LAYER_GZIP
    assert len(contents) == 2


def test_docker_archive_reads_extracted_directory(tmp_path: Path, shared_dir: Path) -> None:
    with tarfile.open(shared_dir / ALPINE_310) as tar:
        tar.extractall(tmp_path, filter="data")

    with DockerArchiveSource(tmp_path) as source:
        assert source.image_id == ALPINE_310_IMAGE_ID
        assert len(_read_layers(source)[0]) == source.layers[0].size


def test_docker_archive_does_not_extract(tmp_path: Path, shared_dir: Path) -> None:
    archive = tmp_path / "alpine.tar.gz"
    shutil.copyfile(shared_dir / ALPINE_310, archive)

    with DockerArchiveSource(archive) as source:
        _read_layers(source)

    assert list(tmp_path.iterdir()) == [archive]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not a tar archive at all", r"is not a tar archive \(plain, gzip, bzip2 or xz\); give"),
        (gzip_bytes(b"x" * 2000), r"is not a tar archive \(plain, gzip, bzip2 or xz\); give"),
    ],
)
def test_docker_archive_rejects_non_tar(tmp_path: Path, content: bytes, fragment: str) -> None:
    path = tmp_path / "image.tar"
    path.write_bytes(content)

    with pytest.raises(InvalidImageLayoutError, match=fragment) as raised:
        DockerArchiveSource(path)

    assert "\n" not in str(raised.value)


def test_docker_archive_rejects_truncated_archive(tmp_path: Path, shared_dir: Path) -> None:
    path = tmp_path / "truncated.tar.gz"
    path.write_bytes((shared_dir / ALPINE_310).read_bytes()[:100_000])

    with pytest.raises(InvalidImageLayoutError, match="truncated or corrupt"):
        DockerArchiveSource(path)


def test_docker_archive_without_manifest_json(tmp_path: Path) -> None:
    path = tmp_path / "layout.tar"
    path.write_bytes(make_tar({"index.json": b"{}"}))

    with pytest.raises(InvalidImageLayoutError, match=r"manifest\.json is missing"):
        DockerArchiveSource(path)


def test_docker_archive_rejects_invalid_manifest_json(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    path.write_bytes(make_tar({"manifest.json": b'[{"Config": 1}]'}))

    with pytest.raises(InvalidImageLayoutError, match="not a non-empty list of images"):
        DockerArchiveSource(path)


def test_tar_store_plain_member_reads_only_member(tmp_path: Path) -> None:
    first = bytes(range(256)) * 40
    second = b"second member"
    archive = tmp_path / "layout.tar"
    with tarfile.open(archive, "w") as tar:
        for name, data in (("blobs/first", first), ("blobs/second", second)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    store = open_store(archive, "docker archive")
    try:
        with store.open("blobs/first") as stream:
            pieces = [stream.read(3000) for _ in range(5)]
        with store.open("blobs/second") as stream:
            whole = stream.read()
        with store.open("blobs/first") as stream:
            buffer = bytearray(len(first) + 100)
            count = stream.readinto(buffer)
    finally:
        store.close()

    assert [len(piece) for piece in pieces] == [3000, 3000, 3000, 1240, 0]
    assert b"".join(pieces) == first
    assert whole == second
    assert count == len(first)
    assert bytes(buffer[:count]) == first
