"""Start a throwaway CNCF distribution registry (Debian's `docker-registry`) on loopback.

The registry gets its own config file listening on 127.0.0.1 only; the stock config of the Debian
package listens on every interface and is never used.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

REGISTRY_BINARY = "/usr/bin/docker-registry"

CONFIG_TEMPLATE = """\
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


class RegistryStartError(RuntimeError):
    """The registry process did not start or did not answer in time."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_registry(timeout: float = 20.0) -> Iterator[str]:
    """Run a registry for the duration of the block and yield its `127.0.0.1:PORT` address."""
    binary = shutil.which("docker-registry") or REGISTRY_BINARY
    if not Path(binary).exists():
        raise RegistryStartError(
            "docker-registry is not installed; install the Debian package docker-registry"
        )
    with tempfile.TemporaryDirectory(prefix="plimsoll-registry-") as workdir:
        port = free_port()
        config = Path(workdir) / "config.yml"
        config.write_text(CONFIG_TEMPLATE.format(root=Path(workdir) / "data", port=port))
        log = open(Path(workdir) / "registry.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
        address = f"127.0.0.1:{port}"
        try:
            _wait_until_up(address, process, timeout)
            yield address
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def _wait_until_up(address: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.trust_env = False  # never send loopback traffic through a proxy
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RegistryStartError(f"docker-registry exited with code {process.returncode}")
        try:
            if session.get(f"http://{address}/v2/", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    raise RegistryStartError(f"docker-registry on {address} did not answer within {timeout} s")
