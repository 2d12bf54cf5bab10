"""The error type of the image builder and the one way it runs external programs."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)


class ImageBuildError(Exception):
    """A package could not be fetched or unpacked, or an image could not be written or pushed."""


def run_tool(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `command`, returning its completed process with captured text output.

    `env` entries are added to the current environment. Raises `ImageBuildError` naming the
    command and the end of its error output when the program is missing or exits non-zero.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    logger.debug("running %s", " ".join(command))
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as error:
        raise ImageBuildError(
            f"{command[0]} not found: install it (tools/install-test-deps.sh does) and retry"
        ) from error
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip()[-2000:]
        raise ImageBuildError(
            f"{' '.join(command)} failed with exit status {completed.returncode}: {tail}"
        )
    return completed


def run_tool_bytes(command: Sequence[str]) -> bytes:
    """Run `command` and return its standard output as bytes; errors as for `run_tool`."""
    logger.debug("running %s", " ".join(command))
    try:
        completed = subprocess.run(
            list(command), capture_output=True, check=False, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError as error:
        raise ImageBuildError(f"{command[0]} not found: install it and retry") from error
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace").strip()[-2000:]
        raise ImageBuildError(
            f"{' '.join(command)} failed with exit status {completed.returncode}: {tail}"
        )
    return completed.stdout
