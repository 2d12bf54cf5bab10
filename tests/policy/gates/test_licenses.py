"""Tests of the licenses gate."""

from __future__ import annotations

from chalicelib.analysis.interface import Package, PackageType
from tests.policy.factories import make_facts, messages

FACTS = make_facts(
    {
        "packages": [
            Package(
                name="bash", version="5", type=PackageType.DPKG, location="db", licenses=["GPL-3+"]
            ),
            Package(
                name="zlib",
                version="1",
                type=PackageType.APK,
                location="db",
                licenses=["Zlib OR BSD-2"],
            ),
            Package(
                name="flask", version="2", type=PackageType.PYTHON, location="x", licenses=["BSD-3"]
            ),
        ]
    }
)


def test_exact_match_lists_packages_in_one_firing() -> None:
    assert messages("licenses", "blacklist_exact_match", {"licenses": "GPL-3+, BSD-2"}, FACTS) == [
        "LICFULLMATCH Packages are installed that have blacklisted licenses: bash(GPL-3+), "
        "zlib(BSD-2)"
    ]
    assert messages("licenses", "blacklist_exact_match", {"licenses": "GPL"}, FACTS) == []


def test_partial_match_lists_each_matching_substring() -> None:
    # `BSD-2` contains both listed strings, so Anchore lists the package twice.
    assert messages("licenses", "blacklist_partial_match", {"licenses": "BSD,2"}, FACTS) == [
        "LICSUBMATCH Packages are installed that have blacklisted licenses: zlib(BSD-2), "
        "zlib(BSD-2)"
    ]
    assert messages("licenses", "blacklist_partial_match", {"licenses": "GPL"}, FACTS) == [
        "LICSUBMATCH Packages are installed that have blacklisted licenses: bash(GPL-3+)"
    ]


def test_language_package_licenses_are_ignored() -> None:
    assert messages("licenses", "blacklist_exact_match", {"licenses": "BSD-3"}, FACTS) == []
