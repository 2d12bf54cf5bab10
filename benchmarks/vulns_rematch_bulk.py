"""Benchmark: re-match 10,000 stored images after a feed sync, with the images stored in bulk.

Run from the repository root (starts a throwaway PostgreSQL cluster unless --database-url is
given):

    .venv/bin/python -m benchmarks.vulns_rematch_bulk [--database-url URL] [--images 10000]

`vulns_rematch` stores its images through the store API at about 0.35 s each, so this script
writes the rows that an analysis and its first match leave (`images`, `image_tags`,
`image_analyses`, `image_packages`, `image_lookups`, `vuln_matches`) with multi-row INSERTs
instead. It syncs the
real PyPA records of ../shared/feeds, and gives every image 50 PyPI packages: one in five at a
version a record lists as affected, the others at the highest version a record of the package
names as fixed. The matches of each distinct package are computed once with the real matcher and
copied into every image that contains it. Re-matching a few images before the change confirms they
equal what the matcher stores. Then it changes the fixed version of one record of 20 packages in
its copy of the feed and runs the second sync in a new process, which reports the time of
`rematch_all` and its own peak RSS.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from sqlalchemy import insert

from benchmarks.vulns_common import (
    FEEDS,
    QueryTimer,
    machine,
    peak_rss_kib,
    postgres_database,
)
from chalicelib.analysis.interface import Package, PackageType
from chalicelib.config import Settings
from chalicelib.registry import RegistryClient
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import Services
from chalicelib.store import Store
from chalicelib.store.images import match_key
from chalicelib.store.models import Base
from chalicelib.vulns.interface import VulnMatch
from chalicelib.vulns.matcher import match_packages

PYPA = FEEDS / "pypi" / "pypa-advisory-database" / "vulns"
ACCOUNT = "admin"
PACKAGES_PER_IMAGE = 50
AFFECTED_SHARE = 0.2
"""Share of an image's packages at a version that some record lists as affected."""
CHANGED_PACKAGES = 20
"""Packages whose first record gets a new fixed version before the second sync."""
IMAGES_PER_TRANSACTION = 500
ROWS_PER_STATEMENT = 1000
TABLES = (
    "images",
    "image_tags",
    "image_analyses",
    "image_packages",
    "image_lookups",
    "vuln_matches",
)
"""Tables an analysis and its first match write to, parents first."""

_FIXED = re.compile(r"(- fixed: )(\S+)")


def package_versions(store: Store) -> tuple[list[Package], list[Package]]:
    """Return, per PyPI name with records, one package at an affected and one at a fixed version.

    The affected version is the newest version the first record lists. The fixed one is the
    highest `fixed` event of any record of the name, which `seed_images` drops when a record
    still lists it as affected.
    """
    affected, fixed = [], []
    for name in sorted({path.parent.name for path in PYPA.rglob("*.yaml")}):
        records = store.find_vuln_records("pypi", [name])
        listed = [record.versions[-1] for record in records if record.versions]
        fixes = [
            event.fixed
            for record in records
            for ranges in record.ranges
            for event in ranges.events
            if event.fixed
        ]
        location = f"/usr/lib/python3/site-packages/{name}"
        if listed:
            affected.append(
                Package(name=name, version=listed[0], type=PackageType.PYTHON, location=location)
            )
        if fixes:
            version = max(fixes, key=_sort_key)
            fixed.append(
                Package(name=name, version=version, type=PackageType.PYTHON, location=location)
            )
    return affected, fixed


def _sort_key(version: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def image_rows(
    index: int,
    packages: list[Package],
    matches: dict[tuple[str, str], list[VulnMatch]],
    now: datetime.datetime,
) -> dict[str, list[dict[str, Any]]]:
    """Return the rows of every table for one analyzed and matched image, by table name."""
    digest = f"sha256:{index:064x}"
    listed = [package.model_dump(mode="json", exclude_none=True) for package in packages]
    document = json.dumps({"packages": listed}, separators=(",", ":")).encode()
    found: dict[str, VulnMatch] = {}
    for package in packages:
        for match in matches[(package.name, package.version)]:
            found.setdefault(match_key(match), match)
    own = {"account": ACCOUNT, "digest": digest}
    return {
        "images": [
            {
                **own,
                "parent_digest": None,
                "image_id": f"{index:064x}",
                "analysis_status": "analyzed",
                "image_status": "active",
                "annotations": {},
                "manifest": {},
                "dockerfile": None,
                "created_at": now,
                "last_updated": now,
                "analyzed_at": now,
                "failure_reason": None,
                "arch": "amd64",
                "distro": None,
                "distro_version": None,
                "image_size": 1,
                "layer_count": 1,
                "dockerfile_mode": "Guessed",
            }
        ],
        "image_tags": [
            {
                **own,
                "registry": "registry.example",
                "repository": f"bench/app{index}",
                "tag": "latest",
                "fulltag": f"registry.example/bench/app{index}:latest",
                "created_at": now,
                "tag_detected_at": now,
                "last_updated": now,
            }
        ],
        "image_analyses": [
            {
                **own,
                "document": gzip.compress(document, compresslevel=6),
                "document_size": len(document),
                "package_count": len(packages),
                "created_at": now,
                "lookups_stored": True,
            }
        ],
        "image_packages": [
            {
                **own,
                "seq": seq,
                "name": package.name,
                "version": package.version,
                "package_type": package.type,
                "location": package.location,
                "source_name": None,
                "source_version": None,
                "purl": None,
            }
            for seq, package in enumerate(packages)
        ],
        "image_lookups": [
            {**own, "namespace": namespace, "package": name}
            for namespace, name in vuln_service.image_lookups(packages, None)
        ],
        "vuln_matches": [
            {
                **own,
                "match_key": key,
                "vuln_id": match.vuln_id,
                "vuln_match": match.model_dump(mode="json"),
                "first_seen": now,
            }
            for key, match in found.items()
        ],
    }


def image_packages(
    count: int, affected: list[Package], fixed: list[Package]
) -> Iterator[list[Package]]:
    """Yield `count` package lists, each of distinct names, a fifth of them at affected versions."""
    chooser = random.Random(4)
    by_name = {package.name: package for package in fixed}
    names = sorted({package.name for package in affected} | by_name.keys())
    affected_by_name = {package.name: package for package in affected}
    for _ in range(count):
        packages = []
        for name in chooser.sample(names, PACKAGES_PER_IMAGE):
            pick_affected = chooser.random() < AFFECTED_SHARE or name not in by_name
            if pick_affected and name in affected_by_name:
                packages.append(affected_by_name[name])
            else:
                packages.append(by_name[name])
        yield packages


def seed_images(
    store: Store, count: int, affected: list[Package], fixed: list[Package]
) -> tuple[int, int, float]:
    """Insert `count` analyzed and matched images in bulk.

    Returns the match rows written, the fixed versions kept, and the seconds spent inserting.
    """
    lookup = vuln_service.CachedLookup(store.find_vuln_records)
    matches = {
        (package.name, package.version): match_packages([package], None, lookup)
        for package in affected + fixed
    }
    # A fixed version that another record still lists as affected is not a clean version.
    fixed = [package for package in fixed if not matches[(package.name, package.version)]]
    now = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    written = 0
    lists = image_packages(count, affected, fixed)
    for start in range(0, count, IMAGES_PER_TRANSACTION):
        batch: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        for index in range(start, min(start + IMAGES_PER_TRANSACTION, count)):
            for name, rows in image_rows(index, next(lists), matches, now).items():
                batch[name].extend(rows)
        written += len(batch["vuln_matches"])
        with store._db.engine.begin() as connection:
            for name in TABLES:
                # Multi-row VALUES, because pg8000's executemany sends one statement per row.
                # Tables take column names (ImageTag's `registry_name` is column `registry`).
                # A chunk of 1,000 rows stays under PostgreSQL's 32,767 bind parameters.
                rows = batch[name]
                for chunk in range(0, len(rows), ROWS_PER_STATEMENT):
                    statement = insert(Base.metadata.tables[name]).values(
                        rows[chunk : chunk + ROWS_PER_STATEMENT]
                    )
                    connection.execute(statement)
    return written, len(fixed), time.perf_counter() - started


def change_fixes(feed: Path, names: list[str]) -> None:
    """Bump the first fixed version of one record of each named package in the feed copy."""
    for name in names:
        path = min((feed / name).glob("*.yaml"))
        path.write_text(_FIXED.sub(r"\g<1>\g<2>.post99", path.read_text(), count=1))


def timed_sync(url: str, feed: str) -> dict[str, Any]:
    """Run one feed sync on `url` in this process, timing `rematch_all`; return the results."""
    store = Store(url)
    services = Services(
        settings=Settings(feed_sources=f"osv={feed}"), store=store, registry=RegistryClient()
    )
    timing: dict[str, float] = {}
    rematch_all = vuln_service.rematch_all

    def timed_rematch_all(*args: Any, **kwargs: Any) -> tuple[int, int]:
        timing["rss_before_kib"] = peak_rss_kib()
        started = time.perf_counter()
        result = rematch_all(*args, **kwargs)
        timing["seconds"] = time.perf_counter() - started
        return result

    vuln_service.rematch_all = timed_rematch_all  # type: ignore[assignment]
    timer = QueryTimer().attach(store)
    started = time.perf_counter()
    result = vuln_service.sync_feeds(services)
    sync_seconds = time.perf_counter() - started
    store.close()
    return {
        "sync_seconds": sync_seconds,
        "rematch_seconds": timing.get("seconds", 0.0),
        "rss_before_rematch_kib": timing.get("rss_before_kib", 0),
        "peak_rss_kib": peak_rss_kib(),
        "changed_records": sum(group.updated_record_count for group in result.groups),
        "rematched": result.rematched_images,
        "updated": result.updated_images,
        "statements": timer.statements,
        "driver_seconds": timer.seconds,
    }


def main() -> None:
    """Run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use")
    parser.add_argument("--images", type=int, default=10_000, help="images to store")
    parser.add_argument("--sync-only", nargs=2, metavar=("URL", "FEED"), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.sync_only:
        print(json.dumps(timed_sync(*arguments.sync_only)))
        return

    print(f"machine: {machine()}, load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as folder, postgres_database(arguments.database_url) as url:
        feed = Path(folder) / "pypi"
        shutil.copytree(PYPA, feed)
        store = Store(url)
        store.migrate()
        services = Services(
            settings=Settings(feed_sources=f"osv={feed}"), store=store, registry=RegistryClient()
        )
        vuln_service.sync_feeds(services)
        affected, fixed = package_versions(store)

        started = time.perf_counter()
        match_rows, clean, insert_seconds = seed_images(store, arguments.images, affected, fixed)
        seed_seconds = time.perf_counter() - started
        print(
            f"seeded {arguments.images} images of {PACKAGES_PER_IMAGE} packages "
            f"({len(affected)} affected and {clean} clean fixed versions to draw from) with "
            f"{match_rows} matches ({match_rows / arguments.images:.1f} per image) in "
            f"{seed_seconds:.1f} s, {insert_seconds:.1f} s of it building and inserting rows",
            flush=True,
        )

        # The stored rows must be what the real path stores: matching again changes nothing.
        lookup = vuln_service.CachedLookup(store.find_vuln_records)
        checked = store.list_images(analysis_status="analyzed")
        for image in checked[:: max(len(checked) // 20, 1)]:
            diff = vuln_service.rematch_image(services, image, lookup)
            if diff:
                raise SystemExit(
                    f"seeded matches of {image.digest} differ from a new match ({diff}); fix image_rows"
                )
        print(f"{len(checked)} analyzed images listed; 20 re-matched with no change", flush=True)

        changed = sorted({package.name for package in affected})[:CHANGED_PACKAGES]
        change_fixes(feed, changed)
        store.close()
        print(f"load average before the sync {os.getloadavg()}", flush=True)
        child = subprocess.run(
            [sys.executable, "-m", "benchmarks.vulns_rematch_bulk", "--sync-only", url, str(feed)],
            check=True,
            capture_output=True,
            text=True,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])

    seconds = measured["rematch_seconds"]
    print(f"load average after the sync {os.getloadavg()}")
    print(
        f"second sync: {measured['changed_records']} records changed, "
        f"{measured['rematched']} images matched again, {measured['updated']} changed, "
        f"{measured['sync_seconds']:.1f} s in all; rematch_all {seconds:.1f} s "
        f"({measured['rematched'] / max(seconds, 1e-9):.1f} images/s, "
        f"{seconds / max(measured['rematched'], 1) * 1000:.1f} ms per image); "
        f"{measured['statements']} statements, driver time {measured['driver_seconds']:.1f} s; "
        f"peak RSS of the sync process {measured['peak_rss_kib'] / 1024:.0f} MiB "
        f"({measured['rss_before_rematch_kib'] / 1024:.0f} MiB before rematch_all)"
    )


if __name__ == "__main__":
    main()
