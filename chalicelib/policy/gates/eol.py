"""End-of-life gates of Anchore Engine, kept so that old bundles get a useful error.

Strict validation rejects a rule that uses one of these gates and names the successor gate.
Evaluation loads such a rule, reports it as an evaluation problem and fires nothing. Their old
parameters are not declared, so any parameters are accepted.
"""

from __future__ import annotations

from chalicelib.policy.gate import GateSpec, Lifecycle, TriggerSpec


def _eol_gate(
    name: str, description: str, successor: str | None, triggers: tuple[str, ...]
) -> GateSpec:
    return GateSpec(
        name=name,
        description=description,
        state=Lifecycle.EOL,
        superseded_by=successor,
        triggers=tuple(
            TriggerSpec(
                name=trigger,
                description="End of life: evaluates to nothing.",
                state=Lifecycle.EOL,
                accepts_any_params=True,
            )
            for trigger in triggers
        ),
    )


EOL_GATES = (
    _eol_gate(
        "anchoresec",
        "Vulnerability checks of distro packages.",
        "vulnerabilities",
        (
            "vulnlow",
            "vulnmedium",
            "vulnhigh",
            "vulncritical",
            "vulnunknown",
            "feedoutofdate",
            "unsupporteddistro",
        ),
    ),
    _eol_gate(
        "dockerfilecheck",
        "Dockerfile instruction checks.",
        "dockerfile",
        (
            "directivecheck",
            "effectiveuser",
            "expose",
            "nofrom",
            "fromscratch",
            "notag",
            "sudo",
            "volumepresent",
            "nohealthcheck",
            "nodockerfile",
        ),
    ),
    _eol_gate(
        "filecheck",
        "File name, content and setuid checks.",
        "files",
        ("contentmatch", "filenamematch", "suidsgidcheck"),
    ),
    _eol_gate(
        "fileparse_passwd",
        "Checks on /etc/passwd content.",
        "passwd_file",
        (
            "filenotstored",
            "usernamematch",
            "useridmatch",
            "groupidmatch",
            "shellmatch",
            "pentrymatch",
        ),
    ),
    # Anchore Engine names `gems` as the successor, but no such gate exists. The gate that
    # replaced it is `ruby_gems`.
    _eol_gate(
        "gemcheck",
        "Ruby gem checks.",
        "ruby_gems",
        (
            "gemnotlatest",
            "gemnotofficial",
            "gembadversion",
            "gempkgfullmatch",
            "gempkgnamematch",
            "gemnofeed",
        ),
    ),
    _eol_gate(
        "npmcheck",
        "npm package checks.",
        "npms",
        (
            "npmnotlatest",
            "npmnotofficial",
            "npmbadversion",
            "npmpkgfullmatch",
            "npmpkgnamematch",
            "npmnofeed",
        ),
    ),
    _eol_gate("pkgcheck", "Distro package checks.", "packages", ("pkgnotpresent", "verify")),
    _eol_gate(
        "pkgblacklist", "Distro package denylist.", "packages", ("pkgfullmatch", "pkgnamematch")
    ),
    _eol_gate(
        "licblacklist", "Package license denylist.", "licenses", ("licfullmatch", "licsubmatch")
    ),
    _eol_gate("metadatacheck", "Image metadata checks.", "metadata", ("attributecheck",)),
    _eol_gate(
        "secretcheck", "Secret search checks.", "secret_scans", ("contentmatch", "filenamematch")
    ),
    _eol_gate(
        "suiddiff",
        "Setuid file differences from the base image.",
        None,
        ("suiddiff", "suidfileadd", "suidfiledel", "suidmodediff"),
    ),
    _eol_gate(
        "pkgdiff",
        "Distro package differences from the base image.",
        None,
        ("pkgversiondiff", "pkgadd", "pkgdel", "pkgdiff"),
    ),
    _eol_gate("imagecheck", "Base image checks.", None, ("baseoutofdate",)),
)
