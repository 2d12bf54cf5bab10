"""Measure one run of the watchers when no watched tag has moved.

Starts a `docker-registry` on 127.0.0.1, pushes `--tags` one-file images as the tags of one
repository, adds each tag as an image with `tag_update` on, waits for the analyses, and
switches `policy_eval` on for each tag too. Then it times
`run_watchers` on a fresh SQLite store: the first run evaluates the policy of every tag, and the
later runs find nothing changed. An idle run is what a deployment pays at every interval.

Run from the repository root:

    .venv/bin/python -m benchmarks.watch_idle_run [--tags N] [--runs N]

It prints the machine, the first run's time, and the median and maximum of the idle runs, in
total and per tag.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.vulns_common import machine
from chalicelib.config import Settings
from chalicelib.service.context import Services, build_services
from chalicelib.service.images import AddImageRequest, add_image
from chalicelib.service.watch import run_watchers
from tools.imagebuild import ImageBuilder, push
from tools.registry import run_registry_process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=50, help="watched tags (default 50)")
    parser.add_argument("--runs", type=int, default=5, help="idle runs timed (default 5)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="watch-bench-") as work:
        workdir = Path(work)
        with run_registry_process(workdir / "registry") as registry:
            tags = [f"{registry.host}/bench/app:{index}" for index in range(args.tags)]
            for index, tag in enumerate(tags):
                builder = ImageBuilder()
                builder.add_layer().add_file("/etc/bench", str(index).encode())
                builder.write_oci_layout(workdir / "layout", str(index))
                push(workdir / "layout", str(index), tag)

            services = build_services(Settings(data_dir=workdir / "data", feed_sources=""))
            for tag in tags:
                add_image(services, AddImageRequest(pullstring=tag, autosubscribe=True))
                policy = services.store.find_subscription(tag, "policy_eval")
                if policy is None:
                    raise SystemExit(f"adding {tag} created no policy_eval subscription")
                services.store.update_subscription(policy.subscription_id, active=True)
            for tag in tags:
                _wait_analyzed(services, tag)

            started = time.perf_counter()
            first = run_watchers(services)
            first_seconds = time.perf_counter() - started
            idle = []
            for _ in range(args.runs):
                started = time.perf_counter()
                result = run_watchers(services)
                idle.append(time.perf_counter() - started)
                if result.images_added or result.errors:
                    raise SystemExit(f"an idle run changed something: {result}")
            services.store.close()

    print(machine())
    print(f"tags: {args.tags}, first run errors: {len(first.errors)}")
    print(f"first run (evaluates every tag): {first_seconds * 1000:.0f} ms")
    median, worst = statistics.median(idle), max(idle)
    print(
        f"idle run: median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms; "
        f"per tag: median {median * 1000 / args.tags:.1f} ms"
    )


def _wait_analyzed(services: Services, tag: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        images = services.store.list_images(fulltag=tag)
        if images and images[0].analysis_status in ("analyzed", "analysis_failed"):
            return
        time.sleep(0.2)
    raise SystemExit(f"the analysis of {tag} did not end within {timeout} s")


if __name__ == "__main__":
    main()
