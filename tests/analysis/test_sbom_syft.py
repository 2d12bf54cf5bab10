"""Syft JSON: the shape of Syft's own document, read back by Syft 1.18.1 and compared with it."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from chalicelib.analysis.catalog import ParseContext
from chalicelib.analysis.interface import (
    AnalysisReport,
    Distro,
    FileEntry,
    FileType,
    PackageType,
)
from chalicelib.analysis.rpm import parse_rpmdb
from chalicelib.analysis.sbom import SbomSubject, SubjectKind, build_sbom, write_sbom
from chalicelib.analysis.sbom.syft import SCHEMA_URL, SCHEMA_VERSION
from tests.analysis.sbom_support import (  # noqa: F401
    ALPINE_ARCHIVE,
    DIFF_ID,
    LAYER,
    alpine_report,
    cyclonedx_validator,
    debian_archive,
    debian_report,
    make_file,
    make_package,
    make_report,
    run_syft,
    schema_errors,
    spdx_validator,
)

SUBJECT = SbomSubject(name="alpine:3.10", tags=("alpine:3.10",))
REQUIRED = ("artifacts", "artifactRelationships", "source", "distro", "descriptor", "schema")
"""Sections that Syft's schema requires of a document."""


@pytest.fixture(scope="module")
def syft_reference(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Return Syft's own document of the alpine archive; Syft reads only uncompressed archives."""
    archive = tmp_path_factory.mktemp("syft") / "alpine.tar"
    with gzip.open(shared_dir / ALPINE_ARCHIVE) as source, archive.open("wb") as target:
        shutil.copyfileobj(source, target)
    finished = run_syft("scan", f"docker-archive:{archive}", "-o", "syft-json")
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def identities(document: dict) -> set[tuple[str, str, str]]:
    return {(a["name"], a["version"], a["type"]) for a in document["artifacts"]}


def test_syft_document_has_required_sections() -> None:
    document = build_sbom(make_report([make_package()]), "syft-json", SUBJECT)

    for section in REQUIRED:
        assert section in document, section
    assert document["schema"] == {"version": SCHEMA_VERSION, "url": SCHEMA_URL}
    assert SCHEMA_URL.endswith(f"schema-{SCHEMA_VERSION}.json")
    assert document["descriptor"]["name"] == "plimsoll"
    assert document["distro"] == {
        "id": "debian",
        "prettyName": "Debian GNU/Linux 12 (bookworm)",
        "versionID": "12",
    }


def test_syft_alpine_matches_syft_document(
    alpine_report: AnalysisReport, syft_reference: dict
) -> None:
    ours = build_sbom(alpine_report, "syft-json", SUBJECT)

    reference_apk = {item for item in identities(syft_reference) if item[2] == "apk"}
    ours_apk = {item for item in identities(ours) if item[2] == "apk"}
    assert ours_apk == reference_apk
    reference_artifact = next(a for a in syft_reference["artifacts"] if a["name"] == "musl")
    artifact = next(a for a in ours["artifacts"] if a["name"] == "musl")
    assert set(reference_artifact) <= set(artifact)
    assert artifact["foundBy"] == reference_artifact["foundBy"]
    assert artifact["purl"] == reference_artifact["purl"]
    assert artifact["metadataType"] == reference_artifact["metadataType"]
    assert set(reference_artifact["metadata"]) <= set(artifact["metadata"])
    assert artifact["locations"][0]["layerID"] == reference_artifact["locations"][0]["layerID"]
    assert artifact["licenses"][0]["spdxExpression"] == (
        reference_artifact["licenses"][0]["spdxExpression"]
    )
    assert ours["source"]["type"] == syft_reference["source"]["type"]
    # The source ids differ: both tools build a manifest for an archive that has none, and
    # the manifest digest is the id.
    assert set(syft_reference["source"]["metadata"]) <= set(ours["source"]["metadata"])
    assert [layer["digest"] for layer in ours["source"]["metadata"]["layers"]] == [
        layer["digest"] for layer in syft_reference["source"]["metadata"]["layers"]
    ]
    assert ours["distro"]["id"] == syft_reference["distro"]["id"]
    assert ours["distro"]["versionID"] == syft_reference["distro"]["versionID"]


@pytest.mark.parametrize("format_name", ["syft-json", "cyclonedx-json", "spdx-json"])
def test_syft_reads_back_each_format(
    debian_report: AnalysisReport, format_name: str, tmp_path: Path
) -> None:
    path = tmp_path / "sbom.json"
    path.write_bytes(write_sbom(debian_report, format_name, SUBJECT))

    finished = run_syft("convert", str(path), "-o", "syft-json")

    assert finished.returncode == 0, finished.stderr
    converted = json.loads(finished.stdout)
    names = {artifact["name"] for artifact in converted["artifacts"]}
    assert {"zlib1g", "urllib3", "minimist"} <= names


def test_syft_reads_back_versions_and_types(debian_report: AnalysisReport, tmp_path: Path) -> None:
    path = tmp_path / "sbom.syft.json"
    path.write_bytes(write_sbom(debian_report, "syft-json", SUBJECT))

    finished = run_syft("convert", str(path), "-o", "syft-json")

    assert finished.returncode == 0, finished.stderr
    assert identities(json.loads(finished.stdout)) == identities(json.loads(path.read_bytes()))


def test_syft_package_location_has_layers() -> None:
    document = build_sbom(make_report([make_package()]), "syft-json", SUBJECT)

    artifact = document["artifacts"][0]
    assert artifact["type"] == "deb"
    assert artifact["foundBy"] == "dpkg-db-cataloger"
    assert artifact["locations"] == [
        {
            "path": "/var/lib/dpkg/status",
            "accessPath": "/var/lib/dpkg/status",
            "layerID": DIFF_ID,
            "annotations": {"evidence": "primary", "layerDigest": LAYER},
        }
    ]
    assert artifact["cpes"] == [
        {"cpe": "cpe:2.3:a:zlib1g:zlib1g:1.2.13:*:*:*:*:*:*:*", "source": "plimsoll-generated"}
    ]
    assert artifact["metadata"]["source"] == "zlib"
    assert artifact["metadata"]["maintainer"] == "Mark Brown <broonie@debian.org>"


def test_syft_files_and_contains_relationships() -> None:
    owned = "/usr/lib/libz.so.1"
    link = FileEntry(
        path="/usr/lib/libz.so",
        type=FileType.SYMLINK,
        mode=0o777,
        link_target="libz.so.1",
        layer_digest=LAYER,
    )
    report = make_report([make_package(files=[owned, link.path])], [make_file(owned), link])

    document = build_sbom(report, "syft-json", SUBJECT)

    files = {entry["location"]["path"]: entry for entry in document["files"]}
    assert files[owned]["metadata"]["mode"] == 644
    assert files[owned]["metadata"]["type"] == "RegularFile"
    assert files[owned]["digests"] == [{"algorithm": "sha256", "value": "e" * 64}]
    assert files[owned]["location"]["layerID"] == DIFF_ID
    assert files[link.path]["metadata"]["linkDestination"] == "libz.so.1"
    assert files[link.path]["metadata"]["mode"] == 777
    package_id = document["artifacts"][0]["id"]
    contains = {
        (relation["parent"], relation["child"])
        for relation in document["artifactRelationships"]
        if relation["type"] == "contains"
    }
    assert (package_id, files[owned]["id"]) in contains
    assert (document["source"]["id"], package_id) in contains


def test_syft_directory_source() -> None:
    subject = SbomSubject(name="/srv/app", kind=SubjectKind.DIRECTORY)

    document = build_sbom(make_report([]), "syft-json", subject)

    assert document["source"]["type"] == "directory"
    assert document["source"]["metadata"] == {"path": "/srv/app"}


def test_syft_reads_back_every_package_type(tmp_path: Path) -> None:
    packages = [
        make_package(
            f"{package_type.value}-example",
            type=package_type,
            location=f"/opt/{package_type.value}/example",
            purl=None,
            cpes=[],
            metadata={
                "classifier": "example-binary",
                "go_compiled_version": "go1.22.1",
                "architecture": "amd64",
                "main_module": "example.com/tool",
                "source": "registry+https://github.com/rust-lang/crates.io-index",
                "release": "1.el9",
                "epoch": 1,
                "virtual_path": "/opt/app.war:WEB-INF/lib/example.jar",
                "authors": ["A. Author"],
                "sha512": "sha512-abc",
            },
        )
        for package_type in PackageType
    ]
    report = make_report(packages)
    path = tmp_path / "sbom.syft.json"
    path.write_bytes(write_sbom(report, "syft-json", SUBJECT))

    finished = run_syft("convert", str(path), "-o", "syft-json")

    assert finished.returncode == 0, finished.stderr
    converted = json.loads(finished.stdout)
    assert identities(converted) == identities(json.loads(path.read_bytes()))
    by_type = {artifact["type"]: artifact for artifact in converted["artifacts"]}
    assert by_type["go-module"]["metadata"]["goCompiledVersion"] == "go1.22.1"
    assert by_type["rpm"]["metadata"]["epoch"] == 1
    assert by_type["java-archive"]["metadata"]["virtualPath"] == (
        "/opt/app.war:WEB-INF/lib/example.jar"
    )
    assert by_type["binary"]["metadata"]["matches"][0]["classifier"] == "example-binary"
    for format_name, validator in (
        ("cyclonedx-json", cyclonedx_validator()),
        ("spdx-json", spdx_validator()),
    ):
        assert schema_errors(validator, build_sbom(report, format_name, SUBJECT)) == []


def test_sbom_rpm_epoch_in_version(shared_dir: Path) -> None:
    # Syft writes an rpm package's version as EPOCH:VERSION-RELEASE when it has an epoch, in
    # all three formats, and keeps the epoch as a purl qualifier.
    database = shared_dir / "acceptance-fixtures/pkgdb/rpm/cbl-mariner-2.0/rpmdb.sqlite"
    mariner = Distro(id="mariner", version_id="2.0", pretty_name="CBL-Mariner/Linux")
    parsed = parse_rpmdb(
        "/var/lib/rpm/rpmdb.sqlite", database.read_bytes(), ParseContext(mariner, {}.get)
    )
    report = make_report(parsed.packages)
    purl = (
        "pkg:rpm/mariner/ca-certificates-tools@2.0.0-1.cm2?arch=noarch&distro=mariner-2.0"
        "&epoch=1&upstream=ca-certificates-2.0.0-1.cm2.src.rpm"
    )

    syft = {item["name"]: item for item in build_sbom(report, "syft-json")["artifacts"]}
    cyclonedx = {item["name"]: item for item in build_sbom(report, "cyclonedx-json")["components"]}
    spdx = {item["name"]: item for item in build_sbom(report, "spdx-json")["packages"]}

    assert syft["ca-certificates-tools"]["version"] == "1:2.0.0-1.cm2"
    assert syft["ca-certificates-tools"]["purl"] == purl
    assert syft["ca-certificates-tools"]["metadata"]["version"] == "2.0.0"
    assert cyclonedx["ca-certificates-tools"]["version"] == "1:2.0.0-1.cm2"
    assert cyclonedx["ca-certificates-tools"]["purl"] == purl
    assert spdx["ca-certificates-tools"]["versionInfo"] == "1:2.0.0-1.cm2"
    assert syft["sqlite-libs"]["version"] == "3.34.1-2.cm2"
    assert cyclonedx["sqlite-libs"]["version"] == "3.34.1-2.cm2"
    assert spdx["sqlite-libs"]["versionInfo"] == "3.34.1-2.cm2"
