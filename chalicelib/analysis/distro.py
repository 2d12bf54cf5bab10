"""Distribution detection from os-release and the older release files."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from chalicelib.analysis.interface import Distro

logger = logging.getLogger(__name__)

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
BUSYBOX_PATHS = ("/bin/busybox", "/usr/bin/busybox")
DISTRO_PATHS = (
    *OS_RELEASE_PATHS,
    "/etc/alpine-release",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/lsb-release",
    "/etc/centos-release",
    "/etc/system-release",
    "/etc/mariner-release",
    "/etc/SuSE-release",
    *BUSYBOX_PATHS,
)
"""Files whose content distro detection reads; the analysis keeps them while streaming."""

_RELEASE_VERSION = re.compile(r"release\s+(\d+(?:\.\d+)*)", re.IGNORECASE)
# `CBL-Mariner 2.0.20220527`: os-release of the same image has VERSION_ID="2.0".
_MARINER_VERSION = re.compile(r"Mariner\s+(\d+\.\d+)")
_SUSE_FIELD = re.compile(r"^(VERSION|PATCHLEVEL)\s*=\s*(\d+(?:\.\d+)?)\s*$", re.MULTILINE)
_BUSYBOX_VERSION = re.compile(rb"BusyBox v(\d+(?:\.\d+)+)")
_RELEASE_IDS = (
    ("red hat", "rhel"),
    ("centos", "centos"),
    ("fedora", "fedora"),
    ("rocky", "rocky"),
    ("alma", "almalinux"),
    ("oracle", "ol"),
    ("amazon", "amzn"),
    ("mariner", "mariner"),
)


def parse_os_release(text: str) -> dict[str, str]:
    """Parse os-release `KEY=value` lines, removing shell quotes and backslash escapes."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key.strip()] = re.sub(r"\\(.)", r"\1", value)
    return values


def distro_from_os_release(text: str) -> Distro | None:
    """Return the distro an os-release file describes, or None when it has no `ID`."""
    values = parse_os_release(text)
    distro_id = values.get("ID", "").lower()
    if not distro_id:
        return None
    return Distro(
        id=distro_id,
        version_id=values.get("VERSION_ID") or None,
        id_like=values.get("ID_LIKE", "").lower().split(),
        pretty_name=values.get("PRETTY_NAME") or None,
    )


def detect_distro(
    read: Callable[[str], bytes | None], exists: Callable[[str], bool]
) -> Distro | None:
    """Detect the image's distribution, or return None.

    Order: `/etc/os-release`, `/usr/lib/os-release`, then `/etc/alpine-release`,
    `/etc/debian_version`, `/etc/redhat-release`, `/etc/lsb-release`, `/etc/centos-release`,
    `/etc/system-release`, `/etc/mariner-release`, `/etc/SuSE-release`, and last a
    `/bin/busybox` binary (id `busybox`). `read` returns a file's content with symbolic
    links followed, and `exists` returns whether a path exists.
    """
    for path in OS_RELEASE_PATHS:
        content = read(path)
        if content is not None:
            distro = distro_from_os_release(content.decode(errors="replace"))
            if distro is not None:
                return distro
            logger.debug("%s has no ID; trying the next release file", path)

    for path, parse in _FALLBACKS:
        content = read(path)
        if content is None:
            continue
        distro = parse(content.decode(errors="replace").strip())
        if distro is not None:
            return distro

    if any(exists(path) for path in BUSYBOX_PATHS):
        return Distro(id="busybox", version_id=_busybox_version(read), pretty_name="BusyBox")
    return None


def _alpine_release(text: str) -> Distro | None:
    return Distro(id="alpine", version_id=text.split()[0]) if text else None


def _debian_version(text: str) -> Distro | None:
    """Read `/etc/debian_version`: `12.5` gives version 12, `trixie/sid` gives no version."""
    if not text:
        return None
    major = text.split(".")[0]
    return Distro(id="debian", version_id=major if major.isdigit() else None)


def _redhat_release(text: str) -> Distro | None:
    """Read release lines such as `CentOS Linux release 7.9.2009 (Core)`."""
    if not text:
        return None
    lowered = text.lower()
    distro_id = next((known for name, known in _RELEASE_IDS if name in lowered), None)
    if distro_id is None:
        return None
    version = _RELEASE_VERSION.search(text) or _MARINER_VERSION.search(text)
    return Distro(
        id=distro_id,
        version_id=version.group(1) if version else None,
        pretty_name=text.splitlines()[0],
    )


def _suse_release(text: str) -> Distro | None:
    """Read `/etc/SuSE-release` of SLES 11 and openSUSE 13: a name line, then `VERSION = 11`
    and `PATCHLEVEL = 4` lines, which os-release writes as VERSION_ID `11.4`."""
    if not text:
        return None
    fields = dict(_SUSE_FIELD.findall(text))
    version = fields.get("VERSION")
    if version and "PATCHLEVEL" in fields and "." not in version:
        version = f"{version}.{fields['PATCHLEVEL']}"
    first_line = text.splitlines()[0]
    return Distro(
        id="opensuse" if "opensuse" in first_line.lower() else "sles",
        version_id=version,
        pretty_name=first_line,
    )


def _lsb_release(text: str) -> Distro | None:
    values = parse_os_release(text)
    distro_id = values.get("DISTRIB_ID", "").lower()
    if not distro_id:
        return None
    return Distro(
        id=distro_id,
        version_id=values.get("DISTRIB_RELEASE") or None,
        pretty_name=values.get("DISTRIB_DESCRIPTION") or None,
    )


_FALLBACKS: tuple[tuple[str, Callable[[str], Distro | None]], ...] = (
    ("/etc/alpine-release", _alpine_release),
    ("/etc/debian_version", _debian_version),
    ("/etc/redhat-release", _redhat_release),
    ("/etc/lsb-release", _lsb_release),
    ("/etc/centos-release", _redhat_release),
    ("/etc/system-release", _redhat_release),
    ("/etc/mariner-release", _redhat_release),
    ("/etc/SuSE-release", _suse_release),
)


def _busybox_version(read: Callable[[str], bytes | None]) -> str | None:
    """Find the `BusyBox vX.Y.Z` banner in the binary, if its content was kept."""
    for path in BUSYBOX_PATHS:
        content = read(path)
        if content is not None:
            found = _BUSYBOX_VERSION.search(content)
            if found:
                return found.group(1).decode()
    return None
