"""`plimsoll analyze SOURCE`: analyze an image or directory in process and print its packages.

No service, database or queue is involved: the source is read, analyzed and written out in this
process. Output is the analysis document (`json`), a package table (`table`) or an SBOM.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from chalicelib.analysis import (
    AnalysisError,
    AnalysisOptions,
    LayerCache,
    MemoryLayerCache,
    analyze_image,
)
from chalicelib.analysis.interface import AnalysisReport, LayerRef, Package
from chalicelib.analysis.sbom import FORMATS, SbomSubject, write_sbom
from chalicelib.analysis.sbom.syft import PACKAGE_TYPES
from chalicelib.cli.platforms import ALL_PLATFORMS, image_platforms
from chalicelib.cli.sources import SCHEMES, DockerClientFactory, SourceError, open_source
from chalicelib.config import ANALYSIS_LIMITS, AnalysisLimit

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("table", "json", *(sbom_format.name for sbom_format in FORMATS))

_SOURCE_HELP = (
    "the image or directory: "
    + ", ".join(f"{scheme}:..." for scheme in SCHEMES)
    + "; a bare value is read as a path (archive, layout or directory) if it exists, else as a "
    "registry reference"
)


BROKEN_PIPE_STATUS = 141
"""Exit status when the reader of standard output has closed it (`| head`): 128 plus SIGPIPE
(13). A shell reports that status for a `cat` or `grep` that SIGPIPE ended, so `set -o pipefail`
scripts see the same status from plimsoll as from those tools."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add SOURCE, `-o/--output`, `--platform`, `--file` and one option per analysis limit."""
    parser.add_argument("source", metavar="SOURCE", help=_SOURCE_HELP)
    parser.add_argument(
        "-o",
        "--output",
        choices=OUTPUT_FORMATS,
        default="table",
        help="output format (default: table)",
    )
    parser.add_argument(
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="platform of a multi-platform image (default: linux/amd64), or 'all' for one "
        "output per platform; an image of a single platform must be of this platform",
    )
    parser.add_argument(
        "--file",
        metavar="OUT",
        type=Path,
        help="write the output to OUT instead of standard output",
    )
    limits = parser.add_argument_group(
        "analysis limits",
        "limits that stop oversized images: a layer or file over a limit fails the analysis, "
        "or is skipped with a message that names the option",
    )
    for limit in ANALYSIS_LIMITS:
        default = getattr(AnalysisOptions, limit.field)
        limits.add_argument(
            limit.flag,
            metavar=limit.unit.upper(),
            type=_limit_parser(limit),
            help=f"{limit.description}, in {limit.unit} (default: {default})",
        )


def _limit_parser(limit: AnalysisLimit) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            return limit.parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


def analysis_options(args: argparse.Namespace) -> AnalysisOptions:
    """Return the analysis options with the limits given on the command line."""
    limits = {
        limit.field: getattr(args, limit.field)
        for limit in ANALYSIS_LIMITS
        if getattr(args, limit.field, None) is not None
    }
    return AnalysisOptions(**limits)


def run(args: argparse.Namespace, docker_client_factory: DockerClientFactory | None = None) -> int:
    """Analyze SOURCE, write the output and return the exit status.

    Prints an error and returns 1 when the analysis or the write fails. Returns
    `BROKEN_PIPE_STATUS`, with no message, when standard output is a pipe whose reader has
    closed it.
    """
    progress = Progress(sys.stderr, enabled=sys.stderr.isatty())
    if args.platform == ALL_PLATFORMS:
        return _run_all_platforms(args, progress, docker_client_factory)
    try:
        report, subject = analyze_source(
            args.source,
            args.platform,
            progress,
            docker_client_factory,
            options=analysis_options(args),
        )
        output = render(report, subject, args.output)
    except (SourceError, AnalysisError) as error:
        progress.clear()
        print(f"plimsoll analyze: error: {error}", file=sys.stderr)
        return 1
    progress.finish(len(report.packages))
    return _write_reporting_errors(lambda: _write(output, args.file), args.file)


def _write_reporting_errors(write: Callable[[], None], path: Path | None) -> int:
    """Call `write` and return the exit status, printing an error when writing failed."""
    try:
        write()
    except OSError as error:
        if path is not None:
            print(
                f"plimsoll analyze: error: writing {path} failed: {error}; give a writable path",
                file=sys.stderr,
            )
            return 1
        # Python flushes standard output once more at exit, which would fail again and print
        # "Exception ignored ...", so the rest of the output goes to the null device.
        _discard_standard_output()
        if error.errno == errno.EPIPE:
            return BROKEN_PIPE_STATUS
        print(
            f"plimsoll analyze: error: writing to standard output failed: {error}; check "
            "where standard output goes, or write to a file with --file OUT",
            file=sys.stderr,
        )
        return 1
    return 0


def _discard_standard_output() -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, sys.stdout.fileno())
    finally:
        os.close(null)


def _run_all_platforms(
    args: argparse.Namespace, progress: Progress, docker_client_factory: DockerClientFactory | None
) -> int:
    """Analyze every platform of SOURCE and write one output per platform.

    With `--file OUT`, each platform's output goes to OUT with the platform inserted before the
    suffix (`out.linux-arm64.json`). On standard output, `json` is one object of reports by
    platform and `table` one table per platform under a heading; SBOM formats need `--file`.
    A source that is not a multi-platform image is analyzed once, as without `--platform`.
    """
    try:
        platforms = image_platforms(args.source)
    except (SourceError, AnalysisError, OSError, ValueError) as error:
        print(f"plimsoll analyze: error: {args.source}: {error}", file=sys.stderr)
        return 1
    if args.file is None and args.output not in ("json", "table") and platforms:
        print(
            f"plimsoll analyze: error: --platform all with -o {args.output} writes one SBOM per "
            "platform; give --file OUT",
            file=sys.stderr,
        )
        return 1
    cache = MemoryLayerCache()
    outputs: dict[str, tuple[AnalysisReport, list[bytes]]] = {}
    options = analysis_options(args)
    for platform in platforms or [None]:
        try:
            report, subject = analyze_source(
                args.source,
                platform,
                progress,
                docker_client_factory,
                layer_cache=cache,
                options=options,
            )
            output = render(report, subject, args.output)
        except (SourceError, AnalysisError) as error:
            progress.clear()
            print(f"plimsoll analyze: error: {error}", file=sys.stderr)
            return 1
        progress.finish(len(report.packages))
        label = platform or f"{report.os or 'unknown'}/{report.architecture or 'unknown'}"
        outputs[label] = (report, output)
    return _write_reporting_errors(
        lambda: _write_platform_outputs(outputs, args.output, args.file), args.file
    )


def _write_platform_outputs(
    outputs: dict[str, tuple[AnalysisReport, list[bytes]]], output_format: str, path: Path | None
) -> None:
    if path is not None:
        for platform, (_, output) in outputs.items():
            name = path.stem + "." + platform.replace("/", "-") + path.suffix
            _write(output, path.with_name(name))
        return
    if output_format == "json":
        document = {
            platform: report.model_dump(mode="json") for platform, (report, _) in outputs.items()
        }
        _write([json.dumps(document, indent=2).encode(), b"\n"], None)
        return
    for index, (platform, (_, output)) in enumerate(outputs.items()):
        heading = ("\n" if index else "") + f"# {platform}\n"
        _write([heading.encode(), *output], None)


def analyze_source(
    source: str,
    platform: str | None = None,
    progress: Progress | None = None,
    docker_client_factory: DockerClientFactory | None = None,
    layer_cache: LayerCache | None = None,
    options: AnalysisOptions | None = None,
) -> tuple[AnalysisReport, SbomSubject]:
    """Open and analyze `source` (a SOURCE argument) and return its report and SBOM subject.

    Layers found in `layer_cache` are not read again, and layers read are stored there.
    `options` sets the limits of the analysis (default: those of `AnalysisOptions`).

    Raises `SourceError` when the source cannot be opened and `AnalysisError` when it cannot be
    analyzed, each with a message that names the source.
    """
    kwargs = {"docker_client_factory": docker_client_factory} if docker_client_factory else {}
    opened = open_source(source, platform, **kwargs)
    try:
        watched = _WatchedSource(opened.source, progress) if progress else opened.source
        try:
            report = analyze_image(watched, options=options, layer_cache=layer_cache)
        except AnalysisError as error:
            raise AnalysisError(f"{source}: {error}") from error
        except OSError as error:
            raise AnalysisError(f"{source}: reading failed: {error}") from error
    finally:
        opened.close()
    report.problems.extend(opened.problems)
    return report, opened.subject


def render(report: AnalysisReport, subject: SbomSubject, output: str) -> list[bytes]:
    """Return the report as `output` (`table`, `json` or an SBOM format name) in pieces.

    The pieces are written in order. The analysis document of a large image is tens of MiB, so
    it is serialized straight to bytes, the same bytes as `model_dump_json`. Its final newline
    is a piece of its own, because appending it would copy the whole document.
    """
    if output == "table":
        return [package_table(report.packages).encode()]
    if output == "json":
        return [AnalysisReport.__pydantic_serializer__.to_json(report, indent=2), b"\n"]
    return [write_sbom(report, output, subject)]


def package_table(packages: list[Package]) -> str:
    """Return the packages as a table of NAME, VERSION and TYPE (Syft's package type)."""
    if not packages:
        return "No packages discovered\n"
    rows = sorted(
        {
            (package.name, package.version, PACKAGE_TYPES.get(package.type, package.type.value))
            for package in packages
        }
    )
    header = ("NAME", "VERSION", "TYPE")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(3)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines) + "\n"


def _write(output: list[bytes], path: Path | None) -> None:
    if path is None:
        for piece in output:
            sys.stdout.buffer.write(piece)
        sys.stdout.flush()
        return
    with path.open("wb") as file:
        for piece in output:
            file.write(piece)


class Progress:
    """A one-line progress display: layers read, bytes read and, at the end, packages found.

    It writes only when `enabled`, which `run` sets when standard error is a terminal, and
    redraws at most every `interval` seconds. Bytes are counted on the thread that reads the
    layer blobs, so writes to `stream` hold a lock.
    """

    def __init__(
        self,
        stream: TextIO,
        enabled: bool,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Draw on `stream` when `enabled`, at most once per `interval` seconds of `clock`."""
        self.stream = stream
        self.enabled = enabled
        self.interval = interval
        self._clock = clock
        self._last_draw = float("-inf")
        self.layers_total = 0
        self.layers_done = 0
        self.bytes_total = 0
        self.bytes_read = 0
        self._drawn = False
        self._lock = threading.Lock()

    def start(self, layers: list[LayerRef]) -> None:
        """Record the layers about to be read."""
        self.layers_total = len(layers)
        self.bytes_total = sum(layer.size for layer in layers)
        self._draw(force=True)

    def read(self, count: int) -> None:
        """Record `count` more bytes read."""
        self.bytes_read += count
        self._draw()

    def layer_done(self) -> None:
        """Record that one more layer was read to its end."""
        self.layers_done += 1
        self._draw(force=True)

    def finish(self, packages: int) -> None:
        """Draw the final line with the number of packages found, and end it."""
        if not self.enabled:
            return
        self._line(f"{self._summary()}, {packages} packages found\n")
        self._drawn = False

    def clear(self) -> None:
        """End the current progress line, if any, so that a message can follow."""
        if not self.enabled:
            return
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False

    def _summary(self) -> str:
        text = f"layers {self.layers_done}/{self.layers_total}, {_mebibytes(self.bytes_read)}"
        if self.bytes_total:
            text += f" of {_mebibytes(self.bytes_total)}"
        return text

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        text = self._summary()
        if self.layers_total and self.layers_done == self.layers_total:
            text += ", cataloging"
        self._line(text)
        self._drawn = True

    def _line(self, text: str) -> None:
        # Carriage return and erase-to-end-of-line redraw the line in place on a terminal.
        with self._lock:
            self.stream.write(f"\r\x1b[K{text}")
            self.stream.flush()


def _mebibytes(count: int) -> str:
    return f"{count / (1024 * 1024):.1f} MiB"


class _WatchedSource:
    """An `ImageSource` that reports the layers and bytes read to a `Progress`."""

    def __init__(self, source: Any, progress: Progress) -> None:
        self._source = source
        self._progress = progress
        self.manifest_digest: str = source.manifest_digest
        self.manifest: dict = source.manifest
        self.config: dict = source.config
        self.layers: list[LayerRef] = source.layers
        progress.start(self.layers)

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        stream = _CountingStream(self._source.open_layer(layer), self._progress)
        return stream  # type: ignore[return-value]


class _CountingStream:
    """A layer stream that counts the bytes read from it."""

    def __init__(self, stream: IO[bytes], progress: Progress) -> None:
        self._stream = stream
        self._progress = progress
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._progress.read(len(data))
        if not data and size != 0 and not self._ended:
            self._ended = True
            self._progress.layer_done()
        return data

    def close(self) -> None:
        self._stream.close()
