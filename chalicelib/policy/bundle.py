"""The `1_0` bundle model: validation of bundle documents and their compiled parts.

Validation collects every problem instead of stopping at the first, so that a user sees all of
them at once. Each problem carries the location (policy, rule, gate, trigger, parameter,
whitelist or mapping) as fields and in its message, and a `problem_type` named after the error
class Anchore Engine raises for the same problem.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections import Counter
from typing import TypeGuard

from pydantic import BaseModel, ConfigDict

from chalicelib.policy.gate import GateSpec, Lifecycle, TriggerSpec, as_utc
from chalicelib.policy.gates import active_gate_names, find_gate
from chalicelib.policy.matching import pattern_problem
from chalicelib.policy.params import ParamValues

SUPPORTED_VERSION = "1_0"
SELECTION_KINDS = ("mappings", "whitelisted_images", "blacklisted_images")
IMAGE_TYPES = ("tag", "digest", "id")


class Action(enum.IntEnum):
    """Action of a rule; a lower value is stricter, so the decision is the minimum."""

    STOP = -1
    WARN = 0
    GO = 1


class BundleProblem(BaseModel):
    """One problem found in a bundle, with where it is."""

    model_config = ConfigDict(frozen=True)

    message: str
    """Sentence naming the location and the problem, and what to do where it is not obvious."""
    problem_type: str
    """Name of the matching Anchore Engine error class, such as `GateNotFoundError`."""
    severity: str = "error"
    """`error`, or `warn` for a problem that does not stop an evaluation."""
    policy_id: str | None = None
    rule_id: str | None = None
    rule_position: int | None = None
    """One-based position of the rule in its policy's `rules` list."""
    gate: str | None = None
    trigger: str | None = None
    parameter: str | None = None
    whitelist_id: str | None = None
    mapping: str | None = None
    """Name or id of the mapping or image selection rule, or `<kind>[<index>]`."""

    def __str__(self) -> str:
        return self.message

    def evaluation_problem(self) -> dict[str, str]:
        """Return the `PolicyEvaluationProblem` document of an evaluation result."""
        return {
            "severity": self.severity,
            "problem_type": self.problem_type,
            "details": self.message,
        }


@dataclasses.dataclass(frozen=True)
class _Location:
    """Location of a problem, rendered as the start of its message."""

    policy_id: str | None = None
    rule_id: str | None = None
    rule_position: int | None = None
    gate: str | None = None
    trigger: str | None = None
    parameter: str | None = None
    whitelist_id: str | None = None
    mapping: str | None = None

    def problem(self, problem_type: str, detail: str, severity: str = "error") -> BundleProblem:
        return BundleProblem(
            message=f"{self._describe()}: {detail}" if self._describe() else detail,
            problem_type=problem_type,
            severity=severity,
            **dataclasses.asdict(self),
        )

    def _describe(self) -> str:
        parts = []
        if self.mapping is not None:
            parts.append(f"mapping {self.mapping!r}")
        if self.whitelist_id is not None:
            parts.append(f"whitelist {self.whitelist_id!r}")
        if self.policy_id is not None:
            parts.append(f"policy {self.policy_id!r}")
        if self.rule_position is not None:
            rule = f"rule {self.rule_position}"
            parts.append(f"{rule} (id {self.rule_id!r})" if self.rule_id else rule)
        if self.gate is not None:
            parts.append(f"gate {self.gate!r}")
        if self.trigger is not None:
            parts.append(f"trigger {self.trigger!r}")
        if self.parameter is not None:
            parts.append(f"parameter {self.parameter!r}")
        return " ".join(parts)

    def replace(self, **changes: object) -> _Location:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclasses.dataclass(frozen=True)
class Rule:
    """A validated policy rule, ready to evaluate."""

    policy_id: str
    rule_id: str | None
    position: int
    """One-based position of the rule in its policy's `rules` list."""
    gate: GateSpec
    trigger: TriggerSpec
    action: Action
    params: ParamValues

    @property
    def is_end_of_life(self) -> bool:
        return Lifecycle.EOL in (self.gate.state, self.trigger.state)

    def problem(self, problem_type: str, detail: str, severity: str = "error") -> BundleProblem:
        """Return a problem located at this rule."""
        location = _Location(
            policy_id=self.policy_id,
            rule_id=self.rule_id,
            rule_position=self.position,
            gate=self.gate.name,
            trigger=self.trigger.name,
        )
        return location.problem(problem_type, detail, severity)

    def end_of_life_detail(self) -> str:
        """Return why the rule is not evaluated and what replaces its gate or trigger."""
        return _end_of_life_detail(self.gate, self.trigger)


@dataclasses.dataclass(frozen=True)
class Policy:
    """A validated policy."""

    id: str
    name: str | None
    rules: tuple[Rule, ...]


@dataclasses.dataclass(frozen=True)
class WhitelistItem:
    """A validated whitelist item."""

    id: str | None
    gate: str
    """Gate name in lower case."""
    trigger_id: str
    """Trigger id, glob or `regexp:` pattern."""
    expires_on: datetime.datetime | None
    package_version: str | None = None
    """Plimsoll extension: version, glob or `regexp:` pattern that a package causing the row
    must have; None matches rows whatever their packages."""


@dataclasses.dataclass(frozen=True)
class Whitelist:
    """A validated whitelist."""

    id: str
    name: str | None
    items: tuple[WhitelistItem, ...]


def _is_text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _check_version(document: dict, location: _Location, what: str) -> list[BundleProblem]:
    version = document.get("version")
    if version == SUPPORTED_VERSION:
        return []
    return [
        location.problem(
            "UnsupportedVersionError",
            f'{what} version {version!r} is not supported; set "version": "{SUPPORTED_VERSION}"',
        )
    ]


def parse_timestamp(text: str) -> datetime.datetime:
    """Parse an RFC 3339 timestamp such as `2024-01-31T00:00:00Z`; no offset means UTC."""
    return as_utc(datetime.datetime.fromisoformat(text))


def compile_rule(
    raw: object, policy_id: str, position: int, *, strict: bool
) -> tuple[Rule | None, list[BundleProblem]]:
    """Validate one rule of a policy and return it compiled, with the problems found.

    The rule is None when it cannot be evaluated. In lenient mode (`strict=False`) a rule of an
    end-of-life gate or trigger compiles, and evaluation reports it and skips it.
    """
    location = _Location(policy_id=policy_id, rule_position=position)
    if not isinstance(raw, dict):
        return None, [location.problem("ValidationError", "rule is not a JSON object")]
    rule_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    gate_name, trigger_name = raw.get("gate"), raw.get("trigger")
    location = location.replace(
        rule_id=rule_id,
        gate=gate_name if _is_text(gate_name) else None,
        trigger=trigger_name if _is_text(trigger_name) else None,
    )
    problems: list[BundleProblem] = []

    action_text = raw.get("action")
    action = None
    if isinstance(action_text, str) and action_text.upper() in Action.__members__:
        action = Action[action_text.upper()]
    else:
        problems.append(
            location.problem(
                "InvalidGateAction", f"action {action_text!r} is invalid; use GO, WARN or STOP"
            )
        )

    if not _is_text(gate_name):
        problems.append(location.problem("ValidationError", "gate is missing"))
        return None, problems
    gate = find_gate(gate_name)
    if gate is None:
        problems.append(
            location.problem(
                "GateNotFoundError",
                f"gate not found; use one of {', '.join(active_gate_names())}",
            )
        )
        return None, problems

    if not _is_text(trigger_name):
        problems.append(location.problem("ValidationError", "trigger is missing"))
        return None, problems
    trigger = gate.trigger(trigger_name)
    if trigger is None:
        names = ", ".join(t.name for t in gate.triggers)
        problems.append(
            location.problem("TriggerNotFoundError", f"trigger not found; use one of {names}")
        )
        return None, problems

    end_of_life = Lifecycle.EOL in (gate.state, trigger.state)
    if end_of_life and strict:
        problems.append(location.problem("EndOfLifedError", _end_of_life_detail(gate, trigger)))
        return None, problems

    values, param_problems = _compile_params(raw.get("params"), trigger, location)
    problems += param_problems
    if problems or action is None:
        return None, problems
    rule = Rule(
        policy_id,
        rule_id,
        position,
        gate,
        trigger,
        action,
        ParamValues({} if end_of_life else values),
    )
    return rule, []


def _end_of_life_detail(gate: GateSpec, trigger: TriggerSpec) -> str:
    if gate.state is Lifecycle.EOL:
        what, successor = f"gate {gate.name!r}", gate.superseded_by
    else:
        what, successor = f"trigger {gate.name}/{trigger.name}", trigger.superseded_by
    if successor:
        return f"{what} is end-of-life and is no longer evaluated; replace it with {successor!r}"
    return f"{what} is end-of-life and is no longer evaluated; remove it"


def _compile_params(
    raw_params: object, trigger: TriggerSpec, location: _Location
) -> tuple[dict[str, str], list[BundleProblem]]:
    if raw_params is None:
        raw_params = []
    if not isinstance(raw_params, list):
        return {}, [
            location.problem("ValidationError", "params is not a list of {name, value} objects")
        ]

    values: dict[str, str] = {}
    # Canonical names of the parameters given with a value, valid or not.
    given: set[str] = set()
    problems: list[BundleProblem] = []
    for raw in raw_params:
        if not isinstance(raw, dict) or not _is_text(raw.get("name")):
            problems.append(location.problem("ValidationError", f"parameter {raw!r} has no name"))
            continue
        name = raw["name"]
        value = raw.get("value")
        if trigger.accepts_any_params:
            continue
        spec = trigger.param(name)
        here = location.replace(parameter=name.lower())
        if spec is None:
            valid = ", ".join(p.name for p in trigger.params) or "none"
            problems.append(
                here.problem(
                    "InvalidParameterError", f"parameter is unknown; valid parameters: {valid}"
                )
            )
            continue
        if value is None:
            continue
        given.add(spec.name)
        reason = spec.check_value(value)
        if reason:
            problems.append(
                here.replace(parameter=spec.name).problem("ParameterValueInvalidError", reason)
            )
            continue
        values[spec.name] = str(value)

    if trigger.accepts_any_params:
        return {}, problems
    for spec in trigger.params:
        if spec.required and spec.name not in given:
            problems.append(
                location.replace(parameter=spec.name).problem(
                    "RequiredParameterNotSetError", "required parameter is missing"
                )
            )
    if not problems and trigger.check_params:
        for name, reason in trigger.check_params(ParamValues(values)):
            problems.append(
                location.replace(parameter=name).problem("ParameterValueInvalidError", reason)
            )
    return values, problems


def _as_entry(label: str, raw: object) -> dict | BundleProblem:
    """Return a policy or whitelist document, or the problem when it is no object or has no id."""
    if not isinstance(raw, dict):
        return BundleProblem(
            message=f"{label} is not a JSON object", problem_type="ValidationError"
        )
    if not _is_text(raw.get("id")):
        return BundleProblem(
            message=f'{label} has no id; add an "id" string', problem_type="ValidationError"
        )
    return raw


def compile_policy(
    raw: object, *, strict: bool, label: str = "policy"
) -> tuple[Policy | None, list[BundleProblem]]:
    """Validate a policy and its rules; the policy is None when any rule has a problem.

    Rules of end-of-life gates are not problems in lenient mode (`strict=False`). `label`
    names the policy in problems when it has no id, such as `policies[2]`.
    """
    entry = _as_entry(label, raw)
    if isinstance(entry, BundleProblem):
        return None, [entry]
    policy_id = entry["id"]
    location = _Location(policy_id=policy_id)
    problems = _check_version(entry, location, "policy")
    raw_rules = entry.get("rules")
    if not isinstance(raw_rules, list):
        problems.append(location.problem("ValidationError", "rules is missing or not a list"))
        return None, problems

    rules = []
    for position, raw_rule in enumerate(raw_rules, start=1):
        rule, rule_problems = compile_rule(raw_rule, policy_id, position, strict=strict)
        problems += rule_problems
        if rule is not None:
            rules.append(rule)
    if problems:
        return None, problems
    name = entry.get("name") if isinstance(entry.get("name"), str) else None
    return Policy(policy_id, name, tuple(rules)), []


def compile_whitelist(
    raw: object, *, label: str = "whitelist"
) -> tuple[Whitelist | None, list[BundleProblem]]:
    """Validate a whitelist; the whitelist is None when it has a problem.

    `label` names the whitelist in problems when it has no id, such as `whitelists[0]`.
    """
    entry = _as_entry(label, raw)
    if isinstance(entry, BundleProblem):
        return None, [entry]
    whitelist_id = entry["id"]
    location = _Location(whitelist_id=whitelist_id)
    problems = _check_version(entry, location, "whitelist")
    raw_items = entry.get("items")
    if not isinstance(raw_items, list):
        problems.append(location.problem("ValidationError", "items is missing or not a list"))
        return None, problems

    items = []
    for position, raw_item in enumerate(raw_items, start=1):
        item, item_problems = _compile_item(raw_item, location, position)
        problems += item_problems
        if item is not None:
            items.append(item)
    if problems:
        return None, problems
    name = entry.get("name") if isinstance(entry.get("name"), str) else None
    return Whitelist(whitelist_id, name, tuple(items)), []


def _compile_item(
    raw: object, location: _Location, position: int
) -> tuple[WhitelistItem | None, list[BundleProblem]]:
    if not isinstance(raw, dict):
        return None, [location.problem("ValidationError", f"item {position} is not a JSON object")]
    item_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    label = f"item {position}" + (f" (id {item_id!r})" if item_id else "")
    problems = []
    gate, trigger_id = raw.get("gate"), raw.get("trigger_id")
    if not _is_text(gate):
        problems.append(location.problem("ValidationError", f"{label} has no gate"))
    if not isinstance(trigger_id, str) or not trigger_id:
        problems.append(location.problem("ValidationError", f"{label} has no trigger_id"))
    elif pattern_problem(trigger_id):
        problems.append(
            location.problem("ValidationError", f"{label}: {pattern_problem(trigger_id)}")
        )

    package_version = raw.get("package_version")
    if package_version is not None:
        if not isinstance(package_version, str) or not package_version.strip():
            problems.append(
                location.problem(
                    "ValidationError",
                    f"{label} package_version {package_version!r} is not a version string; "
                    "give a version such as 1.1.1d-0+deb10u3, or remove the field",
                )
            )
        elif pattern_problem(package_version):
            problems.append(
                location.problem(
                    "ValidationError", f"{label} package_version {pattern_problem(package_version)}"
                )
            )

    expires_on = None
    raw_expiry = raw.get("expires_on")
    if raw_expiry:
        try:
            expires_on = parse_timestamp(raw_expiry)
        except (TypeError, ValueError):
            problems.append(
                location.problem(
                    "ValidationError",
                    f"{label} expires_on {raw_expiry!r} is not an RFC 3339 timestamp such as "
                    "2024-01-31T00:00:00Z",
                )
            )
    if problems:
        return None, problems
    assert isinstance(gate, str) and isinstance(trigger_id, str)
    version = package_version if isinstance(package_version, str) else None
    return WhitelistItem(item_id, gate.lower(), trigger_id, expires_on, version), []


def selection_label(raw: object, kind: str, index: int) -> str:
    """Return the name or id of a mapping or image rule, or `<kind>[<index>]` without either."""
    if isinstance(raw, dict):
        for key in ("name", "id"):
            if _is_text(raw.get(key)):
                return str(raw[key])
    return f"{kind}[{index}]"


def check_selection_rule(raw: object, kind: str, index: int) -> list[BundleProblem]:
    """Validate a mapping (`kind` `mappings`) or an image selection rule.

    Reference checks (that the policies and whitelists named exist) are separate, in
    `check_references`, because evaluation checks them for the matched mapping only.
    """
    location = _Location(mapping=selection_label(raw, kind, index))
    if not isinstance(raw, dict):
        return [location.problem("ValidationError", f"{kind} entry is not a JSON object")]
    problems = []
    for field in ("registry", "repository"):
        value = raw.get(field)
        if not isinstance(value, str) or not value:
            problems.append(
                location.problem("ValidationError", f"{field} is missing; use * to match any")
            )
        elif pattern_problem(value):
            problems.append(
                location.problem("ValidationError", f"{field} {pattern_problem(value)}")
            )

    image = raw.get("image")
    if not isinstance(image, dict):
        problems.append(
            location.problem(
                "ValidationError", 'image is missing; use {"type": "tag", "value": "*"}'
            )
        )
    elif image.get("type") not in IMAGE_TYPES:
        problems.append(
            location.problem(
                "ValidationError",
                f"image type {image.get('type')!r} is invalid; use tag, digest or id",
            )
        )
    elif not isinstance(image.get("value"), str) or not image.get("value"):
        problems.append(location.problem("ValidationError", "image value is missing"))
    elif image["type"] == "tag" and pattern_problem(image["value"]):
        problems.append(
            location.problem("ValidationError", f"image value {pattern_problem(image['value'])}")
        )

    if kind == "mappings":
        problems += _check_mapping_targets(raw, location)
    return problems


def _check_mapping_targets(raw: dict, location: _Location) -> list[BundleProblem]:
    has_one, has_many = raw.get("policy_id") is not None, raw.get("policy_ids") is not None
    problems = []
    if has_one and has_many:
        problems.append(
            location.problem("ValidationError", "set policy_id or policy_ids, not both")
        )
    elif not has_one and not has_many:
        problems.append(location.problem("ValidationError", "policy_id or policy_ids is missing"))
    elif has_one and not _is_text(raw["policy_id"]):
        problems.append(location.problem("ValidationError", "policy_id is not a policy id"))
    elif has_many and not _is_id_list(raw["policy_ids"], allow_empty=False):
        problems.append(
            location.problem("ValidationError", "policy_ids is not a non-empty list of policy ids")
        )
    if raw.get("whitelist_ids") is not None and not _is_id_list(
        raw["whitelist_ids"], allow_empty=True
    ):
        problems.append(
            location.problem("ValidationError", "whitelist_ids is not a list of whitelist ids")
        )
    return problems


def _is_id_list(value: object, *, allow_empty: bool) -> bool:
    return (
        isinstance(value, list) and (allow_empty or bool(value)) and all(_is_text(v) for v in value)
    )


def mapping_policy_ids(raw: dict) -> list[str]:
    """Return the policy ids of a valid mapping, from `policy_id` or `policy_ids`."""
    if raw.get("policy_id") is not None:
        return [raw["policy_id"]]
    return list(raw.get("policy_ids") or [])


def mapping_whitelist_ids(raw: dict) -> list[str]:
    """Return the whitelist ids of a valid mapping."""
    return list(raw.get("whitelist_ids") or [])


def find_by_id(bundle: dict, section: str, object_id: str) -> list[object]:
    """Return the entries of `bundle[section]` whose id is `object_id`."""
    entries = bundle.get(section)
    if not isinstance(entries, list):
        return []
    return [entry for entry in entries if isinstance(entry, dict) and entry.get("id") == object_id]


def check_references(
    bundle: dict, mapping: dict, index: int, *, include_duplicates: bool = True
) -> list[BundleProblem]:
    """Return a problem for each policy or whitelist of a valid mapping that is missing or repeated.

    `include_duplicates=False` leaves out ids found more than once, for callers that report
    duplicate ids across the whole bundle themselves.
    """
    location = _Location(mapping=selection_label(mapping, "mappings", index))
    problems = []
    for section, kind, ids in (
        ("policies", "policy", mapping_policy_ids(mapping)),
        ("whitelists", "whitelist", mapping_whitelist_ids(mapping)),
    ):
        for object_id in ids:
            found = find_by_id(bundle, section, object_id)
            if not found:
                problems.append(
                    location.problem(
                        "ReferencedObjectNotFoundError",
                        f"{kind} {object_id!r} is not in the bundle; add it or fix the id",
                    )
                )
            elif len(found) > 1 and include_duplicates:
                problems.append(_duplicate_problem(kind, object_id, len(found)))
    return problems


def _duplicate_problem(kind: str, object_id: str, count: int) -> BundleProblem:
    return BundleProblem(
        message=f"{kind} id {object_id!r} is used by {count} {kind} entries; give each a unique id",
        problem_type="DuplicateIdentifierFoundError",
        policy_id=object_id if kind == "policy" else None,
        whitelist_id=object_id if kind == "whitelist" else None,
    )


def check_bundle_header(bundle: object) -> list[BundleProblem]:
    """Validate the top level of a bundle: its type, id, version and list fields."""
    if not isinstance(bundle, dict):
        return [
            BundleProblem(message="bundle is not a JSON object", problem_type="ValidationError")
        ]
    problems = []
    if not _is_text(bundle.get("id")):
        problems.append(
            BundleProblem(message="bundle id is missing", problem_type="ValidationError")
        )
    problems += _check_version(bundle, _Location(), "bundle")
    for section, required in (
        ("policies", True),
        ("mappings", True),
        ("whitelists", False),
        ("whitelisted_images", False),
        ("blacklisted_images", False),
    ):
        value = bundle.get(section)
        if value is None and not required:
            continue
        if not isinstance(value, list):
            problems.append(
                BundleProblem(
                    message=f"bundle {section} is missing or not a list",
                    problem_type="ValidationError",
                )
            )
    return problems


def check_selection_rules(bundle: dict) -> list[BundleProblem]:
    """Validate every mapping and image selection rule of a bundle."""
    problems = []
    for kind in SELECTION_KINDS:
        entries = bundle.get(kind)
        if isinstance(entries, list):
            for index, raw in enumerate(entries):
                problems += check_selection_rule(raw, kind, index)
    return problems


def validate_bundle(bundle: dict, *, strict: bool = True) -> list[BundleProblem]:
    """Return every problem of a `1_0` policy bundle; an empty list means it is valid.

    Checks the bundle, each policy and its rules, each whitelist and item, each mapping and
    image selection rule, the policies and whitelists that mappings name, and duplicate ids.
    Gates and triggers are looked up case-insensitively. Parameters are matched by name or
    alias and checked with the validator of their type, and actions must be GO, WARN or STOP.

    With `strict`, used when a bundle is added or replaced, a rule of an end-of-life gate or
    trigger is a problem that names the successor. Without it such rules are accepted, as
    evaluation accepts them. A `bundle` that is not a JSON object gives one problem.
    """
    document: object = bundle
    problems = check_bundle_header(document)
    if not isinstance(document, dict):
        return problems

    for section, kind in (("policies", "policy"), ("whitelists", "whitelist")):
        entries = document.get(section)
        if not isinstance(entries, list):
            continue
        for index, raw in enumerate(entries):
            label = f"{section}[{index}]"
            if section == "policies":
                problems += compile_policy(raw, strict=strict, label=label)[1]
            else:
                problems += compile_whitelist(raw, label=label)[1]
        ids = Counter(
            raw["id"] for raw in entries if isinstance(raw, dict) and _is_text(raw.get("id"))
        )
        for object_id, count in ids.items():
            if count > 1:
                problems.append(_duplicate_problem(kind, object_id, count))

    problems += check_selection_rules(document)
    mappings = document.get("mappings")
    if isinstance(mappings, list):
        for index, raw in enumerate(mappings):
            if isinstance(raw, dict) and not check_selection_rule(raw, "mappings", index):
                problems += check_references(document, raw, index, include_duplicates=False)
    return problems
