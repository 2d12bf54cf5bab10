"""The `npms` and `ruby_gems` gates: checks on npm and gem packages against a packages feed.

Plimsoll has no packages feed (the registry metadata of npm and RubyGems that Anchore Engine
could sync), so the triggers that compare with feed data never fire, and `feed_data_unavailable`
always fires. The denylist triggers read the installed packages only and work as in Anchore.
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.analysis.interface import Package
from chalicelib.policy.explain import package_cause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues


def _installed(context: TriggerContext, package_type: str) -> dict[str, list[Package]]:
    installed: dict[str, list[Package]] = {}
    for package in context.facts.analysis.packages:
        if package.type.value == package_type:
            installed.setdefault(package.name, []).append(package)
    return installed


def _denylist_evaluator(
    package_type: str, label: str
) -> Callable[[TriggerContext, ParamValues], list[Firing]]:
    def evaluate(context: TriggerContext, params: ParamValues) -> list[Firing]:
        name = params.text("name") or ""
        version = params.text("version")
        installed = _installed(context, package_type)
        if name not in installed:
            return []
        # One firing per name, however many copies of the package are installed.
        if version is None:
            causes = tuple(package_cause(package) for package in installed[name])
            return [Firing(f"{label} is blacklisted: {name}", causes=causes)]
        copies = [package for package in installed[name] if package.version == version]
        if copies:
            causes = tuple(package_cause(package) for package in copies)
            return [Firing(f"{label} is blacklisted: {name}-{version}", causes=causes)]
        return []

    return evaluate


def _feed_unavailable_evaluator(
    message: str,
) -> Callable[[TriggerContext, ParamValues], list[Firing]]:
    def evaluate(context: TriggerContext, params: ParamValues) -> list[Firing]:
        return [Firing(message)]

    return evaluate


def _feed_trigger(name: str, description: str) -> TriggerSpec:
    return TriggerSpec(name=name, description=f"{description} Needs a packages feed.")


def _denylist_params(kind: str, example: str) -> tuple[ParamSpec, ...]:
    return (
        ParamSpec(
            name="name",
            type=ParamType.STRING,
            description=f"Name of the {kind} to deny.",
            example=example,
            required=True,
        ),
        ParamSpec(
            name="version",
            type=ParamType.STRING,
            description=f"Version of the {kind} to deny; any version when omitted.",
            example="0.2.9",
        ),
    )


NPMS_GATE = GateSpec(
    name="npms",
    description="Checks on the npm packages installed in the image.",
    triggers=(
        _feed_trigger(
            "newer_version_in_feed",
            "Fires for each npm package whose version is not the latest in the feed.",
        ),
        _feed_trigger("unknown_in_feeds", "Fires for each npm package missing from the feed."),
        _feed_trigger(
            "version_not_in_feeds",
            "Fires for each npm package whose version the feed does not list.",
        ),
        TriggerSpec(
            name="blacklisted_name_version",
            description=(
                "Fires when an npm package with the name, and version if given, is installed."
            ),
            evaluate=_denylist_evaluator("npm", "NPM Package"),
            params=_denylist_params("npm package", "time_diff"),
        ),
        TriggerSpec(
            name="feed_data_unavailable",
            description="Fires when the npm group of the packages feed was never synced.",
            evaluate=_feed_unavailable_evaluator(
                "NPM packages are present but the anchore npm feed is not available - will be "
                "unable to perform checks that require feed data"
            ),
        ),
    ),
)

RUBY_GEMS_GATE = GateSpec(
    name="ruby_gems",
    description="Checks on the Ruby gems installed in the image.",
    triggers=(
        _feed_trigger(
            "newer_version_found_in_feed",
            "Fires for each gem whose version is not the latest in the feed.",
        ),
        _feed_trigger("not_found_in_feed", "Fires for each gem missing from the feed."),
        _feed_trigger(
            "version_not_found_in_feed",
            "Fires for each gem whose version the feed does not list.",
        ),
        TriggerSpec(
            name="blacklist",
            description="Fires when a gem with the name, and version if given, is installed.",
            evaluate=_denylist_evaluator("gem", "Gem Package"),
            params=_denylist_params("gem", "time_diff"),
        ),
        TriggerSpec(
            name="feed_data_unavailable",
            description="Fires when the gem group of the packages feed was never synced.",
            evaluate=_feed_unavailable_evaluator(
                "Gem packages are present but the anchore gem feed is not available - will be "
                "unable to perform checks that require feed data"
            ),
        ),
    ),
)
