"""License names from package metadata, normalized to SPDX license expressions where possible.

Package databases write licenses in many spellings: SPDX ids (`MIT`), deprecated SPDX ids
(`GPL-2.0+`), Debian short names (`GPL-2+`, `Expat`) and free text (`public-domain`). The SBOM
writers put a normalized value in their SPDX expression fields and keep any other value as a
plain license name.
"""

from __future__ import annotations

import dataclasses
import functools
import re

from license_expression import ExpressionError, Licensing, get_spdx_licensing

DEBIAN_ALIASES = {"expat": "MIT"}
"""Debian short names whose SPDX id differs in more than the version spelling."""

_CLASSIFIER_IDS = {
    "mit license": "MIT",
    "mit no attribution license (mit-0)": "MIT-0",
    "isc license (iscl)": "ISC",
    "python software foundation license": "PSF-2.0",
    "mozilla public license 1.1 (mpl 1.1)": "MPL-1.1",
    "mozilla public license 2.0 (mpl 2.0)": "MPL-2.0",
    "gnu general public license v2 (gplv2)": "GPL-2.0-only",
    "gnu general public license v2 or later (gplv2+)": "GPL-2.0-or-later",
    "gnu general public license v3 (gplv3)": "GPL-3.0-only",
    "gnu general public license v3 or later (gplv3+)": "GPL-3.0-or-later",
    "gnu lesser general public license v2 (lgplv2)": "LGPL-2.0-only",
    "gnu lesser general public license v2 or later (lgplv2+)": "LGPL-2.0-or-later",
    "gnu lesser general public license v3 (lgplv3)": "LGPL-3.0-only",
    "gnu lesser general public license v3 or later (lgplv3+)": "LGPL-3.0-or-later",
    "gnu affero general public license v3": "AGPL-3.0-only",
    "gnu affero general public license v3 or later (agplv3+)": "AGPL-3.0-or-later",
    "eclipse public license 1.0 (epl-1.0)": "EPL-1.0",
    "eclipse public license 2.0 (epl-2.0)": "EPL-2.0",
    "european union public licence 1.2 (eupl 1.2)": "EUPL-1.2",
    "boost software license 1.0 (bsl-1.0)": "BSL-1.0",
    "the unlicense (unlicense)": "Unlicense",
    "cc0 1.0 universal (cc0 1.0) public domain dedication": "CC0-1.0",
    "universal permissive license (upl)": "UPL-1.0",
    "zlib/libpng license": "Zlib",
}
"""Python license classifier names, by lower case, which the Python cataloger keeps as license
names (`MIT License` of `License :: OSI Approved :: MIT License`). Only names of exactly one
SPDX license are listed, so `BSD License` and `Apache Software License` are not."""

_SHORT_VERSION = re.compile(r"(?P<name>[A-Za-z][A-Za-z-]*)-(?P<major>\d+)(?P<plus>\+?)")
"""A Debian short name with a bare major version, such as `GPL-2` or `LGPL-3+`."""


@dataclasses.dataclass(frozen=True)
class License:
    """One license of a package: the value as found and its SPDX expression, if any."""

    value: str
    """The license as the package metadata gives it."""
    expression: str | None
    """The value as a valid SPDX license expression, or None when it cannot be normalized."""


@functools.cache
def _licensing() -> Licensing:
    # Loading the SPDX license index reads a large JSON file, so do it once and only when needed.
    return get_spdx_licensing()


# Images repeat a few license values across thousands of packages.
@functools.lru_cache(maxsize=4096)
def normalize_license(value: str) -> License:
    """Normalize one license value to an SPDX expression, or keep it as a plain name.

    Accepts SPDX expressions with current or deprecated ids (`GPL-2.0+` becomes
    `GPL-2.0-or-later`), Debian short names with a bare major version (`GPL-2+`), Debian's
    `Expat`, the names of Python license classifiers (`MIT License`) and the URLs of some
    license texts (`http://www.apache.org/licenses/LICENSE-2.0`).
    Any other value keeps `expression` None.
    """
    text = value.strip()
    candidates = [text]
    alias = DEBIAN_ALIASES.get(text.lower()) or _CLASSIFIER_IDS.get(text.lower())
    if alias:
        candidates.insert(0, alias)
    short = _SHORT_VERSION.fullmatch(text)
    if short:
        candidates.append(f"{short['name']}-{short['major']}.0{short['plus']}")
    candidates += _ids_from_url(text)
    for candidate in candidates:
        expression = _parse(candidate)
        if expression is not None:
            return License(value=value, expression=expression)
    return License(value=value, expression=None)


_LICENSE_URL = re.compile(
    r"https?://(?:www\.)?(?P<site>[a-z.]+)/(?P<path>[\w./-]+?)/?(?:\.(?:txt|html?|php))?",
    re.IGNORECASE,
)
"""A license URL, as Java manifests give it in `Bundle-License`: site and path."""

_URL_IDS = {
    ("apache.org", "licenses/license-2.0"): "Apache-2.0",
    ("apache.org", "licenses/license-1.1"): "Apache-1.1",
    ("eclipse.org", "legal/epl-v10"): "EPL-1.0",
    ("eclipse.org", "legal/epl-2.0"): "EPL-2.0",
    ("mozilla.org", "mpl/2.0"): "MPL-2.0",
}
"""License texts published at a URL of their own, by site and lower-case path."""


def _ids_from_url(text: str) -> list[str]:
    """Return the SPDX id that a license URL names, as a one-item list, or an empty list.

    Besides `_URL_IDS`, `opensource.org/licenses/ID` and `spdx.org/licenses/ID` end in the id
    itself (`opensource.org/licenses/mit-license.php` is MIT).
    """
    # NOTE: GNU license URLs (`gnu.org/licenses/gpl-2.0.html`) are left as names, because one
    # page serves both the `-only` and the `-or-later` id.
    match = _LICENSE_URL.fullmatch(text)
    if match is None:
        return []
    site = match["site"].lower()
    path = match["path"].lower()
    if (site, path) in _URL_IDS:
        return [_URL_IDS[(site, path)]]
    directory, _, name = path.rpartition("/")
    if site in ("opensource.org", "spdx.org") and directory == "licenses":
        return [name.removesuffix("-license")]
    return []


def _parse(text: str) -> str | None:
    if not text:
        return None
    try:
        parsed = _licensing().parse(text, validate=True)
    except ExpressionError:
        return None
    if parsed is None:
        return None
    return str(parsed.render("{symbol.key}"))


def normalize_licenses(values: list[str]) -> list[License]:
    """Normalize each license of a package, dropping blanks and repeated values."""
    seen: set[str] = set()
    licenses = []
    for value in values:
        if not value.strip() or value in seen:
            continue
        seen.add(value)
        licenses.append(normalize_license(value))
    return licenses
