"""The image the demo analyzes: Debian 12 with old, vulnerable Python and npm packages.

The packages are real. The Debian packages come from this machine's apt sources (bookworm),
the wheels and npm tarballs are old releases that public advisories cover:

| package | advisories |
|---|---|
| requests 2.19.1 | PYSEC-2018-28 (CVE-2018-18074), PYSEC-2023-74 (CVE-2023-32681) |
| urllib3 1.24.1 | PYSEC-2019-132 (CVE-2019-11236), PYSEC-2019-133 (CVE-2019-11324) and later |
| Jinja2 2.10 | PYSEC-2019-217 (CVE-2019-10906), PYSEC-2021-66 |
| Flask 0.12.2 | PYSEC-2018-66 (CVE-2018-1000656), PYSEC-2019-179, PYSEC-2023-62 |
| Werkzeug 0.14.1 | PYSEC-2019-140 (CVE-2019-14806) and later |
| certifi 2018.4.16 | PYSEC-2022-42986, PYSEC-2023-135 |
| lodash 4.17.4 | GHSA-jf85-cpcp-j695 (CVE-2019-10744) |
| minimist 0.0.8 | GHSA-vh95-rmgr-6w4m (CVE-2020-7598) |
| ms 0.7.0 | CVE-2015-8315 |
| hoek 4.2.0 | CVE-2018-3728 |

`passwd` and `login` bring setuid and setgid binaries, and the config exposes port 22.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tools.imagebuild import (
    DEFAULT_CACHE_DIR,
    DpkgDatabase,
    ImageBuilder,
    fetch_debs,
    fetch_npm,
    fetch_wheels,
    install_npm_packages,
    install_wheels,
    run_step,
)

DEMO_TAG = "latest"

BASE_DEBS = [
    "base-files", "base-passwd", "debianutils", "gcc-12-base", "libc6", "libgcc-s1",
    "libcrypt1", "zlib1g", "libtinfo6", "bash", "dash", "libacl1", "libattr1", "libgmp10",
    "libpcre2-8-0", "libselinux1", "coreutils", "libaudit-common", "libcap-ng0", "libaudit1",
    "libpam0g", "login", "passwd",
]  # fmt: skip
"""Packages of the base layer: a minimal bookworm root file system with login and passwd."""

OPENSSL_DEBS = ["libssl3", "openssl"]
"""Packages of the second layer, as an `apt-get install` on top of the base."""

WHEELS = [
    "requests==2.19.1",
    "urllib3==1.24.1",
    "Jinja2==2.10",
    "Flask==0.12.2",
    "Werkzeug==0.14.1",
    "certifi==2018.4.16",
]
APP_NPM_PACKAGES = ["lodash@4.17.4", "minimist@0.0.8", "ms@0.7.0"]
"""npm packages of the application in `/app/node_modules`."""
GLOBAL_NPM_PACKAGES = ["hoek@4.2.0"]
"""npm packages installed globally, in `/usr/lib/node_modules`."""

APP_PACKAGE_JSON = b"""{
  "name": "plimsoll-demo-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "lodash": "4.17.4",
    "minimist": "0.0.8",
    "ms": "0.7.0"
  }
}
"""

logger = logging.getLogger(__name__)


def build_demo_image(out_dir: Path, cache_dir: Path = DEFAULT_CACHE_DIR) -> Path:
    """Build the demo image as an OCI layout at `out_dir`, tagged `latest`, and return `out_dir`.

    Packages are downloaded into `cache_dir` on the first run only. The digests are the same on
    every run with the same cached packages.
    """
    base_debs = fetch_debs(BASE_DEBS, cache_dir)
    openssl_debs = fetch_debs(OPENSSL_DEBS, cache_dir)
    wheels = fetch_wheels(WHEELS, cache_dir)
    app_tarballs = fetch_npm(APP_NPM_PACKAGES, cache_dir)
    global_tarballs = fetch_npm(GLOBAL_NPM_PACKAGES, cache_dir)

    builder = ImageBuilder()
    dpkg = DpkgDatabase()
    dpkg.install(builder.add_layer(), base_debs)
    builder.cmd(["bash"])

    openssl_command = "apt-get update && apt-get install -y --no-install-recommends openssl"
    dpkg.install(builder.add_layer(run_step(openssl_command)), openssl_debs)

    builder.env("PYTHONDONTWRITEBYTECODE", "1")
    pip_command = "pip install --no-cache-dir " + " ".join(WHEELS)
    install_wheels(builder.add_layer(run_step(pip_command)), wheels)

    builder.workdir("/app")
    npm_layer = builder.add_layer(
        run_step("npm install && npm install --global " + " ".join(GLOBAL_NPM_PACKAGES))
    )
    npm_layer.add_file("app/package.json", APP_PACKAGE_JSON)
    install_npm_packages(npm_layer, app_tarballs, "/app/node_modules")
    install_npm_packages(npm_layer, global_tarballs, "/usr/lib/node_modules")

    builder.expose(22)
    builder.cmd(["python3", "-m", "flask", "run"])
    image = builder.write_oci_layout(out_dir, DEMO_TAG)
    logger.info("demo image %s:%s is %s", out_dir, DEMO_TAG, image.manifest_digest)
    return out_dir


def main() -> int:
    """Build the demo image into the directory given on the command line."""
    parser = argparse.ArgumentParser(description="Build the demo image as an OCI layout.")
    parser.add_argument("out", type=Path, help="directory of the OCI layout to write")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=DEFAULT_CACHE_DIR,
        help=f"package cache directory (default: {DEFAULT_CACHE_DIR})",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_demo_image(args.out, args.cache_dir)
    print(f"{args.out}:{DEMO_TAG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
