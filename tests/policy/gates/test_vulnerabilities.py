"""Tests of the vulnerabilities gate."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.analysis.interface import Distro
from chalicelib.policy.bundle import compile_rule
from chalicelib.policy.gate import TriggerContext
from chalicelib.policy.gates.vulnerabilities import package_trigger_id
from chalicelib.policy.interface import ImageFacts
from chalicelib.vulns.interface import CvssScore, Severity, VulnMatch
from tests.policy.factories import NOW, fire, make_facts, make_match, make_rule, messages

UTC = datetime.timezone.utc
LINK = "https://security-tracker.debian.org/tracker/CVE-2020-0001"


def v3(base: float, exploitability: float = 1.0, impact: float = 2.0) -> CvssScore:
    return CvssScore(
        version="3.1", base_score=base, exploitability_score=exploitability, impact_score=impact
    )


def facts_with(*matches: VulnMatch, **fields: Any) -> ImageFacts:
    return make_facts(vulnerabilities=list(matches), **fields)


def package(params: dict[str, str] | None = None, *matches: VulnMatch, **fields: Any) -> list[str]:
    return messages(
        "vulnerabilities",
        "package",
        {"package_type": "all", **(params or {})},
        facts_with(*matches, **fields),
    )


def test_package_message_for_os_package() -> None:
    assert package({}, make_match()) == [
        f"MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 (CVE-2020-0001 - {LINK})"
    ]


def test_package_message_for_non_os_package_with_fix() -> None:
    match = make_match(
        package_type="npm",
        package_name="lodash",
        package_version="4.17.15",
        package_path="/app/node_modules/lodash/package.json",
        fixed_in=["4.17.19", "", "4.17.21"],
        url=None,
    )

    assert package({}, match) == [
        "MEDIUM Vulnerability found in non-os package type (npm) - "
        "/app/node_modules/lodash/package.json (fixed in: 4.17.19, 4.17.21)"
        "(CVE-2020-0001 - None)"
    ]


def test_package_names_apk_type_as_anchore_does() -> None:
    match = make_match(package_type="apk", package_name="musl")

    assert package({}, match)[0].startswith("MEDIUM Vulnerability found in os package type (APKG)")


def test_package_severity_comparisons() -> None:
    matches = [
        make_match(vuln_id=f"CVE-{severity.value}", severity=severity) for severity in Severity
    ]
    cases = [
        ({}, ["Negligible", "Low", "Medium", "High", "Critical"]),
        ({"severity": "medium"}, ["High", "Critical"]),
        ({"severity_comparison": "=", "severity": "medium"}, ["Medium"]),
        (
            {"severity_comparison": "!=", "severity": "low"},
            ["Unknown", "Negligible", "Medium", "High", "Critical"],
        ),
        ({"severity_comparison": "<", "severity": "low"}, ["Unknown", "Negligible"]),
        ({"severity_comparison": "<=", "severity": "low"}, ["Unknown", "Negligible", "Low"]),
        ({"severity_comparison": ">=", "severity": "critical"}, ["Critical"]),
    ]
    for params, expected in cases:
        found = fire(
            "vulnerabilities", "package", {"package_type": "all", **params}, facts_with(*matches)
        )
        assert [firing.trigger_id for firing in found] == [
            f"CVE-{severity}+libssl1.1" for severity in expected
        ], params


def test_package_type_filter() -> None:
    os_match = make_match(vuln_id="CVE-1")
    npm_match = make_match(
        vuln_id="CVE-2", package_type="npm", package_path="/n/node_modules/x/package.json"
    )
    facts = facts_with(os_match, npm_match)

    def ids(package_type: str) -> list[str | None]:
        found = fire("vulnerabilities", "package", {"package_type": package_type}, facts)
        return [firing.trigger_id for firing in found]

    assert ids("all") == ["CVE-1+libssl1.1", "CVE-2+x"]
    assert ids("os") == ["CVE-1+libssl1.1"]
    assert ids("non-os") == ["CVE-2+x"]


def test_package_vendor_only_skips_wont_fix_by_default() -> None:
    match = make_match(will_not_fix=True)

    assert package({}, match) == []
    assert package({"vendor_only": "true"}, match) == []
    assert len(package({"vendor_only": "false"}, match)) == 1


def test_package_fix_available() -> None:
    fixed = make_match(vuln_id="CVE-1", fixed_in=["1.2"])
    unfixed = make_match(vuln_id="CVE-2")
    facts = facts_with(fixed, unfixed)

    def ids(value: str) -> list[str | None]:
        params = {"package_type": "all", "fix_available": value}
        return [firing.trigger_id for firing in fire("vulnerabilities", "package", params, facts)]

    assert ids("true") == ["CVE-1+libssl1.1"]
    assert ids("false") == ["CVE-2+libssl1.1"]


def test_package_max_days_since_creation() -> None:
    match = make_match()
    key = f"{match.vuln_id}+{match.package_name}+{match.package_path}"
    seen = {key: NOW - datetime.timedelta(days=10)}

    assert package({"max_days_since_creation": "30"}, match, first_seen=seen) == []
    assert package({"max_days_since_creation": "5"}, match, first_seen=seen) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
        f"(max_days_since_creation=2024-05-22)(CVE-2020-0001 - {LINK})"
    ]


def test_package_max_days_since_creation_treats_unknown_as_new() -> None:
    match = make_match()

    assert package({"max_days_since_creation": "1"}, match) == []
    assert len(package({"max_days_since_creation": "0"}, match)) == 1


def test_package_max_days_since_fix() -> None:
    match = make_match(fixed_in=["1.2"])
    key = f"{match.vuln_id}+{match.package_name}+{match.package_path}"
    fix_seen = {key: datetime.datetime(2024, 5, 1)}  # naive, read as UTC
    params = {"fix_available": "true", "max_days_since_fix": "40"}

    assert package(params, match, fix_first_seen=fix_seen) == []
    assert package({**params, "max_days_since_fix": "20"}, match, fix_first_seen=fix_seen) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 (fixed in: 1.2)"
        f"(max_days_since_fix=2024-05-01)(CVE-2020-0001 - {LINK})"
    ]
    # Without fix_available=true the parameter has no effect; an unknown fix time passes.
    assert len(package({"max_days_since_fix": "40"}, match, fix_first_seen=fix_seen)) == 1
    assert len(package(params, match)) == 1


def test_package_nvd_score_thresholds() -> None:
    match = make_match(aliases=["GHSA-xxxx"])
    nvd = {"GHSA-xxxx": [v3(7.5, 3.9, 3.6), CvssScore(version="2.0", base_score=9.9)]}

    assert package({"cvss_v3_base_score": "7.0"}, match, nvd_cvss=nvd) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
        f"(cvss_v3_base_score=7.5)(CVE-2020-0001 - {LINK})"
    ]
    assert package({"cvss_v3_base_score": "8.0"}, match, nvd_cvss=nvd) == []
    assert package(
        {"cvss_v3_base_score_comparison": "<", "cvss_v3_base_score": "8.0"}, match, nvd_cvss=nvd
    )
    assert package(
        {
            "cvss_v3_exploitability_score": "3.9",
            "cvss_v3_impact_score_comparison": "=",
            "cvss_v3_impact_score": "3.6",
        },
        match,
        nvd_cvss=nvd,
    ) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
        f"(cvss_v3_exploitability_score=3.9 cvss_v3_impact_score=3.6)(CVE-2020-0001 - {LINK})"
    ]


def test_package_score_without_v3_data_compares_as_minus_one() -> None:
    match = make_match(cvss=[CvssScore(version="2.0", base_score=9.0)])

    assert package({"cvss_v3_base_score": "0"}, match) == []
    assert (
        len(package({"cvss_v3_base_score_comparison": "<", "cvss_v3_base_score": "0"}, match)) == 1
    )


def test_package_record_scores_stand_in_for_missing_nvd_scores() -> None:
    match = make_match(cvss=[v3(9.8)])

    assert len(package({"cvss_v3_base_score": "9.0"}, match)) == 1
    assert (
        package({"cvss_v3_base_score": "9.0"}, match, nvd_cvss={"CVE-2020-0001": [v3(5.0)]}) == []
    )


def test_package_vendor_score_thresholds() -> None:
    match = make_match(cvss=[v3(6.1, 1.6, 4.0)])
    nvd = {"CVE-2020-0001": [v3(9.0)]}

    assert package({"vendor_cvss_v3_base_score": "6.0"}, match, nvd_cvss=nvd) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
        f"(vendor_cvss_v3_base_score=6.1)(CVE-2020-0001 - {LINK})"
    ]
    assert package({"vendor_cvss_v3_base_score": "6.5"}, match, nvd_cvss=nvd) == []
    assert (
        package(
            {
                "vendor_cvss_v3_exploitability_score_comparison": "<",
                "vendor_cvss_v3_exploitability_score": "1",
            },
            match,
        )
        == []
    )
    assert package(
        {"vendor_cvss_v3_impact_score_comparison": "=", "vendor_cvss_v3_impact_score": "4.0"}, match
    ) == [
        "MEDIUM Vulnerability found in os package type (dpkg) - libssl1.1 "
        f"(vendor_cvss_v3_impact_score=4.0)(CVE-2020-0001 - {LINK})"
    ]


def test_package_path_exclude_applies_to_non_os_only() -> None:
    jar = make_match(
        vuln_id="CVE-1", package_type="java", package_path="/opt/app/lib/test-utils.jar"
    )
    os_match = make_match(vuln_id="CVE-2", package_path="/opt/app/lib/test-os")
    params = {"package_type": "all", "package_path_exclude": r".*/test-.*"}

    found = fire("vulnerabilities", "package", params, facts_with(jar, os_match))

    assert [firing.trigger_id for firing in found] == ["CVE-2+libssl1.1"]


def test_package_trigger_id_name_parts() -> None:
    cases = [
        (make_match(), "CVE-2020-0001+libssl1.1"),
        (
            make_match(
                package_type="npm",
                package_path="/usr/lib/node_modules/npm/node_modules/semver/package.json",
            ),
            "CVE-2020-0001+semver",
        ),
        (
            make_match(
                package_type="java", package_path="/opt/app.war:WEB-INF/lib/log4j-core-2.14.jar"
            ),
            "CVE-2020-0001+log4j-core-2.14.jar",
        ),
        (
            make_match(
                package_type="gem", package_path="/usr/lib/ruby/specifications/rack-2.0.gemspec"
            ),
            "CVE-2020-0001+rack-2.0.gemspec",
        ),
        (
            make_match(
                package_type="python",
                package_name="requests",
                package_version="2.0",
                package_path="/usr/lib/python3/site-packages/requests",
            ),
            "CVE-2020-0001+requests-2.0",
        ),
        (
            make_match(
                package_type="npm",
                package_name="left-pad",
                package_version="1.0",
                package_path="package.json",
            ),
            "CVE-2020-0001+left-pad-1.0",
        ),
    ]
    for match, expected in cases:
        assert package_trigger_id(match) == expected


def test_stale_feed_data() -> None:
    def stale(**fields: Any) -> list[str]:
        return messages(
            "vulnerabilities", "stale_feed_data", {"max_days_since_sync": "2"}, make_facts(**fields)
        )

    message = "The vulnerability feed for this image distro is older than MAXAGE (2) days"
    assert stale() == [message]
    assert stale(vuln_namespace="debian:12") == [message]
    assert stale(vuln_namespace="debian:12", feed_last_sync={"debian:12": None}) == [message]
    old = NOW - datetime.timedelta(days=3)
    assert stale(vuln_namespace="debian:12", feed_last_sync={"debian:12": old}) == [message]
    fresh = datetime.datetime(2024, 6, 1, 0, 0)  # naive, read as UTC
    assert stale(vuln_namespace="debian:12", feed_last_sync={"debian:12": fresh}) == []


def test_vulnerability_data_unavailable() -> None:
    distro = Distro(id="debian", version_id="12")

    def unavailable(**fields: Any) -> list[str]:
        return messages(
            "vulnerabilities",
            "vulnerability_data_unavailable",
            facts=make_facts({"distro": distro}, **fields),
        )

    assert unavailable(vuln_namespace="debian:12", feed_record_counts={"debian:12": 10}) == []
    assert unavailable(vuln_namespace="debian:12", feed_record_counts={"debian:12": 0}) == [
        "Distro-specific feed data not found for distro namespace: debian:12. Cannot perform CVE "
        "scan OS/distro packages"
    ]
    assert unavailable() == [
        "Distro-specific feed data not found for distro namespace: debian:12. Cannot perform CVE "
        "scan OS/distro packages"
    ]


def test_rebuild_distro_uses_rhel_feed() -> None:
    # A Rocky Linux image matches through rhel:9 when no rocky:9 data is stored.
    rocky = {"distro": Distro(id="rocky", version_id="9.4")}
    fresh = datetime.datetime(2024, 6, 1, 0, 0)
    rhel_only = {
        "vuln_namespace": "rocky:9",
        "feed_record_counts": {"rhel:9": 10},
        "feed_last_sync": {"rhel:9": fresh},
    }

    unavailable = messages(
        "vulnerabilities", "vulnerability_data_unavailable", facts=make_facts(rocky, **rhel_only)
    )
    stale = messages(
        "vulnerabilities",
        "stale_feed_data",
        {"max_days_since_sync": "2"},
        make_facts(rocky, **rhel_only),
    )

    assert unavailable == []
    assert stale == []


def test_rebuild_distro_prefers_own_feed() -> None:
    rocky = {"distro": Distro(id="rocky", version_id="9.4")}
    old = NOW - datetime.timedelta(days=3)
    fresh = datetime.datetime(2024, 6, 1, 0, 0)
    both = {
        "vuln_namespace": "rocky:9",
        "feed_record_counts": {"rocky:9": 5, "rhel:9": 10},
        "feed_last_sync": {"rocky:9": old, "rhel:9": fresh},
    }

    stale = messages(
        "vulnerabilities", "stale_feed_data", {"max_days_since_sync": "2"}, make_facts(rocky, **both)
    )

    assert stale == ["The vulnerability feed for this image distro is older than MAXAGE (2) days"]


def test_vulnerability_data_unavailable_without_distro() -> None:
    assert messages("vulnerabilities", "vulnerability_data_unavailable") == [
        "Distro-specific feed data not found for distro namespace: None. Cannot perform CVE "
        "scan OS/distro packages"
    ]


def test_blacklist_lists_found_ids_once() -> None:
    facts = facts_with(
        make_match(vuln_id="CVE-1"),
        make_match(vuln_id="CVE-1", package_name="other"),
        make_match(vuln_id="CVE-2", will_not_fix=True),
    )

    def blacklist(params: dict[str, str]) -> list[str]:
        return messages("vulnerabilities", "blacklist", params, facts)

    assert blacklist({"vulnerability_ids": "CVE-1, CVE-2, CVE-3"}) == [
        "Blacklisted vulnerabilities detected: ['CVE-1']"
    ]
    assert blacklist({"vulnerability_ids": "CVE-2,CVE-1", "vendor_only": "false"}) == [
        "Blacklisted vulnerabilities detected: ['CVE-2', 'CVE-1']"
    ]
    assert blacklist({"vulnerability_ids": "CVE-3"}) == []


# Anchore Engine's gate test inputs: grype-style reports of one match each.


def report_facts(path: Path) -> ImageFacts:
    report = json.loads(path.read_text())
    matches, nvd, first_seen, fix_seen = [], {}, {}, {}
    for result in report["results"]:
        vulnerability, artifact, fix = result["vulnerability"], result["artifact"], result["fix"]
        match = VulnMatch(
            vuln_id=vulnerability["vulnerability_id"],
            severity=Severity(vulnerability["severity"]),
            package_name=artifact["name"],
            package_version=artifact["version"],
            package_type=artifact["pkg_type"],
            package_path=artifact["location"],
            fixed_in=fix["versions"],
            url=vulnerability["link"],
            namespace=vulnerability["feed_group"],
            will_not_fix=fix["will_not_fix"],
            cvss=[CvssScore(**score) for score in vulnerability["cvss"]],
        )
        matches.append(match)
        nvd[match.vuln_id] = [CvssScore(**s) for entry in result["nvd"] for s in entry["cvss"]]
        key = f"{match.vuln_id}+{match.package_name}+{match.package_path}"
        first_seen[key] = datetime.datetime.fromisoformat(result["match"]["detected_at"])
        if fix["observed_at"]:
            fix_seen[key] = datetime.datetime.fromisoformat(fix["observed_at"])
    return make_facts(
        vulnerabilities=matches, nvd_cvss=nvd, first_seen=first_seen, fix_first_seen=fix_seen
    )


@pytest.fixture
def reports(shared_dir: Path) -> Path:
    return shared_dir / "acceptance-fixtures" / "anchore-engine-policy" / "vuln_reports"


REPORT_CASES = [
    ("debian_1_os_will-fix.json", {"fix_available": "true"}, 0),
    ("debian_1_os_will-fix.json", {"fix_available": "false"}, 1),
    ("debian_1_os_will-fix_fix-available.json", {"fix_available": "true"}, 1),
    ("debian_1_os_will-fix_fix-available.json", {"fix_available": "false"}, 0),
    ("debian_1_os_will-fix.json", {"vendor_only": "true"}, 1),
    ("debian_1_os_wont-fix.json", {"vendor_only": "true"}, 0),
    ("debian_1_os_wont-fix.json", {"vendor_only": "false"}, 1),
    ("debian_1_os_will-fix.json", {"max_days_since_creation": "1000000"}, 0),
    ("debian_1_os_will-fix.json", {"max_days_since_creation": "0"}, 1),
    (
        "debian_1_os_will-fix_fix-available.json",
        {"fix_available": "true", "max_days_since_fix": "1000000"},
        0,
    ),
    (
        "debian_1_os_will-fix_fix-available.json",
        {"fix_available": "true", "max_days_since_fix": "0"},
        1,
    ),
    ("debian_1_os_will-fix.json", {"cvss_v3_base_score": "6.0"}, 1),
    ("debian_1_os_will-fix.json", {"cvss_v3_base_score": "6.2"}, 0),
    ("debian_1_os_will-fix_vendor_cvssv3.json", {"vendor_cvss_v3_base_score": "6.1"}, 1),
    ("debian_1_os_will-fix_vendor_cvssv3.json", {"vendor_cvss_v3_base_score": "6.2"}, 0),
    ("debian_1_non-os_will-fix.json", {"package_type": "os"}, 0),
    ("debian_1_non-os_will-fix.json", {"package_type": "non-os"}, 1),
    (
        "debian_1_non-os_will-fix.json",
        {"package_type": "non-os", "package_path_exclude": "/bin/.*"},
        0,
    ),
]


@pytest.mark.parametrize(("report", "params", "expected"), REPORT_CASES)
def test_package_on_anchore_reports(
    reports: Path, report: str, params: dict[str, str], expected: int
) -> None:
    facts = report_facts(reports / report)

    found = fire("vulnerabilities", "package", {"package_type": "all", **params}, facts)

    assert len(found) == expected


def test_package_message_on_anchore_vendor_report(reports: Path) -> None:
    facts = report_facts(reports / "debian_1_os_will-fix_vendor_cvssv3.json")
    params = {"package_type": "all", "cvss_v3_base_score": "6", "vendor_cvss_v3_base_score": "6"}

    (firing,) = fire("vulnerabilities", "package", params, facts)

    assert firing.trigger_id == "CVE-2020-13529+libsystemd0"
    assert firing.message == (
        "LOW Vulnerability found in os package type (dpkg) - libsystemd0 "
        "(cvss_v3_base_score=6.1)(vendor_cvss_v3_base_score=6.1)"
        "(CVE-2020-13529 - https://security-tracker.debian.org/tracker/CVE-2020-13529)"
    )


def test_package_non_os_trigger_id_on_anchore_report(reports: Path) -> None:
    (firing,) = fire(
        "vulnerabilities",
        "package",
        {"package_type": "all"},
        report_facts(reports / "debian_1_non-os_will-fix.json"),
    )

    assert firing.trigger_id == "CVE-2020-15719+libldap-2.4-2-2.4.47+dfsg-3+deb10u6"
    assert firing.message.startswith(
        "NEGLIGIBLE Vulnerability found in non-os package type (binary) - /bin/libldap "
    )


def test_package_max_days_since_creation_boundary_fires() -> None:
    match = make_match()
    key = f"{match.vuln_id}+{match.package_name}+{match.package_path}"
    seen = {key: datetime.datetime(2024, 5, 31, 12, 0, tzinfo=UTC)}

    assert len(package({"max_days_since_creation": "1"}, match, first_seen=seen)) == 1


def test_package_exploitability_and_vendor_base_comparisons() -> None:
    match = make_match(cvss=[v3(6.1, 1.6, 4.0)])
    nvd = {"CVE-2020-0001": [v3(7.5, 3.9, 3.6)]}

    def fired(params: dict[str, str]) -> int:
        return len(package(params, match, nvd_cvss=nvd))

    assert (
        fired(
            {"cvss_v3_exploitability_score_comparison": ">", "cvss_v3_exploitability_score": "3.8"}
        )
        == 1
    )
    assert (
        fired(
            {"cvss_v3_exploitability_score_comparison": ">", "cvss_v3_exploitability_score": "3.9"}
        )
        == 0
    )
    assert (
        fired({"vendor_cvss_v3_base_score_comparison": "<=", "vendor_cvss_v3_base_score": "6.1"})
        == 1
    )
    assert (
        fired({"vendor_cvss_v3_base_score_comparison": "!=", "vendor_cvss_v3_base_score": "6.1"})
        == 0
    )


COUNT_MATCHES = [
    make_match(vuln_id=f"CVE-2020-000{number}", severity=severity)
    for number, severity in enumerate(
        [Severity.LOW, Severity.HIGH, Severity.HIGH, Severity.CRITICAL]
    )
]


def count_firings(params: dict[str, str], *, rule_id: str | None = "rule-1") -> list:
    return fire(
        "vulnerabilities",
        "package",
        {"package_type": "all", **params},
        facts_with(*COUNT_MATCHES),
        rule_id=rule_id,
    )


def test_package_count_fires_one_row_above_threshold() -> None:
    (firing,) = count_firings({"severity": "medium", "count_greater_than": "2"})

    assert firing.message == (
        "Found 3 vulnerability matches that pass the rule filters, more than count_greater_than (2)"
    )
    assert firing.trigger_id == "vulnerability_count+rule-1"
    ids = [cause.id for cause in firing.causes if cause.to_json()["kind"] == "vulnerability"]
    assert ids == ["CVE-2020-0001", "CVE-2020-0002", "CVE-2020-0003"]


def test_package_count_at_threshold_does_not_fire() -> None:
    assert count_firings({"severity": "medium", "count_greater_than": "3"}) == []
    assert (
        count_firings(
            {"severity": "critical", "severity_comparison": "=", "count_greater_than": "1"}
        )
        == []
    )


def test_package_count_zero_fires_on_any_match() -> None:
    (firing,) = count_firings(
        {"severity": "critical", "severity_comparison": "=", "count_greater_than": "0"}
    )

    assert firing.message.startswith("Found 1 vulnerability matches")


def test_package_count_trigger_id_without_rule_id() -> None:
    (firing,) = count_firings({"count_greater_than": "3"}, rule_id=None)

    assert firing.trigger_id == "vulnerability_count+3"


def test_package_count_rejects_non_integer() -> None:
    rule = make_rule(
        "vulnerabilities", "package", {"package_type": "all", "count_greater_than": "2.5"}
    )

    _, problems = compile_rule(rule, "p1", 1, strict=True)

    assert [p.problem_type for p in problems] == ["ParameterValueInvalidError"]
    assert problems[0].parameter == "count_greater_than"


def test_package_records_when_day_counts_change() -> None:
    match = make_match(fixed_in=["1.1"])
    key = f"{match.vuln_id}+{match.package_name}+{match.package_path}"
    first_seen = {key: NOW - datetime.timedelta(days=3)}
    fix_seen = {key: NOW - datetime.timedelta(days=1)}
    rule, _ = compile_rule(
        make_rule(
            "vulnerabilities",
            "package",
            {
                "package_type": "all",
                "max_days_since_creation": "5",
                "fix_available": "true",
                "max_days_since_fix": "2",
            },
        ),
        "p1",
        1,
        strict=True,
    )
    assert rule is not None
    facts = facts_with(match, first_seen=first_seen, fix_first_seen=fix_seen)
    context = TriggerContext(facts=facts, now=NOW, rule_id="rule-1", cache={})

    assert rule.trigger.evaluate(context, rule.params) == []
    # The creation filter excludes the match first; it passes two days from now.
    assert context.changes == [NOW + datetime.timedelta(days=2)]
