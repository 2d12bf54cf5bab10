""".NET cataloger: the NuGet packages that an application's `*.deps.json` file lists.

The .NET SDK writes `<app>.deps.json` beside each published application. Its `libraries` object
maps `Name/Version` keys to the library type (`project`, `package`, `runtimepack`, ...) and its
`targets` object maps each target framework to the same keys with their dependencies and
assemblies.

Packages are the `package` and `runtimepack` libraries, named as Syft 1.18 names them. Syft 1.18
reads deps.json files only when it scans a directory (`dotnet-deps-cataloger`). In an image it
reads the version resources of `.dll` and `.exe` files instead. Its deps.json reader also reports
`project` libraries, which are the application itself and the projects it references. Those are
built from source, not taken from NuGet, so here they are not packages. Syft reports nothing for a
file whose `project` library does not have the file's base name, and here such a file still gives
its packages.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

DEPS_JSON_PATTERNS = ("**/*.deps.json",)
PACKAGE_LIBRARY_TYPES = ("package", "runtimepack")
"""Library types that are NuGet packages. A runtime pack is the .NET runtime that a
self-contained application ships (`runtimepack.Microsoft.NETCore.App.Runtime.linux-x64`)."""


def parse_deps_json(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse a `*.deps.json` file into `nuget` packages, located at the file.

    Each package's `metadata` carries the library's `path`, `sha512` and `hashPath`, and, from
    its entry in the runtime target, its `dependencies` and `runtime` assembly paths. A file that
    is not JSON or has no `libraries` object becomes an `Unknown`, as does a library whose key is
    not `Name/Version`.
    """
    result = ParseResult()
    try:
        document = json.loads(content)
    except ValueError as error:
        result.add_unknown(location, f"deps.json is not valid JSON: {error}")
        return result
    if not isinstance(document, dict):
        result.add_unknown(location, "deps.json is not a JSON object")
        return result
    libraries = document.get("libraries")
    if not isinstance(libraries, dict):
        result.add_unknown(location, "deps.json has no 'libraries' object")
        return result

    target = _runtime_target(document)
    for key, library in libraries.items():
        if not isinstance(library, dict):
            result.add_unknown(location, f"library {key!r} is not a JSON object")
            continue
        if library.get("type") not in PACKAGE_LIBRARY_TYPES:
            continue
        name, slash, version = key.partition("/")
        if not slash or not name or not version or "/" in version:
            result.add_unknown(location, f"library key {key!r} is not 'Name/Version'")
            continue
        entry = target.get(key)
        result.packages.append(
            _package(location, name, version, library, entry if isinstance(entry, dict) else {})
        )
    return result


def _runtime_target(document: dict[str, Any]) -> dict[str, Any]:
    """Return the `targets` entry of `runtimeTarget.name`, or the only target when that is missing.

    Returns an empty mapping when neither exists.
    """
    targets = document.get("targets")
    if not isinstance(targets, dict):
        return {}
    runtime = document.get("runtimeTarget")
    name = runtime.get("name") if isinstance(runtime, dict) else None
    target = targets.get(name) if isinstance(name, str) else None
    if target is None and len(targets) == 1:
        target = next(iter(targets.values()))
    return target if isinstance(target, dict) else {}


def _package(
    location: str, name: str, version: str, library: dict[str, Any], entry: dict[str, Any]
) -> Package:
    metadata: dict[str, Any] = {"type": library.get("type")}
    for key in ("path", "sha512", "hashPath"):
        if isinstance(library.get(key), str) and library[key]:
            metadata[key] = library[key]
    dependencies = entry.get("dependencies")
    if isinstance(dependencies, dict) and dependencies:
        metadata["dependencies"] = dependencies
    runtime = entry.get("runtime")
    if isinstance(runtime, dict) and runtime:
        metadata["runtime"] = sorted(runtime)
    return Package(
        name=name,
        version=version,
        type=PackageType.NUGET,
        location=location,
        purl=PackageURL(type="nuget", name=name, version=version).to_string(),
        metadata=metadata,
    )
