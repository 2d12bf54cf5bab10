"""The `retrieved_files` gate: checks on file content that the analysis stored.

The analysis stores the files configured in `AnalysisOptions.retrieved_files` (default
`/etc/passwd`); reports made before that option existed have only `passwd`.
"""

from __future__ import annotations

import base64

from chalicelib.policy.explain import file_cause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec, compile_pattern
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues

PASSWD_PATH = "/etc/passwd"


def retrieved_files(context: TriggerContext) -> dict[str, str]:
    """Return the stored file contents by absolute path, as text."""
    analysis = context.facts.analysis
    files = {
        item.path: base64.b64decode(item.b64_content).decode("utf-8", errors="replace")
        for item in analysis.retrieved_files
    }
    if analysis.passwd is not None:
        files.setdefault(PASSWD_PATH, analysis.passwd)
    return files


def _evaluate_content_not_available(context: TriggerContext, params: ParamValues) -> list[Firing]:
    # Anchore Engine fired this twice when no file at all was stored. It fires once here.
    if params.text("path") in retrieved_files(context):
        return []
    return [Firing("Cannot locate file in the image analysis")]


def _evaluate_content_regex(context: TriggerContext, params: ParamValues) -> list[Firing]:
    path = params.text("path") or ""
    regex = params.text("regex") or ""
    check = params.text("check")
    pattern = compile_pattern(regex, "regex")
    content = retrieved_files(context).get(path)
    if content is None:
        return []
    # Anchore matches the regex against each whitespace-separated token, not each line.
    matched_lines = tuple(
        number
        for number, line in enumerate(content.splitlines(), start=1)
        if any(pattern.match(token) for token in line.split())
    )
    if bool(matched_lines) != (check == "match"):
        return []
    return [
        Firing(
            f"Content regex '{regex}' check '{check}' found in retrieved file '{path}'",
            trigger_id=f"{context.rule_id}+file://{path}",
            causes=(file_cause(context.facts, path, matched_lines),),
        )
    ]


_PATH = ParamSpec(
    name="path",
    type=ParamType.STRING,
    description="Absolute path of the stored file.",
    example="/etc/httpd.conf",
    required=True,
)

GATE = GateSpec(
    name="retrieved_files",
    description="Checks on the presence and content of files stored by the analysis.",
    triggers=(
        TriggerSpec(
            name="content_not_available",
            description="Fires when the analysis stored no content for the given path.",
            evaluate=_evaluate_content_not_available,
            params=(_PATH,),
        ),
        TriggerSpec(
            name="content_regex",
            description=(
                "Fires when a token of the stored file matches the regex (check=match) or when "
                "none does (check=no_match). The trigger id is `<rule id>+file://<path>`."
            ),
            evaluate=_evaluate_content_regex,
            params=(
                _PATH,
                ParamSpec(
                    name="regex",
                    type=ParamType.REGEX,
                    description=(
                        "Regular expression matched from the start of each whitespace-separated "
                        "token of the content."
                    ),
                    example=".*SSLEnabled.*",
                    required=True,
                ),
                ParamSpec(
                    name="check",
                    type=ParamType.ENUM,
                    description="Whether to fire when the regex matches or when it does not.",
                    example="match",
                    required=True,
                    choices=("match", "no_match"),
                ),
            ),
        ),
    ),
)
