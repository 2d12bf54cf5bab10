"""`plimsoll analyze`: each source scheme, each output format, progress and errors."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker.errors
import pytest

from chalicelib.analysis import AnalysisOptions
from chalicelib.analysis.interface import AnalysisReport
from chalicelib.analysis.sbom import SubjectKind
from chalicelib.cli import analyze, build_parser, main, sources
from chalicelib.cli.sources import SourceError, _guess_scheme, open_source
from chalicelib.config import ANALYSIS_LIMITS
from tests.analysis.sbom_support import (  # noqa: F401
    build_debian_image,
    cyclonedx_validator,
    debian_archive,
    schema_errors,
    spdx_validator,
)
from tests.conftest import REPO_ROOT

EXPECTED = {("zlib1g", "deb"), ("urllib3", "python"), ("minimist", "npm")}
"""Packages of the image that `build_debian_image` builds, with Syft's type names."""

DIST_INFO_METADATA = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


@pytest.fixture(scope="module")
def oci_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an OCI layout directory of the image of `build_debian_image`, with gzip layers."""
    layout = tmp_path_factory.mktemp("cli-oci") / "layout"
    build_debian_image().write_oci_layout(layout, "1")
    return layout


@pytest.fixture(scope="module")
def oci_archive(oci_layout: Path) -> Path:
    """Return a tar archive of `oci_layout`."""
    path = oci_layout.parent / "layout.tar"
    with tarfile.open(path, "w") as archive:
        for child in sorted(oci_layout.iterdir()):
            archive.add(child, arcname=child.name)
    return path


def run_analyze(
    *arguments: str, factory: object = None, output: Path | None = None
) -> tuple[int, bytes]:
    """Run `plimsoll analyze` in process; return its exit code and output file content."""
    args = build_parser().parse_args(["analyze", *arguments])
    if output is not None:
        args.file = output
    code = analyze.run(args, docker_client_factory=factory)  # type: ignore[arg-type]
    content = output.read_bytes() if output is not None and output.exists() else b""
    return code, content


def analyzed_report(source: str, tmp_path: Path, *extra: str) -> AnalysisReport:
    code, content = run_analyze(source, "-o", "json", *extra, output=tmp_path / "report.json")
    assert code == 0
    return AnalysisReport.model_validate_json(content)


def found(report: AnalysisReport) -> set[tuple[str, str]]:
    from chalicelib.analysis.sbom.syft import PACKAGE_TYPES

    return {(package.name, PACKAGE_TYPES[package.type]) for package in report.packages}


def test_analyze_docker_archive_scheme(debian_archive: Path, tmp_path: Path) -> None:
    report = analyzed_report(f"docker-archive:{debian_archive}", tmp_path)

    assert EXPECTED <= found(report)
    assert report.distro is not None
    assert report.distro.id == "debian"
    assert len(report.layers) == 3


def test_analyze_oci_dir_scheme(oci_layout: Path, tmp_path: Path) -> None:
    report = analyzed_report(f"oci-dir:{oci_layout}", tmp_path)

    assert EXPECTED <= found(report)
    assert all(layer.media_type.endswith("tar+gzip") for layer in report.layers)


def test_analyze_oci_archive_scheme(oci_archive: Path, oci_layout: Path, tmp_path: Path) -> None:
    from_archive = analyzed_report(f"oci-archive:{oci_archive}", tmp_path)
    from_directory = analyzed_report(f"oci-dir:{oci_layout}", tmp_path)

    assert EXPECTED <= found(from_archive)
    assert from_archive.image_digest == from_directory.image_digest


def test_analyze_registry_scheme(small_image: str, tmp_path: Path) -> None:
    report = analyzed_report(f"registry:{small_image}", tmp_path)

    assert EXPECTED <= found(report)


def test_analyze_registry_subject_names_tag(small_image: str) -> None:
    opened = open_source(f"registry:{small_image}")
    try:
        assert opened.subject.name == small_image
        assert opened.subject.tags == (small_image,)
        assert opened.subject.repo_digests[0].endswith("@" + opened.source.manifest_digest)
    finally:
        opened.close()


class FakeImage:
    """An image of a fake Docker client whose `save` yields a real `docker save` tar."""

    def __init__(self, archive: Path) -> None:
        self.tags = ["sbom:1"]
        self._archive = archive

    def save(self, chunk_size: int = 65536, named: bool = False) -> Iterator[bytes]:
        with self._archive.open("rb") as stream:
            while chunk := stream.read(chunk_size):
                yield chunk


class FakeDockerClient:
    """A stand-in for `docker.DockerClient` with one image, `sbom:1`."""

    def __init__(self, archive: Path) -> None:
        self.images = self
        self._archive = archive

    def get(self, name: str) -> FakeImage:
        if name != "sbom:1":
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return FakeImage(self._archive)


def test_analyze_docker_scheme(debian_archive: Path, tmp_path: Path) -> None:
    temporary = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("plimsoll-docker-*"))

    code, content = run_analyze(
        "docker:sbom:1",
        "-o",
        "syft-json",
        factory=lambda: FakeDockerClient(debian_archive),
        output=tmp_path / "sbom.json",
    )

    assert code == 0
    document = json.loads(content)
    assert {(a["name"], a["type"]) for a in document["artifacts"]} >= EXPECTED
    assert document["source"]["metadata"]["userInput"] == "sbom:1"
    assert document["source"]["metadata"]["tags"] == ["sbom:1"]
    leftover = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("plimsoll-docker-*"))
    assert leftover <= temporary


def test_analyze_docker_image_not_found(
    debian_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(
        "docker:absent:1", factory=lambda: FakeDockerClient(debian_archive), output=tmp_path / "o"
    )

    assert code == 1
    error = capsys.readouterr().err
    assert "docker:absent:1" in error
    assert "not in the local Docker daemon" in error


def test_analyze_docker_without_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def unreachable() -> object:
        raise docker.errors.DockerException("Error while fetching server API version")

    code, _ = run_analyze("docker:alpine:3.10", factory=unreachable, output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert "docker:alpine:3.10" in error
    assert "no Docker daemon is reachable" in error
    assert "docker-archive:PATH" in error


def make_site_packages(root: Path, name: str, version: str) -> None:
    dist_info = root / "usr/lib/python3/dist-packages" / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(DIST_INFO_METADATA.format(name=name, version=version))


def test_analyze_dir_scheme(tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_site_packages(root, "requests", "2.19.1")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (root / "etc/hostname").write_text("box\n")
    os.link(root / "etc/hostname", root / "etc/hostname.copy")

    report = analyzed_report(f"dir:{root}", tmp_path)

    assert ("requests", "python") in found(report)
    assert report.distro is not None
    assert report.distro.id == "debian"
    assert len(report.layers) == 1
    paths = {entry.path for entry in report.files}
    assert "/etc/hostname" in paths
    assert "/etc/hostname.copy" in paths


def test_analyze_dir_does_not_follow_links_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make_site_packages(outside, "escaped", "1.0")
    (outside / "os-release").write_text("ID=escaped\n")
    root = tmp_path / "root"
    (root / "usr/lib/python3").mkdir(parents=True)
    (root / "usr/lib/python3/dist-packages").symlink_to(outside / "usr/lib/python3/dist-packages")
    (root / "etc").mkdir()
    (root / "etc/os-release").symlink_to(outside / "os-release")

    report = analyzed_report(f"dir:{root}", tmp_path)

    assert not any(package.name == "escaped" for package in report.packages)
    assert report.distro is None or report.distro.id != "escaped"


def test_analyze_dir_lists_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "secret").write_text("x")
    (root / "readable").write_text("y")
    real_open = os.open

    def deny_secret(path: str, flags: int, *args: int) -> int:
        if str(path).endswith("/secret"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args)

    # Root reads files whatever their mode, so the denial is simulated.
    monkeypatch.setattr(os, "open", deny_secret)
    report = analyzed_report(f"dir:{root}", tmp_path)

    assert [problem.location for problem in report.problems] == ["/secret"]
    assert "Permission denied" in report.problems[0].reason
    paths = {entry.path for entry in report.files}
    assert "/readable" in paths
    assert "/secret" not in paths


def test_analyze_dir_subject_is_directory(tmp_path: Path) -> None:
    opened = open_source(f"dir:{tmp_path}")
    try:
        assert opened.subject.kind is SubjectKind.DIRECTORY
        assert opened.subject.name == str(tmp_path)
    finally:
        opened.close()


def test_analyze_bare_paths_pick_scheme(
    debian_archive: Path, oci_layout: Path, tmp_path: Path
) -> None:
    from_archive = analyzed_report(str(debian_archive), tmp_path)
    from_layout = analyzed_report(str(oci_layout), tmp_path)
    plain = tmp_path / "plain"
    make_site_packages(plain, "six", "1.16.0")
    from_directory = analyzed_report(str(plain), tmp_path)

    assert EXPECTED <= found(from_archive)
    assert EXPECTED <= found(from_layout)
    assert found(from_directory) == {("six", "python")}


def test_analyze_bare_reference_uses_registry(small_image: str, tmp_path: Path) -> None:
    report = analyzed_report(small_image, tmp_path)

    assert EXPECTED <= found(report)


def test_analyze_bare_file_not_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not an archive")

    code, _ = run_analyze(str(path), output=tmp_path / "o")

    assert code == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert f"file {path} is not a tar archive" in lines[0]
    assert "registry reference" in lines[0]
    assert "method gz" not in lines[0]


def test_analyze_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_analyze(f"dir:{tmp_path}/absent", output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert f"dir:{tmp_path}/absent: no such directory" in error
    assert not (tmp_path / "o").exists()


def test_analyze_missing_oci_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run_analyze(f"oci-dir:{tmp_path}/absent", output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert f"oci-dir:{tmp_path}/absent: no such directory" in error
    assert "oci-archive:" not in error


def test_analyze_oci_dir_of_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "layout.tar").write_bytes(b"")

    code, _ = run_analyze(f"oci-dir:{tmp_path}/layout.tar", output=tmp_path / "o")

    assert code == 1
    assert "is not a directory; use oci-archive: for a tar" in capsys.readouterr().err


def test_analyze_oci_archive_of_docker_archive(
    debian_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(f"oci-archive:{debian_archive}", output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert "looks like a `docker save` archive" in error
    assert "docker-archive:PATH" in error
    assert "skopeo" not in error


@pytest.mark.parametrize(
    "name", ["/nonexistent", "./missing.tar", "../missing", "~/missing.tar", "images\\app.tar"]
)
def test_analyze_missing_path_is_not_reference(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _ = run_analyze(name, output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert f"{name}: no such file or directory" in error
    assert "registry:REFERENCE" in error
    assert "invalid image reference" not in error


def test_analyze_bare_name_with_slash_is_reference() -> None:
    assert _guess_scheme("library/alpine:3.20") == "registry"
    assert _guess_scheme("127.0.0.1:5000/app/web:1") == "registry"


def test_analyze_empty_scheme_value() -> None:
    with pytest.raises(SourceError, match="dir:"):
        open_source("dir:")


@pytest.mark.parametrize("source", ["", "  "])
def test_analyze_empty_source(
    source: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The current directory contains a package, which an analysis of "." would find.
    make_site_packages(tmp_path, "six", "1.16.0")
    monkeypatch.chdir(tmp_path)

    code, _ = run_analyze(source, output=tmp_path / "o")

    assert code == 1
    assert "the source is empty" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "name",
    [
        "missing.tar",
        "image.oci",
        "image.tar.gz",
        "image.TGZ",
        "some/dir/image.tar",
        "some/dir/image.json",
    ],
)
def test_analyze_missing_file_name_warns(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[str] = []

    def fail_lookup(reference: str, platform: str) -> None:
        looked_up.append(reference)
        raise SourceError(f"{reference}: not found")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_open_registry", fail_lookup)

    with pytest.raises(SourceError):
        open_source(name)

    assert looked_up == [name]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{name}: no local file of that name exists, so it is read as a registry reference; "
        "if you meant a file, check its path"
    ]


@pytest.mark.parametrize(
    "name",
    [
        "alpine",
        "alpine:3.20",
        "library/alpine:3.20",
        "ghcr.io/org/app",
        "127.0.0.1:5000/app/web:1.2",
        "ghcr.io/org/app@sha256:" + "a" * 64,
    ],
)
def test_analyze_reference_does_not_warn(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail_lookup(reference: str, platform: str) -> None:
        raise SourceError(f"{reference}: not found")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sources, "_open_registry", fail_lookup)

    with pytest.raises(SourceError):
        open_source(name)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_analyze_platform_mismatch_of_archive(
    debian_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(
        f"docker-archive:{debian_archive}", "--platform", "linux/arm64", output=tmp_path / "o"
    )

    assert code == 1
    assert "linux/amd64, not linux/arm64" in capsys.readouterr().err


def test_analyze_platform_mismatch_of_registry_image(
    small_image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(
        f"registry:{small_image}", "--platform", "linux/arm64", output=tmp_path / "o"
    )

    assert code == 1
    assert "the image is for linux/amd64, not linux/arm64" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_analyze_platform_of_directory_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(f"dir:{tmp_path}", "--platform", "linux/amd64", output=tmp_path / "o")

    assert code == 1
    assert "--platform applies to images" in capsys.readouterr().err


def test_analyze_invalid_platform(debian_archive: Path) -> None:
    with pytest.raises(SourceError, match="linux"):
        open_source(f"docker-archive:{debian_archive}", platform="linux")


def test_analyze_table_lists_packages(debian_archive: Path, tmp_path: Path) -> None:
    code, content = run_analyze(
        f"docker-archive:{debian_archive}", "-o", "table", output=tmp_path / "table.txt"
    )

    assert code == 0
    lines = content.decode().splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "TYPE"]
    rows = {tuple(line.split()) for line in lines[1:]}
    assert ("minimist", "0.0.8", "npm") in rows
    assert ("urllib3", "1.24.1", "python") in rows
    assert any(row[0] == "zlib1g" and row[2] == "deb" for row in rows)


def test_analyze_table_of_nothing() -> None:
    assert analyze.package_table([]) == "No packages discovered\n"


@pytest.mark.parametrize("format_name", ["cyclonedx-json", "spdx-json"])
def test_analyze_sbom_output_is_valid(
    debian_archive: Path, tmp_path: Path, format_name: str
) -> None:
    code, content = run_analyze(
        f"docker-archive:{debian_archive}", "-o", format_name, output=tmp_path / "sbom.json"
    )

    assert code == 0
    validator = cyclonedx_validator() if format_name == "cyclonedx-json" else spdx_validator()
    assert schema_errors(validator, json.loads(content)) == []


def test_analyze_writes_standard_output(
    debian_archive: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code = main(["analyze", f"docker-archive:{debian_archive}", "-o", "syft-json"])

    assert code == 0
    document = json.loads(capsysbinary.readouterr().out)
    assert document["source"]["type"] == "image"


def test_analyze_unwritable_output(
    debian_archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run_analyze(
        f"docker-archive:{debian_archive}", output=tmp_path / "absent-dir" / "out.txt"
    )

    assert code == 1
    assert "absent-dir" in capsys.readouterr().err


def test_progress_draws_layers_bytes_and_packages() -> None:
    stream = io.StringIO()
    times = iter([0.0, 0.05, 0.5, 0.6, 0.7])
    progress = analyze.Progress(stream, enabled=True, clock=lambda: next(times))
    from chalicelib.analysis.interface import LayerRef

    layers = [LayerRef(digest="sha256:" + "a" * 64, media_type="x", size=2 * 1024 * 1024)]
    progress.start(layers)
    progress.read(1024 * 1024)
    progress.read(1024 * 1024)
    progress.layer_done()
    progress.finish(7)

    text = stream.getvalue()
    assert "layers 0/1, 0.0 MiB of 2.0 MiB" in text
    assert "layers 0/1, 2.0 MiB of 2.0 MiB" in text
    assert "layers 1/1, 2.0 MiB of 2.0 MiB, cataloging" in text
    assert text.endswith("layers 1/1, 2.0 MiB of 2.0 MiB, 7 packages found\n")
    assert "1.0 MiB" not in text


def test_progress_disabled_writes_nothing(debian_archive: Path) -> None:
    stream = io.StringIO()
    progress = analyze.Progress(stream, enabled=False)

    analyze.analyze_source(f"docker-archive:{debian_archive}", progress=progress)
    progress.finish(3)

    assert stream.getvalue() == ""


def test_progress_counts_real_layers(debian_archive: Path) -> None:
    stream = io.StringIO()
    progress = analyze.Progress(stream, enabled=True, interval=0)

    report, _ = analyze.analyze_source(f"docker-archive:{debian_archive}", progress=progress)

    assert progress.layers_done == 3
    assert progress.bytes_read == progress.bytes_total
    assert report.packages


def test_plimsoll_command_runs_analyze(debian_archive: Path) -> None:
    command = REPO_ROOT / ".venv" / "bin" / "plimsoll"
    if not command.is_file():
        pytest.skip(f"{command} is missing; `make install` creates it")

    finished = subprocess.run(
        [str(command), "analyze", f"docker-archive:{debian_archive}", "-o", "cyclonedx-json"],
        capture_output=True,
        timeout=300,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr.decode()
    assert finished.stderr == b""
    document = json.loads(finished.stdout)
    assert schema_errors(cyclonedx_validator(), document) == []
    assert {"zlib1g", "urllib3", "minimist"} <= {c["name"] for c in document["components"]}


def test_analyze_unreachable_registry_stderr(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    # Nothing listens on the port now, so every connection attempt is refused.

    finished = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "analyze", f"registry:127.0.0.1:{port}/app:1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )

    assert finished.returncode == 1
    lines = finished.stderr.splitlines()
    assert len(lines) == 1, finished.stderr
    assert lines[0].startswith(f"plimsoll analyze: error: registry:127.0.0.1:{port}/app:1: ")
    assert f"connection refused (127.0.0.1:{port})" in lines[0]
    assert "check that the registry is up and reachable from here" in lines[0]
    assert "Max retries exceeded" not in lines[0]


@pytest.mark.parametrize(("log_level", "expected"), [("WARNING", "ERROR"), ("debug", "NOTSET")])
def test_main_sets_retry_warning_level(
    log_level: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    connection_pool = logging.getLogger("urllib3.connectionpool")
    saved = connection_pool.level
    connection_pool.setLevel(logging.NOTSET)
    try:
        code = main(["--log-level", log_level, "analyze", "/nonexistent"])

        assert code == 1
        assert logging.getLevelName(connection_pool.level) == expected
    finally:
        connection_pool.setLevel(saved)


def test_plimsoll_help_lists_schemes() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "analyze", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
        # A wide terminal keeps argparse from wrapping `docker-archive:` at its hyphen.
        env={**os.environ, "COLUMNS": "400"},
    )

    assert finished.returncode == 0
    for scheme in ("registry:", "docker-archive:", "oci-archive:", "oci-dir:", "docker:", "dir:"):
        assert scheme in finished.stdout


def run_command(
    *arguments: str, stdout: object = subprocess.PIPE
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m chalicelib.cli analyze ARGUMENTS` with standard output sent to `stdout`."""
    return subprocess.run(
        [sys.executable, "-m", "chalicelib.cli", "analyze", *arguments],
        stdout=stdout,
        stderr=subprocess.PIPE,
        timeout=120,
        check=False,
        cwd=REPO_ROOT,
    )


def test_analyze_closed_pipe_exits_silently(tmp_path: Path) -> None:
    make_site_packages(tmp_path, "six", "1.16.0")
    process = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.cli", "analyze", f"dir:{tmp_path}", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=REPO_ROOT,
    )
    # Closing the read end first, as `head` does once it has read enough, makes every write fail.
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == analyze.BROKEN_PIPE_STATUS
    assert stderr == b""


def test_analyze_full_disk_names_standard_output(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is missing on this system")
    make_site_packages(tmp_path, "six", "1.16.0")

    with open("/dev/full", "wb") as full:
        finished = run_command(f"dir:{tmp_path}", "-o", "json", stdout=full)

    assert finished.returncode == 1
    lines = finished.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "writing to standard output failed: [Errno 28]" in lines[0]
    assert "None" not in lines[0]


def test_analyze_limit_flags_set_options() -> None:
    args = build_parser(["analyze"]).parse_args(
        ["analyze", "x", "--max-layer-bytes", "1000", "--retrieved-file-max-size", "0"]
    )

    options = analyze.analysis_options(args)

    assert options.max_layer_bytes == 1000
    assert options.retrieved_file_max_size == 0
    assert options.max_layer_entries == AnalysisOptions().max_layer_entries


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--max-layer-bytes", "16G", "'16G' is not a positive whole number of bytes"),
        ("--max-layer-entries", "0", "'0' is not a positive whole number of entries"),
        ("--retrieved-file-max-size", "-1", "'-1' is not a non-negative whole number of bytes"),
    ],
)
def test_analyze_limit_flag_invalid(
    flag: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser(["analyze"]).parse_args(["analyze", "x", flag, value])

    assert exited.value.code == 2
    assert f"argument {flag}: {expected}" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "setting"),
    [
        ("--max-layer-entries", "2", "MAX_LAYER_ENTRIES"),
        ("--max-layer-bytes", "1000", "MAX_LAYER_BYTES"),
    ],
)
def test_analyze_over_layer_limit_names_flag(
    flag: str, value: str, setting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_site_packages(tmp_path / "root", "six", "1.16.0")

    code, _ = run_analyze(f"dir:{tmp_path / 'root'}", flag, value, output=tmp_path / "o")

    assert code == 1
    error = capsys.readouterr().err
    assert f"`plimsoll analyze {flag}`" in error
    assert f"the {setting} setting of the service" in error


@pytest.mark.parametrize(
    ("flag", "path", "setting"),
    [
        (
            "--max-kept-file-size",
            "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
            "MAX_KEPT_FILE_SIZE",
        ),
        ("--retrieved-file-max-size", "/etc/passwd", "RETRIEVED_FILE_MAX_SIZE"),
    ],
)
def test_analyze_over_file_limit_names_flag(
    flag: str, path: str, setting: str, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    make_site_packages(root, "six", "1.16.0")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")

    report = analyzed_report(f"dir:{root}", tmp_path, flag, "5")

    reasons = [problem.reason for problem in report.problems if problem.location == path]
    assert len(reasons) == 1, report.problems
    assert f"`plimsoll analyze {flag}`" in reasons[0]
    assert f"the {setting} setting of the service" in reasons[0]


def test_analyze_each_limit_has_flag() -> None:
    parser = build_parser(["analyze"])

    for limit in ANALYSIS_LIMITS:
        args = parser.parse_args(["analyze", "x", limit.flag, "7"])
        assert getattr(analyze.analysis_options(args), limit.field) == 7
