"""Tests of the image config, the OCI layout and docker-archive writers, and push."""

from __future__ import annotations

import json
import socket
import subprocess
import tarfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tools.imagebuild.layouts import (
    read_oci_image,
    require_tool,
    sha256_digest,
    skopeo_inspect,
    umoci_unpack,
)
from tools.imagebuild import ImageBuildError, ImageBuilder, nop_step, push, run_step
from tools.registry import free_port, local_registry


def _small_builder() -> ImageBuilder:
    builder = ImageBuilder()
    base = builder.add_layer()
    base.add_file("etc/os-release", b'ID=debian\nVERSION_ID="12"\n')
    base.add_dir("tmp", mode=0o1777)
    builder.cmd(["bash"])
    app = builder.add_layer(run_step("echo hello > /app/greeting"))
    app.add_file("app/greeting", b"hello\n")
    builder.env("PATH", "/usr/local/bin:/usr/bin:/bin")
    builder.expose(22)
    builder.user("nobody")
    builder.healthcheck("curl -f http://localhost/ || exit 1", interval=300, timeout=3)
    return builder


def test_oci_layout_digests_and_sizes_verify(tmp_path: Path) -> None:
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1")

    image = read_oci_image(tmp_path / "layout", "v1")

    assert image.manifest_digest == built.manifest_digest
    assert image.manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert image.manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert json.loads((tmp_path / "layout" / "oci-layout").read_text()) == {
        "imageLayoutVersion": "1.0.0"
    }
    diff_ids = [sha256_digest(image.layer_tar(index)) for index in range(2)]
    assert image.config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
    assert [layer.diff_id for layer in built.layers] == diff_ids
    assert all(
        layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
        for layer in image.manifest["layers"]
    )


def test_oci_layout_config_and_history(tmp_path: Path) -> None:
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1")

    config = read_oci_image(tmp_path / "layout", "v1").config

    assert config["architecture"] == "amd64"
    assert config["os"] == "linux"
    assert config["config"]["ExposedPorts"] == {"22/tcp": {}}
    assert config["config"]["User"] == "nobody"
    assert config["config"]["Cmd"] == ["bash"]
    assert config["config"]["Env"] == ["PATH=/usr/local/bin:/usr/bin:/bin"]
    assert config["config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
        "Interval": 300_000_000_000,
        "Timeout": 3_000_000_000,
        "Retries": 3,
    }
    base_diff_hex = built.layers[0].diff_id.removeprefix("sha256:")
    assert [entry["created_by"] for entry in config["history"]] == [
        f"/bin/sh -c #(nop) ADD file:{base_diff_hex} in / ",
        '/bin/sh -c #(nop)  CMD ["bash"]',
        "/bin/sh -c echo hello > /app/greeting",
        "/bin/sh -c #(nop)  ENV PATH=/usr/local/bin:/usr/bin:/bin",
        "/bin/sh -c #(nop)  EXPOSE 22/tcp",
        "/bin/sh -c #(nop)  USER nobody",
        '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] '
        '"5m0s" "3s" "0s" \'\\x03\'}',
    ]
    layer_steps = [entry for entry in config["history"] if not entry.get("empty_layer")]
    assert len(layer_steps) == len(config["rootfs"]["diff_ids"])


def test_oci_layout_digests_repeat(tmp_path: Path) -> None:
    first = _small_builder().write_oci_layout(tmp_path / "first", "v1")
    second = _small_builder().write_oci_layout(tmp_path / "second", "v1")

    assert first.manifest_digest == second.manifest_digest
    assert first.config_digest == second.config_digest


def test_oci_layout_uncompressed_layers(tmp_path: Path) -> None:
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1", compression="none")

    image = read_oci_image(tmp_path / "layout", "v1")

    assert all(layer.digest == layer.diff_id for layer in built.layers)
    assert all(
        layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
        for layer in image.manifest["layers"]
    )


def test_oci_layout_rejects_unknown_compression(tmp_path: Path) -> None:
    with pytest.raises(ImageBuildError, match="zstd"):
        _small_builder().write_oci_layout(tmp_path, "v1", compression="zstd")  # type: ignore[arg-type]


def test_oci_layout_keeps_other_tags_and_moves_tag(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    first = _small_builder().write_oci_layout(layout, "one")
    other = ImageBuilder()
    other.add_layer(nop_step("COPY file:abc in /")).add_file("x", b"x")
    second = other.write_oci_layout(layout, "two")
    moved = other.write_oci_layout(layout, "one")

    index = json.loads((layout / "index.json").read_text())
    tags = {
        descriptor["annotations"]["org.opencontainers.image.ref.name"]: descriptor["digest"]
        for descriptor in index["manifests"]
    }

    assert first.manifest_digest != second.manifest_digest
    assert tags == {"one": moved.manifest_digest, "two": second.manifest_digest}
    assert len(index["manifests"]) == 2


def test_skopeo_accepts_oci_layout(tmp_path: Path) -> None:
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1")

    inspected = skopeo_inspect(f"oci:{tmp_path / 'layout'}:v1")

    assert inspected["Digest"] == built.manifest_digest
    assert inspected["Architecture"] == "amd64"
    assert inspected["Layers"] == [layer.digest for layer in built.layers]


def test_docker_archive_members(tmp_path: Path) -> None:
    archive_path = tmp_path / "image.tar"
    built = _small_builder().write_docker_archive(archive_path, "plimsoll/test")

    with tarfile.open(archive_path) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        config_bytes = archive.extractfile(manifest[0]["Config"]).read()  # type: ignore[union-attr]
        layer_digests = [
            sha256_digest(archive.extractfile(name).read())  # type: ignore[union-attr]
            for name in manifest[0]["Layers"]
        ]

    assert manifest[0]["RepoTags"] == ["plimsoll/test:latest"]
    assert sha256_digest(config_bytes) == built.config_digest
    assert json.loads(config_bytes)["rootfs"]["diff_ids"] == layer_digests
    assert len(set(manifest[0]["Layers"])) == 2


def test_skopeo_accepts_docker_archive(tmp_path: Path) -> None:
    archive_path = tmp_path / "image.tar"
    built = _small_builder().write_docker_archive(archive_path, "plimsoll/test:v2")

    inspected = skopeo_inspect(f"docker-archive:{archive_path}")

    assert inspected["Layers"] == [layer.diff_id for layer in built.layers]
    assert inspected["Os"] == "linux"


def test_umoci_applies_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    builder = ImageBuilder()
    base = builder.add_layer()
    base.add_file("app/keep", b"keep")
    base.add_file("app/remove", b"remove")
    base.add_file("app/gone/file", b"x")
    base.add_file("cache/old", b"old")
    base.add_file("cache/sub/older", b"older")
    change = builder.add_layer(run_step("rm -rf /app/remove /app/gone /cache/*"))
    change.add_whiteout("/app/remove")
    change.add_whiteout("/app/gone")
    change.add_opaque("/cache")
    change.add_file("cache/new", b"new")
    builder.write_oci_layout(tmp_path / "layout", "v1")

    rootfs = umoci_unpack(tmp_path / "layout", "v1", tmp_path / "bundle")

    assert (rootfs / "app" / "keep").read_bytes() == b"keep"
    assert not (rootfs / "app" / "remove").exists()
    assert not (rootfs / "app" / "gone").exists()
    assert sorted(path.name for path in (rootfs / "cache").iterdir()) == ["new"]
    assert not list(rootfs.rglob(".wh.*"))


def test_push_reaches_loopback_registry_past_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("skopeo")
    require_tool("docker-registry")
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1")
    proxy_names = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")

    with local_registry() as address:
        # A proxy on a closed port: the push fails if registry traffic goes through it.
        for name in proxy_names:
            monkeypatch.setenv(name, f"http://127.0.0.1:{free_port()}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        push(tmp_path / "layout", "v1", f"{address}/plimsoll/test:v1")

        for name in proxy_names:
            monkeypatch.delenv(name)
        inspected = skopeo_inspect("--tls-verify=false", f"docker://{address}/plimsoll/test:v1")

    assert inspected["Digest"] == built.manifest_digest


@pytest.fixture
def auth_registry(tmp_path: Path) -> Iterator[str]:
    """Run docker-registry with htpasswd authentication (user `tester`, password `secret`)."""
    registry_binary = require_tool("docker-registry")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    if crypt.METHOD_BLOWFISH not in crypt.methods:
        pytest.skip("this libcrypt cannot make bcrypt hashes, which docker-registry requires")
    htpasswd = tmp_path / "htpasswd"
    # The lowest bcrypt cost (2**4 rounds) keeps each authenticated request fast.
    salt = crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)
    htpasswd.write_text(f"tester:{crypt.crypt('secret', salt)}\n")
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'data'}\nauth:\n  htpasswd:\n    realm: test\n"
        f"    path: {htpasswd}\nhttp:\n  addr: 127.0.0.1:{port}\n"
    )
    process = subprocess.Popen(
        [registry_binary, "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        assert process.poll() is None, "docker-registry exited at start"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"docker-registry did not listen on port {port}")


def test_push_with_credentials(tmp_path: Path, auth_registry: str) -> None:
    built = _small_builder().write_oci_layout(tmp_path / "layout", "v1")
    reference = f"{auth_registry}/plimsoll/private:v1"

    with pytest.raises(ImageBuildError, match=r"unauthorized|authentication required"):
        push(tmp_path / "layout", "v1", reference)
    push(tmp_path / "layout", "v1", reference, creds=("tester", "secret"))

    inspected = skopeo_inspect(
        "--tls-verify=false", "--creds", "tester:secret", f"docker://{reference}"
    )
    assert inspected["Digest"] == built.manifest_digest


def test_push_error_hides_password(tmp_path: Path, auth_registry: str) -> None:
    _small_builder().write_oci_layout(tmp_path / "layout", "v1")

    with pytest.raises(ImageBuildError) as raised:
        push(tmp_path / "layout", "v1", f"{auth_registry}/plimsoll/x:v1", creds="tester:wrong-pw")

    assert "wrong-pw" not in str(raised.value)
