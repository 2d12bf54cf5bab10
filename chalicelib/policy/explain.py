"""Causes of a firing: the package, file, Dockerfile line, vulnerability or data behind a row.

Each fired row of an evaluation gets an explanation that lists its causes. The explanations are
stored beside Anchore's result table, under `explanations`, one per row and in row order, so
that clients reading only the table see Anchore's shape unchanged.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from chalicelib.analysis.interface import FileEntry, Package
from chalicelib.policy.interface import ImageFacts
from chalicelib.vulns.interface import VulnMatch


@dataclasses.dataclass(frozen=True)
class PackageCause:
    """An installed package."""

    name: str
    version: str
    type: str
    """Package type as stored in the analysis (`dpkg`, `python`, `npm`, ...)."""
    location: str
    layer_digest: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `package`."""
        return {"kind": "package", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class FileCause:
    """A file of the image, optionally with the line numbers that matched."""

    path: str
    layer_digest: str | None
    lines: tuple[int, ...] = ()
    """One-based line numbers inside the file; empty when the whole file is the cause."""

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `file`."""
        return {
            "kind": "file",
            "path": self.path,
            "layer_digest": self.layer_digest,
            "lines": list(self.lines),
        }


@dataclasses.dataclass(frozen=True)
class PackageFileCause:
    """A file that a package database lists and that is gone from the image or differs."""

    path: str
    """Path as the package database lists it."""
    status: str
    """`missing` or `changed`, as in the `packages/verify` trigger's message."""
    digest_algorithm: str | None
    """Algorithm of `expected_digest` and `real_digest` (`md5`, `sha1`, `sha256`, ...)."""
    expected_digest: str | None
    """Hex digest that the package database records, or None when it records none."""
    real_digest: str | None
    """Hex digest of the image's file, or None when the file is missing or was not digested."""
    expected_mode: int | None
    """Permission bits that the package database records, or None."""
    real_path: str | None
    """Path of the image's entry after following symbolic links, or None when it is missing."""
    layer_digest: str | None
    """Layer that last wrote the changed file, where known; None for a missing file."""

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `package_file`."""
        return {"kind": "package_file", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class DockerfileCause:
    """A line of the Dockerfile, or the Dockerfile as a whole when `line` is None."""

    mode: str
    """`Actual` for a Dockerfile supplied with the image, `Guessed` for one built from history."""
    line: int | None = None
    """One-based number of the instruction's first line in the Dockerfile text."""
    text: str | None = None
    """The whole instruction, continuation lines joined."""
    layer_digest: str | None = None
    """Layer that the instruction created, known for a Dockerfile built from history only."""

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `dockerfile`."""
        return {"kind": "dockerfile", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class VulnerabilityCause:
    """A vulnerability found in a package."""

    id: str
    namespace: str
    severity: str
    url: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `vulnerability`."""
        return {"kind": "vulnerability", **dataclasses.asdict(self)}


@dataclasses.dataclass(frozen=True)
class FeedGroupCause:
    """The state of one vulnerability feed group (namespace) when the rule was evaluated."""

    group: str | None
    """Namespace such as `debian:12`; None when the image distro has no namespace."""
    record_count: int
    last_sync: datetime.datetime | None

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `feed_group`."""
        return {
            "kind": "feed_group",
            "group": self.group,
            "record_count": self.record_count,
            "last_sync": self.last_sync.isoformat() if self.last_sync else None,
        }


@dataclasses.dataclass(frozen=True)
class AttributeCause:
    """An image attribute, such as its size or distro."""

    name: str
    value: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the cause as a JSON object with `kind` `attribute`."""
        return {"kind": "attribute", "name": self.name, "value": self.value}


Cause = (
    PackageCause
    | FileCause
    | PackageFileCause
    | DockerfileCause
    | VulnerabilityCause
    | FeedGroupCause
    | AttributeCause
)


def package_cause(package: Package) -> PackageCause:
    """Return the cause naming an installed package."""
    return PackageCause(
        name=package.name,
        version=package.version,
        type=package.type.value,
        location=package.location,
        layer_digest=package.layer_digest,
    )


PackageIndex = dict[tuple[str, str, str], Package]
"""Installed packages keyed by name, version and location."""


def package_index(facts: ImageFacts) -> PackageIndex:
    """Return the installed packages keyed by name, version and location."""
    return {
        (package.name, package.version, package.location): package
        for package in facts.analysis.packages
    }


def match_causes(match: VulnMatch, packages: PackageIndex) -> tuple[Cause, ...]:
    """Return the vulnerability and the package of a match, with the package's layer if known.

    The package is looked up in `packages` by name, version and location. A match whose
    package is not in the analysis keeps the match's own fields, without a layer.
    """
    package = packages.get((match.package_name, match.package_version, match.package_path))
    return (
        VulnerabilityCause(
            id=match.vuln_id,
            namespace=match.namespace,
            severity=match.severity.value,
            url=match.url,
        ),
        package_cause(package)
        if package is not None
        else PackageCause(
            name=match.package_name,
            version=match.package_version,
            type=match.package_type,
            location=match.package_path,
            layer_digest=None,
        ),
    )


def find_file(facts: ImageFacts, path: str) -> FileEntry | None:
    """Return the entry of `path` in the squashed file view, or None."""
    return next((entry for entry in facts.analysis.files if entry.path == path), None)


def file_cause(facts: ImageFacts, path: str, lines: tuple[int, ...] = ()) -> FileCause:
    """Return the cause naming a file, with the layer that last wrote it where known."""
    entry = find_file(facts, path)
    return FileCause(path=path, layer_digest=entry.layer_digest if entry else None, lines=lines)
