"""The `licenses` gate: checks on the licenses of the distro packages in an image."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.analysis.interface import Package
from chalicelib.policy.explain import package_cause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec
from chalicelib.policy.gates.packages import os_packages
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues


def _license_tokens(context: TriggerContext) -> list[tuple[Package, str]]:
    # Anchore splits the space-joined license string into tokens, so `GPL-2.0 OR MIT` gives
    # three tokens, and compares each token alone.
    return [
        (package, token)
        for package in os_packages(context.facts)
        for token in " ".join(package.licenses).split()
    ]


def _license_evaluator(
    tag: str, count_matches: Callable[[str, list[str]], int]
) -> Callable[[TriggerContext, ParamValues], list[Firing]]:
    """Build a trigger that lists each package token `count_matches` times in one firing."""

    def evaluate(context: TriggerContext, params: ParamValues) -> list[Firing]:
        denied = params.items("licenses") or []
        found = [
            (package, token)
            for package, token in _license_tokens(context)
            for _ in range(count_matches(token, denied))
        ]
        if not found:
            return []
        listed = ", ".join(f"{package.name}({token})" for package, token in found)
        # One cause per package, however many of its tokens are listed.
        packages = {id(package): package for package, _ in found}.values()
        return [
            Firing(
                f"{tag} Packages are installed that have blacklisted licenses: {listed}",
                causes=tuple(package_cause(package) for package in packages),
            )
        ]

    return evaluate


def _licenses_param(description: str, example: str) -> ParamSpec:
    return ParamSpec(
        name="licenses",
        type=ParamType.CSV,
        description=description,
        example=example,
        required=True,
    )


GATE = GateSpec(
    name="licenses",
    description="Checks on the licenses of the distro packages installed in the image.",
    triggers=(
        TriggerSpec(
            name="blacklist_exact_match",
            description=(
                "Fires once, listing every package with a license token equal to a listed one."
            ),
            evaluate=_license_evaluator("LICFULLMATCH", lambda token, denied: int(token in denied)),
            params=(_licenses_param("License names to deny.", "GPLv2+,GPL-3+,BSD-2-clause"),),
        ),
        TriggerSpec(
            name="blacklist_partial_match",
            description=(
                "Fires once, listing every package with a license token that contains a listed "
                "string."
            ),
            # As in Anchore, a token that contains two listed strings is listed twice.
            evaluate=_license_evaluator(
                "LICSUBMATCH", lambda token, denied: sum(listed in token for listed in denied)
            ),
            params=(_licenses_param("Substrings of license names to deny.", "LGPL,BSD"),),
        ),
    ),
)
