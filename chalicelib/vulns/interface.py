"""Data types and errors shared by the feed importers, version schemes and the matcher.

Records are stored in one model close to OSV: one `VulnRecord` per vulnerability id, namespace and
affected package, so the matcher can look records up by namespace and package name.
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, Field


class VulnsError(Exception):
    """Base error of the vulnerability code."""


class FeedError(VulnsError):
    """A feed source could not be read; the message names the source and the problem."""


class InvalidVersionError(VulnsError, ValueError):
    """A version string is not valid in its scheme; the message names the version and scheme."""


class Severity(str, enum.Enum):
    """Severity labels as Anchore reports them, ordered from least to most severe."""

    UNKNOWN = "Unknown"
    NEGLIGIBLE = "Negligible"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"
    CRITICAL = "Critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class RangeEvent(BaseModel):
    """One OSV range event; exactly one field is set."""

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None


NPM_RANGE = "NPM_RANGE"
"""`AffectedRange.type` of a range kept as npm range text in `AffectedRange.expression`."""


class AffectedRange(BaseModel):
    """An OSV range of type `ECOSYSTEM` or `SEMVER` (`GIT` ranges are dropped on import), or an
    npm range expression of type `NPM_RANGE`."""

    type: str
    events: list[RangeEvent]
    """For `NPM_RANGE`, only `fixed` events: the lowest version of each patched interval."""
    expression: str | None = None
    """The npm range of affected versions, such as `>=1.2.0 <1.4.6 || 2.0.0`; set only for
    `NPM_RANGE`, which the matcher evaluates with npm's `satisfies` rules."""


class CvssScore(BaseModel):
    """One CVSS score of a record."""

    version: str
    """`2.0`, `3.0`, `3.1` or `4.0`."""
    vector: str | None = None
    base_score: float | None = None
    exploitability_score: float | None = None
    impact_score: float | None = None


class VulnRecord(BaseModel):
    """One vulnerability as it affects one package in one namespace."""

    id: str
    namespace: str
    """Where the record applies: `debian:12`, `alpine:3.18`, or an ecosystem in lower case:
    `pypi`, `npm`, `go`, `crates.io`, ..."""
    package: str
    """Affected package name; the source package for distro namespaces, normalized for the
    ecosystem (PEP 503 for `pypi`)."""
    aliases: list[str] = Field(default_factory=list)
    summary: str | None = None
    severity: Severity = Severity.UNKNOWN
    severity_from_vendor: bool = False
    """Whether `severity` is the publisher's own label (GitHub, Ubuntu), not derived from CVSS."""
    cvss: list[CvssScore] = Field(default_factory=list)
    link: str | None = None
    ranges: list[AffectedRange] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)
    """Explicitly listed affected versions."""
    will_not_fix: bool = False
    source: str = "osv"
    """Importer format that produced the record: `osv`, `alpine-secdb`, `debian-tracker`,
    `ubuntu-cve-tracker`, `node-security`, `redhat-csaf` or `nvd`."""
    modified: str | None = None
    cwes: list[str] = Field(default_factory=list)
    """CWE ids of the weakness, such as `CWE-79`, where the feed gives them."""


class VulnMatch(BaseModel):
    """One vulnerability found in one installed package of an image."""

    vuln_id: str
    severity: Severity
    package_name: str
    package_version: str
    package_type: str
    """Package type as stored in the analysis (`dpkg`, `apk`, `python`, `npm`)."""
    package_path: str
    """Location of the package in the image."""
    fixed_in: list[str] = Field(default_factory=list)
    url: str | None = None
    namespace: str
    """Namespace of the record that matched; reported as the feed group."""
    will_not_fix: bool = False
    aliases: list[str] = Field(default_factory=list)
    cvss: list[CvssScore] = Field(default_factory=list)
