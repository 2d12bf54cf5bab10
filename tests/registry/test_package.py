"""Tests of the `chalicelib.registry` package's lazily imported client names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import chalicelib.registry
from chalicelib.registry import client


def test_package_import_leaves_requests_unloaded() -> None:
    # A fresh interpreter, because this test process has imported `requests` already.
    code = (
        "import sys, chalicelib.registry\n"
        "print('requests' in sys.modules, 'chalicelib.registry.client' in sys.modules)\n"
        "chalicelib.registry.RegistryClient\n"
        "print('requests' in sys.modules)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    assert output[:2] == ["False", "False"]
    assert output[2] == "True"


def test_package_client_names_resolve() -> None:
    assert chalicelib.registry.RegistryClient is client.RegistryClient
    assert chalicelib.registry.ResolvedImage is client.ResolvedImage


def test_package_exports_every_public_name() -> None:
    namespace: dict[str, object] = {}
    exec("from chalicelib.registry import *", namespace)
    assert set(chalicelib.registry.__all__) <= set(namespace)
    assert set(chalicelib.registry.__all__) <= set(dir(chalicelib.registry))


def test_package_unknown_name_raises() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        chalicelib.registry.NoSuchName  # noqa: B018
