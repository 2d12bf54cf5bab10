"""CVSS vectors: base scores and the severity bands derived from them.

Scores are computed with the `cvss` library (CVSS 2.0, 3.0, 3.1 and 4.0), so a record that carries
only a vector still gets a base score and a severity.
"""

from __future__ import annotations

import logging

import cvss
import cvss.exceptions

from chalicelib.vulns.interface import CvssScore, Severity

logger = logging.getLogger(__name__)

OSV_CVSS_TYPES = ("CVSS_V2", "CVSS_V3", "CVSS_V4")
"""OSV `severity[].type` values that hold a CVSS vector."""


def parse_cvss_vector(vector: str) -> CvssScore | None:
    """Compute the base score of a CVSS vector, or return None when the vector is invalid.

    The version comes from the vector's prefix: `CVSS:3.0/`, `CVSS:3.1/` or `CVSS:4.0/`, and no
    prefix means CVSS 2.0. For 2.0 and 3.x the exploitability and impact sub-scores are filled
    in too, rounded to one decimal as NVD shows them.
    """
    vector = vector.strip()
    try:
        if vector.startswith("CVSS:4"):
            return CvssScore(
                version="4.0", vector=vector, base_score=float(cvss.CVSS4(vector).base_score)
            )
        if vector.startswith("CVSS:3"):
            score3 = cvss.CVSS3(vector)
            return CvssScore(
                version=f"3.{score3.minor_version}",
                vector=vector,
                base_score=float(score3.base_score),
                exploitability_score=round(float(score3.esc), 1),
                impact_score=max(round(float(score3.isc), 1), 0.0),
            )
        score2 = cvss.CVSS2(vector)
        return CvssScore(version="2.0", vector=vector, base_score=float(score2.base_score))
    except cvss.exceptions.CVSSError as error:
        logger.warning("skipped invalid CVSS vector %r: %s", vector, error)
        return None


def severity_from_score(base_score: float) -> Severity:
    """Map a CVSS 3.x or 4.0 base score to a severity band.

    0.1-3.9 is Low, 4.0-6.9 Medium, 7.0-8.9 High and 9.0-10.0 Critical, as in the CVSS
    specification. A score of 0.0 (the specification's "None") maps to Negligible.
    """
    if base_score >= 9.0:
        return Severity.CRITICAL
    if base_score >= 7.0:
        return Severity.HIGH
    if base_score >= 4.0:
        return Severity.MEDIUM
    if base_score > 0.0:
        return Severity.LOW
    return Severity.NEGLIGIBLE


def severity_from_cvss(scores: list[CvssScore]) -> Severity:
    """Return the severity band of the first CVSS 3.x score in `scores`, else of the first 4.0
    score, else Unknown.

    CVSS 2.0 scores are not used because their bands differ (no Critical band).
    """
    for major in ("3", "4"):
        for score in scores:
            if score.version.startswith(major) and score.base_score is not None:
                return severity_from_score(score.base_score)
    return Severity.UNKNOWN
