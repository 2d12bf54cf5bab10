"""Analysis of images built from real Debian, PyPI and npm packages.

The images come from `tools.imagebuild` (no Docker daemon), are written as OCI layouts or
`docker save` archives, and are read back through the archive sources. Expected values come from
the packages themselves: control fields of the real .debs, wheel names and package.json files.
"""

from __future__ import annotations

import io
import json
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.interface import AnalysisReport, FileType, Package, PackageType
from chalicelib.registry.archive import DockerArchiveSource, OciLayoutSource
from tools.imagebuild import (
    DEFAULT_CACHE_DIR,
    BuiltImage,
    DebPackage,
    DpkgDatabase,
    ImageBuilder,
    fetch_debs,
    fetch_npm,
    fetch_wheels,
    install_npm_packages,
    install_wheels,
    read_deb,
    run_step,
)

DEBS = ["base-files", "base-passwd", "dash", "zlib1g", "passwd"]
"""os-release, the account files, the /bin/sh link, a `Multi-Arch: same` library with an epoch
and a `Source:` field, and setuid binaries."""
WHEEL = "requests==2.19.1"
NPM_PACKAGE = "minimist@0.0.8"
SITE = "/usr/local/lib/python3.11/site-packages"
DIST_INFO = f"{SITE}/requests-2.19.1.dist-info"
TAG = "latest"


@pytest.fixture(scope="module")
def packages() -> dict[str, list[Path]]:
    """Return the real packages, downloaded into the repository's cache on the first run."""
    for program in ("apt-get", "npm"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed; tools/install-test-deps.sh installs it")
    return {
        "debs": fetch_debs(DEBS, DEFAULT_CACHE_DIR),
        "wheels": fetch_wheels([WHEEL], DEFAULT_CACHE_DIR),
        "npm": fetch_npm([NPM_PACKAGE], DEFAULT_CACHE_DIR),
    }


@pytest.fixture(scope="module")
def debs(packages: dict[str, list[Path]]) -> dict[str, DebPackage]:
    """Return the real .debs read into memory, by package name."""
    return {name: read_deb(path) for name, path in zip(DEBS, packages["debs"], strict=True)}


def _base_image(packages: dict[str, list[Path]]) -> tuple[ImageBuilder, DpkgDatabase]:
    """Return a builder with the Debian, Python and npm layers, and its dpkg database."""
    builder = ImageBuilder()
    dpkg = DpkgDatabase()
    dpkg.install(builder.add_layer(), packages["debs"])
    builder.cmd(["bash"])
    install_wheels(builder.add_layer(run_step(f"pip install {WHEEL}")), packages["wheels"])
    builder.workdir("/app")
    npm_layer = builder.add_layer(run_step(f"npm install {NPM_PACKAGE}"))
    install_npm_packages(npm_layer, packages["npm"], "/app/node_modules")
    builder.expose(22)
    return builder, dpkg


def _analyze_layout(layout: Path) -> AnalysisReport:
    with OciLayoutSource(layout, ref_name=TAG) as source:
        return analyze_image(source)


def _packages(report: AnalysisReport, package_type: PackageType) -> dict[str, Package]:
    return {package.name: package for package in report.packages if package.type is package_type}


def _npm_tarball(directory: Path, name: str, version: str) -> Path:
    """Write a minimal npm tarball with a `package/` top directory."""
    path = directory / f"{name}-{version}.tgz"
    members = {
        "package/package.json": json.dumps({"name": name, "version": version}).encode(),
        "package/index.js": b"module.exports = 1;\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for member_name, data in members.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def full_image(
    packages: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AnalysisReport, BuiltImage]]:
    """Return the analysis of the image with every layer in place, and its digests."""
    builder, _ = _base_image(packages)
    layout = tmp_path_factory.mktemp("full") / "layout"
    built = builder.write_oci_layout(layout, TAG)
    yield _analyze_layout(layout), built


@pytest.fixture(scope="module")
def removal_report(
    packages: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> AnalysisReport:
    """Return the analysis of an image whose last layer deletes packages with whiteouts."""
    builder, dpkg = _base_image(packages)
    cleanup = builder.add_layer(
        run_step(
            f"rm -rf {DIST_INFO} /app/node_modules/minimist /usr/bin/chfn"
            " && apt-get purge -y zlib1g"
        )
    )
    cleanup.add_whiteout(DIST_INFO)
    cleanup.add_whiteout("/app/node_modules/minimist")
    cleanup.add_whiteout("/usr/bin/chfn")
    dpkg.remove(cleanup, ["zlib1g"])
    layout = tmp_path_factory.mktemp("removal") / "layout"
    builder.write_oci_layout(layout, TAG)
    return _analyze_layout(layout)


@pytest.fixture(scope="module")
def opaque_report(
    packages: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> AnalysisReport:
    """Return the analysis of an image whose last layer makes `/app/node_modules` opaque."""
    builder, _ = _base_image(packages)
    work = tmp_path_factory.mktemp("opaque")
    replace = builder.add_layer(run_step("rm -rf /app/node_modules && npm install tiny-dep"))
    replace.add_opaque("/app/node_modules")
    install_npm_packages(replace, [_npm_tarball(work, "tiny-dep", "1.2.3")], "/app/node_modules")
    builder.write_oci_layout(work / "layout", TAG)
    return _analyze_layout(work / "layout")


def _expected_source(package: DebPackage) -> tuple[str, str]:
    """Return the source package name and version a dpkg cataloger should report."""
    source = package.field("Source")
    if source is None:
        return package.name, package.version
    name, _, version = source.partition(" ")
    return name, version.strip("()") or package.version


def test_real_image_distro(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    report, _ = full_image

    assert report.distro is not None
    assert report.distro.id == "debian"
    assert report.distro.version_id == "12"


def test_real_image_identity(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    report, built = full_image

    assert report.image_digest == built.manifest_digest
    assert report.image_id == built.image_id
    assert [layer.digest for layer in report.layers] == [layer.digest for layer in built.layers]
    assert [layer.diff_id for layer in report.layers] == [layer.diff_id for layer in built.layers]
    assert report.problems == []


def test_real_image_dpkg_packages_match_control_files(
    full_image: tuple[AnalysisReport, BuiltImage], debs: dict[str, DebPackage]
) -> None:
    report, built = full_image

    found = _packages(report, PackageType.DPKG)

    assert sorted(found) == sorted(DEBS)
    for name, deb in debs.items():
        package = found[name]
        assert package.version == deb.version, name
        assert (package.source_name, package.source_version) == _expected_source(deb), name
        assert package.architecture == deb.architecture, name
        assert package.location == "/var/lib/dpkg/status", name
        assert package.layer_digest == built.layers[0].digest, name


def test_real_image_dpkg_sources_and_epochs(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    found = _packages(full_image[0], PackageType.DPKG)

    assert found["passwd"].source_name == "shadow"
    assert found["zlib1g"].source_name == "zlib"
    assert found["zlib1g"].version.startswith("1:")


def test_real_image_dpkg_files_from_list(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    found = _packages(full_image[0], PackageType.DPKG)

    assert "/usr/bin/passwd" in found["passwd"].files
    assert "/bin/dash" in found["dash"].files


def test_real_image_python_package(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    report, built = full_image

    found = _packages(report, PackageType.PYTHON)

    assert sorted(found) == ["requests"]
    assert found["requests"].version == "2.19.1"
    assert found["requests"].location == DIST_INFO
    assert found["requests"].layer_digest == built.layers[1].digest


def test_real_image_npm_package(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    report, built = full_image

    found = _packages(report, PackageType.NPM)

    assert sorted(found) == ["minimist"]
    assert found["minimist"].version == "0.0.8"
    assert found["minimist"].location == "/app/node_modules/minimist/package.json"
    assert found["minimist"].layer_digest == built.layers[2].digest


def test_real_image_setuid_files(
    full_image: tuple[AnalysisReport, BuiltImage], debs: dict[str, DebPackage]
) -> None:
    shipped = {
        "/" + member.info.name.removeprefix("./")
        for deb in debs.values()
        for member in deb.data
        if member.info.isfile() and member.info.mode & (stat.S_ISUID | stat.S_ISGID)
    }

    found = {
        entry.path
        for entry in full_image[0].files
        if entry.type is FileType.FILE and entry.mode & (stat.S_ISUID | stat.S_ISGID)
    }

    assert "/usr/bin/passwd" in shipped
    assert found == shipped


def test_real_image_passwd_from_base_passwd(
    full_image: tuple[AnalysisReport, BuiltImage], debs: dict[str, DebPackage]
) -> None:
    master = next(
        member.data
        for member in debs["base-passwd"].data
        if member.info.name == "./usr/share/base-passwd/passwd.master"
    )

    assert full_image[0].passwd == master.decode()
    assert full_image[0].passwd.startswith("root:*:0:0:root:/root:/bin/bash\n")


def test_real_image_dockerfile_guess(full_image: tuple[AnalysisReport, BuiltImage]) -> None:
    report, _ = full_image

    assert report.dockerfile_mode == "Guessed"
    assert report.dockerfile is not None
    assert "EXPOSE 22/tcp" in report.dockerfile
    assert f"RUN pip install {WHEEL}" in report.dockerfile


def test_real_image_from_docker_archive(
    packages: dict[str, list[Path]],
    full_image: tuple[AnalysisReport, BuiltImage],
    tmp_path: Path,
) -> None:
    builder, _ = _base_image(packages)
    archive = tmp_path / "image.tar"
    builder.write_docker_archive(archive, "plimsoll/real:latest")

    with DockerArchiveSource(archive) as source:
        report = analyze_image(source)

    def summary(analysis: AnalysisReport) -> list[tuple[str, str, str]]:
        return sorted((p.type.value, p.name, p.version) for p in analysis.packages)

    assert summary(report) == summary(full_image[0])
    assert report.image_id == full_image[1].image_id


def test_whiteout_removes_python_package(removal_report: AnalysisReport) -> None:
    assert _packages(removal_report, PackageType.PYTHON) == {}
    assert not any(entry.path.startswith(DIST_INFO) for entry in removal_report.files)


def test_whiteout_removes_npm_directory(removal_report: AnalysisReport) -> None:
    assert _packages(removal_report, PackageType.NPM) == {}
    paths = {entry.path for entry in removal_report.files}
    assert "/app/node_modules/minimist/package.json" not in paths
    assert "/app/node_modules/minimist" not in paths


def test_whiteout_removes_dpkg_file(removal_report: AnalysisReport) -> None:
    paths = {entry.path for entry in removal_report.files}

    assert "/usr/bin/chfn" not in paths
    assert "/usr/bin/passwd" in paths
    assert "passwd" in _packages(removal_report, PackageType.DPKG)


def test_purged_dpkg_package_not_reported(removal_report: AnalysisReport) -> None:
    found = _packages(removal_report, PackageType.DPKG)
    paths = {entry.path for entry in removal_report.files}

    assert "zlib1g" not in found
    assert sorted(found) == sorted(name for name in DEBS if name != "zlib1g")
    assert "/var/lib/dpkg/info/zlib1g:amd64.list" not in paths
    assert not any(path.startswith("/usr/lib/x86_64-linux-gnu/libz.so") for path in paths)


def test_opaque_directory_hides_lower_packages(opaque_report: AnalysisReport) -> None:
    found = _packages(opaque_report, PackageType.NPM)

    assert sorted(found) == ["tiny-dep"]
    assert found["tiny-dep"].version == "1.2.3"
    assert found["tiny-dep"].location == "/app/node_modules/tiny-dep/package.json"
    assert "requests" in _packages(opaque_report, PackageType.PYTHON)
