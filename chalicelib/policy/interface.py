"""Input facts, result types and errors of the policy engine.

The engine is a plain library: callers build `ImageFacts` from the stored analysis and
vulnerability matches, and get back the evaluation document in Anchore's shape.
"""

from __future__ import annotations

import datetime

from pydantic import BaseModel, Field

from chalicelib.analysis.interface import AnalysisReport, SecretMatch
from chalicelib.vulns.interface import CvssScore, VulnMatch


class PolicyError(Exception):
    """Base error of the policy engine."""


class ImageFacts(BaseModel):
    """Everything a gate may read about one image."""

    image_digest: str
    image_id: str
    analysis: AnalysisReport
    vulnerabilities: list[VulnMatch] = Field(default_factory=list)
    vuln_namespace: str | None = None
    """Distro namespace of the image (`debian:12`), None when the distro is unknown."""
    feed_last_sync: dict[str, datetime.datetime | None] = Field(default_factory=dict)
    """Last successful sync time per stored feed group (namespace)."""
    feed_record_counts: dict[str, int] = Field(default_factory=dict)
    """Stored record count per feed group (namespace)."""
    first_seen: dict[str, datetime.datetime] = Field(default_factory=dict)
    """When each match was first detected, keyed by `<vuln_id>+<package_name>+<package_path>`."""
    fix_first_seen: dict[str, datetime.datetime] = Field(default_factory=dict)
    """When a fix for each match was first seen, keyed like `first_seen`; absent when unknown."""
    nvd_cvss: dict[str, list[CvssScore]] = Field(default_factory=dict)
    """NVD CVSS scores per CVE id, where NVD data is stored. The `cvss` of a match contains the
    scores of the record that matched (the vendor's)."""
    content_matches: list[SecretMatch] = Field(default_factory=list)
    """Content search matches (named regexes found in files); empty while the analysis runs
    no content search."""
