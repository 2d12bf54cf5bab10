"""Start a throwaway CNCF distribution registry (Debian's `docker-registry`) on loopback.

The registry gets its own config file listening on 127.0.0.1 only; the stock config of the Debian
package listens on every interface and is never used. The demo and the test fixtures in
`tests/support/registry.py` both start registries through `run_registry_process`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

REGISTRY_BINARY = "docker-registry"
LOOPBACK_NO_PROXY = "127.0.0.1,localhost,::1"
START_ATTEMPTS = 3
"""Tries with a new port each, because another process may take a free port before the
registry binds it."""
STARTUP_TIMEOUT_SECONDS = 10.0


class RegistryStartError(RuntimeError):
    """The registry is not installed, did not start, or did not answer in time."""


@dataclasses.dataclass(frozen=True)
class RegistryProcess:
    """A running registry process."""

    host: str
    """`127.0.0.1:PORT`, the registry part of image references."""
    storage_dir: Path
    log_path: Path


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def loopback_env() -> dict[str, str]:
    """Return this process's environment with loopback hosts added to `NO_PROXY`."""
    env = dict(os.environ)
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, (env.get(name), LOOPBACK_NO_PROXY)))
    return env


def registry_config(port: int, storage_dir: Path, auth: dict | None = None) -> dict:
    """Return a registry config listening on 127.0.0.1:`port`; JSON is valid YAML."""
    config: dict = {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(storage_dir)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}"},
    }
    if auth:
        config["auth"] = auth
    return config


@contextlib.contextmanager
def run_registry_process(
    workdir: Path, auth: dict | None = None, port: int | None = None
) -> Iterator[RegistryProcess]:
    """Run `docker-registry serve` with its config and storage in `workdir` until the block exits.

    `auth` is the registry config's `auth` section (htpasswd or token), or None for an open
    registry. `port` fixes the port; None picks a free one. Raises `RegistryStartError` when the
    binary is missing or the registry won't start.
    """
    binary = shutil.which(REGISTRY_BINARY)
    if binary is None:
        raise RegistryStartError(
            "docker-registry is not installed; install the Debian package docker-registry"
        )
    storage_dir = workdir / "storage"
    storage_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(START_ATTEMPTS if port is None else 1):
        listen_port = port or free_port()
        config_path = workdir / "config.yml"
        config_path.write_text(
            json.dumps(registry_config(listen_port, storage_dir, auth), indent=2)
        )
        log_path = workdir / f"registry-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=loopback_env(),
            )
        try:
            if _wait_until_ready(process, listen_port):
                yield RegistryProcess(f"127.0.0.1:{listen_port}", storage_dir, log_path)
                return
        finally:
            _stop(process)
        if "address already in use" not in log_path.read_text(errors="replace"):
            break
    raise RegistryStartError(
        f"docker-registry did not start; its log {log_path} ends with: "
        f"{log_path.read_text(errors='replace')[-2000:]}"
    )


@contextlib.contextmanager
def local_registry() -> Iterator[str]:
    """Run an open registry in a temporary directory and yield its `127.0.0.1:PORT` address."""
    with (
        tempfile.TemporaryDirectory(prefix="plimsoll-registry-") as workdir,
        run_registry_process(Path(workdir)) as registry,
    ):
        yield registry.host


def _wait_until_ready(process: subprocess.Popen[bytes], port: int) -> bool:
    """Poll `/v2/` until the registry responds; False when the process exits first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    session = requests.Session()
    session.trust_env = False  # never send loopback traffic through a proxy
    with session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            try:
                response = session.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except requests.ConnectionError:
                time.sleep(0.05)
                continue
            if response.status_code in (200, 401):
                return True
            time.sleep(0.05)
    raise RegistryStartError(
        f"docker-registry on port {port} did not answer on /v2/ within "
        f"{STARTUP_TIMEOUT_SECONDS} s"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def main() -> None:
    """Serve an open registry on 127.0.0.1 in the foreground until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.registry",
        description="Run Debian's docker-registry on 127.0.0.1 with a config of its own.",
    )
    parser.add_argument("--port", type=int, default=5000, help="TCP port (default: 5000)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".data/registry"),
        help="directory for the config, the log and the stored images (default: .data/registry)",
    )
    args = parser.parse_args()
    # SIGTERM (from `kill` or `timeout`) unwinds like Ctrl-C, so the registry process is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with run_registry_process(args.data_dir.resolve(), port=args.port) as registry:
            print(f"registry on {registry.host}, images in {registry.storage_dir}; Ctrl-C stops it")
            while True:
                time.sleep(3600)
    except RegistryStartError as error:
        raise SystemExit(f"registry: {error}") from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
