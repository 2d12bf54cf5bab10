"""Command line of the image builder: fetch packages, build an image, push a layout."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from tools.imagebuild.dpkg import DpkgDatabase
from tools.imagebuild.errors import ImageBuildError
from tools.imagebuild.fetch import DEFAULT_CACHE_DIR, fetch_debs, fetch_npm, fetch_wheels
from tools.imagebuild.image import ImageBuilder, push, run_step
from tools.imagebuild.npm import install_npm_packages
from tools.imagebuild.wheel import install_wheels

logger = logging.getLogger("tools.imagebuild")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with `argv` (default: `sys.argv[1:]`); return the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        args.run(args)
    except ImageBuildError as error:
        logger.error("error: %s", error)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.imagebuild",
        description="Build container images from real Debian, PyPI and npm packages "
        "without a Docker daemon.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch", help="download packages into the cache")
    _add_package_options(fetch)
    fetch.set_defaults(run=_run_fetch)

    build = commands.add_parser(
        "build", help="build an image with one layer per kind of package (debs, wheels, npm)"
    )
    build.add_argument(
        "output",
        type=Path,
        help="OCI layout directory, or archive file with --format docker-archive",
    )
    build.add_argument(
        "--tag",
        default="latest",
        help="tag in the layout, or repository:tag of the archive (default: latest)",
    )
    build.add_argument(
        "--format",
        choices=["oci", "docker-archive"],
        default="oci",
        help="output format (default: oci)",
    )
    build.add_argument(
        "--compression",
        choices=["gzip", "none"],
        default="gzip",
        help="layer compression in an OCI layout (default: gzip)",
    )
    build.add_argument(
        "--node-modules",
        default="/usr/lib/node_modules",
        help="directory the npm packages go into (default: /usr/lib/node_modules)",
    )
    build.add_argument(
        "--expose",
        type=int,
        action="append",
        default=[],
        metavar="PORT",
        help="TCP port to declare as exposed; repeat for more",
    )
    build.add_argument("--user", help="user the container runs as")
    build.add_argument(
        "--cmd",
        help="default command: a JSON array, or a string split as a shell would split it",
    )
    _add_package_options(build)
    build.set_defaults(run=_run_build)

    push_command = commands.add_parser("push", help="copy an image of an OCI layout to a registry")
    push_command.add_argument("layout", type=Path, help="OCI layout directory")
    push_command.add_argument("tag", help="tag of the image in the layout")
    push_command.add_argument("reference", help="destination, for example 127.0.0.1:5000/demo:1")
    push_command.add_argument(
        "--creds", metavar="USER:PASSWORD", help="credentials for the destination registry"
    )
    push_command.set_defaults(run=_run_push)
    return parser


def _add_package_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--deb",
        action="append",
        default=[],
        metavar="NAME[=VERSION]",
        help="Debian package from this machine's apt sources; repeat for more",
    )
    parser.add_argument(
        "--wheel",
        action="append",
        default=[],
        metavar="REQUIREMENT",
        help="wheel from PyPI, such as requests==2.19.1; repeat for more",
    )
    parser.add_argument(
        "--npm",
        action="append",
        default=[],
        metavar="NAME@VERSION",
        help="npm package, such as lodash@4.17.4; repeat for more",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        help=f"package cache directory (default: {DEFAULT_CACHE_DIR})",
    )


def _run_fetch(args: argparse.Namespace) -> None:
    paths = fetch_debs(args.deb, args.cache_dir) if args.deb else []
    paths += fetch_wheels(args.wheel, args.cache_dir) if args.wheel else []
    paths += fetch_npm(args.npm, args.cache_dir) if args.npm else []
    for path in paths:
        print(path)


def _run_build(args: argparse.Namespace) -> None:
    builder = ImageBuilder()
    if args.deb:
        DpkgDatabase().install(builder.add_layer(), fetch_debs(args.deb, args.cache_dir))
    if args.wheel:
        layer = builder.add_layer(run_step("pip install --no-deps " + " ".join(args.wheel)))
        install_wheels(layer, fetch_wheels(args.wheel, args.cache_dir))
    if args.npm:
        layer = builder.add_layer(run_step("npm install --global " + " ".join(args.npm)))
        install_npm_packages(layer, fetch_npm(args.npm, args.cache_dir), args.node_modules)
    for port in args.expose:
        builder.expose(port)
    if args.user:
        builder.user(args.user)
    if args.cmd:
        builder.cmd(_command_arguments(args.cmd))
    if not builder.layers:
        raise ImageBuildError("no packages given; pass --deb, --wheel or --npm")

    if args.format == "oci":
        image = builder.write_oci_layout(args.output, args.tag, args.compression)
        print(image.manifest_digest)
    else:
        image = builder.write_docker_archive(args.output, args.tag)
        print(image.config_digest)


def _command_arguments(text: str) -> list[str]:
    if not text.lstrip().startswith("["):
        return shlex.split(text)
    try:
        arguments = json.loads(text)
    except ValueError as error:
        raise ImageBuildError(f"--cmd {text!r} is not a valid JSON array") from error
    if not isinstance(arguments, list) or not all(isinstance(item, str) for item in arguments):
        raise ImageBuildError(f"--cmd {text!r} must be a JSON array of strings")
    return arguments


def _run_push(args: argparse.Namespace) -> None:
    push(args.layout, args.tag, args.reference, args.creds)


if __name__ == "__main__":
    sys.exit(main())
