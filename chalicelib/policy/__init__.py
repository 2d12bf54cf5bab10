"""Policy engine: Anchore `1_0` bundles, their validation and their evaluation on an image.

The service layer calls the four names below. `ImageFacts` and `PolicyError` are in
`chalicelib.policy.interface`.
"""

from __future__ import annotations

import json
from pathlib import Path

from chalicelib.policy.bundle import BundleProblem, validate_bundle
from chalicelib.policy.evaluation import evaluate_bundle
from chalicelib.policy.spec import policy_spec

_DEFAULT_BUNDLE_PATH = Path(__file__).with_name("default_bundle.json")

DEFAULT_BUNDLE: dict = json.loads(_DEFAULT_BUNDLE_PATH.read_text(encoding="utf-8"))
"""Anchore Engine's default bundle, with its ids, rules and parameters; copy it before changing."""

__all__ = ["DEFAULT_BUNDLE", "BundleProblem", "evaluate_bundle", "policy_spec", "validate_bundle"]
