"""npm cataloger: `package.json` files at the root of installed packages under `node_modules`."""

from __future__ import annotations

import json
import logging
from typing import Any

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType, Unknown

logger = logging.getLogger(__name__)

# A package root is `node_modules/NAME/` or `node_modules/@SCOPE/NAME/`; package.json files
# deeper inside a package belong to its tests or examples, not to installed packages.
PACKAGE_JSON_PATTERNS = ("**/node_modules/*/package.json", "**/node_modules/@*/*/package.json")
EXCLUDE_PATTERNS = ("**/node_modules/@*/package.json",)


def parse_package_json(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse an installed package's `package.json` into a package.

    A file that is not a JSON object or has no `name` and `version` strings becomes an `Unknown`.
    """
    try:
        document = json.loads(content)
    except ValueError as error:
        return _unknown(location, f"package.json is not valid JSON: {error}")
    if not isinstance(document, dict):
        return _unknown(location, "package.json is not a JSON object")
    name = document.get("name")
    version = document.get("version")
    if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
        return _unknown(location, "package.json has no name or version")

    scope, _, bare_name = name.rpartition("/")
    package = Package(
        name=name,
        version=version,
        type=PackageType.NPM,
        location=location,
        origin=_origin(document),
        licenses=_licenses(document),
        purl=PackageURL(
            type="npm", namespace=scope or None, name=bare_name, version=version
        ).to_string(),
    )
    return ParseResult(packages=[package])


def _unknown(location: str, reason: str) -> ParseResult:
    return ParseResult(unknowns=[Unknown(location=location, reason=reason)])


def _person(value: Any) -> str | None:
    """Format a person given as a string or as `{name, email, url}`."""
    if isinstance(value, str):
        return value.strip() or None
    if not isinstance(value, dict):
        return None
    text = str(value.get("name") or "").strip()
    if value.get("email"):
        text += f" <{value['email']}>"
    if value.get("url"):
        text += f" ({value['url']})"
    return text.strip() or None


def _people(value: Any) -> str | None:
    """Format one person or a list of people, joined with commas."""
    items = value if isinstance(value, list) else [value]
    people = [person for person in (_person(item) for item in items) if person]
    return ", ".join(people) or None


def _origin(document: dict[str, Any]) -> str | None:
    """Return `author`, else the legacy `authors` list, else the maintainers."""
    for key in ("author", "authors", "maintainers"):
        origin = _people(document.get(key))
        if origin:
            return origin
    return None


def _licenses(document: dict[str, Any]) -> list[str]:
    """Read `license` (a string or `{type}`) or the legacy `licenses` list."""
    found: list[str] = []
    for key in ("license", "licenses"):
        value = document.get(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                item = item.get("type")
            if isinstance(item, str) and item.strip():
                found.append(item.strip())
        if found:
            break
    return list(dict.fromkeys(found))
