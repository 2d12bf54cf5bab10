"""Measure a policy check that evaluates against one served from the stored evaluation.

Builds one synthetic analyzed image in a fresh SQLite store (packages, files, vulnerability
matches, two feed groups), then times `check_image` of the service layer with Anchore's default
bundle:

- evaluated: each check uses a new tag, so nothing stored matches and the bundle is evaluated
  and the evaluation stored;
- reused: the same tag again and again, so the stored evaluation is returned.

Before the reused checks it stores `--history` older evaluations of the same image and tag with
other check keys, as feed syncs and bundle edits leave them. It also times the two store lookups
alone. `list_evaluations` returns every evaluation of the tag, which the reused check read before
`find_evaluation` existed, and `find_evaluation` returns the newest one with the key.

Run from the repository root:

    .venv/bin/python -m benchmarks.policy_check_reuse [--packages N] [--files N] [--matches N]
        [--history N]

It prints the machine, and the median and 95th percentile in milliseconds of each kind.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.vulns_common import machine
from chalicelib.analysis.interface import (
    AnalysisReport,
    Distro,
    FileEntry,
    FileType,
    LayerInfo,
    Package,
    PackageType,
)
from chalicelib.config import Settings
from chalicelib.policy import DEFAULT_BUNDLE
from chalicelib.registry import RegistryClient
from chalicelib.service.context import Services
from chalicelib.service.images import summarize
from chalicelib.service.policies import check_image
from chalicelib.service.vulnerabilities import FEED_NAME
from chalicelib.store import NewImage, Store
from chalicelib.vulns.interface import Severity, VulnMatch, VulnRecord

DIGEST = "sha256:" + "d" * 64
IMAGE_ID = "e" * 64
LAYER = "sha256:" + "f" * 64
SEVERITIES = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


def build_report(packages: int, files: int) -> AnalysisReport:
    """Return an analysis of a Debian image with `packages` dpkg packages and `files` files."""
    return AnalysisReport(
        image_digest=DIGEST,
        image_id=IMAGE_ID,
        architecture="amd64",
        os="linux",
        layers=[
            LayerInfo(
                digest=LAYER, media_type="application/vnd.oci.image.layer.v1.tar+gzip", size=1
            )
        ],
        distro=Distro(id="debian", version_id="12"),
        packages=[
            Package(
                name=f"package-{number}",
                version=f"1.{number}-1",
                type=PackageType.DPKG,
                location="/var/lib/dpkg/status",
                layer_digest=LAYER,
                licenses=["GPL-2.0"],
            )
            for number in range(packages)
        ],
        files=[
            FileEntry(
                path=f"/usr/share/doc/file-{number}",
                type=FileType.FILE,
                mode=0o644,
                size=100,
                layer_digest=LAYER,
            )
            for number in range(files)
        ],
        history=[{"created_by": "/bin/sh -c #(nop)  EXPOSE 22"}],
    )


def build_matches(count: int) -> list[VulnMatch]:
    """Return `count` matches spread over the first packages and all severities."""
    return [
        VulnMatch(
            vuln_id=f"CVE-2024-{number:05d}",
            severity=SEVERITIES[number % len(SEVERITIES)],
            package_name=f"package-{number % 50}",
            package_version=f"1.{number % 50}-1",
            package_type="dpkg",
            package_path="/var/lib/dpkg/status",
            fixed_in=[f"1.{number % 50}-2"],
            url=f"https://security-tracker.debian.org/tracker/CVE-2024-{number:05d}",
            namespace="debian:12",
        )
        for number in range(count)
    ]


def prepare(data_dir: Path, args: argparse.Namespace) -> Services:
    """Open a fresh store and add the analyzed image, its matches and the feed groups."""
    store = Store(f"sqlite:///{data_dir / 'bench.db'}")
    store.migrate()
    now = datetime.datetime.now(datetime.timezone.utc)
    report = build_report(args.packages, args.files)
    store.upsert_image(
        NewImage(
            digest=DIGEST,
            parent_digest=None,
            image_id=IMAGE_ID,
            manifest={},
            registry="registry.example",
            repository="app",
            tag="1",
        )
    )
    store.claim_analysis(DIGEST)
    store.finish_analysis(DIGEST, report.model_dump(mode="json"), summarize(report))
    store.save_matches(DIGEST, build_matches(args.matches), now=now)
    for group in ("debian:12", "pypi"):
        record = VulnRecord(id="CVE-2024-00000", namespace=group, package="package-0")
        store.replace_feed_group(FEED_NAME, group, [record], synced_at=now)
    store.add_policy(DEFAULT_BUNDLE, active=True)
    settings = Settings(data_dir=data_dir)
    return Services(settings=settings, store=store, registry=RegistryClient())


def add_history(services: Services, tag: str, count: int) -> str:
    """Store `count` older copies of the tag's evaluation with other keys; return its key."""
    [current] = services.store.list_evaluations(DIGEST, tag)
    for number in range(count):
        services.store.add_evaluation(
            dataclasses.replace(
                current,
                eval_id=f"older-{number}",
                result={**current.result, "check_key": f"older-{number}"},
                created_at=current.created_at - datetime.timedelta(minutes=number + 1),
            )
        )
    return str(current.result["check_key"])


def time_calls(call: Callable[[], object], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def milliseconds(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:8.2f} ms   p95 {p95 * 1000:8.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=1000, help="dpkg packages in the image")
    parser.add_argument("--files", type=int, default=20000, help="files in the image")
    parser.add_argument("--matches", type=int, default=300, help="vulnerability matches")
    parser.add_argument("--rounds", type=int, default=20, help="checks of each kind")
    parser.add_argument(
        "--history", type=int, default=50, help="older evaluations of the reused tag"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        services = prepare(Path(directory), args)
        evaluated: list[float] = []
        for round_number in range(args.rounds):
            started = time.perf_counter()
            check_image(services, DIGEST, f"registry.example/app:tag-{round_number}")
            evaluated.append(time.perf_counter() - started)
        tag = "registry.example/app:tag-0"
        key = add_history(services, tag, args.history)
        reused = time_calls(lambda: check_image(services, DIGEST, tag), args.rounds)
        policy_id = str(DEFAULT_BUNDLE["id"])
        listed = time_calls(lambda: services.store.list_evaluations(DIGEST, tag), args.rounds)
        found = time_calls(
            lambda: services.store.find_evaluation(DIGEST, tag, policy_id, key), args.rounds
        )
        services.store.close()

    print(machine())
    print(
        f"image: {args.packages} packages, {args.files} files, {args.matches} matches; "
        f"{args.rounds} checks of each kind; {args.history} older evaluations of the tag"
    )
    print(f"evaluated  {milliseconds(evaluated)}")
    print(f"reused     {milliseconds(reused)}")
    print(f"lookup: list_evaluations  {milliseconds(listed)}")
    print(f"lookup: find_evaluation   {milliseconds(found)}")


if __name__ == "__main__":
    main()
