"""Tests of the always, malware, npms and ruby_gems gates."""

from __future__ import annotations

from chalicelib.analysis.interface import Package, PackageType
from tests.policy.factories import fire, make_facts, messages

NPM_FACTS = make_facts(
    {
        "packages": [
            Package(
                name="lodash", version="4.17.15", type=PackageType.NPM, location="/a/package.json"
            ),
            Package(
                name="lodash", version="4.17.21", type=PackageType.NPM, location="/b/package.json"
            ),
            Package(name="lodash", version="9", type=PackageType.PYTHON, location="/c"),
        ]
    }
)


def test_always_fires_with_fixed_trigger_id() -> None:
    (firing,) = fire("always", "always")

    assert firing.message == "Unconditional trigger match"
    assert firing.trigger_id == "always"


def test_malware_scan_not_run_fires_and_scans_do_not() -> None:
    assert messages("malware", "scan_not_run") == ["No malware scans found for image"]
    assert messages("malware", "scans") == []


def test_npm_blacklist_fires_once_per_name() -> None:
    assert messages("npms", "blacklisted_name_version", {"name": "lodash"}, NPM_FACTS) == [
        "NPM Package is blacklisted: lodash"
    ]
    assert messages(
        "npms", "blacklisted_name_version", {"name": "lodash", "version": "4.17.21"}, NPM_FACTS
    ) == ["NPM Package is blacklisted: lodash-4.17.21"]
    assert (
        messages("npms", "blacklisted_name_version", {"name": "lodash", "version": "9"}, NPM_FACTS)
        == []
    )
    assert messages("npms", "blacklisted_name_version", {"name": "left-pad"}, NPM_FACTS) == []


def test_gem_blacklist_reads_gem_packages_only() -> None:
    assert messages("ruby_gems", "blacklist", {"name": "lodash"}, NPM_FACTS) == []


def test_feed_triggers_fire_nothing() -> None:
    for gate, trigger in [
        ("npms", "newer_version_in_feed"),
        ("npms", "unknown_in_feeds"),
        ("npms", "version_not_in_feeds"),
        ("ruby_gems", "newer_version_found_in_feed"),
        ("ruby_gems", "not_found_in_feed"),
        ("ruby_gems", "version_not_found_in_feed"),
    ]:
        assert fire(gate, trigger, facts=NPM_FACTS) == [], (gate, trigger)


def test_feed_data_unavailable_fires_without_packages_feed() -> None:
    assert messages("npms", "feed_data_unavailable") == [
        "NPM packages are present but the anchore npm feed is not available - will be unable to "
        "perform checks that require feed data"
    ]
    assert messages("ruby_gems", "feed_data_unavailable") == [
        "Gem packages are present but the anchore gem feed is not available - will be unable to "
        "perform checks that require feed data"
    ]
