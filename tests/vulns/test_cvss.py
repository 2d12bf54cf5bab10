"""Tests of CVSS base scores and severity bands."""

from __future__ import annotations

import pytest

from chalicelib.vulns.cvss import parse_cvss_vector, severity_from_cvss, severity_from_score
from chalicelib.vulns.interface import CvssScore, Severity


def test_parse_cvss_vector_v31_scores() -> None:
    # NVD lists CVE-2019-10744 (lodash) with this vector: 9.1, exploitability 3.9, impact 5.2.
    score = parse_cvss_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H")

    assert score is not None
    assert score.version == "3.1"
    assert score.base_score == 9.1
    assert score.exploitability_score == 3.9
    assert score.impact_score == 5.2


def test_parse_cvss_vector_v30_scope_changed() -> None:
    score = parse_cvss_vector("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H")

    assert score is not None
    assert score.version == "3.0"
    assert score.base_score == 10.0
    assert score.impact_score == 6.0


def test_parse_cvss_vector_v3_no_impact() -> None:
    score = parse_cvss_vector("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:N/I:N/A:N")

    assert score is not None
    assert score.base_score == 0.0
    assert score.impact_score == 0.0


def test_parse_cvss_vector_v2() -> None:
    score = parse_cvss_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P")

    assert score is not None
    assert score.version == "2.0"
    assert score.base_score == 7.5


def test_parse_cvss_vector_v4() -> None:
    score = parse_cvss_vector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")

    assert score is not None
    assert score.version == "4.0"
    assert score.base_score == 9.3


@pytest.mark.parametrize("vector", ["garbage", "CVSS:3.1/AV:X", ""])
def test_parse_cvss_vector_invalid_returns_none(vector: str) -> None:
    assert parse_cvss_vector(vector) is None


@pytest.mark.parametrize(
    ("base_score", "severity"),
    [
        (0.0, Severity.NEGLIGIBLE),
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_severity_from_score_bands(base_score: float, severity: Severity) -> None:
    assert severity_from_score(base_score) is severity


def test_severity_from_cvss_prefers_v3_over_v4() -> None:
    scores = [
        CvssScore(version="4.0", base_score=9.3),
        CvssScore(version="3.1", base_score=5.0),
    ]

    assert severity_from_cvss(scores) is Severity.MEDIUM


def test_severity_from_cvss_ignores_v2() -> None:
    assert severity_from_cvss([CvssScore(version="2.0", base_score=9.0)]) is Severity.UNKNOWN
