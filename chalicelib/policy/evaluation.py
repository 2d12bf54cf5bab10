"""Evaluation of a bundle on one image and tag, into Anchore's `PolicyEvaluation` document.

Order of evaluation:

1. The tag picks the first mapping whose registry, repository and image patterns match.
   Without one, no policy runs and the result is GO.
2. Each policy the mapping names runs its rules, grouped by gate in the order each gate first
   appears in the policy. Each firing becomes a row with a trigger id.
3. The mapping's whitelists, in order, mark rows whose gate and trigger id match an item that
   has not expired. A whitelisted row stays in the table with action `go`.
   An item with a `package_version` (a Plimsoll extension) matches only rows caused by a
   package whose version matches it, in the same pattern forms as `trigger_id`.
4. A policy's action is the strictest (STOP < WARN < GO) over its rows that are not
   whitelisted, GO without any; the policies' combined action is the strictest of theirs.
5. A matching `blacklisted_images` rule makes the final action STOP, else a matching
   `whitelisted_images` rule makes it GO, else the policies' action is final.

A bundle that cannot be evaluated for the tag (invalid structure, a mapped policy or whitelist
missing or invalid, a trigger that fails) gives STOP with the reasons in `evaluation_problems`.

Beside Anchore's fields the document has `explanations`, one per row in row order, each listing
the causes of its row. It also has `valid_until`: the earliest later time at which a whitelist
expiry or a day count of a trigger could change the result, or None when there is no such time.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging

from chalicelib.policy.bundle import (
    Action,
    BundleProblem,
    Policy,
    Rule,
    Whitelist,
    WhitelistItem,
    check_bundle_header,
    check_references,
    check_selection_rules,
    compile_policy,
    compile_whitelist,
    find_by_id,
    mapping_policy_ids,
    mapping_whitelist_ids,
)
from chalicelib.policy.explain import Cause, PackageCause
from chalicelib.policy.gate import (
    TriggerContext,
    TriggerEvaluationError,
    as_utc,
    default_trigger_id,
)
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.matching import (
    ImageReference,
    first_matching_rule,
    parse_evaluated_tag,
    pattern_matches,
)
from chalicelib.registry.errors import InvalidReferenceError

logger = logging.getLogger(__name__)

RESULT_HEADER = [
    "Image_Id",
    "Repo_Tag",
    "Trigger_Id",
    "Gate",
    "Trigger",
    "Check_Output",
    "Gate_Action",
    "Whitelisted",
    "Policy_Id",
]

DEFAULT_USER_ID = "admin"


@dataclasses.dataclass
class _Decision:
    """One firing of a rule, and the whitelist item that matched it, if any."""

    rule: Rule
    trigger_id: str
    message: str
    causes: tuple[Cause, ...] = ()
    whitelisted: dict[str, str | None] | None = None

    @property
    def action(self) -> Action:
        return Action.GO if self.whitelisted else self.rule.action

    def row(self, image_id: str, tag: str) -> list[object]:
        return [
            image_id,
            tag,
            self.trigger_id,
            self.rule.gate.name,
            self.rule.trigger.name,
            self.message,
            self.action.name.lower(),
            self.whitelisted or False,
            self.rule.policy_id,
        ]

    def explanation(self, row: int) -> dict[str, object]:
        return {
            "row": row,
            "trigger_id": self.trigger_id,
            "gate": self.rule.gate.name,
            "trigger": self.rule.trigger.name,
            "policy_id": self.rule.policy_id,
            "rule_id": self.rule.rule_id,
            "causes": [cause.to_json() for cause in self.causes],
        }


class _RuleFailure(Exception):
    """A trigger failed, so the evaluation stops. `problem` gives the rule and the reason."""

    def __init__(self, problem: BundleProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclasses.dataclass
class _Outcome:
    """Findings of an evaluation, before they are rendered as the result document."""

    decisions: list[_Decision] = dataclasses.field(default_factory=list)
    policy_action: Action = Action.GO
    mapping: dict | None = None
    whitelisted_image_rule: dict | None = None
    blacklisted_image_rule: dict | None = None
    problems: list[BundleProblem] = dataclasses.field(default_factory=list)
    failed: bool = False
    changes: list[datetime.datetime] = dataclasses.field(default_factory=list)
    """Later times at which the result could change; see `valid_until` in the module doc."""


def evaluate_bundle(
    bundle: dict,
    facts: ImageFacts,
    tag: str,
    *,
    now: datetime.datetime,
    user_id: str = DEFAULT_USER_ID,
) -> dict:
    """Evaluate `bundle` on the image of `facts` as `tag` and return the evaluation document.

    The document has Anchore's `PolicyEvaluation` fields: `user_id`, `image_id`, `tag`,
    `bundle`, `matched_mapping_rule`, `matched_whitelisted_images_rule`,
    `matched_blacklisted_images_rule`, `final_action` (`go`, `warn` or `stop`),
    `final_action_reason` (`policy_evaluation`, `whitelisted` or `blacklisted`), the result
    table under `result`, `created_at`, `last_modified` and `evaluation_problems`. A matched
    rule field is False when no rule matched, as Anchore Engine writes it. Both times are the
    epoch seconds of `now`. Rules of end-of-life gates are skipped and listed as problems.

    `now` is the evaluation time, and a naive value is read as UTC. It decides whitelist expiry
    and the day counts of vulnerability and feed triggers. The document also carries the
    `explanations` and `valid_until` fields that the module documentation describes.
    """
    now = as_utc(now)
    outcome = _evaluate(bundle, facts, tag, now)
    if outcome.failed:
        logger.warning(
            "evaluation of bundle %s on image %s as %s failed: %s",
            bundle.get("id") if isinstance(bundle, dict) else None,
            facts.image_id,
            tag,
            "; ".join(problem.message for problem in outcome.problems),
        )
    return _document(bundle, facts, tag, now, user_id, outcome)


def _evaluate(bundle: dict, facts: ImageFacts, tag: str, now: datetime.datetime) -> _Outcome:
    problems = check_bundle_header(bundle)
    if not problems:
        problems = check_selection_rules(bundle)
    if problems:
        return _Outcome(problems=problems, failed=True)

    try:
        reference = parse_evaluated_tag(tag)
    except InvalidReferenceError as exc:
        return _Outcome(
            problems=[BundleProblem(message=str(exc), problem_type="ValidationError")], failed=True
        )
    mappings = bundle["mappings"]
    mapping = _select(mappings, reference, facts)
    outcome = _Outcome(
        mapping=mapping,
        whitelisted_image_rule=_select(bundle.get("whitelisted_images") or [], reference, facts),
        blacklisted_image_rule=_select(bundle.get("blacklisted_images") or [], reference, facts),
    )
    if mapping is None:
        return outcome

    policies, whitelists, problems = _load_mapped(bundle, mapping, mappings.index(mapping))
    if problems:
        return _Outcome(mapping=mapping, problems=problems, failed=True)

    cache: dict[str, object] = {}
    policy_actions = []
    for policy in policies:
        try:
            decisions = _run_policy(policy, facts, now, cache, outcome)
        except _RuleFailure as failure:
            problems = [*outcome.problems, failure.problem]
            return _Outcome(mapping=mapping, problems=problems, failed=True)
        _apply_whitelists(decisions, whitelists, now, outcome.changes)
        actions = [decision.action for decision in decisions if not decision.whitelisted]
        policy_actions.append(min(actions, default=Action.GO))
        outcome.decisions += decisions
    outcome.policy_action = min(policy_actions, default=Action.GO)
    return outcome


def _select(rules: list[dict], reference: ImageReference, facts: ImageFacts) -> dict | None:
    return first_matching_rule(rules, reference, facts.image_id, facts.image_digest)


def _load_mapped(
    bundle: dict, mapping: dict, index: int
) -> tuple[list[Policy], list[Whitelist], list[BundleProblem]]:
    """Compile the policies and whitelists of the matched mapping, in lenient mode."""
    problems = check_references(bundle, mapping, index)
    if problems:
        return [], [], problems

    policies = []
    for policy_id in mapping_policy_ids(mapping):
        policy, policy_problems = compile_policy(
            find_by_id(bundle, "policies", policy_id)[0], strict=False
        )
        problems += policy_problems
        if policy is not None:
            policies.append(policy)
    whitelists = []
    for whitelist_id in mapping_whitelist_ids(mapping):
        whitelist, whitelist_problems = compile_whitelist(
            find_by_id(bundle, "whitelists", whitelist_id)[0]
        )
        problems += whitelist_problems
        if whitelist is not None:
            whitelists.append(whitelist)
    return policies, whitelists, problems


def _run_policy(
    policy: Policy,
    facts: ImageFacts,
    now: datetime.datetime,
    cache: dict[str, object],
    outcome: _Outcome,
) -> list[_Decision]:
    """Evaluate the rules of a policy, grouped by gate, and return its decisions.

    Appends a warning to `outcome.problems` for each end-of-life rule, and to `outcome.changes`
    the times at which a trigger's result changes. Raises `_RuleFailure` when a trigger fails.
    """
    gate_order = list(dict.fromkeys(rule.gate.name for rule in policy.rules))
    rules = sorted(policy.rules, key=lambda rule: gate_order.index(rule.gate.name))

    decisions = []
    for rule in rules:
        if rule.is_end_of_life:
            outcome.problems.append(
                rule.problem("EndOfLifedError", rule.end_of_life_detail(), "warn")
            )
            continue
        context = TriggerContext(
            facts=facts, now=now, rule_id=rule.rule_id, cache=cache, changes=outcome.changes
        )
        try:
            firings = rule.trigger.evaluate(context, rule.params)
        except TriggerEvaluationError as exc:
            raise _RuleFailure(rule.problem("TriggerEvaluationError", str(exc))) from exc
        for firing in firings:
            trigger_id = firing.trigger_id or default_trigger_id(
                rule.gate.name, rule.trigger.name, firing.message
            )
            decisions.append(_Decision(rule, trigger_id, firing.message, firing.causes))
    return decisions


def _item_matches(item: WhitelistItem, decision: _Decision) -> bool:
    if item.gate != decision.rule.gate.name:
        return False
    if item.trigger_id != decision.trigger_id and not pattern_matches(
        item.trigger_id, decision.trigger_id
    ):
        return False
    if item.package_version is None:
        return True
    versions = [cause.version for cause in decision.causes if isinstance(cause, PackageCause)]
    return any(
        version == item.package_version or pattern_matches(item.package_version, version)
        for version in versions
    )


def _apply_whitelists(
    decisions: list[_Decision],
    whitelists: list[Whitelist],
    now: datetime.datetime,
    changes: list[datetime.datetime],
) -> None:
    """Mark each decision with the first unexpired whitelist item that matches it.

    Appends to `changes` the expiry of each item that whitelisted a decision.
    """
    for decision in decisions:
        items = ((whitelist, item) for whitelist in whitelists for item in whitelist.items)
        for whitelist, item in items:
            if item.expires_on is not None and now >= item.expires_on:
                continue
            if _item_matches(item, decision):
                decision.whitelisted = {
                    "whitelist_name": whitelist.name,
                    "whitelist_id": whitelist.id,
                    "matched_rule_id": item.id,
                }
                if item.expires_on is not None:
                    changes.append(item.expires_on)
                break


def _final_action(outcome: _Outcome) -> tuple[Action, str]:
    if outcome.failed:
        return Action.STOP, "policy_evaluation"
    if outcome.blacklisted_image_rule is not None:
        return Action.STOP, "blacklisted"
    if outcome.whitelisted_image_rule is not None:
        return Action.GO, "whitelisted"
    return outcome.policy_action, "policy_evaluation"


def _document(
    bundle: dict,
    facts: ImageFacts,
    tag: str,
    now: datetime.datetime,
    user_id: str,
    outcome: _Outcome,
) -> dict:
    final_action, reason = _final_action(outcome)
    table_action = Action.STOP if outcome.failed else outcome.policy_action
    rows = [decision.row(facts.image_id, tag) for decision in outcome.decisions]
    timestamp = int(now.timestamp())
    valid_until = None if outcome.failed else min(outcome.changes, default=None)
    return {
        "user_id": user_id,
        "image_id": facts.image_id,
        "tag": tag,
        "bundle": bundle,
        "matched_mapping_rule": outcome.mapping or False,
        "matched_whitelisted_images_rule": outcome.whitelisted_image_rule or False,
        "matched_blacklisted_images_rule": outcome.blacklisted_image_rule or False,
        "final_action": final_action.name.lower(),
        "final_action_reason": reason,
        "result": {
            facts.image_id: {
                "result": {
                    "header": list(RESULT_HEADER),
                    "row_count": len(rows),
                    "rows": rows,
                    "final_action": table_action.name.lower(),
                }
            },
            "policy_data": [],
            "whitelist_data": [],
            "policy_name": "",
            "whitelist_names": [],
        },
        "created_at": timestamp,
        "last_modified": timestamp,
        "evaluation_problems": [problem.evaluation_problem() for problem in outcome.problems],
        "explanations": [
            decision.explanation(index) for index, decision in enumerate(outcome.decisions)
        ],
        "valid_until": valid_until.isoformat() if valid_until else None,
    }
