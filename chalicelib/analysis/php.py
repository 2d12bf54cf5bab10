"""PHP Composer cataloger: `installed.json`, the list of packages installed under `vendor/`.

Composer 1 writes the file as a JSON array of package entries. Composer 2 writes an object whose
`packages` array contains them and whose `dev-package-names` lists the ones installed only for
development. Both forms are read.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

# Syft 1.18 reads every `installed.json`, wherever Composer's vendor directory is.
INSTALLED_JSON_PATTERNS = ("**/installed.json",)
COMPOSER_DIRECTORY_SUFFIX = "/composer/installed.json"
"""End of the path Composer writes the file to. Other `installed.json` files may belong to other
tools, so only files at this path become problems when they cannot be read."""

_METADATA_KEYS = (
    "source",
    "dist",
    "type",
    "description",
    "homepage",
    "keywords",
    "time",
    "require",
    "require-dev",
    "provide",
    "suggest",
    "bin",
    "notification-url",
    "authors",
)
"""Entry fields kept in `Package.metadata`, the fields of Syft's `php-composer-installed-entry`."""


def parse_installed_json(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse a Composer `installed.json` into `composer` packages.

    An entry without a `name` or `version` string becomes an `Unknown` and the other entries are
    still read. A file that is not Composer's format becomes an `Unknown` when it sits in a
    `composer/` directory and is skipped elsewhere.
    """
    result = ParseResult()
    composer_path = location.endswith(COMPOSER_DIRECTORY_SUFFIX)
    try:
        document = json.loads(content)
    except ValueError as error:
        if composer_path:
            result.add_unknown(location, f"installed.json is not valid JSON: {error}")
        else:
            logger.debug("skipping %s: not JSON: %s", location, error)
        return result

    dev_names: set[str] = set()
    if isinstance(document, dict) and isinstance(document.get("packages"), list):
        entries = document["packages"]
        dev_list = document.get("dev-package-names")
        if isinstance(dev_list, list):
            dev_names = {name for name in dev_list if isinstance(name, str)}
    elif isinstance(document, list):
        entries = document
    else:
        if composer_path:
            result.add_unknown(
                location, "installed.json is neither a list of packages nor a 'packages' object"
            )
        else:
            logger.debug("skipping %s: not Composer's installed.json", location)
        return result

    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            result.add_unknown(location, f"package entry {index} is not a JSON object")
            continue
        name = entry.get("name")
        version = entry.get("version")
        if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
            result.add_unknown(location, f"package entry {index} has no name or version")
            continue
        result.packages.append(_package(location, name, version, entry, name in dev_names))
    return result


def _package(location: str, name: str, version: str, entry: dict[str, Any], dev: bool) -> Package:
    metadata = {key: entry[key] for key in _METADATA_KEYS if entry.get(key)}
    if dev:
        metadata["dev"] = True
    return Package(
        name=name,
        version=version,
        type=PackageType.COMPOSER,
        location=location,
        origin=_authors(entry.get("authors")),
        licenses=_licenses(entry.get("license")),
        purl=composer_purl(name, version),
        metadata=metadata,
    )


def composer_purl(name: str, version: str) -> str:
    """Return the purl of a Composer package named `vendor/name`.

    A name of more than two parts keeps the first as the namespace and joins the rest with `-`,
    as Syft 1.18 does.
    """
    parts = name.split("/")
    namespace = parts[0] if len(parts) > 1 else None
    bare = "-".join(parts[1:]) if len(parts) > 1 else name
    return PackageURL(type="composer", namespace=namespace, name=bare, version=version).to_string()


def _licenses(value: Any) -> list[str]:
    """Read `license`, which Composer allows as one string or a list of strings."""
    items = value if isinstance(value, list) else [value]
    found = [item.strip() for item in items if isinstance(item, str) and item.strip()]
    return list(dict.fromkeys(found))


def _authors(value: Any) -> str | None:
    """Format `authors` (`[{name, email, homepage}]`) as `Name <email>` joined with commas."""
    if not isinstance(value, list):
        return None
    people = []
    for author in value:
        if not isinstance(author, dict):
            continue
        text = str(author.get("name") or "").strip()
        if author.get("email"):
            text += f" <{author['email']}>"
        if text.strip():
            people.append(text.strip())
    return ", ".join(people) or None
