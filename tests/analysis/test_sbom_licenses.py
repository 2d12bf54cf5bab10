"""License values normalized to SPDX expressions for the SBOM writers."""

from __future__ import annotations

import pytest

from chalicelib.analysis.sbom import normalize_license, normalize_licenses


@pytest.mark.parametrize(
    ("value", "expression"),
    [
        ("MIT", "MIT"),
        ("mit", "MIT"),
        ("GPL-2.0+", "GPL-2.0-or-later"),
        ("GPL-2+", "GPL-2.0-or-later"),
        ("GPL-2", "GPL-2.0-only"),
        ("LGPL-2.1+", "LGPL-2.1-or-later"),
        ("Expat", "MIT"),
        ("BSD-3-clause", "BSD-3-Clause"),
        ("MIT or Apache-2.0", "MIT OR Apache-2.0"),
        (
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
            "GPL-2.0-or-later WITH Classpath-exception-2.0",
        ),
    ],
)
def test_normalize_license_spdx_spellings(value: str, expression: str) -> None:
    normalized = normalize_license(value)

    assert normalized.expression == expression
    assert normalized.value == value


@pytest.mark.parametrize(
    ("value", "expression"),
    [
        # The Bundle-License of Guice 4.2.3 and Guava 31.1 as Debian ships them.
        ("http://www.apache.org/licenses/LICENSE-2.0.txt", "Apache-2.0"),
        ("https://www.apache.org/licenses/LICENSE-2.0", "Apache-2.0"),
        ("http://www.opensource.org/licenses/mit-license.php", "MIT"),
        ("https://opensource.org/licenses/BSD-3-Clause", "BSD-3-Clause"),
        ("https://spdx.org/licenses/Apache-2.0.html", "Apache-2.0"),
        ("http://www.eclipse.org/legal/epl-v10.html", "EPL-1.0"),
        ("https://www.mozilla.org/MPL/2.0/", "MPL-2.0"),
    ],
)
def test_normalize_license_url(value: str, expression: str) -> None:
    assert normalize_license(value).expression == expression


@pytest.mark.parametrize(
    ("value", "expression"),
    [
        ("MIT License", "MIT"),
        ("GNU General Public License v2 or later (GPLv2+)", "GPL-2.0-or-later"),
        ("GNU Lesser General Public License v3 (LGPLv3)", "LGPL-3.0-only"),
        ("Mozilla Public License 2.0 (MPL 2.0)", "MPL-2.0"),
        ("Python Software Foundation License", "PSF-2.0"),
        ("CC0 1.0 Universal (CC0 1.0) Public Domain Dedication", "CC0-1.0"),
    ],
)
def test_normalize_license_python_classifier(value: str, expression: str) -> None:
    assert normalize_license(value).expression == expression


@pytest.mark.parametrize("value", ["BSD License", "Apache Software License", "Zope Public License"])
def test_normalize_license_ambiguous_classifier_kept(value: str) -> None:
    assert normalize_license(value).expression is None


@pytest.mark.parametrize(
    "value",
    [
        "https://www.gnu.org/licenses/gpl-3.0.html",
        "http://www.opensource.org/licenses/bsd-license.php",
        "https://example.com/licenses/LICENSE-2.0",
    ],
)
def test_normalize_license_ambiguous_url_kept(value: str) -> None:
    assert normalize_license(value).expression is None


@pytest.mark.parametrize("value", ["public-domain", "Apache 2.0", "GPLv2", "(GPL-2+ or MIT)", ""])
def test_normalize_license_keeps_other_values(value: str) -> None:
    normalized = normalize_license(value)

    assert normalized.expression is None
    assert normalized.value == value


def test_normalize_licenses_drops_blanks_and_repeats() -> None:
    licenses = normalize_licenses(["MIT", " ", "MIT", "GPL-2+"])

    assert [license_.value for license_ in licenses] == ["MIT", "GPL-2+"]
