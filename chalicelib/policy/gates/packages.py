"""The `packages` gate: checks on the distro (OS) packages installed in an image."""

from __future__ import annotations

import dataclasses
import posixpath

from chalicelib.analysis.interface import (
    FileEntry,
    FileType,
    Package,
    PackageFileRecord,
    PackageType,
)
from chalicelib.policy.explain import PackageFileCause, package_cause
from chalicelib.policy.gate import (
    Firing,
    GateSpec,
    TriggerContext,
    TriggerEvaluationError,
    TriggerSpec,
)
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues
from chalicelib.vulns.interface import VulnsError
from chalicelib.vulns.versions import get_scheme

# Version schemes of `chalicelib.vulns.versions` by package type.
_VERSION_SCHEMES = {
    PackageType.DPKG: "deb",
    PackageType.APK: "apk",
    PackageType.RPM: "rpm",
}


def os_packages(facts: ImageFacts) -> list[Package]:
    """Return the distro packages of the image, in analysis order."""
    return [package for package in facts.analysis.packages if package.type.is_os]


def compare_versions(package: Package, version: str) -> int:
    """Compare the installed version of `package` with `version` in the package's scheme.

    Returns a negative number, zero or a positive number as the installed version is lower
    than, equal to or higher than `version`. Raises `TriggerEvaluationError` when the package
    type has no version scheme or a version is invalid in it.
    """
    try:
        return get_scheme(_VERSION_SCHEMES[package.type]).compare(package.version, version)
    except (KeyError, VulnsError) as exc:
        raise TriggerEvaluationError(
            f"cannot compare version {package.version!r} of {package.type.value} package "
            f"{package.name!r} with {version!r}: {exc}; use version_match_type=exact"
        ) from exc


def _evaluate_required_package(context: TriggerContext, params: ParamValues) -> list[Firing]:
    name = params.text("name") or ""
    version = params.text("version")
    match_type = params.text("version_match_type") or "exact"

    installed = next((p for p in os_packages(context.facts) if p.name == name), None)
    if installed is None:
        if version:
            return [
                Firing(
                    f"Required input package ({name},{version}) is not present in container image"
                )
            ]
        return [Firing(f"Required input package ({name}) is not present in container image")]

    if version is None or installed.version == version:
        return []
    if match_type == "exact":
        # Anchore prints the package name where the policy version belongs. The message feeds
        # the trigger id that whitelists match, so it stays as Anchore wrote it.
        return [
            Firing(
                f"Required input package ({installed.name}) is present ({installed.version}), "
                f"but not at the version specified in policy ({name})",
                causes=(package_cause(installed),),
            )
        ]
    if compare_versions(installed, version) < 0:
        return [
            Firing(
                f"Required min-version input package ({installed.name}) is present "
                f"({installed.version}), but is lower version than what is specified in "
                f"policy ({version})",
                causes=(package_cause(installed),),
            )
        ]
    return []


def _evaluate_verify(context: TriggerContext, params: ParamValues) -> list[Firing]:
    names = set(_nonempty(params.items("only_packages")))
    directories = _nonempty(params.items("only_directories"))
    check = params.text("check")

    firings = []
    for package, difference in _package_differences(context):
        if names and package.name not in names:
            continue
        # Anchore compares plain string prefixes, so `/usr` also selects `/usrlocal/file`.
        if directories and not difference.path.startswith(tuple(directories)):
            continue
        if check is not None and difference.status != check:
            continue
        firings.append(
            Firing(
                f"VERIFY check against package db for package '{package.name}' failed on entry "
                f"'{difference.path}' with status: '{difference.status}'",
                causes=(package_cause(package), difference.cause),
            )
        )
    return firings


def _nonempty(items: list[str] | None) -> list[str]:
    return [item for item in items or [] if item]


def _package_differences(context: TriggerContext) -> list[tuple[Package, FileDifference]]:
    """Return each OS package's files that differ from its package database, in package order.

    dpkg and apk differences come from the analysis's `package_verification` records, and rpm
    differences from the per-file lists in each package's `metadata`.
    """
    facts = context.facts
    records: dict[str, list[PackageFileRecord]] = {}
    for record in facts.analysis.package_verification:
        records.setdefault(record.package, []).append(record)

    found: list[tuple[Package, FileDifference]] = []
    for package in os_packages(facts):
        if package.type is PackageType.RPM:
            entries = context.cached("file_index", _file_index)
            directories = context.cached("implied_directories", _implied_directories)
            found.extend((package, d) for d in rpm_differences(package, entries, directories))
        else:
            # Records carry the package name only, so multi-arch packages share their records.
            entries = context.cached("file_index", _file_index)
            named = records.pop(package.name, [])
            differences = [record_difference(record, entries) for record in named]
            found.extend((package, d) for d in differences if d is not None)
    return found


def _file_index(facts: ImageFacts) -> dict[str, FileEntry]:
    return {entry.path: entry for entry in facts.analysis.files}


def _implied_directories(facts: ImageFacts) -> set[str]:
    """Return the parent directories of every path, which exist even without a tar entry."""
    directories = set()
    for entry in facts.analysis.files:
        parent = posixpath.dirname(entry.path)
        while parent not in directories and parent != "/":
            directories.add(parent)
            parent = posixpath.dirname(parent)
    return directories


@dataclasses.dataclass(frozen=True)
class FileDifference:
    """A package file that is gone (`missing`) or differs from the package database (`changed`)."""

    path: str
    """Path as the package database lists it."""
    status: str
    cause: PackageFileCause


def record_difference(
    record: PackageFileRecord, entries: dict[str, FileEntry]
) -> FileDifference | None:
    """Return the difference that a dpkg or apk verification record reports, if the gate uses it.

    `entries` are the image's files by path, which give the layer of a changed file. As in
    Anchore, a config file is reported when it is missing but not when it changed.
    """
    if record.real_path is None:
        status = "missing"
    elif record.is_config_file:
        return None
    else:
        status = "changed"
    entry = entries.get(record.real_path) if record.real_path is not None else None
    return FileDifference(
        path=record.path,
        status=status,
        cause=PackageFileCause(
            path=record.path,
            status=status,
            digest_algorithm=record.digest_algorithm,
            expected_digest=record.digest,
            real_digest=record.real_digest,
            expected_mode=record.mode,
            real_path=record.real_path,
            layer_digest=entry.layer_digest if entry is not None else None,
        ),
    )


def rpm_differences(
    package: Package, entries: dict[str, FileEntry], directories: set[str]
) -> list[FileDifference]:
    """Compare the files that an rpm package lists with the image's files.

    A listed path with no entry (and no child entries) is `missing`. A regular file is
    `changed` when its SHA-256 digest differs from a recorded SHA-256 digest, or its size
    differs, and a regular file or directory when its permission bits differ. Config files are
    reported only when missing.

    Files that rpm did not install (`not_installed_files`: `%ghost` files, documentation left
    out by `tsflags=nodocs`) are skipped, as `rpm --verify` skips them.

    NOTE: rpm databases that record MD5 or SHA-1 digests (RHEL 6 and older) are compared by
    size and mode only, because the analysis computes SHA-256 alone.
    """
    metadata = package.metadata
    algorithm = metadata.get("file_digest_algorithm")
    columns = [metadata.get(key) for key in ("file_digests", "file_modes", "file_sizes")]
    digests, modes, sizes = (
        column if isinstance(column, list) and len(column) == len(package.files) else None
        for column in columns
    )
    config_files = set(metadata.get("config_files") or [])
    not_installed = set(metadata.get("not_installed_files") or [])

    found = []
    for index, path in enumerate(package.files):
        if path in not_installed:
            continue
        entry = entries.get(path)
        if entry is None and path in directories:
            continue
        if entry is not None and path in config_files:
            continue
        expected_digest = digests[index] if digests else None
        expected_mode = modes[index] if modes else None
        expected_size = sizes[index] if sizes else None
        if entry is not None and not _rpm_file_changed(
            entry, algorithm, expected_digest, expected_mode, expected_size
        ):
            continue
        status = "missing" if entry is None else "changed"
        cause = PackageFileCause(
            path=path,
            status=status,
            digest_algorithm=algorithm,
            expected_digest=expected_digest or None,
            real_digest=entry.sha256 if entry is not None and algorithm == "sha256" else None,
            expected_mode=expected_mode & 0o7777 if expected_mode is not None else None,
            real_path=entry.path if entry is not None else None,
            layer_digest=entry.layer_digest if entry is not None else None,
        )
        found.append(FileDifference(path, status, cause))
    return found


def _rpm_file_changed(
    entry: FileEntry,
    algorithm: object,
    digest: str | None,
    mode: int | None,
    size: int | None,
) -> bool:
    is_file = entry.type in (FileType.FILE, FileType.HARDLINK)
    digest_known = is_file and bool(digest) and algorithm == "sha256" and bool(entry.sha256)
    if digest_known and entry.sha256 != (digest or "").lower():
        return True
    # rpm modes include the file type bits, and the analysis keeps only the permission bits.
    mode_known = (is_file or entry.type is FileType.DIR) and bool(mode) and bool(entry.mode)
    if mode_known and (mode or 0) & 0o7777 != entry.mode & 0o7777:
        return True
    return bool(is_file and size and entry.size and size != entry.size)


def _evaluate_blacklist(context: TriggerContext, params: ParamValues) -> list[Firing]:
    name = params.text("name")
    version = params.text("version")
    firings = []
    for package in os_packages(context.facts):
        if package.name != name:
            continue
        if version:
            if package.version == version:
                firings.append(
                    Firing(
                        f"Package is blacklisted: {package.name}-{package.version}",
                        causes=(package_cause(package),),
                    )
                )
        else:
            firings.append(
                Firing(f"Package is blacklisted: {package.name}", causes=(package_cause(package),))
            )
    return firings


GATE = GateSpec(
    name="packages",
    description="Checks on the distro packages installed in the image.",
    triggers=(
        TriggerSpec(
            name="required_package",
            description=(
                "Fires when the named package is not installed, or is installed at another "
                "version (exact) or at a lower version (minimum) than the given one."
            ),
            evaluate=_evaluate_required_package,
            params=(
                ParamSpec(
                    name="name",
                    type=ParamType.STRING,
                    description="Name of the package that must be installed.",
                    example="libssl",
                    required=True,
                ),
                ParamSpec(
                    name="version",
                    type=ParamType.STRING,
                    description="Full version that the package must have, release included.",
                    example="1.10.3rc3",
                ),
                ParamSpec(
                    name="version_match_type",
                    type=ParamType.ENUM,
                    description=(
                        "How to compare `version`: `exact` equality, or `minimum` ordering in "
                        "the distro's version scheme."
                    ),
                    example="exact",
                    default="exact",
                    choices=("exact", "minimum"),
                ),
            ),
        ),
        TriggerSpec(
            name="verify",
            description=(
                "Fires for each file of a package whose content or mode differs from the "
                "package database (`changed`) or that is gone (`missing`)."
            ),
            evaluate=_evaluate_verify,
            params=(
                ParamSpec(
                    name="only_packages",
                    type=ParamType.CSV,
                    description="Names of the packages to verify; all packages when omitted.",
                    example="libssl,openssl",
                ),
                ParamSpec(
                    name="only_directories",
                    type=ParamType.CSV,
                    description="Path prefixes of the files to verify; all files when omitted.",
                    example="/usr,/var/lib",
                ),
                ParamSpec(
                    name="check",
                    type=ParamType.ENUM,
                    description="Kind of difference to report; both kinds when omitted.",
                    example="changed",
                    choices=("changed", "missing"),
                ),
            ),
        ),
        TriggerSpec(
            name="blacklist",
            description=(
                "Fires for each installed package with the given name, and version if given."
            ),
            evaluate=_evaluate_blacklist,
            params=(
                ParamSpec(
                    name="name",
                    type=ParamType.STRING,
                    description="Name of the package to deny.",
                    example="openssh-server",
                    required=True,
                ),
                ParamSpec(
                    name="version",
                    type=ParamType.STRING,
                    description="Exact version of the package to deny; any version when omitted.",
                    example="1.0.1",
                ),
            ),
        ),
    ),
)
