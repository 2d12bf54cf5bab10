"""The demo: build a real image, push it to a local registry, and put Plimsoll to work on it.

The demo builds an image from real Debian, PyPI and npm packages (`tools.demo_image`) and pushes
it to a throwaway `docker-registry` on 127.0.0.1. It then starts Plimsoll with embedded defaults
on a free port and syncs the feeds of `FEED_SOURCES`. Last, it adds the image through the v1 API,
waits for its analysis and prints the distro, package counts, vulnerabilities and the verdict.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

import requests

from tools.demo_image import build_demo_image
from tools.imagebuild import push
from tools.registry import free_port, local_registry

REPO_ROOT = Path(__file__).resolve().parents[1]
SEVERITY_ORDER = ["Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
MAX_SOURCE_ERRORS = 5
"""Failed feed sources listed one by one; the service log has every one."""
CHECK_OUTPUT_WIDTH = 72
"""Width that the policy table wraps each rule's check output to."""
SHARED_FEEDS = REPO_ROOT.parent / "shared" / "feeds"
LOCAL_FEEDS_HINT = (
    "osv=../shared/feeds/pypi/pypa-advisory-database/vulns,osv=../shared/feeds/npm/ghsa,"
    "alpine-secdb=../shared/feeds/alpine/alpine-secdb"
    if SHARED_FEEDS.is_dir()
    else ""
)
"""The README's offline `FEED_SOURCES`, offered when no source could be read and the copy
exists beside the checkout."""


def table(header: list[str], rows: list[list[object]], wrap_last: int | None = None) -> str:
    """Format rows as a plain table with aligned columns.

    With `wrap_last`, text in the last column is wrapped to that many characters, and its
    continuation lines are indented under the column.
    """
    cells = [header] + [["" if c is None else str(c) for c in row] for row in rows]
    wrapped = [
        _wrap(row[-1], wrap_last) if wrap_last else [row[-1]] for row in cells
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    widths.append(max(len(line) for lines in wrapped for line in lines))
    indent = " " * sum(width + 2 for width in widths[:-1])
    lines = []
    for row, last_lines in zip(cells, wrapped):
        first = [c.ljust(w) for c, w in zip(row[:-1], widths)] + [last_lines[0]]
        lines.append("  ".join(first).rstrip())
        lines.extend(indent + line for line in last_lines[1:])
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    # Ids such as GHSA-jf85-cpcp-j695 and URLs stay whole: no breaks at hyphens or inside words.
    return textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False) or [""]


class Api:
    """A small client of the v1 API that raises on unexpected statuses."""

    def __init__(self, base_url: str, password: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.auth = ("admin", password)

    def call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: object):
        response = self.session.request(method, self.base_url + path, timeout=600, **kwargs)
        if response.status_code not in ok:
            raise SystemExit(f"{method} {path} failed: HTTP {response.status_code} {response.text}")
        return response


def start_service(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), DATA_DIR=str(data_dir))
    env.pop("DATABASE_URL", None)
    env.pop("QUEUE_URL", None)
    log = open(log_path, "wb")  # noqa: SIM115 - the child process owns it
    return subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log
    )


def wait_for_service(api: Api, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"Plimsoll exited early; its log:\n{log_path.read_text()}")
        try:
            if api.session.get(api.base_url + "/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"Plimsoll did not start within 60 s; its log:\n{log_path.read_text()}")


def sync_feeds(api: Api) -> None:
    print("== Feed sync")
    sources = os.environ.get("FEED_SOURCES", "")
    print(f"FEED_SOURCES={sources or '(default: the public feeds, which can take minutes)'}")
    response = api.call("POST", "/v1/system/feeds", ok=(200, 400, 502))
    body = response.json()
    if response.status_code == 400:
        print(f"feed sync failed: {body.get('message')}")
        return
    if response.status_code == 502:
        body = body["detail"]["sync_result"]
    for feed in body:
        errors = feed.get("errors", [])
        for error in errors[:MAX_SOURCE_ERRORS]:
            print(f"source failed: {textwrap.shorten(str(error), 240)}")
        if len(errors) > MAX_SOURCE_ERRORS:
            print(f"... and {len(errors) - MAX_SOURCE_ERRORS} more failed sources")
        rows = [[g["group"], g["status"], g["updated_record_count"]] for g in feed["groups"]]
        if rows:
            if errors:
                print("some feed sources failed; the vulnerabilities below come from the rest")
            print(table(["Group", "Status", "Records"], rows))
        else:
            print("no feed source could be read, so no vulnerabilities are shown below")
            if LOCAL_FEEDS_HINT:
                print(f"without internet access, use the copy beside this checkout:\n"
                      f"    FEED_SOURCES={LOCAL_FEEDS_HINT} make demo")
    print()


def wait_for_analysis(api: Api, digest: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = api.call("GET", f"/v1/images/{digest}").json()[0]
        if image["analysis_status"] in ("analyzed", "analysis_failed"):
            return image
        time.sleep(0.5)
    raise SystemExit(f"analysis of {digest} did not finish within {timeout} s")


def report(api: Api, image: dict, tag: str) -> int:
    digest = image["imageDigest"]
    meta = image["image_content"]["metadata"]
    print("== Image")
    print(f"tag:     {tag}")
    print(f"digest:  {digest}")
    print(f"distro:  {meta['distro']} {meta['distro_version']}")
    print(f"layers:  {meta['layer_count']}, {meta['image_size']} bytes uncompressed")
    counts = Counter()
    for content_type in ("os", "python", "npm", "files"):
        rows = api.call("GET", f"/v1/images/{digest}/content/{content_type}").json()["content"]
        counts[content_type] = len(rows)
    print(table(["Type", "Count"], [[k, v] for k, v in counts.items()]))
    print()

    print("== Vulnerabilities")
    vulns = api.call("GET", f"/v1/images/{digest}/vuln/all").json()["vulnerabilities"]
    vulns.sort(key=lambda v: (-SEVERITY_ORDER.index(v["severity"]), v["package_name"], v["vuln"]))
    rows = [
        [v["vuln"], v["severity"], v["package_name"], v["package_version"], v["fix"]]
        for v in vulns
    ]
    print(table(["ID", "Severity", "Package", "Installed", "Fixed in"], rows) if rows else "none")
    print()

    print("== Policy evaluation (active bundle)")
    check = api.call(
        "GET", f"/v1/images/{digest}/check", params={"tag": tag, "detail": "true"}
    ).json()
    entry = next(iter(next(iter(check[0].values())).values()))[0]
    result = entry["detail"]["result"]
    print(f"policy:  {entry['policyId']}")
    print(f"status:  {entry['status']} (final action {result['final_action']}, "
          f"reason {result['final_action_reason']})")
    table_rows = result["result"][result["image_id"]]["result"]["rows"]
    print(table(
        ["Gate", "Trigger", "Action", "Check output"],
        [[r[3], r[4], r[6], r[5]] for r in table_rows],
        wrap_last=CHECK_OUTPUT_WIDTH,
    ))
    return 0 if entry["status"] == "pass" else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / ".cache" / "packages")
    args = parser.parse_args()
    # The image builder logs each download, so a first run shows what it is fetching.
    logging.basicConfig(format="   %(message)s")
    logging.getLogger("tools.imagebuild.fetch").setLevel(logging.INFO)

    with tempfile.TemporaryDirectory(prefix="plimsoll-demo-") as workdir:
        work = Path(workdir)
        print("== Building the demo image from real packages")
        print(f"   (downloads are cached in {args.cache_dir}; the first run fetches them)")
        layout = build_demo_image(work / "layout", args.cache_dir)
        with local_registry() as registry:
            tag = f"{registry}/plimsoll/demo:latest"
            push(layout, "latest", tag)
            print(f"pushed {tag}\n")
            port = free_port()
            log_path = work / "plimsoll.log"
            process = start_service(work / "data", port, log_path)
            api = Api(f"http://127.0.0.1:{port}", os.environ.get("ADMIN_PASSWORD", "foobar"))
            try:
                wait_for_service(api, process, log_path)
                sync_feeds(api)
                added = api.call("POST", "/v1/images", json={"tag": tag}).json()[0]
                image = wait_for_analysis(api, added["imageDigest"])
                if image["analysis_status"] != "analyzed":
                    raise SystemExit(f"analysis failed: {image.get('analysis_error')}")
                verdict = report(api, image, tag)
            finally:
                process.terminate()
                process.wait(timeout=20)
    print(f"\nverdict: {'pass' if verdict == 0 else 'fail'}")


if __name__ == "__main__":
    main()
