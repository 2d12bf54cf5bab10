"""The `vulnerabilities` gate: checks on the vulnerability matches of an image and on feed data."""

from __future__ import annotations

import dataclasses
import datetime
import operator
from collections.abc import Callable

from chalicelib.policy.explain import FeedGroupCause, match_causes, package_index
from chalicelib.policy.gate import (
    Firing,
    GateSpec,
    TriggerContext,
    TriggerSpec,
    as_utc,
    compile_pattern,
)
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues
from chalicelib.vulns.interface import CvssScore, VulnMatch
from chalicelib.vulns.namespaces import fallback_namespaces

SEVERITIES = ("unknown", "negligible", "low", "medium", "high", "critical")

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}

# Anchore's classes of package types: everything not listed here counts as an OS package.
NON_OS_PACKAGE_TYPES = frozenset(
    ("java", "python", "npm", "gem", "maven", "js", "composer", "nuget", "binary", "go")
)

# Package types as Anchore Engine names them in messages, where ours differ.
_ANCHORE_PACKAGE_TYPES = {"apk": "APKG"}

_SECONDS_PER_DAY = 86400

COUNT_TRIGGER_ID_PREFIX = "vulnerability_count+"


def package_class(package_type: str) -> str:
    """Return `non-os` for language and binary package types, else `os`."""
    return "non-os" if package_type.lower() in NON_OS_PACKAGE_TYPES else "os"


def match_key(match: VulnMatch) -> str:
    """Return the key of `ImageFacts.first_seen` and `fix_first_seen` for a match."""
    return f"{match.vuln_id}+{match.package_name}+{match.package_path}"


def package_trigger_id(match: VulnMatch) -> str:
    """Return the trigger id of a `vulnerabilities/package` firing: `<vuln id>+<name part>`.

    The name part is the package name for OS packages. For non-OS packages it comes from the
    package location: the file name for java and gem, the package directory (the parent of
    `package.json`) for npm, and `name-version` otherwise or when the location has no such part.
    """
    if package_class(match.package_type) == "os":
        return f"{match.vuln_id}+{match.package_name}"
    parts = match.package_path.split("/")
    name_part = ""
    if match.package_type in ("java", "gem"):
        name_part = parts[-1]
    elif match.package_type == "npm" and len(parts) >= 2:
        name_part = parts[-2]
    if not name_part:
        name_part = f"{match.package_name}-{match.package_version}"
    return f"{match.vuln_id}+{name_part}"


@dataclasses.dataclass(frozen=True)
class _ScoreFilter:
    """One CVSS v3 threshold of the `package` trigger."""

    name: str
    """Parameter name of the threshold; the comparison parameter adds `_comparison`."""
    field: str
    """`CvssScore` attribute that the threshold applies to."""
    vendor: bool


_SCORE_FILTERS = tuple(
    _ScoreFilter(f"{prefix}cvss_v3_{kind}_score", f"{kind}_score", vendor=bool(prefix))
    for prefix in ("", "vendor_")
    for kind in ("base", "exploitability", "impact")
)


def _max_v3_score(scores: list[CvssScore], field: str) -> float:
    values = [
        getattr(score, field)
        for score in scores
        if score.version.startswith("3") and getattr(score, field) is not None
    ]
    # Anchore compares -1 when a vulnerability has no CVSS v3 score.
    return max(values, default=-1.0)


def _nvd_scores(facts: ImageFacts, match: VulnMatch) -> list[CvssScore]:
    for vuln_id in (match.vuln_id, *match.aliases):
        if vuln_id in facts.nvd_cvss:
            return facts.nvd_cvss[vuln_id]
    # NOTE: without NVD data for the match, the record's own scores stand in for NVD scores,
    # so that CVSS rules still apply to feeds that carry a single set of scores.
    return match.cvss


def _days_after(moment: datetime.datetime, days: int) -> datetime.datetime | None:
    try:
        return moment + datetime.timedelta(seconds=days * _SECONDS_PER_DAY)
    except OverflowError:
        return None


def _note_change(context: TriggerContext, moment: datetime.datetime, days: int | None) -> None:
    """Record when a day-count filter on `moment` starts to pass, for stored-result validity."""
    if days is None:
        return
    changes_at = _days_after(moment, days)
    if changes_at is not None:
        context.result_changes_at(changes_at)


def _format_tuples(values: dict[str, object]) -> str:
    # Anchore leaves out zero scores and empty values from the message.
    shown = [f"{name}={value}" for name, value in values.items() if value]
    return f"({' '.join(shown)})" if shown else ""


def _days_ago(context: TriggerContext, days: int | None) -> datetime.datetime | None:
    if days is None:
        return None
    try:
        return context.now - datetime.timedelta(seconds=days * _SECONDS_PER_DAY)
    except OverflowError:
        # More days than the calendar holds: every time is more recent than that.
        return datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def _package_message(
    match: VulnMatch,
    scores: dict[str, object],
    times: dict[str, object],
    vendor_scores: dict[str, object],
) -> str:
    pkg_class = package_class(match.package_type)
    pkg_type = _ANCHORE_PACKAGE_TYPES.get(match.package_type, match.package_type)
    name = match.package_name if pkg_class == "os" else match.package_path
    fixed = ", ".join(version for version in match.fixed_in if version)
    fix_message = f"(fixed in: {fixed})" if fixed else ""
    return (
        f"{match.severity.value.upper()} Vulnerability found in {pkg_class} package type "
        f"({pkg_type}) - {name} {fix_message}{_format_tuples(scores)}{_format_tuples(times)}"
        f"{_format_tuples(vendor_scores)}({match.vuln_id} - {match.url})"
    )


def _evaluate_match(
    context: TriggerContext, params: ParamValues, match: VulnMatch
) -> Firing | None:
    """Return the firing for one match, or None when a filter of the rule excludes it."""
    facts = context.facts
    pkg_class = package_class(match.package_type)
    package_type = params.text("package_type")
    if package_type != "all" and package_type != pkg_class:
        return None

    wanted_rank = SEVERITIES.index((params.text("severity") or "unknown").lower())
    compare_severity = COMPARISONS[params.text("severity_comparison") or ">"]
    if not compare_severity(match.severity.rank, wanted_rank):
        return None

    path_exclude = params.text("package_path_exclude")
    if pkg_class == "non-os" and path_exclude is not None:
        if compile_pattern(path_exclude, "package_path_exclude").match(match.package_path):
            return None

    vendor_only = params.flag("vendor_only")
    if (vendor_only is None or vendor_only) and match.will_not_fix:
        return None

    times: dict[str, object] = {}
    creation_days = params.integer("max_days_since_creation")
    created_before = _days_ago(context, creation_days)
    if created_before is not None:
        # A match without a first-seen time counts as found now, so it is too recent.
        first_seen = facts.first_seen.get(match_key(match))
        detected = as_utc(first_seen) if first_seen is not None else context.now
        if first_seen is not None:
            _note_change(context, detected, creation_days)
        if detected > created_before:
            return None
        times["max_days_since_creation"] = detected.date()

    fixed = [version for version in match.fixed_in if version]
    fix_available = params.flag("fix_available")
    fix_days = params.integer("max_days_since_fix")
    fixed_before = _days_ago(context, fix_days)
    if fix_available and fixed_before is not None and fixed:
        # As in Anchore, a fix whose first-seen time is unknown passes this filter.
        fix_seen = facts.fix_first_seen.get(match_key(match))
        if fix_seen is not None:
            fix_seen = as_utc(fix_seen)
            _note_change(context, fix_seen, fix_days)
            if fix_seen > fixed_before:
                return None
            times["max_days_since_fix"] = fix_seen.date()

    scores: dict[str, object] = {}
    vendor_scores: dict[str, object] = {}
    nvd_scores = _nvd_scores(facts, match)
    for score_filter in _SCORE_FILTERS[:3]:
        if not _passes_score(params, score_filter, nvd_scores, scores):
            return None
    if fix_available is not None and fix_available != bool(fixed):
        return None
    for score_filter in _SCORE_FILTERS[3:]:
        if not _passes_score(params, score_filter, match.cvss, vendor_scores):
            return None

    return Firing(
        _package_message(match, scores, times, vendor_scores),
        trigger_id=package_trigger_id(match),
        causes=match_causes(match, context.cached("package_index", package_index)),
    )


def _passes_score(
    params: ParamValues,
    score_filter: _ScoreFilter,
    cvss: list[CvssScore],
    shown: dict[str, object],
) -> bool:
    """Apply one CVSS threshold; record the compared score in `shown` when it passes."""
    threshold = params.number(score_filter.name)
    if threshold is None:
        return True
    compare = COMPARISONS[params.text(f"{score_filter.name}_comparison") or ">="]
    score = _max_v3_score(cvss, score_filter.field)
    if not compare(score, threshold):
        return False
    shown[score_filter.name] = score
    return True


def _evaluate_package(context: TriggerContext, params: ParamValues) -> list[Firing]:
    firings = []
    for match in context.facts.vulnerabilities:
        firing = _evaluate_match(context, params, match)
        if firing is not None:
            firings.append(firing)
    threshold = params.integer("count_greater_than")
    if threshold is None:
        return firings
    return _count_firing(context, firings, threshold)


def count_trigger_id(rule_id: str | None, threshold: int) -> str:
    """Return the trigger id of a `count_greater_than` firing.

    It is `vulnerability_count+<rule id>`, or `vulnerability_count+<threshold>` for a rule
    without an id, so that it stays the same while the count changes.
    """
    return COUNT_TRIGGER_ID_PREFIX + (rule_id if rule_id else str(threshold))


def _count_firing(context: TriggerContext, firings: list[Firing], threshold: int) -> list[Firing]:
    """Replace the firings of the matches by one firing when there are more than `threshold`."""
    if len(firings) <= threshold:
        return []
    return [
        Firing(
            f"Found {len(firings)} vulnerability matches that pass the rule filters, more than "
            f"count_greater_than ({threshold})",
            trigger_id=count_trigger_id(context.rule_id, threshold),
            causes=tuple(cause for firing in firings for cause in firing.causes),
        )
    ]


def _feed_namespace(facts: ImageFacts) -> str | None:
    """Return the feed group that covers the image's distro packages.

    That is the distro's own namespace, or its fallback (`rhel:9` for `rocky:9`) when only the
    fallback has records, because the matcher then matches through the fallback.
    """
    namespace = facts.vuln_namespace
    if namespace is None:
        return None
    for candidate in (namespace, *fallback_namespaces(namespace)):
        if facts.feed_record_counts.get(candidate, 0) > 0:
            return candidate
    return namespace


def _evaluate_stale_feed_data(context: TriggerContext, params: ParamValues) -> list[Firing]:
    max_days = params.integer("max_days_since_sync")
    if max_days is None:
        return []
    namespace = _feed_namespace(context.facts)
    last_sync = context.facts.feed_last_sync.get(namespace) if namespace else None
    stale_before = _days_ago(context, max_days)
    if last_sync is not None:
        _note_change(context, as_utc(last_sync), max_days)
    if last_sync is not None and stale_before is not None and as_utc(last_sync) >= stale_before:
        return []
    return [
        Firing(
            f"The vulnerability feed for this image distro is older than MAXAGE ({max_days}) days",
            causes=(_feed_group_cause(context.facts),),
        )
    ]


def _feed_group_cause(facts: ImageFacts) -> FeedGroupCause:
    namespace = _feed_namespace(facts)
    return FeedGroupCause(
        group=namespace,
        record_count=facts.feed_record_counts.get(namespace, 0) if namespace else 0,
        last_sync=facts.feed_last_sync.get(namespace) if namespace else None,
    )


def _distro_label(facts: ImageFacts) -> str | None:
    distro = facts.analysis.distro
    if distro is None or not distro.id or not distro.version_id:
        return None
    return f"{distro.id}:{distro.version_id}"


def _evaluate_data_unavailable(context: TriggerContext, params: ParamValues) -> list[Firing]:
    facts = context.facts
    namespace = _feed_namespace(facts)
    if namespace and facts.feed_record_counts.get(namespace, 0) > 0:
        return []
    return [
        Firing(
            "Distro-specific feed data not found for distro namespace: "
            f"{_distro_label(facts)}. Cannot perform CVE scan OS/distro packages",
            causes=(_feed_group_cause(facts),),
        )
    ]


def _evaluate_blacklist(context: TriggerContext, params: ParamValues) -> list[Firing]:
    vendor_only = params.flag("vendor_only")
    present = [
        match
        for match in context.facts.vulnerabilities
        if not ((vendor_only is None or vendor_only) and match.will_not_fix)
    ]
    present_ids = {match.vuln_id for match in present}
    found = [
        vuln_id for vuln_id in params.items("vulnerability_ids") or [] if vuln_id in present_ids
    ]
    if not found:
        return []
    packages = context.cached("package_index", package_index)
    causes = tuple(
        cause
        for match in present
        if match.vuln_id in found
        for cause in match_causes(match, packages)
    )
    # The list is rendered as Python's repr, as Anchore does, because it feeds the trigger id.
    return [Firing(f"Blacklisted vulnerabilities detected: {found!r}", causes=causes)]


def _comparison_param(name: str, subject: str) -> ParamSpec:
    return ParamSpec(
        name=f"{name}_comparison",
        type=ParamType.ENUM,
        description=f"Comparison of the {subject} with `{name}`.",
        example=">",
        default=">=",
        choices=tuple(COMPARISONS),
    )


def _score_param(name: str, subject: str) -> ParamSpec:
    return ParamSpec(
        name=name,
        type=ParamType.FLOAT,
        description=(
            f"Threshold for the {subject}; a vulnerability without such a score compares as -1."
        ),
        example="5.0",
    )


_SCORE_SUBJECTS = {
    "cvss_v3_base_score": "highest NVD CVSS v3 base score",
    "cvss_v3_exploitability_score": "highest NVD CVSS v3 exploitability sub-score",
    "cvss_v3_impact_score": "highest NVD CVSS v3 impact sub-score",
    "vendor_cvss_v3_base_score": "highest vendor CVSS v3 base score",
    "vendor_cvss_v3_exploitability_score": "highest vendor CVSS v3 exploitability sub-score",
    "vendor_cvss_v3_impact_score": "highest vendor CVSS v3 impact sub-score",
}


def _score_params(names: tuple[str, ...]) -> tuple[ParamSpec, ...]:
    params: list[ParamSpec] = []
    for name in names:
        params.append(_comparison_param(name, _SCORE_SUBJECTS[name]))
        params.append(_score_param(name, _SCORE_SUBJECTS[name]))
    return tuple(params)


_NVD_SCORES = tuple(f.name for f in _SCORE_FILTERS if not f.vendor)
_VENDOR_SCORES = tuple(f.name for f in _SCORE_FILTERS if f.vendor)

_PACKAGE_PARAMS = (
    ParamSpec(
        name="package_type",
        type=ParamType.ENUM,
        description="Class of vulnerable packages to consider.",
        example="all",
        required=True,
        choices=("all", "os", "non-os"),
    ),
    ParamSpec(
        name="severity_comparison",
        type=ParamType.ENUM,
        description="Comparison of the vulnerability severity with `severity`.",
        example=">",
        default=">",
        choices=tuple(COMPARISONS),
    ),
    ParamSpec(
        name="severity",
        type=ParamType.ENUM,
        description="Severity to compare with, in the order the choices are listed.",
        example="high",
        default="unknown",
        choices=SEVERITIES,
    ),
    *_score_params(_NVD_SCORES),
    ParamSpec(
        name="fix_available",
        type=ParamType.BOOL,
        description=(
            "When true, only vulnerabilities with a fixed version fire; when false, only those "
            "without one. When omitted, both fire."
        ),
        example="true",
    ),
    ParamSpec(
        name="vendor_only",
        type=ParamType.BOOL,
        description="When true, skip vulnerabilities that the vendor will not fix.",
        example="true",
        default="true",
    ),
    ParamSpec(
        name="max_days_since_creation",
        type=ParamType.INT,
        description=(
            "Fire only for vulnerabilities first found in the image more than this many days ago."
        ),
        example="7",
    ),
    ParamSpec(
        name="max_days_since_fix",
        type=ParamType.INT,
        description=(
            "With fix_available=true, fire only when the fix was first seen more than this "
            "many days ago."
        ),
        example="30",
    ),
    *_score_params(_VENDOR_SCORES),
    ParamSpec(
        name="package_path_exclude",
        type=ParamType.REGEX,
        description=(
            "Skip non-OS packages whose location matches this regular expression from the start."
        ),
        example=r".*test\.jar*",
    ),
    ParamSpec(
        name="count_greater_than",
        type=ParamType.INT,
        description=(
            "Plimsoll extension: fire one row, and no row per match, when more than this many "
            "matches pass the other filters. Its trigger id is `vulnerability_count+<rule id>`, "
            "or `vulnerability_count+<count_greater_than>` for a rule without an id."
        ),
        example="10",
    ),
)

GATE = GateSpec(
    name="vulnerabilities",
    description="Checks on the vulnerabilities found in the image and on vulnerability data.",
    triggers=(
        TriggerSpec(
            name="package",
            description="Fires once for each vulnerability match that passes every filter.",
            evaluate=_evaluate_package,
            params=_PACKAGE_PARAMS,
        ),
        TriggerSpec(
            name="stale_feed_data",
            description=(
                "Fires when vulnerability data for the image distro was last synced more "
                "than the given number of days ago, or never."
            ),
            evaluate=_evaluate_stale_feed_data,
            params=(
                ParamSpec(
                    name="max_days_since_sync",
                    type=ParamType.INT,
                    description="Maximum age in days of the last vulnerability data sync.",
                    example="10",
                    required=True,
                ),
            ),
        ),
        TriggerSpec(
            name="vulnerability_data_unavailable",
            description=(
                "Fires when there is no vulnerability data for the image distro; language "
                "packages are not considered."
            ),
            evaluate=_evaluate_data_unavailable,
        ),
        TriggerSpec(
            name="blacklist",
            description="Fires once, listing each of the given vulnerability ids found.",
            evaluate=_evaluate_blacklist,
            params=(
                ParamSpec(
                    name="vulnerability_ids",
                    type=ParamType.CSV,
                    description="Vulnerability ids to deny.",
                    example="CVE-2019-1234",
                    required=True,
                ),
                ParamSpec(
                    name="vendor_only",
                    type=ParamType.BOOL,
                    description="When true, ignore matches that the vendor will not fix.",
                    example="true",
                    default="true",
                ),
            ),
        ),
    ),
)
