"""Tests that the policy engine stays a plain library."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_policy_package_imports_no_chalice_or_boto3() -> None:
    code = (
        "import sys, chalicelib.policy; "
        "print(sorted(m for m in ('chalice', 'boto3', 'botocore') if m in sys.modules))"
    )

    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"
