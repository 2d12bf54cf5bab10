"""The `packages` gate: checks on the distro (OS) packages installed in an image."""

from __future__ import annotations

from chalicelib.analysis.interface import Package, PackageType
from chalicelib.policy.explain import package_cause
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
    # TODO: the analysis keeps no per-file digests from the package databases, so there is
    # nothing to verify and this trigger never fires. Once it does, compare digest, mode and
    # size of each listed non-config file, and report `changed` or `missing`.
    return []


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
