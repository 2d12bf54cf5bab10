"""`plimsoll analyze --platform` on OCI layouts of one image and of several platforms."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest

from chalicelib.analysis.interface import AnalysisReport
from chalicelib.cli import analyze, build_parser
from chalicelib.cli.platforms import image_platforms
from tools.imagebuild.image import ImageBuilder

OS_RELEASE = b'ID=debian\nVERSION_ID="12"\n'
METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def build_layout(root: Path, *, nested: bool) -> Path:
    """Write a layout of two platform images that share their base layer.

    The amd64 image contains the Python package `amd-only`, the arm64 image `arm-only`. With
    `nested`, `index.json` points at an image index blob that lists the platforms.
    """
    layout = root / "layout"
    for architecture in ("amd64", "arm64"):
        builder = ImageBuilder(architecture=architecture)
        base = builder.add_layer()
        base.add_file("/etc/os-release", OS_RELEASE)
        top = builder.add_layer()
        name = f"{architecture[:3]}-only"
        top.add_file(
            f"/usr/lib/python3/dist-packages/{name}-1.0.dist-info/METADATA",
            METADATA.format(name=name).encode(),
        )
        builder.write_oci_layout(layout, architecture)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["manifests"]:
        architecture = entry.pop("annotations")["org.opencontainers.image.ref.name"]
        entry["platform"] = {"os": "linux", "architecture": architecture}
    if nested:
        blob = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, **index}).encode()
        digest = hashlib.sha256(blob).hexdigest()
        (layout / "blobs" / "sha256" / digest).write_bytes(blob)
        index = {
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": OCI_INDEX, "digest": f"sha256:{digest}", "size": len(blob)}
            ],
        }
    index_path.write_text(json.dumps(index))
    return layout


def run_analyze(*arguments: str) -> int:
    args = build_parser().parse_args(["analyze", *arguments])
    return analyze.run(args)


def python_names(report: AnalysisReport | dict) -> set[str]:
    if isinstance(report, dict):
        report = AnalysisReport.model_validate(report)
    return {package.name for package in report.packages if package.type.value == "python"}


@pytest.mark.parametrize("nested", [False, True])
def test_image_platforms_lists_index_entries(tmp_path: Path, nested: bool) -> None:
    layout = build_layout(tmp_path, nested=nested)

    assert image_platforms(f"oci-dir:{layout}") == ["linux/amd64", "linux/arm64"]
    assert image_platforms(str(layout)) == ["linux/amd64", "linux/arm64"]


def test_image_platforms_of_single_image_is_none(tmp_path: Path) -> None:
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/os-release", OS_RELEASE)
    builder.write_oci_layout(tmp_path / "layout", "1")

    assert image_platforms(f"oci-dir:{tmp_path / 'layout'}") is None
    assert image_platforms(f"dir:{tmp_path}") is None


@pytest.mark.parametrize("nested", [False, True])
def test_analyze_platform_all_writes_file_per_platform(tmp_path: Path, nested: bool) -> None:
    layout = build_layout(tmp_path, nested=nested)
    output = tmp_path / "out.json"

    code = run_analyze(
        f"oci-dir:{layout}", "--platform", "all", "-o", "json", "--file", str(output)
    )

    assert code == 0
    amd = AnalysisReport.model_validate_json((tmp_path / "out.linux-amd64.json").read_bytes())
    arm = AnalysisReport.model_validate_json((tmp_path / "out.linux-arm64.json").read_bytes())
    assert python_names(amd) == {"amd-only"}
    assert python_names(arm) == {"arm-only"}
    assert amd.layers[0].digest == arm.layers[0].digest
    assert amd.image_digest != arm.image_digest


def test_analyze_platform_all_json_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = build_layout(tmp_path, nested=False)

    code = run_analyze(f"oci-dir:{layout}", "--platform", "all", "-o", "json")

    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["linux/amd64", "linux/arm64"]
    assert python_names(document["linux/arm64"]) == {"arm-only"}


def test_analyze_platform_all_table_has_headings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = build_layout(tmp_path, nested=False)

    code = run_analyze(f"oci-dir:{layout}", "--platform", "all")

    assert code == 0
    out = capsys.readouterr().out
    assert "# linux/amd64\n" in out
    assert "# linux/arm64\n" in out
    assert out.index("amd-only") < out.index("# linux/arm64") < out.index("arm-only")


def test_analyze_platform_all_sbom_needs_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = build_layout(tmp_path, nested=False)

    code = run_analyze(f"oci-dir:{layout}", "--platform", "all", "-o", "cyclonedx-json")

    assert code == 1
    assert "give --file OUT" in capsys.readouterr().err


def test_analyze_platform_all_of_single_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder = ImageBuilder()
    builder.add_layer().add_file("/etc/os-release", OS_RELEASE)
    builder.write_oci_layout(tmp_path / "layout", "1")

    code = run_analyze(f"oci-dir:{tmp_path / 'layout'}", "--platform", "all", "-o", "json")

    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert list(document) == ["linux/amd64"]


def single_image_layout(root: Path, architecture: str) -> Path:
    """Write a layout whose `index.json` lists one image for `linux/ARCHITECTURE`, by tag only."""
    builder = ImageBuilder(architecture=architecture)
    builder.add_layer().add_file("/etc/os-release", OS_RELEASE)
    layout = root / "layout"
    builder.write_oci_layout(layout, "1")
    return layout


def archive_of(layout: Path) -> Path:
    """Write a tar archive of a layout directory beside it and return its path."""
    path = layout.with_suffix(".tar")
    with tarfile.open(path, "w") as archive:
        for child in sorted(layout.iterdir()):
            archive.add(child, arcname=child.name)
    return path


@pytest.mark.parametrize("scheme", ["oci-dir", "oci-archive"])
def test_analyze_platform_mismatch_of_single_image_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    layout = single_image_layout(tmp_path, "amd64")
    path = layout if scheme == "oci-dir" else archive_of(layout)

    code = run_analyze(f"{scheme}:{path}", "--platform", "linux/arm64", "-o", "json")

    assert code == 1
    captured = capsys.readouterr()
    assert "the image is for linux/amd64, not linux/arm64" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("scheme", ["oci-dir", "oci-archive"])
def test_analyze_platform_match_of_single_image_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    layout = single_image_layout(tmp_path, "arm64")
    path = layout if scheme == "oci-dir" else archive_of(layout)

    code = run_analyze(f"{scheme}:{path}", "--platform", "linux/arm64/v8", "-o", "json")

    assert code == 0
    assert json.loads(capsys.readouterr().out)["architecture"] == "arm64"


def test_analyze_platform_mismatch_of_annotated_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = single_image_layout(tmp_path, "arm64")
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    index["manifests"][0]["platform"] = {"os": "linux", "architecture": "arm64"}
    index_path.write_text(json.dumps(index))

    code = run_analyze(f"oci-dir:{layout}", "--platform", "linux/amd64")

    assert code == 1
    assert "the image is for linux/arm64, not linux/amd64" in capsys.readouterr().err


@pytest.mark.parametrize("nested", [False, True])
def test_analyze_platform_picks_index_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nested: bool
) -> None:
    layout = build_layout(tmp_path, nested=nested)
    archive = archive_of(layout)

    for source in (f"oci-dir:{layout}", f"oci-archive:{archive}"):
        code = run_analyze(source, "--platform", "linux/arm64", "-o", "json")

        assert code == 0
        assert python_names(json.loads(capsys.readouterr().out)) == {"arm-only"}


@pytest.mark.parametrize("nested", [False, True])
def test_analyze_platform_missing_from_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], nested: bool
) -> None:
    layout = build_layout(tmp_path, nested=nested)

    code = run_analyze(f"oci-dir:{layout}", "--platform", "linux/s390x", "-o", "json")

    assert code == 1
    captured = capsys.readouterr()
    assert "no image for platform linux/s390x" in captured.err
    assert "linux/amd64, linux/arm64" in captured.err
    assert captured.out == ""


def tagged_images_layout(root: Path) -> Path:
    """Write a layout of an amd64 and an arm64 image tagged `amd` and `arm`, without platforms.

    This is what `skopeo copy --override-arch ... oci:DIR:TAG` writes for two platforms.
    """
    layout = build_layout(root, nested=False)
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    for entry in index["manifests"]:
        architecture = entry.pop("platform")["architecture"]
        entry["annotations"] = {"org.opencontainers.image.ref.name": architecture[:3]}
    index_path.write_text(json.dumps(index))
    return layout


@pytest.mark.parametrize("scheme", ["oci-dir", "oci-archive"])
def test_analyze_platform_picks_tagged_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    layout = tagged_images_layout(tmp_path)
    path = layout if scheme == "oci-dir" else archive_of(layout)

    code = run_analyze(f"{scheme}:{path}", "--platform", "linux/arm64", "-o", "json")

    assert code == 0
    report = AnalysisReport.model_validate_json(capsys.readouterr().out)
    assert python_names(report) == {"arm-only"}
    assert report.architecture == "arm64"


def test_analyze_platform_missing_from_tagged_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tagged_images_layout(tmp_path)

    code = run_analyze(f"oci-dir:{layout}", "--platform", "linux/s390x", "-o", "json")

    assert code == 1
    error = capsys.readouterr().err
    assert "no image for platform linux/s390x" in error
    assert "linux/amd64 ('amd'), linux/arm64 ('arm')" in error


def test_analyze_tagged_images_need_platform(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = tagged_images_layout(tmp_path)

    code = run_analyze(f"oci-dir:{layout}", "-o", "json")

    assert code == 1
    error = capsys.readouterr().err
    assert "contains 2 images" in error
    assert "only by --platform" in error
