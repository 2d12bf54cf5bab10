"""The `always` gate: a trigger that fires whenever its rule is evaluated."""

from __future__ import annotations

from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec
from chalicelib.policy.params import ParamValues

ALWAYS_TRIGGER_ID = "always"


def _evaluate_always(context: TriggerContext, params: ParamValues) -> list[Firing]:
    return [Firing("Unconditional trigger match", trigger_id=ALWAYS_TRIGGER_ID)]


GATE = GateSpec(
    name="always",
    description=(
        "Fires unconditionally. Use it to block every image that a mapping selects, or to "
        "test mappings and whitelists."
    ),
    triggers=(
        TriggerSpec(
            name="always",
            description="Fires once on every evaluated image, with trigger id `always`.",
            evaluate=_evaluate_always,
        ),
    ),
)
