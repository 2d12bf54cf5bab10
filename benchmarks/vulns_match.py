"""Benchmark: match one image of 1,000 packages against the full local feed set on PostgreSQL.

Run from the repository root (starts a throwaway PostgreSQL cluster unless --database-url is
given):

    .venv/bin/python -m benchmarks.vulns_match [--database-url URL] [--runs 5]

It syncs every feed of ../shared/feeds into the database and builds 1,000 packages whose names
and versions come from the stored records: dpkg packages of Debian 11 by source package, npm
packages, and PyPI packages. It reports the wall time of `match_packages` with the store's
lookup, the driver time of its statements, and PostgreSQL's execution time of them.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import select

from benchmarks.vulns_common import LOCAL_FEED_SOURCES, QueryTimer, machine, postgres_database
from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.config import Settings
from chalicelib.registry import RegistryClient
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import Services
from chalicelib.store import Store
from chalicelib.store.models import VulnRecordRow
from chalicelib.vulns.interface import VulnRecord
from chalicelib.vulns.matcher import match_packages

IMAGE_SIZE = 1000
PACKAGE_MIX = (
    ("debian:11", PackageType.DPKG, 500),
    ("npm", PackageType.NPM, 100),
    ("pypi", PackageType.PYTHON, IMAGE_SIZE),
)
"""Namespace, package type and the maximum count of the packages of the benchmark image, taken
in this order until the image has `IMAGE_SIZE` packages."""


def build_packages(store: Store) -> list[Package]:
    """Return packages named after stored records, each at a version that a record names."""
    packages: list[Package] = []
    with store._db.engine.connect() as connection:
        for namespace, package_type, count in PACKAGE_MIX:
            statement = (
                select(VulnRecordRow.package, VulnRecordRow.record)
                .where(VulnRecordRow.namespace == namespace)
                .order_by(VulnRecordRow.package, VulnRecordRow.vuln_id)
            )
            seen: dict[str, str] = {}
            wanted = min(count, IMAGE_SIZE - len(packages))
            for name, document in connection.execute(statement):
                if len(seen) == wanted:
                    break
                if name not in seen:
                    seen[name] = _record_version(VulnRecord.model_validate(document))
            for name, version in seen.items():
                packages.append(
                    Package(
                        name=name,
                        version=version,
                        type=package_type,
                        location=f"/benchmark/{namespace}/{name}",
                        source_name=name if package_type is PackageType.DPKG else None,
                    )
                )
    # The data set has fewer distinct names than the image needs, so the image also carries a
    # second copy of some PyPI packages at their fixed version, as a second virtualenv would.
    copies = [
        package.model_copy(update={"location": f"/benchmark/venv-2/{package.name}"})
        for package in packages
        if package.type is PackageType.PYTHON
    ]
    return packages + copies[: IMAGE_SIZE - len(packages)]


def _record_version(record: VulnRecord) -> str:
    if record.versions:
        return record.versions[0]
    for affected_range in record.ranges:
        for range_event in affected_range.events:
            if range_event.fixed:
                return range_event.fixed
    return "1.0"


def main() -> None:
    """Run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after one warm-up run")
    arguments = parser.parse_args()

    with postgres_database(arguments.database_url) as url:
        store = Store(url)
        store.migrate()
        settings = Settings(feed_sources=LOCAL_FEED_SOURCES)
        services = Services(settings=settings, store=store, registry=RegistryClient())
        started = time.perf_counter()
        result = vuln_service.sync_feeds(services)
        sync_seconds = time.perf_counter() - started
        records = sum(group.record_count for group in result.groups)

        packages = build_packages(store)
        distro = Distro(id="debian", version_id="11")
        timer = QueryTimer().attach(store)
        walls: list[float] = []
        driver: list[float] = []
        server: list[float] = []
        matches = []
        for run in range(arguments.runs + 1):
            timer.reset()
            started = time.perf_counter()
            matches = match_packages(packages, distro, store.find_vuln_records)
            if run:
                walls.append(time.perf_counter() - started)
                driver.append(timer.seconds)
                server.append(timer.server_seconds(store))
        store.close()

    print(f"machine: {machine()}")
    print(f"feed sync: {records} records in {len(result.groups)} groups, {sync_seconds:.1f} s")
    print(f"errors: {result.errors or 'none'}")
    print(f"image: {len(packages)} packages, {len(matches)} matches, {timer.statements} statements")
    print(f"match_packages over {arguments.runs} runs, medians:")
    print(f"  wall time {statistics.median(walls) * 1000:.1f} ms")
    print(f"  driver time (execute, transfer, decode) {statistics.median(driver) * 1000:.1f} ms")
    print(
        f"  PostgreSQL execution time {statistics.median(server) * 1000:.1f} ms "
        f"(max {max(server) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
