"""The `secret_scans` gate: checks on the secret search matches of the analysis."""

from __future__ import annotations

from chalicelib.policy.explain import file_cause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec, compile_pattern
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues

DEFAULT_SECRET_NAMES = ("AWS_ACCESS_KEY", "AWS_SECRET_KEY", "PRIV_KEY", "DOCKER_AUTH", "API_KEY")


def _evaluate_content_regex_checks(context: TriggerContext, params: ParamValues) -> list[Firing]:
    name_filter = params.text("content_regex_name")
    filename_regex = params.text("filename_regex")
    filename_pattern = compile_pattern(filename_regex, "filename_regex") if filename_regex else None
    match_type = params.text("match_type") or "found"

    firings = []
    any_found = False
    for match in context.facts.analysis.secrets:
        if filename_pattern and not filename_pattern.match(match.path):
            continue
        # Like Anchore Engine, test whether the regex name or text is a substring of the
        # parameter, not equal to it, so `AWS_ACCESS_KEY,PRIV_KEY` selects both names.
        if name_filter and match.name not in name_filter and match.regex not in name_filter:
            continue
        any_found = True
        if match_type == "found":
            firings.append(
                Firing(
                    "Secret content search analyzer found regexp match in container: "
                    f"file={match.path} regexp={match.name}={match.regex}",
                    causes=(file_cause(context.facts, match.path, tuple(match.lines)),),
                )
            )
    if match_type == "notfound" and not any_found:
        firings.append(
            Firing(
                "Secret content search analyzer did not find regexp match in container: "
                f"filename_regex={filename_regex or '*'} content_regex_name={name_filter or 'all'}"
            )
        )
    return firings


GATE = GateSpec(
    name="secret_scans",
    description="Checks on the secrets that the analysis found with its named regexes.",
    triggers=(
        TriggerSpec(
            name="content_regex_checks",
            description=(
                "With match_type=found, fires for each file and secret regex that matched; "
                "with notfound, fires once when nothing matched. Both filters narrow the matches."
            ),
            evaluate=_evaluate_content_regex_checks,
            params=(
                ParamSpec(
                    name="content_regex_name",
                    type=ParamType.STRING,
                    description=(
                        "Name of the secret regex to consider, one of "
                        f"{', '.join(DEFAULT_SECRET_NAMES)} by default; all when omitted."
                    ),
                    example=DEFAULT_SECRET_NAMES[0],
                ),
                ParamSpec(
                    name="filename_regex",
                    type=ParamType.REGEX,
                    description="Regular expression that the file path must match from the start.",
                    example="/etc/.*",
                ),
                ParamSpec(
                    name="match_type",
                    type=ParamType.ENUM,
                    description="Whether to fire on matches found or on no match found.",
                    example="found",
                    default="found",
                    choices=("notfound", "found"),
                ),
            ),
        ),
    ),
)
