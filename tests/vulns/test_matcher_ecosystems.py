"""Tests of matching each package type through its own ecosystem's records.

Go, crates.io, npm and Red Hat records are real feed files. No real Maven, RubyGems, Packagist or
NuGet record is in the feed snapshots, so those tests use hand-made OSV records, each marked as
such where it is built.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.interface import VulnMatch, VulnRecord
from chalicelib.vulns.matcher import match_packages, package_namespaces
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.redhat_csaf import parse_redhat_csaf

RHEL_9 = Distro(id="rhel", version_id="9.4")
CENTOS_6 = Distro(id="centos", version_id="6.10")
DEBIAN_12 = Distro(id="debian", version_id="12")


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


def load_osv(path: Path) -> list[VulnRecord]:
    return parse_osv(json.loads(path.read_text(encoding="utf-8")))


def hand_made_osv(
    vuln_id: str, ecosystem: str, name: str, events: list[dict[str, str]]
) -> list[VulnRecord]:
    """Build records from a hand-made OSV document with one `ECOSYSTEM` range."""
    document: dict[str, Any] = {
        "id": vuln_id,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }
    return parse_osv(document)


def package(
    name: str, version: str, package_type: PackageType, metadata: dict | None = None
) -> Package:
    return Package(
        name=name,
        version=version,
        type=package_type,
        location=f"/app/{package_type.value}/{name}",
        metadata=metadata or {},
    )


def rpm_package(
    name: str, source_rpm: str, epoch: int | None, version: str | None = None
) -> Package:
    """Build an rpm package as the rpm cataloger does from `SOURCERPM` and the header fields."""
    source_name, version_part, release = source_rpm.removesuffix(".src.rpm").rsplit("-", 2)
    source_version = f"{version_part}-{release}"
    return Package(
        name=name,
        version=version or source_version,
        type=PackageType.RPM,
        location="/var/lib/rpm/rpmdb.sqlite",
        source_name=source_name,
        source_version=source_version,
        metadata={"epoch": epoch, "source_rpm": source_rpm},
    )


def java_package(artifact: str, version: str, group_id: str | None) -> Package:
    """Build a Java package whose `pom.properties` states `group_id`, or that has none if None."""
    metadata: dict[str, Any] = {"virtual_path": f"/app/lib/{artifact}-{version}.jar"}
    if group_id is not None:
        metadata["pom_properties"] = {
            "groupId": group_id,
            "artifactId": artifact,
            "version": version,
            "path": f"META-INF/maven/{group_id}/{artifact}/pom.properties",
        }
    return package(artifact, version, PackageType.JAVA, metadata)


def fixes_by_id(matches: list[VulnMatch]) -> dict[str, list[str]]:
    return {match.vuln_id: match.fixed_in for match in matches}


@pytest.fixture(scope="module")
def go_records(feeds_dir: Path) -> list[VulnRecord]:
    osv_dir = feeds_dir / "go" / "golang-vulndb" / "data" / "osv"
    # GO-2023-2102 (HTTP/2 rapid reset) affects both `stdlib` and golang.org/x/net.
    return load_osv(osv_dir / "GO-2023-2102.json") + load_osv(osv_dir / "GO-2024-2887.json")


@pytest.fixture(scope="module")
def crates_records(feeds_dir: Path) -> list[VulnRecord]:
    crates_dir = feeds_dir / "crates" / "rustsec-osv" / "crates"
    return load_osv(crates_dir / "RUSTSEC-2020-0071.json") + load_osv(
        crates_dir / "RUSTSEC-2021-0078.json"
    )


@pytest.fixture(scope="module")
def rhel_records(feeds_dir: Path) -> list[VulnRecord]:
    rhel_dir = feeds_dir / "samples" / "rhel"
    records = []
    for name in (
        "vunnel-csaf_advisories_2024_rhsa-2024_9371.json",
        "vunnel-csaf_advisories_2025_rhsa-2025_23414.json",
    ):
        records.extend(parse_redhat_csaf(name, (rhel_dir / name).read_bytes()))
    return records


def test_go_module_affected_and_fixed(go_records: list[VulnRecord]) -> None:
    store = RecordStore(go_records)
    affected = package("golang.org/x/net", "v0.16.0", PackageType.GO)
    fixed = package("golang.org/x/net", "v0.17.0", PackageType.GO)

    assert fixes_by_id(match_packages([affected], None, store.lookup)) == {
        "GO-2023-2102": ["0.17.0"]
    }
    assert match_packages([fixed], None, store.lookup) == []
    assert store.calls == [("go", ["golang.org/x/net"]), ("go", ["golang.org/x/net"])]


def test_go_pseudo_version_affected(go_records: list[VulnRecord]) -> None:
    store = RecordStore(go_records)
    pseudo = package("golang.org/x/net", "v0.0.0-20230905200255-921286631fa9", PackageType.GO)

    assert fixes_by_id(match_packages([pseudo], None, store.lookup)) == {"GO-2023-2102": ["0.17.0"]}


@pytest.mark.parametrize(
    ("toolchain", "expected"),
    [
        ("go1.20.9", {"GO-2023-2102": ["1.20.10"], "GO-2024-2887": ["1.21.11"]}),
        ("go1.21.2", {"GO-2023-2102": ["1.21.3"], "GO-2024-2887": ["1.21.11"]}),
        ("go1.21.3", {"GO-2024-2887": ["1.21.11"]}),
        ("go1.22.3", {"GO-2024-2887": ["1.22.4"]}),
        ("go1.22.4", {}),
        # Release candidates are SemVer pre-releases: go1.21rc2 is 1.21.0-rc.2.
        ("go1.21rc2", {"GO-2023-2102": ["1.21.3"], "GO-2024-2887": ["1.21.11"]}),
        # A release without a patch number is the .0 release: go1.22 is 1.22.0.
        ("go1.22", {"GO-2024-2887": ["1.22.4"]}),
    ],
)
def test_go_stdlib_toolchain_versions(
    go_records: list[VulnRecord], toolchain: str, expected: dict[str, list[str]]
) -> None:
    store = RecordStore(go_records)
    stdlib = package("stdlib", toolchain, PackageType.GO)

    assert fixes_by_id(match_packages([stdlib], None, store.lookup)) == expected


def test_go_stdlib_match_keeps_toolchain_version(go_records: list[VulnRecord]) -> None:
    store = RecordStore(go_records)

    [match] = match_packages([package("stdlib", "go1.22.3", PackageType.GO)], None, store.lookup)

    assert match.package_version == "go1.22.3"
    assert match.namespace == "go"


def test_go_devel_main_module_no_lookup(go_records: list[VulnRecord]) -> None:
    store = RecordStore(go_records)
    main_module = package(
        "golang.org/x/net", "(devel)", PackageType.GO, {"main_module": "golang.org/x/net"}
    )

    assert package_namespaces(main_module, None) == []
    assert match_packages([main_module], None, store.lookup) == []
    assert store.calls == []


def test_crates_affected_each_version_line(crates_records: list[VulnRecord]) -> None:
    store = RecordStore(crates_records)

    old_line = package("time", "0.1.44", PackageType.RUST)
    patched_line = package("time", "0.2.10", PackageType.RUST)

    assert fixes_by_id(match_packages([old_line], None, store.lookup)) == {
        "RUSTSEC-2020-0071": ["0.2.0"]
    }
    assert fixes_by_id(match_packages([patched_line], None, store.lookup)) == {
        "RUSTSEC-2020-0071": ["0.2.23"]
    }


def test_crates_fixed_versions_no_match(crates_records: list[VulnRecord]) -> None:
    store = RecordStore(crates_records)
    fixed = [
        package("time", "0.2.23", PackageType.RUST),
        package("time", "0.3.36", PackageType.RUST),
        package("hyper", "0.14.10", PackageType.RUST),
    ]

    assert match_packages(fixed, None, store.lookup) == []


def test_crates_hyper_affected(crates_records: list[VulnRecord]) -> None:
    store = RecordStore(crates_records)

    matches = match_packages([package("hyper", "0.14.9", PackageType.RUST)], None, store.lookup)

    assert fixes_by_id(matches) == {"RUSTSEC-2021-0078": ["0.14.10"]}
    assert matches[0].namespace == "crates.io"


def test_rpm_source_package_csaf_fix(rhel_records: list[VulnRecord]) -> None:
    store = RecordStore(rhel_records)
    python_libs = rpm_package("python3-libs", "python3.9-3.9.18-3.el9.src.rpm", epoch=None)

    matches = match_packages([python_libs], RHEL_9, store.lookup)

    assert fixes_by_id(matches) == {"CVE-2024-8088": ["0:3.9.19-8.el9"]}
    assert store.calls == [("rhel:9", ["python3.9"])]


def test_rpm_missing_epoch_equals_zero(rhel_records: list[VulnRecord]) -> None:
    # The CSAF fix is `0:3.9.19-8.el9`, and the rpm database has no epoch for this package.
    store = RecordStore(rhel_records)
    no_epoch = rpm_package("python3-libs", "python3.9-3.9.19-8.el9.src.rpm", epoch=None)
    zero_epoch = rpm_package("python3-libs", "python3.9-3.9.19-8.el9.src.rpm", epoch=0)

    assert match_packages([no_epoch], RHEL_9, store.lookup) == []
    assert match_packages([zero_epoch], RHEL_9, store.lookup) == []


def test_rpm_epoch_from_metadata(rhel_records: list[VulnRecord]) -> None:
    # The CSAF fix of bind on RHEL 6 is `32:9.8.2-0.68.rc1.el6_10.17`.
    store = RecordStore(rhel_records)
    older = rpm_package("bind-libs", "bind-9.8.2-0.68.rc1.el6_10.16.src.rpm", epoch=32)
    fixed = rpm_package("bind-libs", "bind-9.8.2-0.68.rc1.el6_10.17.src.rpm", epoch=32)
    fixed_without_epoch = rpm_package(
        "bind-libs", "bind-9.8.2-0.68.rc1.el6_10.17.src.rpm", epoch=None
    )

    assert fixes_by_id(match_packages([older], CENTOS_6, store.lookup)) == {
        "CVE-2021-25220": ["32:9.8.2-0.68.rc1.el6_10.17"],
        "CVE-2025-40778": ["32:9.8.2-0.68.rc1.el6_10.17"],
    }
    assert match_packages([fixed], CENTOS_6, store.lookup) == []
    # Epoch 0 sorts below epoch 32, whatever the version.
    assert len(match_packages([fixed_without_epoch], CENTOS_6, store.lookup)) == 2


def test_rpm_match_reports_binary_version(rhel_records: list[VulnRecord]) -> None:
    store = RecordStore(rhel_records)
    bind_libs = rpm_package("bind-libs", "bind-9.8.2-0.68.rc1.el6_10.16.src.rpm", epoch=32)

    matches = match_packages([bind_libs], CENTOS_6, store.lookup)

    assert {match.package_name for match in matches} == {"bind-libs"}
    assert {match.package_version for match in matches} == {"9.8.2-0.68.rc1.el6_10.16"}


def test_rpm_osv_fix_without_epoch() -> None:
    # Hand-made OSV record: a Red Hat fix written without an epoch, against epoch 0 packages.
    records = hand_made_osv(
        "TEST-RHEL-1",
        "Red Hat:enterprise_linux:9::appstream",
        "python3.9",
        [{"introduced": "0"}, {"fixed": "3.9.19-8.el9"}],
    )
    store = RecordStore(records)
    affected = rpm_package("python3", "python3.9-3.9.18-3.el9.src.rpm", epoch=0)
    fixed = rpm_package("python3", "python3.9-3.9.19-8.el9.src.rpm", epoch=0)

    assert fixes_by_id(match_packages([affected], RHEL_9, store.lookup)) == {
        "TEST-RHEL-1": ["3.9.19-8.el9"]
    }
    assert match_packages([fixed], RHEL_9, store.lookup) == []


def test_rpm_not_looked_up_in_deb_namespace(rhel_records: list[VulnRecord]) -> None:
    store = RecordStore(rhel_records)
    python_libs = rpm_package("python3-libs", "python3.9-3.9.18-3.el9.src.rpm", epoch=None)

    assert match_packages([python_libs], DEBIAN_12, store.lookup) == []
    assert store.calls == []


def test_maven_group_and_artifact_hand_made() -> None:
    # Hand-made OSV record modelled on Log4Shell.
    records = hand_made_osv(
        "TEST-MAVEN-1",
        "Maven",
        "org.apache.logging.log4j:log4j-core",
        [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}],
    )
    store = RecordStore(records)
    affected = java_package("log4j-core", "2.14.1", "org.apache.logging.log4j")
    fixed = java_package("log4j-core", "2.15.0", "org.apache.logging.log4j")

    assert fixes_by_id(match_packages([affected], None, store.lookup)) == {
        "TEST-MAVEN-1": ["2.15.0"]
    }
    assert match_packages([fixed], None, store.lookup) == []
    assert store.calls[0] == ("maven", ["org.apache.logging.log4j:log4j-core"])


def test_maven_jar_without_group_no_lookup() -> None:
    # Hand-made OSV record. The jar has only a manifest, so its groupId would be a guess.
    records = hand_made_osv(
        "TEST-MAVEN-2",
        "Maven",
        "log4j-core:log4j-core",
        [{"introduced": "0"}, {"fixed": "2.15.0"}],
    )
    store = RecordStore(records)
    guessed = java_package("log4j-core", "2.14.1", group_id=None)
    guessed.purl = "pkg:maven/log4j-core/log4j-core@2.14.1"

    assert package_namespaces(guessed, None) == []
    assert match_packages([guessed], None, store.lookup) == []
    assert store.calls == []


def test_java_named_like_npm_no_npm_match(feeds_dir: Path) -> None:
    # The real lodash GHSA record affects npm lodash below 4.17.12.
    store = RecordStore(load_osv(feeds_dir / "npm" / "ghsa" / "GHSA-jf85-cpcp-j695.json"))
    webjar = java_package("lodash", "4.17.11", "org.webjars.npm")
    bare_jar = java_package("lodash", "4.17.11", group_id=None)

    assert match_packages([webjar, bare_jar], None, store.lookup) == []
    assert store.calls == [("maven", ["org.webjars.npm:lodash"])]


def test_npm_lodash_still_matches_beside_java(feeds_dir: Path) -> None:
    store = RecordStore(load_osv(feeds_dir / "npm" / "ghsa" / "GHSA-jf85-cpcp-j695.json"))
    webjar = java_package("lodash", "4.17.11", "org.webjars.npm")
    npm_lodash = package("lodash", "4.17.11", PackageType.NPM)

    matches = match_packages([webjar, npm_lodash], None, store.lookup)

    assert [(match.package_type, match.vuln_id) for match in matches] == [
        ("npm", "GHSA-jf85-cpcp-j695")
    ]


def test_rubygems_hand_made() -> None:
    # Hand-made OSV record with a four-part RubyGems fixed version.
    records = hand_made_osv(
        "TEST-GEM-1", "RubyGems", "rack", [{"introduced": "2.0.0"}, {"fixed": "2.2.6.2"}]
    )
    store = RecordStore(records)

    affected = package("rack", "2.2.6.1", PackageType.GEM)
    fixed = package("rack", "2.2.6.2", PackageType.GEM)
    before = package("rack", "1.6.13", PackageType.GEM)

    assert fixes_by_id(match_packages([affected], None, store.lookup)) == {
        "TEST-GEM-1": ["2.2.6.2"]
    }
    assert match_packages([fixed, before], None, store.lookup) == []
    assert store.calls[0] == ("rubygems", ["rack"])


def test_packagist_names_lower_case_hand_made() -> None:
    # Hand-made OSV record whose name is written in mixed case.
    records = hand_made_osv(
        "TEST-COMPOSER-1",
        "Packagist",
        "Symfony/HTTP-Kernel",
        [{"introduced": "6.0.0"}, {"fixed": "6.2.6"}],
    )
    store = RecordStore(records)
    affected = package("symfony/http-kernel", "v6.2.5", PackageType.COMPOSER)
    fixed = package("symfony/http-kernel", "v6.2.6", PackageType.COMPOSER)

    assert [record.package for record in records] == ["symfony/http-kernel"]
    assert fixes_by_id(match_packages([affected], None, store.lookup)) == {
        "TEST-COMPOSER-1": ["6.2.6"]
    }
    assert match_packages([fixed], None, store.lookup) == []


def test_nuget_names_case_insensitive_hand_made() -> None:
    # Hand-made OSV record. Files such as deps.json may write package names in lower case.
    records = hand_made_osv(
        "TEST-NUGET-1", "NuGet", "Newtonsoft.Json", [{"introduced": "0"}, {"fixed": "13.0.1"}]
    )
    store = RecordStore(records)
    lower = package("newtonsoft.json", "12.0.3", PackageType.NUGET)
    written = package("Newtonsoft.Json", "12.0.3", PackageType.NUGET)
    fixed = package("Newtonsoft.Json", "13.0.1", PackageType.NUGET)

    assert package_namespaces(written, None) == [("nuget", "newtonsoft.json")]
    assert [record.package for record in records] == ["newtonsoft.json"]
    assert fixes_by_id(match_packages([lower], None, store.lookup)) == {"TEST-NUGET-1": ["13.0.1"]}
    assert fixes_by_id(match_packages([written], None, store.lookup)) == {
        "TEST-NUGET-1": ["13.0.1"]
    }
    assert match_packages([fixed], None, store.lookup) == []


def test_binary_package_no_lookup(go_records: list[VulnRecord]) -> None:
    store = RecordStore(go_records)
    go_binary = package("go", "1.21.2", PackageType.BINARY)
    stdlib_binary = package("stdlib", "go1.21.2", PackageType.BINARY)

    assert match_packages([go_binary, stdlib_binary], None, store.lookup) == []
    assert store.calls == []


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (package("rack", "2.2.6.1", PackageType.GEM), [("rubygems", "rack")]),
        (package("time", "0.1.44", PackageType.RUST), [("crates.io", "time")]),
        (package("golang.org/x/net", "v0.16.0", PackageType.GO), [("go", "golang.org/x/net")]),
        (package("stdlib", "go1.22.3", PackageType.GO), [("go", "stdlib")]),
        (
            package("Monolog/Monolog", "3.5.0", PackageType.COMPOSER),
            [("packagist", "monolog/monolog")],
        ),
        (package("Serilog", "3.1.1", PackageType.NUGET), [("nuget", "serilog")]),
        (
            java_package("guava", "31.1-jre", "com.google.guava"),
            [("maven", "com.google.guava:guava")],
        ),
    ],
)
def test_package_namespaces_ecosystem(item: Package, expected: list[tuple[str, str]]) -> None:
    assert package_namespaces(item, "debian:12") == expected


def test_package_namespaces_rpm() -> None:
    python_libs = rpm_package("python3-libs", "python3.9-3.9.18-3.el9.src.rpm", epoch=None)
    without_source = Package(
        name="gpg-pubkey",
        version="fd431d51-4ae0493b",
        type=PackageType.RPM,
        location="/var/lib/rpm",
    )

    assert package_namespaces(python_libs, "rhel:9") == [("rhel:9", "python3.9")]
    assert package_namespaces(without_source, "rhel:9") == [("rhel:9", "gpg-pubkey")]
    assert package_namespaces(python_libs, None) == []


def test_rpm_cves_of_one_rhsa_both_reported(rhel_records: list[VulnRecord]) -> None:
    # CVE-2021-25220 and CVE-2025-40778 both carry the alias RHSA-2025:23414.
    store = RecordStore(rhel_records)
    bind = rpm_package("bind", "bind-9.8.2-0.68.rc1.el6_10.16.src.rpm", epoch=32)

    matches = match_packages([bind], CENTOS_6, store.lookup)

    assert sorted(match.vuln_id for match in matches) == ["CVE-2021-25220", "CVE-2025-40778"]
    assert all(match.aliases == ["RHSA-2025:23414"] for match in matches)


@pytest.mark.parametrize(
    ("distro", "ecosystem"),
    [
        (Distro(id="sles", version_id="15.5"), "SUSE:Linux Enterprise Server 15 SP5"),
        (Distro(id="opensuse-leap", version_id="15.5"), "openSUSE:Leap 15.5"),
        (Distro(id="opensuse-tumbleweed", version_id="20240101"), "openSUSE:Tumbleweed"),
    ],
)
def test_rpm_suse_release_records_hand_made(distro: Distro, ecosystem: str) -> None:
    # Hand-made OSV record in the ecosystem that SUSE's OSV records use for the release.
    records = hand_made_osv(
        "TEST-SUSE-1",
        ecosystem,
        "openssl-3",
        [{"introduced": "0"}, {"fixed": "3.0.8-150500.5.8.1"}],
    )
    store = RecordStore(records)
    affected = rpm_package("libopenssl3", "openssl-3-3.0.8-150500.5.7.1.src.rpm", epoch=None)
    fixed = rpm_package("libopenssl3", "openssl-3-3.0.8-150500.5.8.1.src.rpm", epoch=None)

    assert fixes_by_id(match_packages([affected], distro, store.lookup)) == {
        "TEST-SUSE-1": ["3.0.8-150500.5.8.1"]
    }
    assert match_packages([fixed], distro, store.lookup) == []


def test_rpm_sles_other_service_pack_no_match() -> None:
    # Hand-made OSV record for SLES 15 SP4, against an SP5 image.
    records = hand_made_osv(
        "TEST-SUSE-2",
        "SUSE:Linux Enterprise Server 15 SP4",
        "openssl-3",
        [{"introduced": "0"}, {"fixed": "3.0.8-150400.4.8.1"}],
    )
    store = RecordStore(records)
    package_sp5 = rpm_package("libopenssl3", "openssl-3-3.0.8-150400.4.7.1.src.rpm", epoch=None)

    assert match_packages([package_sp5], Distro(id="sles", version_id="15.5"), store.lookup) == []
    assert store.calls == [("sles:15.5", ["openssl-3"])]
