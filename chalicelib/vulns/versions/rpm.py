"""RPM package versions (`[epoch:]version[-release]`), ordered as rpm 4.15 and later do.

Epochs compare as numbers, and a missing epoch is 0. Versions, then releases, compare with
`rpmvercmp` (rpm's `rpmio/rpmvercmp.c`): each string is split into runs of ASCII digits and runs
of ASCII letters, and every other character only separates runs. Runs compare in order:

- digit runs compare as numbers of any size, and a digit run sorts after a letter run;
- letter runs compare by character code, so `A` < `Z` < `a`;
- `~` sorts before everything, even the end of the string, so `1.0~rc1` < `1.0`;
- `^` sorts after the end of the string but before any further run, so
  `1.0` < `1.0^git1` < `1.0.1`;
- when one string runs out of runs first, the longer one is newer (`1.0` < `1.0a`).

Separators never count by themselves, so `2.0` and `2_0` are equal. A missing release sorts
before any release.

`parse_version` and `compare` accept what rpmbuild accepts: letters, digits and `._+%{}~^` in the
version and release, at most one `-`, and a decimal epoch. `parse_evr` is a lenient parser for
text from other tools, and `rpmvercmp` compares any two strings without validation.
"""

from __future__ import annotations

import dataclasses
import re

from chalicelib.vulns.interface import InvalidVersionError

SCHEME_NAME = "rpm"

# Letters, digits and the characters that rpmbuild allows in a version (`build/parsePreamble.c`).
_VERSION_PART = re.compile(r"[A-Za-z0-9._+%{}~^]+")
_EPOCH = re.compile(r"[0-9]+")
_LENIENT_EPOCH = re.compile(r"[+-]?[0-9]+")


@dataclasses.dataclass(frozen=True)
class RpmVersion:
    """A parsed RPM epoch-version-release."""

    epoch: int
    """0 when the text has no epoch."""
    version: str
    release: str
    """Empty when the text has no `-`."""

    def __str__(self) -> str:
        text = f"{self.epoch}:{self.version}" if self.epoch else self.version
        return f"{text}-{self.release}" if self.release else text


def _invalid(version: str, reason: str) -> InvalidVersionError:
    return InvalidVersionError(f"invalid {SCHEME_NAME} version {version!r}: {reason}")


def parse_version(text: str) -> RpmVersion:
    """Parse `[epoch:]version[-release]` with rpmbuild's character rules.

    Raises `InvalidVersionError` naming the version and the rule it breaks.
    """
    if not text:
        raise _invalid(text, "the version is empty")
    if any(character.isspace() for character in text):
        raise _invalid(text, "the version contains whitespace")

    epoch = 0
    rest = text
    if ":" in text:
        epoch_text, _, rest = text.partition(":")
        if not _EPOCH.fullmatch(epoch_text):
            raise _invalid(text, "the epoch before ':' must be a decimal number")
        epoch = int(epoch_text)
        if ":" in rest:
            raise _invalid(text, "the version contains more than one ':'")

    version, hyphen, release = rest.partition("-")
    if not version:
        raise _invalid(text, "the version part is empty")
    if not _VERSION_PART.fullmatch(version):
        raise _invalid(text, "the version may only contain letters, digits and . _ + % { } ~ ^")
    if hyphen:
        if not release:
            raise _invalid(text, "the release after '-' is empty")
        if "-" in release:
            raise _invalid(text, "the version contains more than one '-'")
        if not _VERSION_PART.fullmatch(release):
            raise _invalid(text, "the release may only contain letters, digits and . _ + % { } ~ ^")
    return RpmVersion(epoch=epoch, version=version, release=release)


def parse_evr(text: str) -> RpmVersion:
    """Parse an epoch-version-release without validating it, as go-rpm-version does.

    The epoch is the text before the first `:` with leading whitespace removed, and it is 0 when
    that text is not a whole number (a sign is allowed). The release is the text after the first
    `-` of the rest. Never raises, so use it only where a best guess beats a rejection; call
    `parse_version` to validate.
    """
    epoch = 0
    rest = text
    if ":" in text:
        epoch_text, _, rest = text.partition(":")
        epoch_text = epoch_text.lstrip()
        if _LENIENT_EPOCH.fullmatch(epoch_text):
            epoch = int(epoch_text)
    version, _, release = rest.partition("-")
    return RpmVersion(epoch=epoch, version=version, release=release)


def is_valid(version: str) -> bool:
    """Return whether `version` is an epoch-version-release that rpmbuild accepts."""
    try:
        parse_version(version)
    except InvalidVersionError:
        return False
    return True


def _is_ascii_digit(character: str) -> bool:
    return "0" <= character <= "9"


def _is_ascii_letter(character: str) -> bool:
    return "a" <= character <= "z" or "A" <= character <= "Z"


def _skip_separators(text: str, position: int) -> int:
    """Return the position of the next digit, letter, `~` or `^` at or after `position`."""
    while position < len(text):
        character = text[position]
        if _is_ascii_digit(character) or _is_ascii_letter(character) or character in "~^":
            break
        position += 1
    return position


def _run_end(text: str, position: int, numeric: bool) -> int:
    """Return the end of the run of digits (or of letters) that starts at `position`."""
    belongs = _is_ascii_digit if numeric else _is_ascii_letter
    while position < len(text) and belongs(text[position]):
        position += 1
    return position


def _sign(difference: int) -> int:
    return (difference > 0) - (difference < 0)


def rpmvercmp(a: str, b: str) -> int:
    """Compare two version or release strings as rpm's `rpmvercmp`; return -1, 0 or 1.

    Any strings are accepted; characters other than ASCII letters, digits, `~` and `^` only
    separate runs.
    """
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip_separators(a, i), _skip_separators(b, j)
        char_a = a[i] if i < len(a) else ""
        char_b = b[j] if j < len(b) else ""

        if char_a == "~" or char_b == "~":
            if char_a != "~":
                return 1
            if char_b != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        # A caret sorts like a tilde against a run, but after the end of the other string.
        if char_a == "^" or char_b == "^":
            if not char_a:
                return -1
            if not char_b:
                return 1
            if char_a != "^":
                return 1
            if char_b != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not char_a or not char_b:
            break

        numeric = _is_ascii_digit(char_a)
        end_a, end_b = _run_end(a, i, numeric), _run_end(b, j, numeric)
        if end_b == j:
            # The runs differ in kind: a number is newer than letters.
            return 1 if numeric else -1
        run_a, run_b = a[i:end_a], b[j:end_b]
        if numeric:
            run_a, run_b = run_a.lstrip("0"), run_b.lstrip("0")
            if len(run_a) != len(run_b):
                return _sign(len(run_a) - len(run_b))
        if run_a != run_b:
            return -1 if run_a < run_b else 1
        i, j = end_a, end_b

    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def compare_parsed(a: RpmVersion, b: RpmVersion) -> int:
    """Compare two parsed versions: epoch, then version, then release with `rpmvercmp`."""
    if a.epoch != b.epoch:
        return _sign(a.epoch - b.epoch)
    return rpmvercmp(a.version, b.version) or rpmvercmp(a.release, b.release)


def compare(a: str, b: str) -> int:
    """Return -1, 0 or 1 as RPM version `a` sorts before, equal to or after `b`.

    Raises `InvalidVersionError` when either version is invalid (see `parse_version`).
    """
    return compare_parsed(parse_version(a), parse_version(b))


class RpmScheme:
    """The `rpm` scheme: epoch, then version and release ordered by `rpmvercmp`."""

    name: str = SCHEME_NAME

    def compare(self, a: str, b: str) -> int:
        """Return -1, 0 or 1; raises `InvalidVersionError` for a version rpmbuild rejects."""
        return compare(a, b)

    def is_valid(self, version: str) -> bool:
        """Return whether rpmbuild accepts `version`."""
        return is_valid(version)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
