"""Benchmark: peak memory of a full OSV sync from a zip, for zips of N, 4N, 16N... records.

Run from the repository root:

    .venv/bin/python -m benchmarks.vulns_sync_memory [--records 5000] [--factors 1,4]
        [--sources pypa|pypa,go] [--no-tracemalloc]
    .venv/bin/python -m benchmarks.vulns_sync_memory --compare-readers 128000

It builds zip archives of OSV JSON records from the real records of ../shared/feeds (PyPA by
default; with `--sources pypa,go` the Go vulnerability database too), each record copied under
new ids until an archive contains N times each factor, then syncs each one into a fresh SQLite
store in a new Python process. It reports the peak of the memory Python allocated during the
sync (`tracemalloc`, started right before it, unless `--no-tracemalloc`) and the process's
peak resident set size (`VmHWM`, see `peak_rss_kib`). A sync that streams stays near the same
peak for all.

`--compare-readers COUNT` instead builds a zip of COUNT small members and reads every member
under `tracemalloc` with each reader: `zipfile` with its member list sorted by name, as the sync
read archives before, and `chalicelib.vulns.ziparchive`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.vulns_common import FEEDS, machine
from chalicelib.vulns.ziparchive import iter_zip_members, read_zip_member

PYPA = FEEDS / "pypi" / "pypa-advisory-database" / "vulns"
GO = FEEDS / "go" / "golang-vulndb" / "data" / "osv"


def source_records(sources: list[str]) -> list[dict[str, Any]]:
    """Return the real OSV records of the named sources (`pypa`, `go`), in file order."""
    records = []
    if "pypa" in sources:
        records += [
            yaml.load(file.read_text(), Loader=yaml.BaseLoader)
            for file in sorted(PYPA.rglob("*.yaml"))
        ]
    if "go" in sources:
        records += [json.loads(file.read_text()) for file in sorted(GO.glob("*.json"))]
    # Mixed in a fixed order, so an archive smaller than the sources contains both kinds too.
    random.Random(0).shuffle(records)
    return records


def build_archive(path: Path, count: int, sources: list[dict[str, Any]]) -> None:
    """Write `count` OSV records, copies of `sources` under new ids, into a zip at `path`."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            record = dict(sources[index % len(sources)])
            record["id"] = f"{record['id']}-COPY{index // len(sources)}"
            archive.writestr(f"{record['id']}.json", json.dumps(record))


def sync_in_child(archive: Path, database: Path, *, trace: bool = True) -> dict[str, float]:
    """Sync `archive` into a new SQLite store in a child process; return its measurements."""
    code = (
        "import json, sys, time, tracemalloc\n"
        "from benchmarks.vulns_common import peak_rss_kib\n"
        "from chalicelib.config import Settings\n"
        "from chalicelib.registry import RegistryClient\n"
        "from chalicelib.service import vulnerabilities as v\n"
        "from chalicelib.service.context import Services\n"
        "from chalicelib.store import Store\n"
        "store = Store(sys.argv[2]); store.migrate()\n"
        "baseline = peak_rss_kib()\n"
        "services = Services(settings=Settings(feed_sources='osv=' + sys.argv[1]),\n"
        "                    store=store, registry=RegistryClient())\n"
        "started = time.perf_counter()\n"
        "trace = sys.argv[3] == 'trace'\n"
        "if trace: tracemalloc.start()\n"
        "result = v.sync_feeds(services)\n"
        "traced_peak = tracemalloc.get_traced_memory()[1] if trace else 0\n"
        "print(json.dumps({'seconds': time.perf_counter() - started,\n"
        "    'records': sum(g.record_count for g in result.groups),\n"
        "    'baseline_kib': baseline, 'traced_peak_bytes': traced_peak,\n"
        "    'peak_kib': peak_rss_kib()}))\n"
    )
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(archive),
            f"sqlite:///{database}",
            "trace" if trace else "no-trace",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def compare_readers(count: int) -> None:
    """Print the peak of Python allocations and the time of reading a zip with both readers."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "members.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for index in range(count):
                archive.writestr(f"GHSA-{index:08d}-COPY{index % 64}.json", b'{"id": %d}' % index)
        size = path.stat().st_size
        for name in ("zipfile", "ziparchive"):
            tracemalloc.start()
            started = time.perf_counter()
            total = 0
            with path.open("rb") as stream:
                if name == "zipfile":
                    with zipfile.ZipFile(stream) as archive:
                        for info in sorted(archive.infolist(), key=lambda info: info.filename):
                            total += len(archive.read(info))
                else:
                    for member in iter_zip_members(stream, size):
                        total += len(read_zip_member(stream, size, member))
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            print(
                f"{name}: {count} members, {total} bytes read, Python allocations peak "
                f"{peak / 2**20:.1f} MiB, {seconds:.1f} s, load average {os.getloadavg()}",
                flush=True,
            )


def main() -> None:
    """Run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="N, records of the small zip")
    parser.add_argument("--factors", default="1,4", help="archive sizes as multiples of N")
    parser.add_argument("--sources", default="pypa", help="real records to copy: pypa, go")
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="measure peak RSS without tracemalloc"
    )
    parser.add_argument(
        "--compare-readers",
        type=int,
        metavar="COUNT",
        help="only compare zipfile and ziparchive on a zip of COUNT members",
    )
    arguments = parser.parse_args()
    if arguments.compare_readers:
        print(f"machine: {machine()}, load average {os.getloadavg()}")
        compare_readers(arguments.compare_readers)
        return
    sources = source_records(arguments.sources.split(","))

    print(f"machine: {machine()}, load average {os.getloadavg()}")
    print(f"{len(sources)} real records from {arguments.sources}")
    with tempfile.TemporaryDirectory() as folder:
        for factor in (int(factor) for factor in arguments.factors.split(",")):
            count = factor * arguments.records
            archive = Path(folder) / f"osv-{count}.zip"
            build_archive(archive, count, sources)
            measured = sync_in_child(
                archive, Path(folder) / f"store-{count}.db", trace=not arguments.no_tracemalloc
            )
            traced = (
                "not traced, "
                if arguments.no_tracemalloc
                else f"Python allocations peak {measured['traced_peak_bytes'] / 2**20:.1f} MiB, "
            )
            print(
                f"{count} records, zip {archive.stat().st_size / 2**20:.1f} MiB: "
                f"{measured['records']} stored in {measured['seconds']:.1f} s, {traced}"
                f"peak RSS {measured['peak_kib'] / 1024:.0f} MiB "
                f"(before the sync {measured['baseline_kib'] / 1024:.0f} MiB), "
                f"load average {os.getloadavg()}",
                flush=True,
            )


if __name__ == "__main__":
    main()
