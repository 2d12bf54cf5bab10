"""End-to-end tests of `analyze_image` on images built in the tests."""

from __future__ import annotations

import builtins
import gzip
import io
import os
from pathlib import Path

import pytest

from chalicelib.analysis import AnalysisOptions, analyze_image
from chalicelib.analysis.interface import AnalysisError, FileType, PackageType
from chalicelib.analysis.tarstream import LayerError
from tests.analysis.builders import (
    MemoryImageSource,
    directory,
    file,
    hardlink,
    image,
    layer_bytes,
    symlink,
    tar_bytes,
    tree_items,
    whiteout,
)

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
SECRET = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"


def status(*packages: tuple[str, str]) -> str:
    return "\n".join(
        f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {version}\n"
        for name, version in packages
    )


def test_analyze_debian_image() -> None:
    source = image(
        [
            directory("etc"),
            file("usr/lib/os-release", OS_RELEASE),
            symlink("etc/os-release", "../usr/lib/os-release"),
            file("etc/passwd", PASSWD),
            file("var/lib/dpkg/status", status(("base-files", "12.4"))),
            file("var/lib/dpkg/info/base-files.list", "/.\n/etc\n/etc/debian_version\n"),
        ],
        [
            file("var/lib/dpkg/status", status(("base-files", "12.4"), ("curl", "7.88.1-10"))),
            file("app/.env", "# config\n" + SECRET),
        ],
    )
    report = analyze_image(source)

    assert report.distro is not None
    assert (report.distro.id, report.distro.version_id) == ("debian", "12")
    packages = {package.name: package for package in report.packages}
    assert packages["base-files"].layer_digest == source.layers[0].digest
    assert packages["curl"].layer_digest == source.layers[1].digest
    assert packages["base-files"].files == ["/etc", "/etc/debian_version"]
    assert packages["curl"].purl == "pkg:deb/debian/curl@7.88.1-10?arch=amd64&distro=debian-12"
    assert report.passwd == PASSWD
    assert [(match.path, match.name, match.lines) for match in report.secrets] == [
        ("/app/.env", "AWS_ACCESS_KEY", [2])
    ]
    assert report.problems == []


def test_analyze_report_metadata() -> None:
    blobs = [layer_bytes([file("a", "x")]), layer_bytes([file("b", "y")], compress=False)]
    history = [{"created_by": "/bin/sh -c #(nop) ADD file:1 in / "}, {"created_by": "USER app"}]
    source = MemoryImageSource(blobs, history=history)
    report = analyze_image(source)

    assert report.image_digest == source.manifest_digest
    assert report.image_id == source.manifest["config"]["digest"].removeprefix("sha256:")
    assert (report.architecture, report.os) == ("amd64", "linux")
    assert [layer.digest for layer in report.layers] == [layer.digest for layer in source.layers]
    assert [layer.diff_id for layer in report.layers] == source.config["rootfs"]["diff_ids"]
    sizes = [len(tar_bytes([file("a", "x")])), len(tar_bytes([file("b", "y")]))]
    assert [layer.uncompressed_size for layer in report.layers] == sizes
    assert report.image_size == sum(sizes)
    assert report.history == history
    assert report.dockerfile == "FROM scratch\nADD file:1 in /\nUSER app\n"
    assert report.dockerfile_mode == "Guessed"
    assert report.distro is None
    assert report.passwd is None


def test_analyze_actual_dockerfile() -> None:
    report = analyze_image(image([file("a")]), dockerfile="FROM alpine:3.19\nUSER app\n")
    assert report.dockerfile == "FROM alpine:3.19\nUSER app\n"
    assert report.dockerfile_mode == "Actual"


def test_analyze_alpine_fixture(shared_dir: Path) -> None:
    alpine = shared_dir / "acceptance-fixtures/syft/alpine/testdata"
    installed = alpine / "multiple-2/lib/apk/db/installed"
    source = image(
        [
            file("etc/alpine-release", "3.16.2\n"),
            file("lib/apk/db/installed", installed.read_bytes()),
            file("bin/busybox", b"\x7fELF BusyBox v1.35.0 (2022)"),
        ]
    )
    report = analyze_image(source)
    assert report.distro is not None
    assert (report.distro.id, report.distro.version_id) == ("alpine", "3.16.2")
    assert len(report.packages) == 14
    assert all(package.type is PackageType.APK for package in report.packages)
    musl = next(package for package in report.packages if package.name == "musl")
    assert musl.purl == "pkg:apk/alpine/musl@1.2.3-r0?arch=x86_64&distro=alpine-3.16.2"


def test_analyze_fixture_trees(shared_dir: Path) -> None:
    fixtures = shared_dir / "acceptance-fixtures"
    layers = [
        tree_items(fixtures / "syft/debian/testdata/image-dpkg"),
        tree_items(fixtures / "syft/debian/testdata/image-distroless-deb"),
        tree_items(
            fixtures / "syft/python/testdata/site-packages", "usr/lib/python3/site-packages"
        ),
        tree_items(
            fixtures / "syft/javascript/testdata/pkg-lock/node_modules", "app/node_modules"
        ),
    ]
    report = analyze_image(image(*layers))
    found = {(package.type, package.name, package.version) for package in report.packages}
    assert (PackageType.DPKG, "libpam-runtime", "1.1.8-3.6") in found
    assert (PackageType.DPKG, "libsqlite3-0", "3.34.1-3") in found
    assert (PackageType.PYTHON, "Pygments", "2.6.1") in found
    assert (PackageType.PYTHON, "requests", "2.22.0") in found
    assert (PackageType.NPM, "@actions/core", "1.6.0") in found
    assert (PackageType.NPM, "cowsay", "1.4.0") in found
    sqlite = next(package for package in report.packages if package.name == "libsqlite3-0")
    assert sqlite.layer_digest == report.layers[1].digest
    assert sqlite.licenses == ["public-domain", "GPL-2+", "GPL-2"]
    assert report.distro is not None and report.distro.id == "debian"
    problem_locations = {problem.location for problem in report.problems}
    no_version = "/usr/lib/python3/site-packages/no-version/no-version-py3.8.egg-info"
    assert no_version in problem_locations


def test_analyze_whiteout_removes_packages_and_passwd() -> None:
    source = image(
        [
            file("etc/passwd", PASSWD),
            file(
                "usr/lib/node_modules/left-pad/package.json",
                '{"name":"left-pad","version":"1.3.0"}',
            ),
        ],
        [whiteout("etc/passwd"), whiteout("usr/lib/node_modules")],
    )
    report = analyze_image(source)
    assert report.passwd is None
    assert report.packages == []
    assert [entry.path for entry in report.files] == []


def test_analyze_hardlinked_metadata_across_layers() -> None:
    metadata = "Name: six\nVersion: 1.16.0\n"
    target = "opt/six-1.16.0.dist-info/METADATA"
    source = image(
        [file(target, metadata)],
        [hardlink("usr/lib/python3/six-1.16.0.dist-info/METADATA", target)],
    )
    report = analyze_image(source)
    locations = sorted(package.location for package in report.packages)
    assert locations == ["/opt/six-1.16.0.dist-info", "/usr/lib/python3/six-1.16.0.dist-info"]
    link = next(entry for entry in report.files if entry.type is FileType.HARDLINK)
    target = next(entry for entry in report.files if entry.path == link.link_target)
    assert link.sha256 == target.sha256


def test_analyze_file_entries_keep_last_writer() -> None:
    source = image([file("etc/motd", "a", mode=0o644)], [file("etc/motd", "bb", mode=0o600, uid=5)])
    report = analyze_image(source)
    [entry] = report.files
    assert (entry.path, entry.size, entry.mode, entry.uid) == ("/etc/motd", 2, 0o600, 5)
    assert entry.layer_digest == source.layers[1].digest


def test_analyze_zstd_layer_names_layer() -> None:
    source = MemoryImageSource([b"\x28\xb5\x2f\xfd" + bytes(64)])
    message = f"layer {source.layers[0].digest} is compressed with zstd"
    with pytest.raises(AnalysisError, match=message):
        analyze_image(source)


def test_analyze_truncated_layer_names_layer() -> None:
    blob = gzip.compress(tar_bytes([file("big", os.urandom(100_000))]))
    source = MemoryImageSource([blob[: len(blob) // 2]])
    with pytest.raises(LayerError, match=f"layer {source.layers[0].digest} is truncated"):
        analyze_image(source)


def test_analyze_decompression_bomb_over_option() -> None:
    source = MemoryImageSource([gzip.compress(bytes(32 << 20), compresslevel=1)])
    with pytest.raises(LayerError, match="MAX_LAYER_BYTES"):
        analyze_image(source, options=AnalysisOptions(max_layer_bytes=1 << 20))


def test_analyze_diff_id_count_mismatch() -> None:
    source = image([file("a")])
    source.config["rootfs"]["diff_ids"].append("sha256:extra")
    with pytest.raises(AnalysisError, match="1 layers in its manifest but 2 diff ids"):
        analyze_image(source)


def test_analyze_reads_each_blob_to_end() -> None:
    class TrackingBytes(io.BytesIO):
        def close(self) -> None:
            positions.append((self.tell(), len(self.getvalue())))
            super().close()

    positions: list[tuple[int, int]] = []
    blobs = [layer_bytes([file("a", "x")]), layer_bytes([file("b")], compress=False) + bytes(4096)]
    source = MemoryImageSource(blobs)
    source.open_layer = (  # type: ignore[method-assign]
        lambda layer: TrackingBytes(source.blobs[layer.digest])
    )
    analyze_image(source)
    assert len(positions) == 2
    assert all(position == size for position, size in positions)


def test_analyze_writes_nothing_to_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    source = image(
        [
            file("../../../../tmp/escaped-by-analysis", "x"),
            symlink("etc/passwd", "/../../../../etc/passwd"),
            hardlink("evil", "../../../etc/shadow"),
            file("etc/os-release", "ID=debian\n"),
        ]
    )

    def reject_open(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"analysis opened a file: {args!r}")

    monkeypatch.setattr(builtins, "open", reject_open)
    monkeypatch.setattr(io, "open", reject_open)
    monkeypatch.setattr(os, "open", reject_open)
    report = analyze_image(source)
    monkeypatch.undo()
    assert "/tmp/escaped-by-analysis" in {entry.path for entry in report.files}
    assert not Path("/tmp/escaped-by-analysis").exists()
    assert report.passwd is None



def test_analyze_path_bytes_limit_spans_layers() -> None:
    # Each layer writes 50 paths of 101 bytes (5,050 bytes), so one layer fits in 8,000 bytes
    # and the second layer passes the limit.
    first = [file(f"{'a' * 96}/{index:03}") for index in range(50)]
    second = [file(f"{'b' * 96}/{index:03}") for index in range(50)]
    options = AnalysisOptions(max_image_path_bytes=8_000)
    assert analyze_image(image(first), options=options).files
    source = image(first, second)
    message = f"layer {source.layers[1].digest} brings the paths"
    with pytest.raises(LayerError, match=message) as raised:
        analyze_image(source, options=options)
    assert "--max-image-path-bytes" in str(raised.value)
    assert "MAX_IMAGE_PATH_BYTES" in str(raised.value)

