"""Declarations that every gate module uses: gates, triggers, firings and their context.

A gate module defines a `GATE` constant: a `GateSpec` holding one `TriggerSpec` per trigger.
A trigger's `evaluate` function reads the image facts and the rule's validated parameters and
returns one `Firing` per condition found. The evaluator turns firings into result rows.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import hashlib
import re
from collections.abc import Callable
from typing import Any, TypeVar

from chalicelib.policy.explain import Cause
from chalicelib.policy.interface import ImageFacts, PolicyError
from chalicelib.policy.params import ParamSpec, ParamValues

T = TypeVar("T")


class Lifecycle(str, enum.Enum):
    """Lifecycle state of a gate or trigger, as `GET /v1/system/policy_spec` reports it."""

    ACTIVE = "active"
    DEPRECATED = "deprecated"
    EOL = "eol"
    """End of life: rejected by strict validation, loaded as a no-op by evaluation."""


class TriggerEvaluationError(PolicyError):
    """A trigger could not be evaluated on an image, for example because a pattern is invalid."""


@dataclasses.dataclass(frozen=True)
class Firing:
    """One match of a trigger on an image."""

    message: str
    trigger_id: str | None = None
    """Explicit trigger id; None means the default id derived from gate, trigger and message."""
    causes: tuple[Cause, ...] = ()
    """What in the image or its data made the trigger fire; empty when nothing specific did."""


@dataclasses.dataclass
class TriggerContext:
    """Inputs of one trigger evaluation: the image facts, the clock and the rule."""

    facts: ImageFacts
    now: datetime.datetime
    """Time of the evaluation, timezone-aware."""
    rule_id: str | None
    cache: dict[str, Any]
    """Values derived from the facts once per evaluation and shared by all triggers."""
    changes: list[datetime.datetime] = dataclasses.field(default_factory=list)
    """Future times at which a time comparison of a trigger would give another result."""

    def result_changes_at(self, moment: datetime.datetime) -> None:
        """Record that a trigger's result depends on whether `now` is before `moment`.

        Only a moment after `now` is kept: a stored result stays valid until the earliest one.
        """
        if moment > self.now:
            self.changes.append(moment)

    def cached(self, key: str, compute: Callable[[ImageFacts], T]) -> T:
        """Return `compute(facts)`, computed once per evaluation under `key`."""
        if key not in self.cache:
            self.cache[key] = compute(self.facts)
        value: T = self.cache[key]
        return value


Evaluator = Callable[[TriggerContext, ParamValues], list[Firing]]
"""Evaluate one trigger with the rule's parameters and return its firings."""

ParamCheck = Callable[[ParamValues], list[tuple[str, str]]]
"""Check parameters that depend on each other; return (parameter name, problem) pairs."""


def _no_firings(context: TriggerContext, params: ParamValues) -> list[Firing]:
    return []


@dataclasses.dataclass(frozen=True)
class TriggerSpec:
    """Declaration of one trigger of a gate."""

    name: str
    """Canonical name, lower case."""
    description: str
    evaluate: Evaluator = _no_firings
    params: tuple[ParamSpec, ...] = ()
    state: Lifecycle = Lifecycle.ACTIVE
    superseded_by: str | None = None
    check_params: ParamCheck | None = None
    """Validation across parameters, run after each parameter passed its own check."""
    accepts_any_params: bool = False
    """True for end-of-life triggers, whose old parameters are no longer declared."""

    def param(self, name: str) -> ParamSpec | None:
        """Return the parameter called `name` or one of its aliases, case-insensitively."""
        lowered = name.lower()
        for spec in self.params:
            if spec.name == lowered or lowered in spec.aliases:
                return spec
        return None

    def spec_json(self) -> dict[str, object]:
        """Return the `TriggerSpec` document of `GET /v1/system/policy_spec`."""
        return {
            "name": self.name,
            "description": self.description,
            "state": self.state.value,
            "superceded_by": self.superseded_by,
            "parameters": [param.spec_json() for param in self.params],
        }


@dataclasses.dataclass(frozen=True)
class GateSpec:
    """Declaration of a gate and its triggers."""

    name: str
    """Canonical name, lower case."""
    description: str
    triggers: tuple[TriggerSpec, ...]
    state: Lifecycle = Lifecycle.ACTIVE
    superseded_by: str | None = None

    def trigger(self, name: str) -> TriggerSpec | None:
        """Return the trigger called `name`, case-insensitively, or None."""
        lowered = name.lower()
        for spec in self.triggers:
            if spec.name == lowered:
                return spec
        return None

    def spec_json(self) -> dict[str, object]:
        """Return the `GateSpec` document of `GET /v1/system/policy_spec`."""
        return {
            "name": self.name,
            "description": self.description,
            "state": self.state.value,
            "superceded_by": self.superseded_by,
            "triggers": [trigger.spec_json() for trigger in self.triggers],
        }


def default_trigger_id(gate: str, trigger: str, message: str) -> str:
    """Return Anchore's default trigger id: the md5 hex digest of gate, trigger and message.

    Whitelists written for Anchore Engine name these ids, so messages must stay byte-identical
    to keep existing whitelist items matching.
    """
    digest = hashlib.md5(f"{gate}{trigger}{message}".encode(), usedforsecurity=False)
    return digest.hexdigest()


def as_utc(moment: datetime.datetime) -> datetime.datetime:
    """Return `moment` in UTC, reading a naive datetime as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def compile_pattern(pattern: str, param: str) -> re.Pattern[str]:
    """Compile a regular expression from a rule, raising `TriggerEvaluationError` if invalid."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise TriggerEvaluationError(
            f"parameter {param!r} value {pattern!r} is not a valid regular expression: {exc}; "
            "fix the pattern in the policy"
        ) from exc
