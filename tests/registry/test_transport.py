"""Descriptions of failed registry requests, against sockets on 127.0.0.1 that misbehave."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from chalicelib.registry import RegistryClient, RegistryUnavailableError


def closed_port() -> int:
    """Return a port of 127.0.0.1 on which nothing listens, so connections are refused."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return int(listener.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accept connections on 127.0.0.1 and never respond; yield the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.fixture
def closing_server() -> Iterator[int]:
    """Accept connections on 127.0.0.1 and close each at once without a response."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            connection.recv(65536)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def unavailable_message(reference: str, timeout: tuple[float, float] = (10.0, 60.0)) -> str:
    with RegistryClient(retries=1, timeout=timeout) as client:
        with pytest.raises(RegistryUnavailableError) as raised:
            client.fetch_manifest(reference)
    return str(raised.value)


def test_refused_connection_names_host_and_cause() -> None:
    port = closed_port()

    message = unavailable_message(f"127.0.0.1:{port}/app:1")

    assert f"request to registry 127.0.0.1:{port} for 127.0.0.1:{port}/app:1 failed" in message
    assert f"connection refused (127.0.0.1:{port})" in message
    assert "check that the registry is up and reachable from here" in message
    assert "Max retries exceeded" not in message
    assert "HTTPConnectionPool" not in message


def test_closed_connection_names_cause(closing_server: int) -> None:
    message = unavailable_message(f"127.0.0.1:{closing_server}/app:1")

    assert f"(127.0.0.1:{closing_server})" in message
    assert "closed connection without response" in message.lower()
    assert "Max retries exceeded" not in message


def test_silent_registry_times_out(silent_server: int) -> None:
    message = unavailable_message(f"127.0.0.1:{silent_server}/app:1", timeout=(10.0, 0.2))

    assert f"timed out waiting for a response (127.0.0.1:{silent_server})" in message
    assert "Read timed out" not in message
