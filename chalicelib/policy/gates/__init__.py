"""The table of every gate of the policy engine, active ones first."""

from __future__ import annotations

from chalicelib.policy.gate import GateSpec, Lifecycle
from chalicelib.policy.gates import (
    always,
    dockerfile,
    files,
    licenses,
    malware,
    metadata,
    package_feeds,
    packages,
    passwd_file,
    retrieved_files,
    secret_scans,
    vulnerabilities,
)
from chalicelib.policy.gates.eol import EOL_GATES

GATES: tuple[GateSpec, ...] = (
    always.GATE,
    dockerfile.GATE,
    files.GATE,
    licenses.GATE,
    metadata.GATE,
    malware.GATE,
    package_feeds.NPMS_GATE,
    packages.GATE,
    passwd_file.GATE,
    retrieved_files.GATE,
    package_feeds.RUBY_GEMS_GATE,
    secret_scans.GATE,
    vulnerabilities.GATE,
    *EOL_GATES,
)


def _index_gates(gates: tuple[GateSpec, ...]) -> dict[str, GateSpec]:
    index: dict[str, GateSpec] = {}
    for gate in gates:
        if gate.name in index:
            raise ValueError(f"gate {gate.name!r} is declared twice in the gate table")
        trigger_names = [trigger.name for trigger in gate.triggers]
        if len(set(trigger_names)) != len(trigger_names):
            raise ValueError(f"gate {gate.name!r} declares a trigger name twice")
        index[gate.name] = gate
    return index


_GATES_BY_NAME = _index_gates(GATES)


def find_gate(name: str) -> GateSpec | None:
    """Return the gate called `name`, case-insensitively, or None."""
    return _GATES_BY_NAME.get(name.lower())


def active_gate_names() -> list[str]:
    """Return the names of the gates that are not end-of-life, in table order."""
    return [gate.name for gate in GATES if gate.state is not Lifecycle.EOL]
