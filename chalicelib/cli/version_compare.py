"""`plimsoll version-compare SCHEME`: compare version pairs read from standard input."""

from __future__ import annotations

import argparse
import sys

from chalicelib.vulns.interface import InvalidVersionError
from chalicelib.vulns.versions import SCHEMES, get_scheme


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the scheme argument."""
    parser.add_argument("scheme", choices=[scheme.name for scheme in SCHEMES])


def run(args: argparse.Namespace) -> int:
    """Compare each input pair; exit 1 when any line was invalid."""
    scheme = get_scheme(args.scheme)
    failed = False
    for number, line in enumerate(sys.stdin, start=1):
        line = line.removesuffix("\n").removesuffix("\r")
        tabs = line.count("\t")
        if tabs == 0:
            print(f"error: line {number} has no TAB between the two versions: {line!r}")
            failed = True
            continue
        if tabs > 1:
            print(
                f"error: line {number} has {tabs} TABs: {line!r}; a line must be two versions "
                "separated by one TAB"
            )
            failed = True
            continue
        left, _, right = line.partition("\t")
        try:
            print(scheme.compare(left, right))
        except InvalidVersionError as exc:
            print(f"error: line {number}: {exc}")
            failed = True
    return 1 if failed else 0
