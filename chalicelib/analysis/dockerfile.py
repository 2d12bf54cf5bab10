"""The Dockerfile of an image: as supplied by the user, or guessed from the config history."""

from __future__ import annotations

import re
from collections.abc import Iterable

ACTUAL = "Actual"
GUESSED = "Guessed"

INSTRUCTIONS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE FROM HEALTHCHECK LABEL MAINTAINER ONBUILD RUN SHELL "
    "STOPSIGNAL USER VOLUME WORKDIR".split()
)

# The classic builder records metadata steps as `/bin/sh -c #(nop) INSTRUCTION ...` and RUN steps
# as `/bin/sh -c COMMAND`; Windows images use `cmd /S /C` in the same way.
_NOP = re.compile(r"^(?:/bin/sh -c|cmd /S /C) #\(nop\)\s*")
_SHELL = re.compile(r"^(?:/bin/sh -c|cmd /S /C) ")
# BuildKit records `RUN |2 A=1 B=2 /bin/sh -c COMMAND # buildkit` when build args are in use.
_BUILD_ARGS = re.compile(r"^\|(\d+) ")
_BUILDKIT_SUFFIX = "# buildkit"


def dockerfile_line(created_by: str) -> str | None:
    """Turn one history `created_by` string into a Dockerfile instruction, or None if empty."""
    text = created_by.strip()
    if text.endswith(_BUILDKIT_SUFFIX):
        text = text[: -len(_BUILDKIT_SUFFIX)].rstrip()
    if not text:
        return None

    nop = _NOP.match(text)
    if nop:
        return text[nop.end() :].strip() or None
    shell = _SHELL.match(text)
    if shell:
        return _continued("RUN " + text[shell.end() :].strip())

    keyword, _, rest = text.partition(" ")
    if keyword.upper() == "RUN":
        return _continued("RUN " + _run_command(rest.strip()))
    if keyword.upper() in INSTRUCTIONS:
        return _continued(text)
    return _continued("RUN " + text)


def _run_command(text: str) -> str:
    """Remove BuildKit's build-arg prefix and shell wrapper from the command of a RUN step."""
    build_args = _BUILD_ARGS.match(text)
    if build_args:
        shell_at = text.find(" /bin/sh -c ")
        if shell_at != -1:
            return text[shell_at + len(" /bin/sh -c ") :].strip()
        # Exec form: drop the N KEY=VALUE words that follow `|N`.
        words = text[build_args.end() :].split(" ")
        return " ".join(words[int(build_args.group(1)) :]).strip()
    shell = _SHELL.match(text)
    return text[shell.end() :].strip() if shell else text


def _continued(line: str) -> str:
    """Join the lines of a multi-line step with backslash continuations."""
    return " \\\n".join(line.splitlines()) if "\n" in line else line


def guess_dockerfile(history: Iterable[dict]) -> str:
    """Rebuild a Dockerfile from the `history` of an image config, oldest step first.

    The result starts with `FROM scratch` because history does not name the base image, as
    Anchore's guessed Dockerfiles do.
    """
    lines = ["FROM scratch"]
    for step in history:
        line = dockerfile_line(str(step.get("created_by") or ""))
        if line is not None:
            lines.append(line)
    return "\n".join(lines) + "\n"
