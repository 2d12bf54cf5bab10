"""`plimsoll analyze` output pieces: the same document as pydantic's JSON, built with less memory."""

from __future__ import annotations

from chalicelib.analysis.interface import AnalysisReport, FileEntry, FileType
from chalicelib.analysis.layers import LayerEntry
from chalicelib.analysis.sbom import SbomSubject
from chalicelib.cli.analyze import render

LAYER = "sha256:" + "c" * 64


def sample_report() -> AnalysisReport:
    entries = [
        LayerEntry("/etc", FileType.DIR, 0o755, 0, 0, 0, None, None, LAYER),
        LayerEntry("/etc/passwd", FileType.FILE, 0o644, 0, 0, 5, "a" * 64, None, LAYER),
        LayerEntry("/bin/sh", FileType.SYMLINK, 0o777, 0, 0, 0, None, "dash", LAYER),
        LayerEntry("/bin/ü", FileType.HARDLINK, 0o4755, 1, 2, 5, "a" * 64, "/etc/passwd", LAYER),
    ]
    return AnalysisReport(
        image_digest="sha256:" + "d" * 64,
        image_id="e" * 64,
        files=[entry.to_file_entry() for entry in entries],
        passwd="root:x:0:0::/root:/bin/sh\n",
    )


def test_render_json_matches_model_dump() -> None:
    report = sample_report()
    pieces = render(report, SbomSubject(name="image"), "json")
    assert b"".join(pieces) == report.model_dump_json(indent=2).encode() + b"\n"


def test_file_entry_without_validation_round_trips() -> None:
    report = sample_report()
    loaded = AnalysisReport.model_validate_json(report.model_dump_json())
    assert loaded == report
    assert loaded.files[3].path == "/bin/ü"
    assert loaded.files[3].type is FileType.HARDLINK


def test_file_entry_shared_fields_set_survives_update() -> None:
    first, second = sample_report().files[:2]
    first.size = 99
    assert first.model_fields_set == set(FileEntry.model_fields)
    assert second.model_fields_set == set(FileEntry.model_fields)
    assert second.size == 5
    assert first.model_dump(exclude_unset=True)["size"] == 99
