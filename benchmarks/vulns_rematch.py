"""Benchmark: match 10,000 stored images again after a feed sync changed their records.

Run from the repository root (starts a throwaway PostgreSQL cluster unless --database-url is
given):

    .venv/bin/python -m benchmarks.vulns_rematch [--database-url URL] [--images 10000]

It syncs the real PyPA records of ../shared/feeds and stores IMAGES analyzed images of 50 PyPI
packages each, drawn from one package per PyPI name at a version its records list. It matches
every image once. Then it changes the fixed version of one record of 20 packages in the feed
copy and times the second sync, whose re-matching reads only the stored package lists.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.vulns_common import FEEDS, QueryTimer, machine, postgres_database
from chalicelib.config import Settings
from chalicelib.registry import RegistryClient
from chalicelib.service import vulnerabilities as vuln_service
from chalicelib.service.context import Services
from chalicelib.store import ImageSummary, NewImage, Store
from chalicelib.vulns.matcher import match_packages

PYPA = FEEDS / "pypi" / "pypa-advisory-database" / "vulns"
PACKAGES_PER_IMAGE = 50
CHANGED_PACKAGES = 20
"""Packages whose first record gets a new fixed version before the second sync."""

_FIXED = re.compile(r"(- fixed: )(\S+)")


def stored_packages(store: Store) -> list[dict[str, str]]:
    """Return one package per PyPI name in the store, at the newest version a record lists.

    The newest affected version of one record is affected by few others, so an image gets a
    few matches per package, as real images do, and not every record of the package.
    """
    packages = []
    for name in sorted({path.parent.name for path in PYPA.rglob("*.yaml")}):
        records = store.find_vuln_records("pypi", [name])
        versions = [record.versions[-1] for record in records if record.versions]
        if versions:
            packages.append(
                {
                    "name": name,
                    "version": versions[0],
                    "type": "python",
                    "location": f"/usr/lib/python3/site-packages/{name}",
                }
            )
    return packages


def add_images(services: Services, count: int, packages: list[dict[str, str]]) -> None:
    """Store and match `count` analyzed images, each with a random sample of `packages`."""
    store = services.store
    lookup = vuln_service.CachedLookup(store.find_vuln_records)
    chooser = random.Random(4)
    summary = ImageSummary(
        image_id="0" * 64,
        arch="amd64",
        distro=None,
        distro_version=None,
        image_size=1,
        layer_count=1,
        dockerfile_mode="Guessed",
    )
    for index in range(count):
        digest = f"sha256:{index:064x}"
        store.upsert_image(
            NewImage(
                digest=digest,
                parent_digest=None,
                image_id="0" * 64,
                manifest={},
                registry="registry.example",
                repository=f"bench/app{index}",
                tag="latest",
            )
        )
        sample = chooser.sample(packages, PACKAGES_PER_IMAGE)
        store.finish_analysis(digest, {"packages": sample}, summary)
        # As after an analysis, the first match records no vulnerability update.
        matches = match_packages(store.get_image_packages(digest) or [], None, lookup)
        store.save_matches(digest, matches, now=vuln_service.utcnow())


def change_fixes(feed: Path, names: list[str]) -> None:
    """Bump the first fixed version of one record of each named package in the feed copy."""
    for name in names:
        path = sorted((feed / name).glob("*.yaml"))[0]
        path.write_text(_FIXED.sub(r"\g<1>\g<2>.post99", path.read_text(), count=1))


def main() -> None:
    """Run the benchmark and print its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an existing PostgreSQL database to use")
    parser.add_argument("--images", type=int, default=10_000, help="images to store")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder, postgres_database(arguments.database_url) as url:
        feed = Path(folder) / "pypi"
        shutil.copytree(PYPA, feed)
        store = Store(url)
        store.migrate()
        settings = Settings(feed_sources=f"osv={feed}")
        services = Services(settings=settings, store=store, registry=RegistryClient())
        vuln_service.sync_feeds(services)
        packages = stored_packages(store)

        started = time.perf_counter()
        add_images(services, arguments.images, packages)
        add_seconds = time.perf_counter() - started
        matches = sum(len(store.get_matches(f"sha256:{i:064x}")[0]) for i in range(10))

        change_fixes(feed, [package["name"] for package in packages[:CHANGED_PACKAGES]])
        timer = QueryTimer().attach(store)
        started = time.perf_counter()
        result = vuln_service.sync_feeds(services)
        sync_seconds = time.perf_counter() - started
        store.close()

    print(f"machine: {machine()}")
    print(
        f"images: {arguments.images} of {PACKAGES_PER_IMAGE} packages ({len(packages)} "
        f"distinct), stored and matched in {add_seconds:.1f} s, {matches / 10:.0f} matches "
        "per image in the first ten"
    )
    print(
        f"second sync: {result.groups[0].updated_record_count} records changed, "
        f"{result.rematched_images} images matched again, {result.updated_images} changed, "
        f"{sync_seconds:.1f} s in all ({sync_seconds / max(result.rematched_images, 1) * 1000:.1f}"
        f" ms per image), driver time {timer.seconds:.1f} s in {timer.statements} statements"
    )


if __name__ == "__main__":
    main()
