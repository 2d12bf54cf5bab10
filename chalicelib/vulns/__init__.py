"""Vulnerability feeds and matching: importers, feed sources, version schemes and the matcher.

Importers turn each upstream format into `VulnRecord`s (`parse_osv`, `parse_alpine_secdb`),
`iter_records` reads them from the locations that `parse_feed_sources` finds in `FEED_SOURCES`,
and `match_packages` matches an image's packages against the stored records.
"""

from chalicelib.vulns.alpine_secdb import parse_alpine_secdb
from chalicelib.vulns.interface import (
    AffectedRange,
    CvssScore,
    FeedError,
    InvalidVersionError,
    RangeEvent,
    Severity,
    VulnMatch,
    VulnRecord,
    VulnsError,
)
from chalicelib.vulns.matcher import match_packages, package_namespaces, vuln_namespace
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records, parse_feed_sources

__all__ = [
    "AffectedRange",
    "CvssScore",
    "FeedError",
    "FeedReadStats",
    "FeedSource",
    "InvalidVersionError",
    "RangeEvent",
    "Severity",
    "VulnMatch",
    "VulnRecord",
    "VulnsError",
    "iter_records",
    "match_packages",
    "package_namespaces",
    "parse_alpine_secdb",
    "parse_feed_sources",
    "parse_osv",
    "vuln_namespace",
]
