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


@pytest.mark.parametrize("value", ["public-domain", "Apache 2.0", "GPLv2", "(GPL-2+ or MIT)", ""])
def test_normalize_license_keeps_other_values(value: str) -> None:
    normalized = normalize_license(value)

    assert normalized.expression is None
    assert normalized.value == value


def test_normalize_licenses_drops_blanks_and_repeats() -> None:
    licenses = normalize_licenses(["MIT", " ", "MIT", "GPL-2+"])

    assert [license_.value for license_ in licenses] == ["MIT", "GPL-2+"]
