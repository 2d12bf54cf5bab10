"""Tests of the matcher: real packages and versions against the real feed records."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from pathlib import Path

import pytest

from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.vulns.interface import (
    AffectedRange,
    RangeEvent,
    Severity,
    VulnMatch,
    VulnRecord,
)
from chalicelib.vulns.matcher import (
    affected_fixes,
    match_packages,
    package_namespaces,
    vuln_namespace,
)
from chalicelib.vulns.osv import parse_osv
from chalicelib.vulns.sources import FeedSource, iter_records

ALPINE_3_10 = Distro(id="alpine", version_id="3.10.2")
DEBIAN_7 = Distro(id="debian", version_id="7")
UBUNTU_16_04 = Distro(id="ubuntu", version_id="16.04")


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


@pytest.fixture(scope="module")
def real_records(feeds_dir: Path) -> list[VulnRecord]:
    pypa = feeds_dir / "pypi" / "pypa-advisory-database" / "vulns"
    sources = [
        FeedSource("osv", str(pypa / "urllib3")),
        FeedSource("osv", str(pypa / "py")),
        FeedSource("osv", str(feeds_dir / "npm" / "ghsa")),
        FeedSource("osv", str(feeds_dir / "samples" / "debian" / "osvdev-osv")),
        FeedSource("osv", str(feeds_dir / "samples" / "ubuntu" / "vunnel-osv")),
        FeedSource("alpine-secdb", str(feeds_dir / "alpine" / "alpine-secdb" / "v3.10")),
        FeedSource("alpine-secdb", str(feeds_dir / "alpine" / "alpine-secdb" / "v3.11")),
    ]
    return [record for source in sources for record in iter_records(source)]


@pytest.fixture
def store(real_records: list[VulnRecord]) -> RecordStore:
    return RecordStore(real_records)


def python_package(name: str, version: str) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.PYTHON,
        location=f"/usr/lib/python3/site-packages/{name}-{version}.dist-info",
    )


def npm_package(name: str, version: str, location: str | None = None) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.NPM,
        location=location or f"/app/node_modules/{name}/package.json",
    )


def apk_package(name: str, version: str, origin: str) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.APK,
        location="/lib/apk/db/installed",
        source_name=origin,
    )


def dpkg_package(
    name: str, version: str, source: str | None = None, source_version: str | None = None
) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.DPKG,
        location="/var/lib/dpkg/status",
        source_name=source,
        source_version=source_version,
    )


def fixes_by_id(matches: list[VulnMatch]) -> dict[str, list[str]]:
    return {match.vuln_id: match.fixed_in for match in matches}


def test_match_urllib3_pypa_records(store: RecordStore) -> None:
    matches = match_packages([python_package("urllib3", "1.24.1")], None, store.lookup)

    assert fixes_by_id(matches) == {
        "PYSEC-2019-132": ["1.24.3"],
        "PYSEC-2019-133": ["1.24.2"],
        "PYSEC-2020-148": ["1.25.9"],
        "PYSEC-2021-108": ["1.26.5"],
        "PYSEC-2023-192": ["1.26.17"],
        "PYSEC-2023-207": ["1.24.2"],
        "PYSEC-2023-212": ["1.26.18"],
    }
    first = matches[0]
    assert first.package_name == "urllib3"
    assert first.package_version == "1.24.1"
    assert first.package_type == "python"
    assert first.package_path == "/usr/lib/python3/site-packages/urllib3-1.24.1.dist-info"
    assert first.namespace == "pypi"
    assert first.aliases == ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"]
    assert first.cvss[0].base_score == 8.1


def test_match_sorted_by_severity_then_id(store: RecordStore) -> None:
    matches = match_packages([python_package("urllib3", "1.24.1")], None, store.lookup)

    assert [(m.severity, m.vuln_id) for m in matches] == [
        (Severity.HIGH, "PYSEC-2023-192"),
        (Severity.MEDIUM, "PYSEC-2023-207"),
        (Severity.MEDIUM, "PYSEC-2023-212"),
        (Severity.UNKNOWN, "PYSEC-2019-132"),
        (Severity.UNKNOWN, "PYSEC-2019-133"),
        (Severity.UNKNOWN, "PYSEC-2020-148"),
        (Severity.UNKNOWN, "PYSEC-2021-108"),
    ]


def test_match_urllib3_second_version_line(store: RecordStore) -> None:
    # PYSEC-2023-192 lists its 2.x interval before its 1.x one; both must be evaluated.
    matches = match_packages([python_package("urllib3", "2.0.4")], None, store.lookup)

    assert fixes_by_id(matches) == {
        "PYSEC-2023-192": ["2.0.6"],
        "PYSEC-2023-212": ["2.0.7"],
    }


def test_match_urllib3_fixed_version_no_match(store: RecordStore) -> None:
    assert match_packages([python_package("urllib3", "2.2.3")], None, store.lookup) == []


def test_match_pypi_name_normalized(store: RecordStore) -> None:
    matches = match_packages([python_package("URLLib3", "2.0.4")], None, store.lookup)

    assert store.calls == [("pypi", ["urllib3"])]
    assert len(matches) == 2
    assert matches[0].package_name == "URLLib3"


def test_match_last_affected_without_fix(store: RecordStore) -> None:
    matches = match_packages([python_package("py", "1.11.0")], None, store.lookup)

    assert fixes_by_id(matches) == {"PYSEC-2022-42969": []}


def test_match_lodash_ghsa(store: RecordStore) -> None:
    [match] = match_packages([npm_package("lodash", "4.17.4")], None, store.lookup)

    assert match.vuln_id == "GHSA-jf85-cpcp-j695"
    assert match.severity is Severity.CRITICAL
    assert match.fixed_in == ["4.17.12"]
    assert match.url == "https://nvd.nist.gov/vuln/detail/CVE-2019-10744"
    assert match.package_type == "npm"


def test_match_lodash_fixed_no_match(store: RecordStore) -> None:
    assert match_packages([npm_package("lodash", "4.17.12")], None, store.lookup) == []


def test_match_minimist_each_version_line(store: RecordStore) -> None:
    packages = [
        npm_package("minimist", "0.0.8", "/app/node_modules/mkdirp/node_modules/minimist"),
        npm_package("minimist", "1.2.0", "/app/node_modules/minimist"),
        npm_package("minimist", "0.2.1", "/app/node_modules/optimist/node_modules/minimist"),
        npm_package("minimist", "1.2.3", "/app/node_modules/yargs/node_modules/minimist"),
    ]

    matches = match_packages(packages, None, store.lookup)

    assert [(m.package_path, m.fixed_in) for m in matches] == [
        ("/app/node_modules/minimist", ["1.2.3"]),
        ("/app/node_modules/mkdirp/node_modules/minimist", ["0.2.1"]),
    ]
    assert store.calls == [("npm", ["minimist"])]


def test_match_musl_on_alpine_310(store: RecordStore) -> None:
    packages = [
        apk_package("musl", "1.1.22-r2", "musl"),
        apk_package("musl-utils", "1.1.22-r2", "musl"),
    ]

    matches = match_packages(packages, ALPINE_3_10, store.lookup)

    assert [(m.vuln_id, m.package_name, m.fixed_in) for m in matches] == [
        ("CVE-2019-14697", "musl", ["1.1.22-r3"]),
        ("CVE-2019-14697", "musl-utils", ["1.1.22-r3"]),
    ]
    assert {m.namespace for m in matches} == {"alpine:3.10"}
    assert store.calls == [("alpine:3.10", ["musl"])]


def test_match_musl_fixed_release_no_match(store: RecordStore) -> None:
    packages = [apk_package("musl", "1.1.22-r3", "musl")]

    assert match_packages(packages, ALPINE_3_10, store.lookup) == []


def test_match_alpine_release_namespace_only(store: RecordStore) -> None:
    # An image of 3.11 is matched against the 3.11 records only, never those of 3.10.
    matches = match_packages(
        [apk_package("musl", "1.1.22-r2", "musl")],
        Distro(id="alpine", version_id="3.11.6"),
        store.lookup,
    )

    assert {m.namespace for m in matches} == {"alpine:3.11"}
    assert store.calls == [("alpine:3.11", ["musl"])]


def test_match_debian_binary_by_source(store: RecordStore) -> None:
    packages = [dpkg_package("nginx-full", "1.2.1-2.2+wheezy2", source="nginx")]

    [match] = match_packages(packages, DEBIAN_7, store.lookup)

    assert match.vuln_id == "DSA-3029-1"
    assert match.fixed_in == ["1.2.1-2.2+wheezy3"]
    assert match.package_name == "nginx-full"
    assert match.aliases == ["CVE-2014-3616"]


def test_match_debian_source_version_compared(store: RecordStore) -> None:
    # Hand-made package: the binary version alone would look fixed, the source version is not.
    packages = [
        dpkg_package(
            "nginx-full",
            "1.2.1-2.2+wheezy3",
            source="nginx",
            source_version="1.2.1-2.2+wheezy2",
        )
    ]

    [match] = match_packages(packages, DEBIAN_7, store.lookup)

    assert match.vuln_id == "DSA-3029-1"
    assert match.package_version == "1.2.1-2.2+wheezy3"


def test_match_ubuntu_versions_list(store: RecordStore) -> None:
    packages = [dpkg_package("unzip", "6.0-20ubuntu1")]

    [match] = match_packages(packages, UBUNTU_16_04, store.lookup)

    assert match.vuln_id == "UBUNTU-CVE-2014-9913"
    assert match.severity is Severity.NEGLIGIBLE
    assert match.fixed_in == ["6.0-20ubuntu1.1"]


def test_match_os_packages_need_distro(store: RecordStore) -> None:
    packages = [apk_package("musl", "1.1.22-r2", "musl")]

    assert match_packages(packages, None, store.lookup) == []
    assert store.calls == []


def test_match_invalid_installed_version_skipped(
    store: RecordStore, caplog: pytest.LogCaptureFixture
) -> None:
    packages = [npm_package("lodash", "not a version"), npm_package("minimist", "1.2.0")]

    with caplog.at_level(logging.WARNING, logger="chalicelib.vulns.matcher"):
        matches = match_packages(packages, None, store.lookup)

    assert [m.package_name for m in matches] == ["minimist"]
    assert "GHSA-jf85-cpcp-j695" in caplog.text
    assert "not a version" in caplog.text


def test_match_real_invalid_fixed_version_skipped(
    feeds_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # PYSEC-2021-371 gives `0.2.0-n653` as the fix, which is not a PEP 440 version.
    source = FeedSource(
        "osv", str(feeds_dir / "pypi" / "pypa-advisory-database" / "vulns" / "binderhub")
    )
    store = RecordStore(list(iter_records(source)))

    with caplog.at_level(logging.WARNING, logger="chalicelib.vulns.matcher"):
        matches = match_packages([python_package("binderhub", "0.1.0")], None, store.lookup)

    assert "PYSEC-2021-371" not in {m.vuln_id for m in matches}
    assert "PYSEC-2021-371" in caplog.text
    assert "0.2.0-n653" in caplog.text


def test_affected_fixes_listed_version_despite_invalid_range() -> None:
    # Hand-made: a record whose range cannot be evaluated but whose list names the version.
    record = VulnRecord(
        id="TEST-LISTED",
        namespace="pypi",
        package="example",
        versions=["0.1.0"],
        ranges=[
            AffectedRange(
                type="ECOSYSTEM",
                events=[RangeEvent(introduced="0"), RangeEvent(fixed="0.2.0-n653")],
            )
        ],
    )

    assert affected_fixes(record, "0.1.0") == []
    assert affected_fixes(record, "0.1.1") is None


def test_match_invalid_record_version_skipped(caplog: pytest.LogCaptureFixture) -> None:
    # Hand-made: the real feeds contain no record with an invalid version.
    broken = VulnRecord(
        id="TEST-BROKEN",
        namespace="pypi",
        package="urllib3",
        ranges=[
            AffectedRange(
                type="ECOSYSTEM",
                events=[RangeEvent(introduced="0"), RangeEvent(fixed="one.two")],
            )
        ],
    )
    working = broken.model_copy(
        update={
            "id": "TEST-WORKING",
            "ranges": [
                AffectedRange(
                    type="ECOSYSTEM",
                    events=[RangeEvent(introduced="0"), RangeEvent(fixed="1.25.0")],
                )
            ],
        }
    )
    store = RecordStore([broken, working])

    with caplog.at_level(logging.WARNING, logger="chalicelib.vulns.matcher"):
        matches = match_packages([python_package("urllib3", "1.24.1")], None, store.lookup)

    assert fixes_by_id(matches) == {"TEST-WORKING": ["1.25.0"]}
    assert "TEST-BROKEN" in caplog.text


def test_match_alias_prefers_vendor_severity(feeds_dir: Path, store: RecordStore) -> None:
    # Hand-made: the feeds contain no GitHub record for urllib3, so this record takes its place.
    # It carries a GitHub-style label and shares the CVE alias of PYSEC-2023-192.
    ghsa = VulnRecord(
        id="GHSA-v845-jxx5-vc9f",
        namespace="pypi",
        package="urllib3",
        aliases=["CVE-2023-43804"],
        severity=Severity.MEDIUM,
        severity_from_vendor=True,
        ranges=[
            AffectedRange(
                type="ECOSYSTEM",
                events=[RangeEvent(introduced="0"), RangeEvent(fixed="1.26.17")],
            )
        ],
    )
    store.records[("pypi", "urllib3")].append(ghsa)

    matches = match_packages([python_package("urllib3", "1.24.1")], None, store.lookup)

    ids = [m.vuln_id for m in matches]
    assert "GHSA-v845-jxx5-vc9f" in ids
    assert "PYSEC-2023-192" not in ids
    assert len(ids) == 7


def test_match_alias_prefers_cve_id(store: RecordStore) -> None:
    # Hand-made: a tracker-style record under the CVE id that DSA-3029-1 lists as its alias.
    cve = VulnRecord(
        id="CVE-2014-3616",
        namespace="debian:7",
        package="nginx",
        ranges=[
            AffectedRange(
                type="ECOSYSTEM",
                events=[RangeEvent(introduced="0"), RangeEvent(fixed="1.2.1-2.2+wheezy3")],
            )
        ],
    )
    store.records[("debian:7", "nginx")].append(cve)
    packages = [dpkg_package("nginx-full", "1.2.1-2.2+wheezy2", source="nginx")]

    [match] = match_packages(packages, DEBIAN_7, store.lookup)

    assert match.vuln_id == "CVE-2014-3616"


def test_match_same_id_twice_merged(real_records: list[VulnRecord]) -> None:
    # The same record imported from two sources must give one match.
    records = [r for r in real_records if r.id == "GHSA-jf85-cpcp-j695" and r.package == "lodash"]
    store = RecordStore(records + records)

    matches = match_packages([npm_package("lodash", "4.17.4")], None, store.lookup)

    assert fixes_by_id(matches) == {"GHSA-jf85-cpcp-j695": ["4.17.12"]}


def test_match_xen_several_cves_not_merged(feeds_dir: Path) -> None:
    # The 3.7 secdb lists three CVEs and XSA-254 in one entry; each CVE is its own issue.
    source = FeedSource("alpine-secdb", str(feeds_dir / "alpine" / "alpine-secdb" / "v3.7"))
    store = RecordStore(list(iter_records(source)))
    xen = Package(
        name="xen", version="4.9.1-r2", type=PackageType.APK, location="/lib/apk/db/installed"
    )

    matches = match_packages([xen], Distro(id="alpine", version_id="3.7.3"), store.lookup)

    ids = {m.vuln_id for m in matches}
    assert {"CVE-2017-5753", "CVE-2017-5715", "CVE-2017-5754"} <= ids
    assert "XSA-254" not in ids
    # XSA-248 to XSA-251 are listed as fixed in 4.9.1-r2 itself.
    assert not {"XSA-248", "XSA-249", "XSA-250", "XSA-251"} & ids


def test_affected_fixes_go_semver_ranges(feeds_dir: Path) -> None:
    path = feeds_dir / "go" / "golang-vulndb" / "data" / "osv" / "GO-2022-0969.json"
    records = {r.package: r for r in parse_osv(json.loads(path.read_text(encoding="utf-8")))}
    stdlib = records["stdlib"]

    assert affected_fixes(stdlib, "1.18.5") == ["1.18.6"]
    assert affected_fixes(stdlib, "1.19.0") == ["1.19.1"]
    assert affected_fixes(stdlib, "1.19.0-rc.1") == ["1.19.1"]
    assert affected_fixes(stdlib, "1.18.6") is None
    assert affected_fixes(stdlib, "1.19.1") is None
    net = records["golang.org/x/net"]
    assert affected_fixes(net, "0.0.0-20220801000000-0123456789ab") == [
        "0.0.0-20220906165146-f3363e06e74c"
    ]


@pytest.mark.parametrize(
    ("events", "version", "expected"),
    [
        ([RangeEvent(introduced="1.0.0")], "2.5.0", []),
        ([RangeEvent(introduced="1.0.0")], "0.9.0", None),
        ([RangeEvent(introduced="1.0.0"), RangeEvent(limit="2.0.0")], "1.5.0", []),
        ([RangeEvent(introduced="1.0.0"), RangeEvent(limit="2.0.0")], "2.0.0", None),
        ([RangeEvent(introduced="1.0.0"), RangeEvent(last_affected="1.4.0")], "1.4.0", []),
        ([RangeEvent(introduced="1.0.0"), RangeEvent(last_affected="1.4.0")], "1.4.1", None),
        ([RangeEvent(introduced="1.0.0"), RangeEvent(fixed="1.2.0")], "1.0.0", ["1.2.0"]),
        ([RangeEvent(fixed="1.2.0"), RangeEvent(introduced="0")], "0.0.1", ["1.2.0"]),
        ([RangeEvent(fixed="1.2.0")], "1.0.0", None),
    ],
)
def test_affected_fixes_range_rules(
    events: list[RangeEvent], version: str, expected: list[str] | None
) -> None:
    # Hand-made ranges: one per OSV event rule, with npm versions.
    record = VulnRecord(
        id="TEST-RANGE",
        namespace="npm",
        package="example",
        ranges=[AffectedRange(type="ECOSYSTEM", events=events)],
    )

    assert affected_fixes(record, version) == expected


def test_affected_fixes_versions_list_only() -> None:
    # Hand-made: a record that lists versions and no range.
    record = VulnRecord(id="TEST-LIST", namespace="npm", package="example", versions=["1.0.0"])

    assert affected_fixes(record, "1.0.0") == []
    assert affected_fixes(record, "1.0.1") is None


def test_package_namespaces_per_type() -> None:
    libssl = dpkg_package("libssl3", "3.0.11-1", source="openssl")

    assert package_namespaces(libssl, "debian:12") == [("debian:12", "openssl")]
    assert package_namespaces(dpkg_package("bash", "5.2.15-2+b2"), "debian:12") == [
        ("debian:12", "bash")
    ]
    assert package_namespaces(apk_package("musl-utils", "1.2.4-r2", "musl"), "alpine:3.18") == [
        ("alpine:3.18", "musl")
    ]
    assert package_namespaces(python_package("Jinja2", "3.1.2"), "debian:12") == [
        ("pypi", "jinja2")
    ]
    assert package_namespaces(npm_package("@babel/core", "7.22.0"), None) == [
        ("npm", "@babel/core")
    ]


def test_package_namespaces_unsupported() -> None:
    rpm = Package(
        name="openssl-libs", version="3.0.7-24.el9", type=PackageType.RPM, location="/var/lib/rpm"
    )

    python_binary = Package(
        name="python", version="3.11.2", type=PackageType.BINARY, location="/usr/bin/python3.11"
    )

    assert package_namespaces(rpm, "debian:12") == []
    assert package_namespaces(rpm, None) == []
    assert package_namespaces(dpkg_package("bash", "5.2.15-2+b2"), "rhel:9") == []
    assert package_namespaces(dpkg_package("bash", "5.2.15-2+b2"), None) == []
    assert package_namespaces(python_binary, "debian:12") == []


def test_vuln_namespace_reexported() -> None:
    assert vuln_namespace(ALPINE_3_10) == "alpine:3.10"
