"""The `plimsoll` command line: one subcommand per module, listed in `SUBCOMMANDS`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

from chalicelib.cli import analyze, version_compare

SUBCOMMANDS: tuple[ModuleType, ...] = (analyze, version_compare)
"""Each module has `NAME`, `HELP`, `add_arguments(parser)` and `run(args) -> int`."""


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every subcommand of `SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="plimsoll", description="Container image analysis and compliance."
    )
    parser.add_argument(
        "--log-level", default="WARNING", help="log level on standard error (default: WARNING)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        runner: Callable[[argparse.Namespace], int] = module.run
        sub.set_defaults(run=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named on the command line and return its exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
