"""The `files` gate: checks on file names, attributes and content matches in an image."""

from __future__ import annotations

import stat

from chalicelib.analysis.interface import FileEntry
from chalicelib.policy.explain import FileCause, file_cause, find_file
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec, compile_pattern
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues


def _evaluate_content_regex_match(context: TriggerContext, params: ParamValues) -> list[Firing]:
    wanted = params.text("regex_name")
    firings = []
    for match in context.facts.content_matches:
        named_regex = f"{match.name}={match.regex}"
        # Anchore accepts the regex name, the regex itself, or both as NAME=regex.
        if wanted and wanted not in (match.name, match.regex, named_regex):
            continue
        firings.append(
            Firing(
                "File content analyzer found regexp match in container: "
                f"file={match.path} regexp={named_regex}",
                causes=(file_cause(context.facts, match.path, tuple(match.lines)),),
            )
        )
    return firings


def _evaluate_name_match(context: TriggerContext, params: ParamValues) -> list[Firing]:
    regex = params.text("regex") or ""
    pattern = compile_pattern(regex, "regex")
    return [
        Firing(
            "Application of regex matched file found in container: "
            f"file={entry.path} regexp={regex}",
            causes=(FileCause(entry.path, entry.layer_digest),),
        )
        for entry in context.facts.analysis.files
        if pattern.match(entry.path)
    ]


def _evaluate_attribute_match(context: TriggerContext, params: ParamValues) -> list[Firing]:
    filename = params.text("filename") or ""
    checksum = params.text("checksum")
    checksum_op = params.text("checksum_match") or "equals"
    mode = params.text("mode")
    mode_op = params.text("mode_op") or "equals"
    skip_missing = params.flag("skip_missing")

    entry: FileEntry | None = find_file(context.facts, filename)
    details = []
    if entry is None:
        if skip_missing is None or skip_missing:
            return []
        details.append("skip_missing=False")
    else:
        # Each given check must hold for the trigger to fire.
        if checksum:
            if (entry.sha256 == checksum) != (checksum_op == "equals"):
                return []
            details.append(
                f"checksum={entry.sha256} op={checksum_op} specified_checksum={checksum}"
            )
        if mode:
            file_mode = oct(stat.S_IMODE(entry.mode))
            wanted_mode = oct(int(mode, 8))
            if (file_mode == wanted_mode) != (mode_op == "equals"):
                return []
            details.append(f"mode={file_mode} op={mode_op} specified_mode={wanted_mode}")
    if not details:
        return []
    causes = (FileCause(entry.path, entry.layer_digest),) if entry else ()
    return [Firing(" and ".join([f"filename={filename}", *details]), causes=causes)]


def _evaluate_suid(context: TriggerContext, params: ParamValues) -> list[Firing]:
    return [
        Firing(
            f"SUID or SGID found set on file {entry.path}. Mode: {oct(entry.mode)}",
            causes=(FileCause(entry.path, entry.layer_digest),),
        )
        for entry in context.facts.analysis.files
        if entry.mode & (stat.S_ISUID | stat.S_ISGID)
    ]


_MATCH_OPS = ("equals", "not_equals")

GATE = GateSpec(
    name="files",
    description="Checks on the files of the image: names, attributes and content matches.",
    triggers=(
        TriggerSpec(
            name="content_regex_match",
            description=(
                "Fires for each file and named regex that the content search of the analysis "
                "matched, optionally only for one regex."
            ),
            evaluate=_evaluate_content_regex_match,
            params=(
                ParamSpec(
                    name="regex_name",
                    type=ParamType.STRING,
                    description=(
                        "Name or text of a content search regex, or both as NAME=regex; "
                        "all matches when omitted."
                    ),
                    example=".*password.*",
                ),
            ),
        ),
        TriggerSpec(
            name="name_match",
            description=(
                "Fires for each file whose path matches the regular expression from the start."
            ),
            evaluate=_evaluate_name_match,
            params=(
                # Typed as a plain string because Anchore Engine accepted any string,
                # and bundles in use carry values such as `*\.pem`. A pattern that does not
                # compile is reported as an evaluation problem.
                ParamSpec(
                    name="regex",
                    type=ParamType.STRING,
                    description="Regular expression matched against absolute file paths.",
                    example=r".*\.pem",
                    required=True,
                ),
            ),
        ),
        TriggerSpec(
            name="attribute_match",
            description=(
                "Fires once when the file exists and every given checksum and mode check "
                "holds, or when the file is missing and skip_missing is false."
            ),
            evaluate=_evaluate_attribute_match,
            params=(
                ParamSpec(
                    name="filename",
                    type=ParamType.STRING,
                    description="Absolute path of the file to check.",
                    example="/etc/passwd",
                    required=True,
                ),
                ParamSpec(
                    name="checksum_algorithm",
                    type=ParamType.ENUM,
                    description="Algorithm of `checksum`.",
                    example="sha256",
                    default="sha256",
                    choices=("sha256",),
                ),
                ParamSpec(
                    name="checksum",
                    type=ParamType.STRING,
                    description="Hex digest to compare the file content with.",
                    example="832cd0f75b227d13aac82b1f70b7f90191a4186c151f9db50851d209c45ede11",
                ),
                ParamSpec(
                    name="checksum_match",
                    type=ParamType.ENUM,
                    description="Whether the digest must equal `checksum` or differ from it.",
                    example="equals",
                    default="equals",
                    choices=_MATCH_OPS,
                ),
                ParamSpec(
                    name="mode",
                    type=ParamType.STRING,
                    description="Permission bits in octal, compared with the file's.",
                    example="00644",
                    pattern=r"^[0-7]+$",
                    pattern_hint="octal digits such as 00644",
                ),
                ParamSpec(
                    name="mode_op",
                    type=ParamType.ENUM,
                    description="Whether the file mode must equal `mode` or differ from it.",
                    example="equals",
                    default="equals",
                    choices=_MATCH_OPS,
                ),
                ParamSpec(
                    name="skip_missing",
                    type=ParamType.BOOL,
                    description=(
                        "When true, a missing file never fires; when false, it fires whatever "
                        "the other checks."
                    ),
                    example="true",
                    default="true",
                ),
            ),
        ),
        TriggerSpec(
            name="suid_or_guid_set",
            description="Fires for each file with the setuid or setgid bit set.",
            evaluate=_evaluate_suid,
        ),
    ),
)
