"""The `passwd_file` gate: checks on the `/etc/passwd` content stored by the analysis.

The denylist triggers differ only in which field of an entry they compare, so each is built
by `_denylist_trigger` from one row of `_DENYLISTS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from chalicelib.policy.explain import file_cause
from chalicelib.policy.gate import Firing, GateSpec, TriggerContext, TriggerSpec
from chalicelib.policy.interface import ImageFacts
from chalicelib.policy.params import ParamSpec, ParamType, ParamValues

PasswdEntries = dict[str, list[str]]
"""Fields after the user name (`x`, uid, gid, gecos, home, shell), keyed by user name."""


def parse_passwd(content: str) -> PasswdEntries:
    """Parse passwd lines into fields keyed by user name; a later duplicate name wins."""
    entries: PasswdEntries = {}
    for raw_line in content.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        user, *fields = line.split(":")
        entries[user] = fields
    return entries


PASSWD_PATH = "/etc/passwd"


def _load_entries(facts: ImageFacts) -> PasswdEntries:
    return parse_passwd(facts.analysis.passwd or "")


def _load_line_numbers(facts: ImageFacts) -> dict[str, int]:
    """Return the one-based line number of each user's entry; a later duplicate name wins."""
    numbers = {}
    for number, line in enumerate((facts.analysis.passwd or "").splitlines(), start=1):
        if line.strip():
            numbers[line.strip().split(":")[0]] = number
    return numbers


def _entries(context: TriggerContext) -> PasswdEntries:
    return context.cached("passwd_entries", _load_entries)


def _evaluate_content_not_available(context: TriggerContext, params: ParamValues) -> list[Firing]:
    if _entries(context):
        return []
    return [
        Firing("Cannot locate /etc/passwd in image stored files archive: check analyzer settings.")
    ]


@dataclasses.dataclass(frozen=True)
class _Denylist:
    """One denylist trigger: which entry field it compares with which parameter."""

    trigger: str
    label: str
    """Word naming the field in the message: user, uid, gid, shell or pentry."""
    field: Callable[[str, list[str]], str | None]
    """Return the compared field of an entry from its user name and other fields."""
    param: ParamSpec
    values: Callable[[ParamValues], set[str]]
    description: str


def _field_at(index: int) -> Callable[[str, list[str]], str | None]:
    def field(user: str, fields: list[str]) -> str | None:
        return fields[index] if index < len(fields) else None

    return field


def _denylist_evaluator(
    denylist: _Denylist,
) -> Callable[[TriggerContext, ParamValues], list[Firing]]:
    def evaluate(context: TriggerContext, params: ParamValues) -> list[Firing]:
        denied = denylist.values(params)
        firings = []
        for user, fields in _entries(context).items():
            candidate = denylist.field(user, fields)
            if candidate is not None and candidate in denied:
                entry = ":".join([user, *fields])
                line = context.cached("passwd_line_numbers", _load_line_numbers)[user]
                firings.append(
                    Firing(
                        f"Blacklisted {denylist.label} '{candidate}' found in image's "
                        f"/etc/passwd: pentry={entry}",
                        causes=(file_cause(context.facts, PASSWD_PATH, (line,)),),
                    )
                )
        return firings

    return evaluate


def _denylist_trigger(denylist: _Denylist) -> TriggerSpec:
    return TriggerSpec(
        name=denylist.trigger,
        description=denylist.description,
        evaluate=_denylist_evaluator(denylist),
        params=(denylist.param,),
    )


def _listed_strings(name: str) -> Callable[[ParamValues], set[str]]:
    return lambda params: set(params.items(name) or [])


def _listed_numbers(name: str) -> Callable[[ParamValues], set[str]]:
    # A rule's `007` is read as 7 and compared with the file's text, as Anchore does.
    return lambda params: {str(number) for number in params.integers(name) or []}


_DENYLISTS = (
    _Denylist(
        trigger="blacklist_usernames",
        label="user",
        field=lambda user, fields: user,
        param=ParamSpec(
            name="user_names",
            type=ParamType.CSV,
            description="User names that fire when present.",
            example="daemon,ftp",
            required=True,
            aliases=("usernameblacklist",),
        ),
        values=_listed_strings("user_names"),
        description="Fires for each listed user name found in /etc/passwd.",
    ),
    _Denylist(
        trigger="blacklist_userids",
        label="uid",
        field=_field_at(1),
        param=ParamSpec(
            name="user_ids",
            type=ParamType.CSV_INT,
            description="Numeric user ids that fire when present.",
            example="0,1",
            required=True,
            aliases=("useridblacklist",),
        ),
        values=_listed_numbers("user_ids"),
        description="Fires for each /etc/passwd entry with a listed user id.",
    ),
    _Denylist(
        trigger="blacklist_groupids",
        label="gid",
        field=_field_at(2),
        param=ParamSpec(
            name="group_ids",
            type=ParamType.CSV_INT,
            description="Numeric group ids that fire when present.",
            example="999,20",
            required=True,
        ),
        values=_listed_numbers("group_ids"),
        description="Fires for each /etc/passwd entry with a listed group id.",
    ),
    _Denylist(
        trigger="blacklist_shells",
        label="shell",
        field=_field_at(5),
        param=ParamSpec(
            name="shells",
            type=ParamType.CSV,
            description="Login shells that fire when present.",
            example="/bin/bash,/bin/zsh",
            required=True,
        ),
        values=_listed_strings("shells"),
        description="Fires for each /etc/passwd entry with a listed login shell.",
    ),
    _Denylist(
        trigger="blacklist_full_entry",
        label="pentry",
        field=lambda user, fields: ":".join([user, *fields]),
        param=ParamSpec(
            name="entry",
            type=ParamType.STRING,
            description="Complete /etc/passwd line that fires when present.",
            example="ftp:x:14:50:FTP User:/var/ftp:/sbin/nologin",
            required=True,
        ),
        values=lambda params: {(params.text("entry") or "").strip()},
        description="Fires when an /etc/passwd line equals the given entry.",
    ),
)

GATE = GateSpec(
    name="passwd_file",
    description="Checks on the content of /etc/passwd: user names, ids, shells and entries.",
    triggers=(
        TriggerSpec(
            name="content_not_available",
            description="Fires when the analysis stored no /etc/passwd content for the image.",
            evaluate=_evaluate_content_not_available,
        ),
        *(_denylist_trigger(denylist) for denylist in _DENYLISTS),
    ),
)
