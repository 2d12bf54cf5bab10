"""The gate catalog served by `GET /v1/system/policy_spec`."""

from __future__ import annotations

from chalicelib.policy.gate import Lifecycle
from chalicelib.policy.gates import GATES


def policy_spec() -> list[dict]:
    """Return a `GateSpec` document for every gate, active gates first.

    Each gate lists its triggers with their parameters: name, description, example, whether it
    is required, its type, default and aliases, and a validator whose `criteria` is a JSON
    schema. End-of-life gates carry `state` `eol` and their successor in `superceded_by`, the
    field name Anchore Engine uses.
    """
    active = [gate.spec_json() for gate in GATES if gate.state is not Lifecycle.EOL]
    retired = [gate.spec_json() for gate in GATES if gate.state is Lifecycle.EOL]
    return active + retired
