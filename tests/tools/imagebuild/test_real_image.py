"""A small image from real packages, checked with skopeo and umoci."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.tools.imagebuild.layouts import read_oci_image, skopeo_inspect, umoci_unpack
from tools.imagebuild import (
    BuiltImage,
    DpkgDatabase,
    ImageBuilder,
    install_npm_packages,
    install_wheels,
    run_step,
)

SITE = "usr/local/lib/python3.11/site-packages"


@pytest.fixture(scope="module")
def real_layout(
    tmp_path_factory: pytest.TempPathFactory,
    real_debs: dict[str, Path],
    real_wheel: Path,
    real_npm_tarball: Path,
) -> tuple[Path, BuiltImage]:
    """Build an image from real packages, with a last layer that removes some of them."""
    builder = ImageBuilder()
    dpkg = DpkgDatabase()
    dpkg.install(builder.add_layer(), real_debs.values())
    install_wheels(builder.add_layer(run_step("pip install requests==2.19.1")), [real_wheel])
    npm_layer = builder.add_layer(run_step("npm install minimist@0.0.8"))
    install_npm_packages(npm_layer, [real_npm_tarball], "/app/node_modules")
    npm_layer.add_file("app/node_modules/.cache/stale", b"stale")

    cleanup = builder.add_layer(
        run_step("rm -rf /usr/local/lib/python3.11/site-packages/requests*")
    )
    cleanup.add_whiteout(f"/{SITE}/requests")
    cleanup.add_whiteout(f"/{SITE}/requests-2.19.1.dist-info")
    cleanup.add_opaque("/app/node_modules/.cache")
    cleanup.add_file("app/node_modules/.cache/fresh", b"fresh")
    cleanup.add_whiteout("/usr/bin/chfn")
    builder.expose(22)

    layout = tmp_path_factory.mktemp("real") / "layout"
    return layout, builder.write_oci_layout(layout, "latest")


@pytest.fixture(scope="module")
def rootfs(real_layout: tuple[Path, BuiltImage], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the root file system umoci unpacks from the real image."""
    return umoci_unpack(real_layout[0], "latest", tmp_path_factory.mktemp("bundle") / "bundle")


def test_real_image_digests_verify(real_layout: tuple[Path, BuiltImage]) -> None:
    layout, built = real_layout

    image = read_oci_image(layout, "latest")

    assert image.manifest_digest == built.manifest_digest
    assert len(image.layer_blobs) == 4
    assert image.config["rootfs"]["diff_ids"] == [layer.diff_id for layer in built.layers]


def test_real_image_skopeo_inspect(real_layout: tuple[Path, BuiltImage]) -> None:
    layout, built = real_layout

    inspected = skopeo_inspect(f"oci:{layout}:latest")

    assert inspected["Digest"] == built.manifest_digest
    assert inspected["Layers"] == [layer.digest for layer in built.layers]


def test_real_image_dpkg_status_unpacked(rootfs: Path) -> None:
    status = (rootfs / "var/lib/dpkg/status").read_text()

    assert "Package: base-files\nStatus: install ok installed\n" in status
    assert "Package: passwd\nStatus: install ok installed\n" in status
    assert (rootfs / "var/lib/dpkg/info/passwd.list").is_file()
    assert (rootfs / "var/lib/dpkg/info/passwd.md5sums").is_file()


def test_real_image_os_files(rootfs: Path) -> None:
    assert os.readlink(rootfs / "etc/os-release") == "../usr/lib/os-release"
    assert 'VERSION_ID="12"' in (rootfs / "etc/os-release").read_text()
    assert (rootfs / "etc/passwd").read_text().startswith("root:*:0:0:root:/root:/bin/bash\n")
    assert os.readlink(rootfs / "bin") == "usr/bin"


def test_real_image_setuid_bits(rootfs: Path) -> None:
    passwd_mode = (rootfs / "usr/bin/passwd").stat().st_mode

    assert passwd_mode & stat.S_ISUID
    assert (rootfs / "usr/bin/chage").stat().st_mode & stat.S_ISGID


def test_real_image_npm_package_json(rootfs: Path) -> None:
    manifest = json.loads((rootfs / "app/node_modules/minimist/package.json").read_text())

    assert manifest["name"] == "minimist"
    assert manifest["version"] == "0.0.8"


def test_real_image_whiteouts_remove_files(rootfs: Path) -> None:
    site = rootfs / SITE

    assert not (site / "requests").exists()
    assert not (site / "requests-2.19.1.dist-info").exists()
    assert not (rootfs / "usr/bin/chfn").exists()
    assert (rootfs / "usr/bin/chsh").exists()
    assert sorted(path.name for path in (rootfs / "app/node_modules/.cache").iterdir()) == ["fresh"]
    assert not list(rootfs.rglob(".wh.*"))


def test_real_image_dist_info_in_lower_layer(real_layout: tuple[Path, BuiltImage]) -> None:
    image = read_oci_image(real_layout[0], "latest")

    members = image.layer_members(1)
    installer = image.layer_file(1, f"{SITE}/requests-2.19.1.dist-info/INSTALLER")

    assert f"{SITE}/requests-2.19.1.dist-info/METADATA" in members
    assert installer == b"pip\n"
