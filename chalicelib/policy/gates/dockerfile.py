"""The `dockerfile` gate: checks on the Dockerfile the image was built from.

The Dockerfile is the one the user supplied when adding the image (`dockerfile_mode` `Actual`)
or, failing that, one reconstructed from the image history (`Guessed`). It is parsed once per
evaluation into lines grouped by directive.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable

from chalicelib.policy.explain import DockerfileCause
from chalicelib.policy.gate import (
    Firing,
    GateSpec,
    TriggerContext,
    TriggerSpec,
    compile_pattern,
)
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues, split_csv

logger = logging.getLogger(__name__)

DIRECTIVES = (
    "ADD",
    "ARG",
    "COPY",
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "USER",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "VOLUME",
    "WORKDIR",
)

_NOP_COMMAND = re.compile(r"^/bin/sh -c #\(nop\) +(.*)", re.DOTALL)
_DIRECTIVE_COMMAND = re.compile(r"^(%s)\s" % "|".join(DIRECTIVES))
_BUILDKIT_SUFFIX = re.compile(r"\s*# buildkit$")
_EXPOSE_MAP = re.compile(r"^EXPOSE map\[(.*)\]$")


def _history_commands(history: list[dict]) -> list[tuple[str, bool]]:
    """Return the Dockerfile line of each history entry with a command, and whether the entry
    created a layer."""
    commands = []
    for entry in history:
        created_by = entry.get("created_by") or entry.get("CreatedBy") or ""
        # A heredoc keeps newlines in the command; one history entry must stay one line.
        created_by = " ".join(created_by.splitlines()).strip()
        empty_layer = bool(entry.get("empty_layer") or entry.get("EmptyLayer"))
        if not created_by:
            commands.append(("", not empty_layer))
            continue
        nop = _NOP_COMMAND.match(created_by)
        if nop:
            command = nop.group(1).strip()
        elif _DIRECTIVE_COMMAND.match(created_by):
            command = _BUILDKIT_SUFFIX.sub("", created_by)
        else:
            command = "RUN " + created_by
        exposed = _EXPOSE_MAP.match(command)
        if exposed:
            ports = [port.removesuffix(":{}") for port in exposed.group(1).split()]
            command = "EXPOSE " + " ".join(ports)
        commands.append((command, not empty_layer))
    return commands


def infer_dockerfile(history: list[dict]) -> str:
    """Reconstruct Dockerfile text from the `history` entries of an image config.

    Anchore's rule: start from `FROM scratch`, take the command of a `#(nop)` entry as written,
    and turn any other shell command into a `RUN` line. Commands that BuildKit records with
    their directive (`USER app`, `EXPOSE map[80/tcp:{}]`) are kept as directives too, and the
    port map of `EXPOSE` is written as the port list a Dockerfile uses.
    """
    commands = [command for command, _ in _history_commands(history) if command]
    return "\n".join(["FROM scratch", *commands]) + "\n"


def infer_layer_digests(history: list[dict], layer_digests: list[str]) -> list[str | None]:
    """Return the layer of each line of `infer_dockerfile(history)`, None where it made none.

    History entries that are not marked `empty_layer` created the image's layers in order.
    """
    remaining = iter(layer_digests)
    line_layers: list[str | None] = [None]
    for command, created_layer in _history_commands(history):
        layer = next(remaining, None) if created_layer else None
        if command:
            line_layers.append(layer)
    return line_layers


@dataclasses.dataclass(frozen=True)
class DockerfileLine:
    """One instruction of a Dockerfile."""

    number: int
    """One-based number of the instruction's first line in the text."""
    text: str
    """The instruction, continuation lines joined (`RUN apt-get update`)."""
    layer_digest: str | None = None


def parse_dockerfile_lines(
    text: str, line_layers: list[str | None] | None = None
) -> dict[str, list[DockerfileLine]]:
    """Group the instructions of a Dockerfile by upper-case directive, with line numbers.

    Blank lines and comments are skipped, and a line ending in a backslash continues on the
    next line. `line_layers`, indexed by line number minus one, gives each instruction's layer.
    """
    directives: dict[str, list[DockerfileLine]] = {}
    buffer = ""
    start = 0
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if not buffer:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1]
            continue
        buffer += line
        directive = buffer.split(" ", 1)[0].upper()
        layer = None
        if line_layers is not None and start - 1 < len(line_layers):
            layer = line_layers[start - 1]
        directives.setdefault(directive, []).append(DockerfileLine(start, buffer, layer))
        buffer = ""
    return directives


def parse_dockerfile(text: str) -> dict[str, list[str]]:
    """Group the instructions of a Dockerfile by upper-case directive.

    Each entry is the whole instruction line (`RUN apt-get update`). Blank lines and comments
    are skipped, and a line ending in a backslash continues on the next line.
    """
    return {
        directive: [line.text for line in lines]
        for directive, lines in parse_dockerfile_lines(text).items()
    }


@dataclasses.dataclass(frozen=True)
class _Dockerfile:
    mode: str
    directives: dict[str, list[DockerfileLine]]

    def get(self, directive: str) -> list[DockerfileLine]:
        return self.directives.get(directive, [])

    def cause(self, line: DockerfileLine | None = None) -> DockerfileCause:
        if line is None:
            return DockerfileCause(mode=self.mode)
        return DockerfileCause(self.mode, line.number, line.text, line.layer_digest)


def _load_dockerfile(facts: ImageFacts) -> _Dockerfile | None:
    mode = facts.analysis.dockerfile_mode
    if not mode or mode.lower() == "unknown":
        return None
    text = facts.analysis.dockerfile
    line_layers = None
    if text is None:
        text = infer_dockerfile(facts.analysis.history)
        layers = [layer.digest for layer in facts.analysis.layers]
        line_layers = infer_layer_digests(facts.analysis.history, layers)
    directives = parse_dockerfile_lines(text, line_layers)
    # As in Anchore, a Dockerfile without instructions gives the triggers nothing to check.
    return _Dockerfile(mode, directives) if directives else None


def _is_actual(facts: ImageFacts) -> bool:
    mode = facts.analysis.dockerfile_mode
    return bool(mode) and mode.lower() == "actual"


def _dockerfile_for(context: TriggerContext, params: ParamValues) -> _Dockerfile | None:
    if params.flag("actual_dockerfile_only") and not _is_actual(context.facts):
        return None
    return context.cached("dockerfile", _load_dockerfile)


def _matches_like(line: str, pattern: str) -> bool:
    return bool(compile_pattern(pattern, "value").match(line))


def _listed(line: str, values: str) -> bool:
    return line in split_csv(values)


_CHECKS: dict[str, Callable[[str, str], bool]] = {
    "=": lambda line, value: line == value,
    "!=": lambda line, value: line != value,
    "like": _matches_like,
    "not_like": lambda line, value: not _matches_like(line, value),
    "in": _listed,
    "not_in": lambda line, value: not _listed(line, value),
}


def _evaluate_instruction(context: TriggerContext, params: ParamValues) -> list[Firing]:
    directive = params.text("instruction") or ""
    check = params.text("check") or ""
    value = params.text("value")
    # A check that compares against a value does nothing without one, as in Anchore.
    if check in _CHECKS and value is None:
        return []
    dockerfile = _dockerfile_for(context, params)
    if dockerfile is None:
        return []

    firings = []
    for line in dockerfile.get(directive):
        argument = line.text[len(directive) :].strip()
        if check == "exists" or (check in _CHECKS and _CHECKS[check](argument, value or "")):
            firings.append(
                Firing(
                    f"Dockerfile directive '{directive}' check '{check}' matched against "
                    f"'{value or ''}' for line '{argument}'",
                    causes=(dockerfile.cause(line),),
                )
            )
    if check == "not_exists" and not dockerfile.get(directive):
        firings.append(
            Firing(
                f"Dockerfile directive '{directive}' not found, matching condition '{check}' check",
                causes=(dockerfile.cause(),),
            )
        )
    return firings


_USER_LINE = re.compile(r"\s*USER\s+\[?([^\]]+)\]?\s*")


def _evaluate_effective_user(context: TriggerContext, params: ParamValues) -> list[Firing]:
    dockerfile = context.cached("dockerfile", _load_dockerfile)
    if dockerfile is None:
        return []
    users = params.items("users") or []
    allowed = (params.text("type") or "").lower() == "whitelist"

    user_lines = dockerfile.get("USER")
    # Without a USER instruction the user is root, and the cause is the Dockerfile as a whole.
    last = user_lines[-1] if user_lines else None
    last_line = last.text.strip() if last else "USER root"
    match = _USER_LINE.search(last_line)
    if not match:
        logger.warning("USER line %r of the Dockerfile has no user name; skipping", last_line)
        return []
    user = match.group(1)
    causes = (dockerfile.cause(last),)

    if allowed and user not in users:
        return [
            Firing(
                f"User {user} found as effective user, which is not on the allowed list",
                causes=causes,
            )
        ]
    if not allowed and user in users:
        # The misspelling is Anchore's: the message feeds the trigger id that whitelists match.
        return [
            Firing(
                f"User {user} found as effective user, which is explicity not allowed",
                causes=causes,
            )
        ]
    return []


_EXPOSE_LINE = re.compile(r"^\s*(EXPOSE|expose)\s+(.*)")


def _exposed_ports(dockerfile: _Dockerfile) -> list[tuple[DockerfileLine, list[str]]]:
    ports = []
    for line in dockerfile.get("EXPOSE"):
        match = _EXPOSE_LINE.match(line.text.strip())
        if match and match.group(2):
            ports.append((line, match.group(2).split()))
    return ports


def _evaluate_exposed_ports(context: TriggerContext, params: ParamValues) -> list[Firing]:
    dockerfile = _dockerfile_for(context, params)
    if dockerfile is None:
        return []
    # Port 0 is an ordinary port number here. Anchore Engine documented it as "any
    # port", but its comparison never matched, so bundles relying on it saw no firings.
    listed = [str(port) for port in params.integers("ports") or []]
    allowed = (params.text("type") or "").lower() == "whitelist"

    firings = []
    for line, exposed in _exposed_ports(dockerfile):
        causes = (dockerfile.cause(line),)
        if allowed:
            accepted = {form for port in listed for form in (port, f"{port}/tcp", f"{port}/udp")}
            for token in exposed:
                if token not in accepted:
                    firings.append(
                        Firing(
                            f"Dockerfile exposes port ({token}) which is not in policy file "
                            "ALLOWEDPORTS list",
                            causes=causes,
                        )
                    )
            continue
        for port in listed:
            for form in (port, f"{port}/tcp", f"{port}/udp"):
                if form in exposed:
                    firings.append(
                        Firing(
                            f"Dockerfile exposes port ({form}) which is in policy file "
                            "DENIEDPORTS list",
                            causes=causes,
                        )
                    )
                    break
    return firings


def _evaluate_no_dockerfile(context: TriggerContext, params: ParamValues) -> list[Firing]:
    if _is_actual(context.facts):
        return []
    mode = context.facts.analysis.dockerfile_mode or "Unknown"
    return [
        Firing("Image was not analyzed with an actual Dockerfile", causes=(DockerfileCause(mode),))
    ]


_ACTUAL_ONLY = ParamSpec(
    name="actual_dockerfile_only",
    type=ParamType.BOOL,
    description=(
        "When true, evaluate only a Dockerfile supplied with the image, and skip one "
        "reconstructed from the image history."
    ),
    example="true",
    default="false",
)

_LIST_TYPE = ("whitelist", "blacklist")

GATE = GateSpec(
    name="dockerfile",
    description=(
        "Checks on the Dockerfile supplied with the image, or on a Dockerfile reconstructed "
        "from the image history when none was supplied."
    ),
    triggers=(
        TriggerSpec(
            name="instruction",
            description=(
                "Fires for each line of the chosen instruction that passes the check; "
                "`not_exists` fires once when the instruction is absent."
            ),
            evaluate=_evaluate_instruction,
            params=(
                ParamSpec(
                    name="instruction",
                    type=ParamType.ENUM,
                    description="Dockerfile instruction to check.",
                    example="HEALTHCHECK",
                    required=True,
                    choices=DIRECTIVES,
                ),
                ParamSpec(
                    name="check",
                    type=ParamType.ENUM,
                    description=(
                        "Comparison of the instruction arguments with `value`: `like` and "
                        "`not_like` match a regular expression from the start, `in` and "
                        "`not_in` take a comma-separated list."
                    ),
                    example="=",
                    required=True,
                    choices=("=", "!=", "exists", "not_exists", "like", "not_like", "in", "not_in"),
                ),
                ParamSpec(
                    name="value",
                    type=ParamType.STRING,
                    description=(
                        "Value to compare the instruction arguments with; every check except "
                        "`exists` and `not_exists` needs it, and does nothing without it."
                    ),
                    example="scratch",
                ),
                _ACTUAL_ONLY,
            ),
        ),
        TriggerSpec(
            name="effective_user",
            description=(
                "Checks the user of the last USER instruction (root when there is none) "
                "against a list of allowed or denied user names."
            ),
            evaluate=_evaluate_effective_user,
            params=(
                ParamSpec(
                    name="users",
                    type=ParamType.CSV,
                    description="User names to compare with the effective user.",
                    example="root,docker",
                    required=True,
                ),
                ParamSpec(
                    name="type",
                    type=ParamType.ENUM,
                    description=(
                        "`whitelist` fires when the effective user is not listed, `blacklist` "
                        "when it is."
                    ),
                    example="blacklist",
                    required=True,
                    choices=_LIST_TYPE,
                ),
            ),
        ),
        TriggerSpec(
            name="exposed_ports",
            description=(
                "Checks the ports of EXPOSE instructions: with `whitelist` each exposed port "
                "that is not listed fires, with `blacklist` each listed port that is exposed."
            ),
            evaluate=_evaluate_exposed_ports,
            params=(
                ParamSpec(
                    name="ports",
                    type=ParamType.CSV_INT,
                    description="Port numbers; each also matches its /tcp and /udp forms.",
                    example="80,8080,8088",
                    required=True,
                ),
                ParamSpec(
                    name="type",
                    type=ParamType.ENUM,
                    description="Whether the port list is allowed (`whitelist`) or denied.",
                    example="blacklist",
                    required=True,
                    choices=_LIST_TYPE,
                ),
                _ACTUAL_ONLY,
            ),
        ),
        TriggerSpec(
            name="no_dockerfile_provided",
            description="Fires when the image was analyzed without a user-supplied Dockerfile.",
            evaluate=_evaluate_no_dockerfile,
        ),
    ),
)
