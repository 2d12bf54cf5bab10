"""Tests of the Red Hat CSAF importer on real advisories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chalicelib.vulns.interface import FeedError, RangeEvent, Severity, VulnRecord
from chalicelib.vulns.redhat_csaf import parse_csaf_document, parse_redhat_csaf
from chalicelib.vulns.sources import FeedReadStats, FeedSource, iter_records


@pytest.fixture(scope="module")
def rhel_dir(feeds_dir: Path) -> Path:
    return feeds_dir / "samples" / "rhel"


def parse_file(path: Path) -> list[VulnRecord]:
    return parse_redhat_csaf(path.as_posix(), path.read_bytes())


def fixed_version(record: VulnRecord) -> str | None:
    [affected_range] = record.ranges
    assert affected_range.events[0] == RangeEvent(introduced="0")
    return affected_range.events[1].fixed if len(affected_range.events) > 1 else None


def test_csaf_advisory_fixed_record(rhel_dir: Path) -> None:
    [record] = parse_file(rhel_dir / "vunnel-csaf_advisories_2024_rhsa-2024_9371.json")

    assert (record.id, record.namespace, record.package) == ("CVE-2024-8088", "rhel:9", "python3.9")
    assert fixed_version(record) == "0:3.9.19-8.el9"
    assert record.aliases == ["RHSA-2024:9371"]
    assert record.severity is Severity.MEDIUM
    assert record.severity_from_vendor
    assert record.cwes == ["CWE-835"]
    assert record.cvss[0].base_score == 5.3
    assert record.source == "redhat-csaf"


def test_csaf_extended_support_stream_skipped(rhel_dir: Path) -> None:
    # RHSA-2024:6163 fixes only the 9.4 EUS stream.
    assert parse_file(rhel_dir / "vunnel-csaf_advisories_2024_rhsa-2024_6163.json") == []


def test_csaf_binary_rpms_keyed_by_source(rhel_dir: Path) -> None:
    records = parse_file(rhel_dir / "vunnel-csaf_advisories_2025_rhsa-2025_23414.json")

    assert [(r.id, r.namespace, r.package) for r in records] == [
        ("CVE-2021-25220", "rhel:6", "bind"),
        ("CVE-2025-40778", "rhel:6", "bind"),
    ]
    assert fixed_version(records[0]) == "32:9.8.2-0.68.rc1.el6_10.17"
    assert records[0].severity is Severity.MEDIUM
    assert records[1].severity is Severity.HIGH


def test_csaf_source_skips_other_formats(rhel_dir: Path) -> None:
    stats = FeedReadStats()
    records = list(iter_records(FeedSource("redhat-csaf", str(rhel_dir)), stats))

    # The folder also contains Red Hat's CVE JSON, which is not CSAF.
    assert stats.files_read == 3
    assert stats.files_failed == 22
    assert len(records) == 3


def vex_document(remediation: str) -> dict[str, Any]:
    """A VEX file as Red Hat publishes them, reduced to one unfixed component (hand-made)."""
    return {
        "document": {"tracking": {"id": "CVE-2024-0001"}},
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Red Hat",
                    "branches": [
                        {
                            "category": "product_name",
                            "name": "Red Hat Enterprise Linux 8",
                            "product": {
                                "product_id": "red_hat_enterprise_linux_8",
                                "product_identification_helper": {
                                    "cpe": "cpe:/o:redhat:enterprise_linux:8"
                                },
                            },
                        },
                        {
                            "category": "product_version",
                            "name": "libfoo",
                            "product": {"product_id": "libfoo"},
                        },
                    ],
                }
            ],
            "relationships": [
                {
                    "category": "default_component_of",
                    "full_product_name": {"product_id": "red_hat_enterprise_linux_8:libfoo"},
                    "product_reference": "libfoo",
                    "relates_to_product_reference": "red_hat_enterprise_linux_8",
                }
            ],
        },
        "vulnerabilities": [
            {
                "cve": "CVE-2024-0001",
                "product_status": {"known_affected": ["red_hat_enterprise_linux_8:libfoo"]},
                "remediations": [
                    {
                        "category": remediation,
                        "product_ids": ["red_hat_enterprise_linux_8:libfoo"],
                    }
                ],
                "threats": [{"category": "impact", "details": "Low"}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("remediation", "will_not_fix"),
    [("no_fix_planned", True), ("none_available", True), ("workaround", False)],
)
def test_csaf_known_affected_remediation(remediation: str, will_not_fix: bool) -> None:
    [record] = parse_csaf_document(vex_document(remediation), "hand-made")

    assert (record.namespace, record.package) == ("rhel:8", "libfoo")
    assert fixed_version(record) is None
    assert record.will_not_fix is will_not_fix
    assert record.aliases == []
    assert record.severity is Severity.LOW


def test_csaf_without_product_tree_rejected(rhel_dir: Path) -> None:
    with pytest.raises(FeedError, match="has no `product_tree`"):
        parse_file(rhel_dir / "vunnel-csaf_hydra_cve-2024-8088.json")


def test_csaf_lowest_fix_in_rpm_order() -> None:
    # Hand-made: one advisory that fixes two builds of one source RPM in one release.
    document = vex_document("vendor_fix")
    tree = document["product_tree"]
    references = ["libfoo-0:1.10-1.el8.src", "libfoo-0:1.9-1.el8.src"]
    tree["relationships"] = [
        {
            "category": "default_component_of",
            "full_product_name": {"product_id": f"red_hat_enterprise_linux_8:{reference}"},
            "product_reference": reference,
            "relates_to_product_reference": "red_hat_enterprise_linux_8",
        }
        for reference in references
    ]
    document["vulnerabilities"][0]["product_status"] = {
        "fixed": [f"red_hat_enterprise_linux_8:{reference}" for reference in references]
    }

    [record] = parse_csaf_document(document, "hand-made")

    assert record.package == "libfoo"
    assert fixed_version(record) == "0:1.9-1.el8"
    assert not record.will_not_fix
