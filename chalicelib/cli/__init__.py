"""The `plimsoll` command line: one subcommand per module, listed in `SUBCOMMANDS`.

A subcommand's module is imported only when that subcommand runs, so `plimsoll analyze` does not
load the vulnerability matcher that `version-compare` needs.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType


@dataclasses.dataclass(frozen=True)
class Subcommand:
    """One subcommand: its name, the module that implements it, and its one-line help."""

    name: str
    module: str
    """Dotted module name; the module has `add_arguments(parser)` and `run(args) -> int`."""
    help: str

    def load(self) -> ModuleType:
        """Import and return the module of the subcommand."""
        return importlib.import_module(self.module)


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

INTERRUPTED_STATUS = 130
"""Exit status after Ctrl-C: 128 plus SIGINT (2), as shells report a command that SIGINT ended."""

SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "analyze",
        "chalicelib.cli.analyze",
        "analyze an image or a directory in this process and print its packages as a table, "
        "the analysis document or an SBOM",
    ),
    Subcommand(
        "version-compare",
        "chalicelib.cli.version_compare",
        "read lines 'A<TAB>B' on standard input and print the sign of compare(A, B) per line "
        "(-1, 0 or 1), or an error line naming the invalid version",
    ),
)


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser with every subcommand of `SUBCOMMANDS`.

    Only the modules of the subcommands named in `commands` (all when None) are imported and
    add their arguments. Any other subcommand is listed in the help but accepts no arguments.
    """
    loaded = {subcommand.name for subcommand in SUBCOMMANDS} if commands is None else set(commands)
    parser = argparse.ArgumentParser(
        prog="plimsoll", description="Container image analysis and compliance."
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=LOG_LEVELS,
        help="log level on standard error, in any case (default: WARNING)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for subcommand in SUBCOMMANDS:
        sub = subparsers.add_parser(
            subcommand.name, help=subcommand.help, description=subcommand.help
        )
        if subcommand.name not in loaded:
            continue
        module = subcommand.load()
        module.add_arguments(sub)
        runner: Callable[[argparse.Namespace], int] = module.run
        sub.set_defaults(run=runner)
    return parser


def requested_command(argv: Sequence[str]) -> str | None:
    """Return the subcommand that `argv` names, or None when it names no known subcommand.

    The first argument that is neither an option nor the value of `--log-level` is taken as the
    subcommand. An abbreviated `--log-level` hides the subcommand, so every module is loaded.
    """
    names = {subcommand.name for subcommand in SUBCOMMANDS}
    tokens = iter(argv)
    for token in tokens:
        if token == "--log-level":
            next(tokens, None)
        elif not token.startswith("-"):
            return token if token in names else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named on the command line and return its exit code.

    Ctrl-C ends the run with one line on standard error and status 130, not a traceback.
    """
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        print("plimsoll: interrupted", file=sys.stderr)
        return INTERRUPTED_STATUS


def _run(arguments: list[str]) -> int:
    command = requested_command(arguments)
    args = build_parser(None if command is None else (command,)).parse_args(arguments)
    level = args.log_level
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if logging.getLevelNamesMapping()[level] > logging.DEBUG:
        # urllib3 warns of each connection retry. The error after the last retry contains what
        # a user needs, so the warnings show only with --log-level DEBUG.
        logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
