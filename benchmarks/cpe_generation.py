"""Benchmark: CPE generation time per image, and the CPEs compared with Syft's.

Run from the repository root, after `benchmarks.analyze_vs_syft` has built its images:

    .venv/bin/python -m benchmarks.cpe_generation [SOURCE] [--syft-json FILE] [--runs 7]

SOURCE defaults to the Java image `.cache/bench-images/java-docker.tar`. The image is analyzed
once; then `generate_cpes` runs over all its packages `--runs` times and the median time is
printed with the CPE counts. With `--syft-json`, the output of `syft scan SOURCE -o syft-json`,
it also prints, per package type, how many packages that both tools found with the same name
and version share at least one CPE, and the CPE totals of each tool.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import time
from pathlib import Path

from chalicelib.analysis import analyze_image
from chalicelib.analysis.cpe import generate_cpes
from chalicelib.analysis.interface import Package
from chalicelib.cli.sources import open_source

DEFAULT_SOURCE = "docker-archive:.cache/bench-images/java-docker.tar"


def time_generation(packages: list[Package], runs: int) -> tuple[float, int]:
    """Return the median seconds of one `generate_cpes` pass over `packages` and its CPE count."""
    durations = []
    count = 0
    for _ in range(runs):
        start = time.perf_counter()
        count = sum(len(generate_cpes(package)) for package in packages)
        durations.append(time.perf_counter() - start)
    return statistics.median(durations), count


def compare_with_syft(packages: list[Package], syft_json: Path) -> None:
    """Print per package type how the CPEs of both tools overlap."""
    syft: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for artifact in json.loads(syft_json.read_text())["artifacts"]:
        key = (artifact["name"], artifact["version"])
        syft[key].update(cpe["cpe"].lower() for cpe in artifact["cpes"])

    ours: dict[str, dict[tuple[str, str], set[str]]] = collections.defaultdict(dict)
    for package in packages:
        key = (package.name, package.version)
        if key in syft:
            ours[package.type.value].setdefault(key, set()).update(package.cpes)

    for package_type, found in sorted(ours.items()):
        shared = sum(1 for key, cpes in found.items() if cpes & syft[key])
        print(
            f"{package_type}: {len(found)} packages in both, {shared} with a shared CPE, "
            f"CPEs Syft {sum(len(syft[key]) for key in found)} "
            f"(max {max(len(syft[key]) for key in found)}), "
            f"Plimsoll {sum(len(cpes) for cpes in found.values())} "
            f"(max {max(len(cpes) for cpes in found.values())})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=DEFAULT_SOURCE)
    parser.add_argument("--syft-json", type=Path, help="Syft's syft-json output for SOURCE")
    parser.add_argument("--runs", type=int, default=7, help="passes over the packages to time")
    arguments = parser.parse_args()

    opened = open_source(arguments.source)
    try:
        start = time.perf_counter()
        report = analyze_image(opened.source)
        analysis_seconds = time.perf_counter() - start
    finally:
        opened.close()

    seconds, count = time_generation(report.packages, arguments.runs)
    print(
        f"{len(report.packages)} packages, {count} CPEs, generation median "
        f"{seconds * 1000:.1f} ms of {analysis_seconds:.2f} s analysis "
        f"({seconds / analysis_seconds:.1%})"
    )
    if arguments.syft_json is not None:
        compare_with_syft(report.packages, arguments.syft_json)


if __name__ == "__main__":
    main()
