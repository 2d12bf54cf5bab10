"""Tests of matching OS packages of RPM and apk distros through their own namespaces.

The RHEL records are real Red Hat CSAF advisories from the feed snapshots. No OSV record of
Rocky Linux, AlmaLinux, Azure Linux, SUSE, Wolfi or Echo is in the snapshots, so those tests use
hand-made records in the OSV format that those publishers use, each marked as such where it is
built. OSV publishes no ecosystem for Oracle Linux or Amazon Linux, so their tests build the
stored records directly.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.interface import AffectedRange, RangeEvent, VulnMatch, VulnRecord
from chalicelib.vulns.matcher import match_packages, package_namespaces
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.redhat_csaf import parse_redhat_csaf
from chalicelib.vulns.ubuntu_tracker import parse_ubuntu_tracker

ROCKY_9 = Distro(id="rocky", version_id="9.4")
ALMA_9 = Distro(id="almalinux", version_id="9.4")

# RHSA-2024:9371 fixes CVE-2024-8088 in python3.9 of RHEL 9 at 0:3.9.19-8.el9.
RHEL_FIX = "0:3.9.19-8.el9"


class RecordStore:
    """In-memory stand-in for the store's record lookup that also records each call."""

    def __init__(self, records: list[VulnRecord]) -> None:
        self.records: dict[tuple[str, str], list[VulnRecord]] = defaultdict(list)
        for record in records:
            self.records[(record.namespace, record.package)].append(record)
        self.calls: list[tuple[str, list[str]]] = []

    def lookup(self, namespace: str, names: list[str]) -> list[VulnRecord]:
        self.calls.append((namespace, names))
        return [record for name in names for record in self.records.get((namespace, name), [])]


def osv_document(
    vuln_id: str,
    ecosystem: str,
    name: str,
    fixed: str,
    links: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Build a hand-made OSV document with one `ECOSYSTEM` range, `introduced 0` to `fixed`.

    `links` adds id lists such as `aliases`, `upstream` or `related` at the top level.
    """
    return {
        "schema_version": "1.7.0",
        "id": vuln_id,
        "modified": "2024-11-20T00:00:00Z",
        "summary": f"{name} security update",
        **(links or {}),
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }


def rpm_package(name: str, source_rpm: str, epoch: int | None = None) -> Package:
    """Build an rpm package as the rpm cataloger does from `SOURCERPM` and the header fields."""
    source_name, version, release = source_rpm.removesuffix(".src.rpm").rsplit("-", 2)
    return Package(
        name=name,
        version=f"{version}-{release}",
        type=PackageType.RPM,
        location="/var/lib/rpm/rpmdb.sqlite",
        source_name=source_name,
        source_version=f"{version}-{release}",
        metadata={"epoch": epoch, "source_rpm": source_rpm},
    )


def apk_package(name: str, version: str, origin: str) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.APK,
        location="/lib/apk/db/installed",
        source_name=origin,
    )


def stored_record(
    vuln_id: str, namespace: str, package: str, fixed: str, aliases: list[str] | None = None
) -> VulnRecord:
    """Build a stored record directly, without an importer."""
    events = [RangeEvent(introduced="0"), RangeEvent(fixed=fixed)]
    return VulnRecord(
        id=vuln_id,
        namespace=namespace,
        package=package,
        aliases=aliases or [],
        ranges=[AffectedRange(type="ECOSYSTEM", events=events)],
    )


def fixes_by_id(matches: list[VulnMatch]) -> dict[str, list[str]]:
    return {match.vuln_id: match.fixed_in for match in matches}


@pytest.fixture(scope="module")
def rhel_records(feeds_dir: Path) -> list[VulnRecord]:
    name = "vunnel-csaf_advisories_2024_rhsa-2024_9371.json"
    return parse_redhat_csaf(name, (feeds_dir / "samples" / "rhel" / name).read_bytes())


@pytest.fixture()
def python_libs() -> Package:
    return rpm_package("python3-libs", "python3.9-3.9.18-3.el9.src.rpm")


def test_rocky_package_namespaces_fall_back_to_rhel(python_libs: Package) -> None:
    assert package_namespaces(python_libs, "rocky:9") == [
        ("rocky:9", "python3.9"),
        ("rocky:9", "python3-libs"),
        ("rhel:9", "python3.9"),
    ]
    assert package_namespaces(python_libs, "almalinux:8") == [
        ("almalinux:8", "python3.9"),
        ("almalinux:8", "python3-libs"),
        ("rhel:8", "python3.9"),
    ]
    assert package_namespaces(python_libs, "ol:9") == [("ol:9", "python3.9")]


def test_rocky_own_record_replaces_rhel(
    rhel_records: list[VulnRecord], python_libs: Package
) -> None:
    # Hand-made: a Rocky Linux advisory names the CVE it rebuilds in `upstream`.
    rocky = parse_osv(
        osv_document(
            "RLSA-2024:9371",
            "Rocky Linux:9",
            "python3.9",
            "3.9.19-8.el9_5",
            {"upstream": ["CVE-2024-8088"]},
        )
    )
    store = RecordStore(rocky + rhel_records)

    matches = match_packages([python_libs], ROCKY_9, store.lookup)

    assert fixes_by_id(matches) == {"RLSA-2024:9371": ["3.9.19-8.el9_5"]}
    assert matches[0].namespace == "rocky:9"
    assert store.calls == [("rhel:9", ["python3.9"]), ("rocky:9", ["python3-libs", "python3.9"])]


def test_rocky_without_own_records_uses_rhel(
    rhel_records: list[VulnRecord], python_libs: Package
) -> None:
    store = RecordStore(rhel_records)

    matches = match_packages([python_libs], ROCKY_9, store.lookup)

    assert fixes_by_id(matches) == {"CVE-2024-8088": [RHEL_FIX]}
    assert matches[0].namespace == "rhel:9"
    assert matches[0].aliases == ["RHSA-2024:9371"]


def test_alma_falls_back_to_rhel_for_unnamed_cve(
    rhel_records: list[VulnRecord], python_libs: Package
) -> None:
    # Hand-made: an AlmaLinux advisory names its CVE and RHSA in `related`, as ALSA records do.
    alma = parse_osv(
        osv_document(
            "ALSA-2024:1111",
            "AlmaLinux:9",
            "python3.9",
            "3.9.18-4.el9",
            {"related": ["CVE-2023-99999", "RHSA-2024:1111"]},
        )
    )
    store = RecordStore(alma + rhel_records)

    matches = match_packages([python_libs], ALMA_9, store.lookup)

    assert fixes_by_id(matches) == {"ALSA-2024:1111": ["3.9.18-4.el9"], "CVE-2024-8088": [RHEL_FIX]}
    assert {match.vuln_id: match.namespace for match in matches} == {
        "ALSA-2024:1111": "almalinux:9",
        "CVE-2024-8088": "rhel:9",
    }


def test_alma_record_of_binary_package(
    rhel_records: list[VulnRecord], python_libs: Package
) -> None:
    # Hand-made: AlmaLinux lists the binary packages of an advisory, not the source package.
    document = osv_document(
        "ALSA-2024:9371",
        "AlmaLinux:9",
        "python3-libs",
        "3.9.19-8.el9_5.alma.1",
        {"related": ["CVE-2024-8088", "RHSA-2024:9371"]},
    )
    document["affected"].append(
        {**document["affected"][0], "package": {"ecosystem": "AlmaLinux:9", "name": "python3"}}
    )
    store = RecordStore(parse_osv(document) + rhel_records)

    matches = match_packages([python_libs], ALMA_9, store.lookup)

    assert fixes_by_id(matches) == {"ALSA-2024:9371": ["3.9.19-8.el9_5.alma.1"]}
    assert matches[0].namespace == "almalinux:9"


def test_alma_fixed_record_hides_rhel_range(rhel_records: list[VulnRecord]) -> None:
    # Hand-made: AlmaLinux fixed the CVE in a build whose release sorts below RHEL's fix, so
    # RHEL's range alone would still report the installed build.
    alma = parse_osv(
        osv_document(
            "ALSA-2024:9371",
            "AlmaLinux:9",
            "python3.9",
            "3.9.19-7.el9.alma.1",
            {"related": ["CVE-2024-8088", "RHSA-2024:9371"]},
        )
    )
    store = RecordStore(alma + rhel_records)
    alma_build = rpm_package("python3-libs", "python3.9-3.9.19-7.el9.alma.1.src.rpm")

    assert match_packages([alma_build], ALMA_9, store.lookup) == []
    assert match_packages([alma_build], Distro(id="rhel", version_id="9.4"), store.lookup) != []


def test_rocky_record_hides_only_named_cves(python_libs: Package) -> None:
    # Hand-made: one RHSA fixes two CVEs, and the Rocky advisory names only one of them.
    rhel = [
        stored_record("CVE-2024-0001", "rhel:9", "python3.9", RHEL_FIX, ["RHSA-2024:1"]),
        stored_record("CVE-2024-0002", "rhel:9", "python3.9", RHEL_FIX, ["RHSA-2024:1"]),
    ]
    rocky = parse_osv(
        osv_document(
            "RLSA-2024:1",
            "Rocky Linux:9",
            "python3.9",
            "3.9.19-8.el9_5",
            {"upstream": ["CVE-2024-0001"], "related": ["RHSA-2024:1"]},
        )
    )
    store = RecordStore(rocky + rhel)

    matches = match_packages([python_libs], ROCKY_9, store.lookup)

    assert fixes_by_id(matches) == {
        "RLSA-2024:1": ["3.9.19-8.el9_5"],
        "CVE-2024-0002": [RHEL_FIX],
    }


def test_rhel_record_ignores_rebuild_records(
    rhel_records: list[VulnRecord], python_libs: Package
) -> None:
    rocky = parse_osv(
        osv_document("RLSA-2024:9371", "Rocky Linux:9", "python3.9", "3.9.19-8.el9_5")
    )
    store = RecordStore(rocky + rhel_records)

    matches = match_packages([python_libs], Distro(id="rhel", version_id="9.4"), store.lookup)

    assert fixes_by_id(matches) == {"CVE-2024-8088": [RHEL_FIX]}
    assert store.calls == [("rhel:9", ["python3.9"])]


@pytest.mark.parametrize(
    ("distro", "namespace"),
    [
        (Distro(id="ol", version_id="9.4"), "ol:9"),
        (Distro(id="amzn", version_id="2023"), "amzn:2023"),
        (Distro(id="amzn", version_id="2"), "amzn:2"),
    ],
)
def test_oracle_and_amazon_own_namespace(distro: Distro, namespace: str) -> None:
    # Hand-made stored records: OSV has no Oracle Linux or Amazon Linux ecosystem.
    records = [
        stored_record("ELSA-2024-9371", namespace, "python3.9", "3.9.19-8.0.1.el9"),
        stored_record("CVE-2024-8088", "rhel:9", "python3.9", RHEL_FIX),
    ]
    store = RecordStore(records)
    package = rpm_package("python3-libs", "python3.9-3.9.19-8.el9.src.rpm")

    matches = match_packages([package], distro, store.lookup)

    assert fixes_by_id(matches) == {"ELSA-2024-9371": ["3.9.19-8.0.1.el9"]}
    assert store.calls == [(namespace, ["python3.9"])]


@pytest.mark.parametrize(
    ("distro", "ecosystem", "source_rpm", "fixed"),
    [
        (
            Distro(id="mariner", version_id="2.0"),
            "Azure Linux:2",
            "openssl-1.1.1k-28.cm2.src.rpm",
            "1.1.1k-29.cm2",
        ),
        (
            Distro(id="azurelinux", version_id="3.0"),
            "Azure Linux:3",
            "openssl-3.3.2-1.azl3.src.rpm",
            "3.3.2-2.azl3",
        ),
    ],
)
def test_azure_linux_release_records(
    distro: Distro, ecosystem: str, source_rpm: str, fixed: str
) -> None:
    # Hand-made: an AZL advisory of Microsoft's Azure Linux OSV data.
    records = parse_osv(
        osv_document("AZL-12345", ecosystem, "openssl", fixed, {"upstream": ["CVE-2024-0727"]})
    )
    store = RecordStore(records)
    affected = rpm_package("openssl-libs", source_rpm)
    fixed_package = rpm_package("openssl-libs", f"openssl-{fixed}.src.rpm")

    assert fixes_by_id(match_packages([affected], distro, store.lookup)) == {"AZL-12345": [fixed]}
    assert match_packages([fixed_package], distro, store.lookup) == []


def test_mariner_record_not_used_on_azure_linux_3() -> None:
    # Hand-made: a record of Azure Linux 2 (CBL-Mariner 2.0) against an Azure Linux 3 image.
    records = parse_osv(osv_document("AZL-2", "Azure Linux:2", "openssl", "1.1.1k-29.cm2"))
    store = RecordStore(records)
    package = rpm_package("openssl-libs", "openssl-1.1.1k-28.cm2.src.rpm")

    assert match_packages([package], Distro(id="azurelinux", version_id="3.0"), store.lookup) == []
    assert store.calls == [("azurelinux:3.0", ["openssl"])]


def test_sles_module_record_matches() -> None:
    # Hand-made: SLES 15 packages ship in modules, and SUSE's records name the module product.
    document = osv_document(
        "SUSE-SU-2024:1234-1",
        "SUSE:Linux Enterprise Module for Basesystem 15 SP5",
        "openssl-3",
        "3.0.8-150500.5.8.1",
        {"upstream": ["CVE-2024-0727"]},
    )
    document["affected"][0]["ecosystem_specific"] = {"binaries": [{"libopenssl3": "3.0.8"}]}
    store = RecordStore(parse_osv(document))
    affected = rpm_package("libopenssl3", "openssl-3-3.0.8-150500.5.7.1.src.rpm")

    matches = match_packages([affected], Distro(id="sles", version_id="15.5"), store.lookup)

    assert fixes_by_id(matches) == {"SUSE-SU-2024:1234-1": ["3.0.8-150500.5.8.1"]}
    assert matches[0].namespace == "sles:15.5"


@pytest.mark.parametrize(
    ("distro_id", "ecosystem"), [("wolfi", "Wolfi"), ("chainguard", "Chainguard")]
)
def test_rolling_apk_distro_records(distro_id: str, ecosystem: str) -> None:
    # Hand-made: a Chainguard advisory (CGA) names the CVE in `upstream`, as CGA records do.
    links = {"upstream": ["CVE-2024-6119"]}
    records = parse_osv(osv_document("CGA-aaaa-bbbb-cccc", ecosystem, "openssl", "3.3.2-r1", links))
    store = RecordStore(records)
    distro = Distro(id=distro_id, version_id="20230201")
    affected = apk_package("libcrypto3", "3.3.2-r0", "openssl")
    fixed = apk_package("libcrypto3", "3.3.2-r1", "openssl")

    assert fixes_by_id(match_packages([affected], distro, store.lookup)) == {
        "CGA-aaaa-bbbb-cccc": ["3.3.2-r1"]
    }
    assert match_packages([fixed], distro, store.lookup) == []
    assert store.calls == [(distro_id, ["openssl"]), (distro_id, ["openssl"])]


def test_wolfi_record_not_used_on_chainguard() -> None:
    # Hand-made: a Wolfi record against a Chainguard image, whose records are their own.
    records = parse_osv(osv_document("CGA-1", "Wolfi", "openssl", "3.3.2-r1"))
    store = RecordStore(records)
    package = apk_package("libcrypto3", "3.3.2-r0", "openssl")

    assert match_packages([package], Distro(id="chainguard"), store.lookup) == []


def test_package_type_must_fit_namespace_scheme(python_libs: Package) -> None:
    libcrypto = apk_package("libcrypto3", "3.3.2-r0", "openssl")

    assert package_namespaces(libcrypto, "wolfi") == [("wolfi", "openssl")]
    assert package_namespaces(libcrypto, "debian:12") == []
    assert package_namespaces(libcrypto, "rocky:9") == []
    assert package_namespaces(python_libs, "wolfi") == []


def test_rebuild_records_take_linked_cve_ids() -> None:
    # Hand-made: the same links on a Rocky and on a Wolfi record.
    links = {
        "aliases": ["CVE-2024-1"],
        "upstream": ["CVE-2024-2"],
        "related": ["RHSA-2024:3", "CVE-2024-3"],
    }
    [rocky] = parse_osv(osv_document("RLSA-2024:3", "Rocky Linux:9", "curl", "8.0-1.el9", links))
    [wolfi] = parse_osv(osv_document("CGA-3", "Wolfi", "curl", "8.0-r1", links))

    assert rocky.aliases == ["CVE-2024-1", "CVE-2024-2", "CVE-2024-3"]
    # Other distros take `upstream` CVEs but not `related` ones.
    assert wolfi.aliases == ["CVE-2024-1", "CVE-2024-2"]


def test_ubuntu_record_takes_upstream_cve_only(feeds_dir: Path) -> None:
    # UBUNTU-CVE-2021-3782 names its CVE in `upstream` and its USNs in `related`.
    path = feeds_dir / "samples" / "ubuntu" / "vunnel-osv" / "UBUNTU-CVE-2021-3782.json"
    records = parse_osv(json.loads(path.read_text(encoding="utf-8")))

    assert records
    assert all(record.aliases == ["CVE-2021-3782"] for record in records)


def test_usn_record_takes_cve_of_upstream_id(feeds_dir: Path) -> None:
    # USN-5614-1 names `UBUNTU-CVE-2021-3782` in `upstream`, not the CVE itself.
    path = feeds_dir / "samples" / "ubuntu" / "vunnel-osv" / "USN-5614-1.json"
    records = parse_osv(json.loads(path.read_text(encoding="utf-8")))

    assert records
    assert all(record.aliases == ["CVE-2021-3782"] for record in records)


def test_ubuntu_issue_reported_once_across_sources(feeds_dir: Path) -> None:
    # The OSV export (UBUNTU-CVE and USN records, both real) and the Ubuntu CVE tracker name
    # one issue under three ids. The tracker file is hand-made in the tracker's format, because
    # the tracker snapshot has no file for this CVE.
    samples = feeds_dir / "samples" / "ubuntu" / "vunnel-osv"
    records = [
        record
        for name in ("UBUNTU-CVE-2021-3782.json", "USN-5614-1.json")
        for record in parse_osv(json.loads((samples / name).read_text(encoding="utf-8")))
    ]
    tracker_text = (
        "Candidate: CVE-2021-3782\n"
        "Priority: medium\n"
        "\n"
        "Patches_wayland:\n"
        "jammy_wayland: released (1.20.0-1ubuntu0.1)\n"
    )
    records += parse_ubuntu_tracker("CVE-2021-3782", tracker_text.encode())
    package = Package(
        name="libwayland-client0",
        version="1.20.0-1",
        type=PackageType.DPKG,
        location="/var/lib/dpkg/status",
        source_name="wayland",
    )

    matches = match_packages(
        [package], Distro(id="ubuntu", version_id="22.04"), RecordStore(records).lookup
    )

    assert [match.vuln_id for match in matches] == ["CVE-2021-3782"]
    assert matches[0].fixed_in == ["1.20.0-1ubuntu0.1"]


def test_echo_dpkg_record_matches() -> None:
    # Hand-made: an Echo record for a Debian-based Echo image, with Echo's `+echo.N` builds.
    records = parse_osv(osv_document("ECHO-1", "Echo", "openssl", "3.0.15-1~deb12u1+echo.2"))
    store = RecordStore(records)
    affected = Package(
        name="libssl3",
        version="3.0.15-1~deb12u1+echo.1",
        type=PackageType.DPKG,
        location="/var/lib/dpkg/status",
        source_name="openssl",
    )

    matches = match_packages([affected], Distro(id="echo", version_id="1"), store.lookup)

    assert fixes_by_id(matches) == {"ECHO-1": ["3.0.15-1~deb12u1+echo.2"]}
    assert store.calls == [("echo", ["openssl"])]
