"""Debian package versions, validated and ordered as dpkg 1.23 does.

A version is `[epoch:]upstream_version[-debian_revision]`. The epoch is the number before the
first `:`, and the revision is the text after the last `-`, so the upstream version may contain
both characters. A missing epoch is 0, and a missing revision compares like `0`.

Upstream versions and revisions compare part by part. Each part is a run of non-digits compared
character by character, then a run of digits compared as a number. In the non-digit runs `~` sorts
before everything, even the end of the text, so `1.0~rc1` < `1.0`. Letters sort before all other
characters, and the end of a run sorts before anything but `~`. The rules follow
`parseversion` in dpkg's `lib/dpkg/parsehelp.c` and `verrevcmp` in `lib/dpkg/version.c`.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "deb"
MAX_EPOCH = 2**31 - 1
"""dpkg keeps the epoch in a C `int` and rejects larger values."""

_BLANKS = " \t"
# dpkg reads the epoch with strtol, which takes a sign; a negative epoch is rejected later.
_EPOCH = re.compile(r"[+-]?[0-9]+")
# NOTE: dpkg only warns about `_`, and Trivy accepts it, so `1.0-4.el6.x86_64` is valid here
# although dpkg-deb would not build a package with that version.
_UPSTREAM = re.compile(r"[0-9][A-Za-z0-9.+~:_-]*")
_REVISION = re.compile(r"[A-Za-z0-9.+~_]+")
_PARTS = re.compile(r"([^0-9]*)([0-9]*)")


@dataclasses.dataclass(frozen=True)
class DebianVersion:
    """A parsed Debian version."""

    epoch: int
    upstream: str
    revision: str
    """Empty when the version has no `-`."""


def _invalid(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def parse_version(text: str) -> DebianVersion:
    """Parse a Debian version, accepting what dpkg accepts without a warning, plus `_`.

    Leading and trailing spaces and tabs are ignored. Raises `InvalidVersionError` naming the
    version and the rule it breaks.
    """
    version = text.strip(_BLANKS)
    if not version:
        raise _invalid(text, "the version is empty")
    if any(blank in version for blank in _BLANKS):
        raise _invalid(text, "the version contains spaces")

    epoch = 0
    epoch_text, colon, rest = version.partition(":")
    if colon:
        if not epoch_text:
            raise _invalid(text, "the epoch before ':' is empty")
        if not _EPOCH.fullmatch(epoch_text):
            raise _invalid(text, "the epoch before ':' is not a number")
        epoch = int(epoch_text)
        if epoch < 0:
            raise _invalid(text, "the epoch is negative")
        if epoch > MAX_EPOCH:
            raise _invalid(text, f"the epoch is larger than {MAX_EPOCH}")
        if not rest:
            raise _invalid(text, "nothing follows the epoch")
        version = rest

    upstream, hyphen, revision = version.rpartition("-")
    if not hyphen:
        upstream, revision = version, ""
    elif not revision:
        raise _invalid(text, "the revision after the last '-' is empty")
    if not upstream:
        raise _invalid(text, "the upstream version is empty")
    if not upstream[0].isascii() or not upstream[0].isdigit():
        raise _invalid(text, "the upstream version does not start with a digit")
    if not _UPSTREAM.fullmatch(upstream):
        raise _invalid(
            text, "the upstream version may only contain letters, digits and . + - ~ : _"
        )
    if revision and not _REVISION.fullmatch(revision):
        raise _invalid(text, "the revision may only contain letters, digits and . + ~ _")
    return DebianVersion(epoch=epoch, upstream=upstream, revision=revision)


def is_valid(version: str) -> bool:
    """Return whether dpkg accepts `version` without an error or a warning (`_` is allowed)."""
    try:
        parse_version(version)
    except InvalidVersionError:
        return False
    return True


def _character_weight(character: str) -> int:
    """Return the sort weight of one character of a non-digit run; the end of a run weighs 0."""
    if character == "~":
        return -1
    if character.isascii() and character.isalpha():
        return ord(character)
    return ord(character) + 256


def _compare_non_digits(a: str, b: str) -> int:
    for index in range(max(len(a), len(b))):
        a_weight = _character_weight(a[index]) if index < len(a) else 0
        b_weight = _character_weight(b[index]) if index < len(b) else 0
        if a_weight != b_weight:
            return -1 if a_weight < b_weight else 1
    return 0


def compare_fragments(a: str, b: str) -> int:
    """Compare two upstream versions or two revisions with dpkg's rules; return -1, 0 or 1."""
    # Each match is one non-digit run followed by one digit run; the last match is empty.
    a_parts = _PARTS.findall(a)
    b_parts = _PARTS.findall(b)
    for index in range(max(len(a_parts), len(b_parts))):
        a_text, a_digits = a_parts[index] if index < len(a_parts) else ("", "")
        b_text, b_digits = b_parts[index] if index < len(b_parts) else ("", "")
        result = _compare_non_digits(a_text, b_text)
        if result:
            return result
        a_number, b_number = int(a_digits or "0"), int(b_digits or "0")
        if a_number != b_number:
            return -1 if a_number < b_number else 1
    return 0


def compare_parsed(a: DebianVersion, b: DebianVersion) -> int:
    """Compare two parsed versions: epoch, then upstream version, then revision."""
    if a.epoch != b.epoch:
        return -1 if a.epoch < b.epoch else 1
    return compare_fragments(a.upstream, b.upstream) or compare_fragments(a.revision, b.revision)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as Debian version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid (see `parse_version`).
    """
    return compare_parsed(parse_version(a), parse_version(b))


class DebScheme:
    """The `deb` scheme: dpkg's validity rules and ordering."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version dpkg rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether dpkg accepts `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
