"""Benchmark: peak memory of a full OSV sync from a zip, for a zip of N and of 4N records.

Run from the repository root:

    .venv/bin/python -m benchmarks.vulns_sync_memory [--records 5000]

It builds two zip archives of OSV JSON records from the real PyPA records of ../shared/feeds,
each record copied under new ids until the archives contain N and 4N records, then syncs each one
into a fresh SQLite store in a new Python process. It reports the peak of the memory Python
allocated during the sync (`tracemalloc`, started right before it) and the process's peak
resident set size (`ru_maxrss`). A sync that streams stays near the same peak for both.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

from benchmarks.vulns_common import FEEDS, machine

PYPA = FEEDS / "pypi" / "pypa-advisory-database" / "vulns"


def build_archive(path: Path, count: int) -> None:
    """Write `count` OSV records, real PyPA records under copied ids, into a zip at `path`."""
    sources = [
        yaml.load(file.read_text(), Loader=yaml.BaseLoader) for file in sorted(PYPA.rglob("*.yaml"))
    ]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for index in range(count):
            record = dict(sources[index % len(sources)])
            record["id"] = f"{record['id']}-COPY{index // len(sources)}"
            archive.writestr(f"{record['id']}.json", json.dumps(record))


def sync_in_child(archive: Path, database: Path) -> dict[str, float]:
    """Sync `archive` into a new SQLite store in a child process; return its measurements."""
    code = (
        "import json, resource, sys, time, tracemalloc\n"
        "from chalicelib.config import Settings\n"
        "from chalicelib.registry import RegistryClient\n"
        "from chalicelib.service import vulnerabilities as v\n"
        "from chalicelib.service.context import Services\n"
        "from chalicelib.store import Store\n"
        "store = Store(sys.argv[2]); store.migrate()\n"
        "baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "services = Services(settings=Settings(feed_sources='osv=' + sys.argv[1]),\n"
        "                    store=store, registry=RegistryClient())\n"
        "started = time.perf_counter()\n"
        "tracemalloc.start()\n"
        "result = v.sync_feeds(services)\n"
        "traced_peak = tracemalloc.get_traced_memory()[1]\n"
        "print(json.dumps({'seconds': time.perf_counter() - started,\n"
        "    'records': sum(g.record_count for g in result.groups),\n"
        "    'baseline_kib': baseline, 'traced_peak_bytes': traced_peak,\n"
        "    'peak_kib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code, str(archive), f"sqlite:///{database}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    """Run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000, help="N, records of the small zip")
    arguments = parser.parse_args()

    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as folder:
        for count in (arguments.records, 4 * arguments.records):
            archive = Path(folder) / f"osv-{count}.zip"
            build_archive(archive, count)
            measured = sync_in_child(archive, Path(folder) / f"store-{count}.db")
            print(
                f"{count} records, zip {archive.stat().st_size / 2**20:.1f} MiB: "
                f"{measured['records']} stored in {measured['seconds']:.1f} s (traced), "
                f"Python allocations peak {measured['traced_peak_bytes'] / 2**20:.1f} MiB, "
                f"peak RSS {measured['peak_kib'] / 1024:.0f} MiB "
                f"(before the sync {measured['baseline_kib'] / 1024:.0f} MiB)"
            )


if __name__ == "__main__":
    main()
