"""The `retrieved_files` gate reads every file the analysis retrieved, not only /etc/passwd."""

from __future__ import annotations

import base64
import datetime

from chalicelib.analysis.interface import AnalysisReport, RetrievedFile
from chalicelib.policy.gates.retrieved_files import retrieved_files
from chalicelib.policy.interface import ImageFacts


class _Context:
    def __init__(self, facts: ImageFacts) -> None:
        self.facts = facts
        self.now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def facts_with(files: list[RetrievedFile], passwd: str | None) -> ImageFacts:
    report = AnalysisReport(
        image_digest="sha256:" + "1" * 64, image_id="2" * 64, retrieved_files=files, passwd=passwd
    )
    return ImageFacts(image_digest=report.image_digest, image_id=report.image_id, analysis=report)


def test_retrieved_files_reads_configured_files() -> None:
    hosts = RetrievedFile(path="/etc/hosts", b64_content=base64.b64encode(b"127.0.0.1 x").decode())

    files = retrieved_files(_Context(facts_with([hosts], "root:x:0:0::/root:/bin/sh")))

    assert files["/etc/hosts"] == "127.0.0.1 x"
    assert files["/etc/passwd"] == "root:x:0:0::/root:/bin/sh"


def test_retrieved_files_empty_without_content() -> None:
    assert retrieved_files(_Context(facts_with([], None))) == {}
