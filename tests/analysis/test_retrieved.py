"""Tests of the retrieved files, stored whole for the retrieved_files gate."""

from __future__ import annotations

import base64

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.interface import AnalysisError, RetrievedFile
from chalicelib.analysis.options import AnalysisOptions
from tests.analysis.builders import directory, file, image, symlink, whiteout

PASSWD = "root:x:0:0:root:/root:/bin/sh\n"


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def test_retrieved_files_default_passwd() -> None:
    report = analyze_image(image([file("etc/passwd", PASSWD), file("etc/shadow", "x")]))
    assert report.retrieved_files == [RetrievedFile(path="/etc/passwd", b64_content=b64(PASSWD))]


def test_retrieved_files_configured_paths() -> None:
    binary = bytes(range(256))
    source = image([file("etc/passwd", PASSWD), file("etc/app/key.bin", binary)])
    options = AnalysisOptions(retrieved_files=("/etc/app/key.bin", "/etc/missing", "/etc"))
    report = analyze_image(source, options=options)
    assert report.retrieved_files == [
        RetrievedFile(path="/etc/app/key.bin", b64_content=b64(binary))
    ]
    assert report.problems == []


def test_retrieved_files_over_limit_unknown() -> None:
    source = image([file("etc/passwd", PASSWD)])
    report = analyze_image(source, options=AnalysisOptions(retrieved_file_max_size=10))
    assert report.retrieved_files == []
    [problem] = report.problems
    assert problem.location == "/etc/passwd"
    assert "over the limit of 10 bytes" in problem.reason
    assert "RETRIEVED_FILE_MAX_SIZE" in problem.reason


def test_retrieved_files_follow_links_between_kept_paths() -> None:
    source = image(
        [file("etc/real.conf", "a=1\n"), symlink("etc/app.conf", "real.conf")],
    )
    options = AnalysisOptions(retrieved_files=("/etc/app.conf", "/etc/real.conf"))
    report = analyze_image(source, options=options)
    assert report.retrieved_files == [
        RetrievedFile(path="/etc/app.conf", b64_content=b64("a=1\n")),
        RetrievedFile(path="/etc/real.conf", b64_content=b64("a=1\n")),
    ]


def test_retrieved_files_link_to_unkept_target_unknown() -> None:
    source = image(
        [directory("opt"), file("opt/app.conf", "a=1\n"), symlink("etc/app.conf", "/opt/app.conf")]
    )
    report = analyze_image(source, options=AnalysisOptions(retrieved_files=("/etc/app.conf",)))
    assert report.retrieved_files == []
    [problem] = report.problems
    assert problem.location == "/etc/app.conf"
    assert "/opt/app.conf" in problem.reason


def test_retrieved_files_deleted_by_later_layer() -> None:
    report = analyze_image(image([file("etc/passwd", PASSWD)], [whiteout("etc/passwd")]))
    assert report.retrieved_files == []


def test_retrieved_files_relative_path_rejected() -> None:
    with pytest.raises(AnalysisError, match="'etc/passwd' is not an absolute path"):
        AnalysisOptions(retrieved_files=("etc/passwd",))
