"""Tests of distribution detection in rpm-based images without a usable os-release."""

from __future__ import annotations

import pytest

from chalicelib.analysis.distro import DISTRO_PATHS, detect_distro


def detect(files: dict[str, bytes]) -> tuple[str, str | None] | None:
    distro = detect_distro(files.get, lambda path: path in files)
    return None if distro is None else (distro.id, distro.version_id)


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("/etc/redhat-release", "Red Hat Enterprise Linux Server release 6.10 (Santiago)\n",
         ("rhel", "6.10")),
        ("/etc/centos-release", "CentOS release 6.10 (Final)\n", ("centos", "6.10")),
        ("/etc/redhat-release", "Rocky Linux release 8.9 (Green Obsidian)\n", ("rocky", "8.9")),
        ("/etc/redhat-release", "AlmaLinux release 9.3 (Shamrock Pampas Cat)\n",
         ("almalinux", "9.3")),
        ("/etc/redhat-release", "Fedora release 39 (Thirty Nine)\n", ("fedora", "39")),
        ("/etc/system-release", "Amazon Linux AMI release 2018.03\n", ("amzn", "2018.03")),
        ("/etc/system-release", "Oracle Linux Server release 7.9\n", ("ol", "7.9")),
        ("/etc/mariner-release", "CBL-Mariner 2.0.20220527\nBUILD_NUMBER=2.0.20220527\n",
         ("mariner", "2.0")),
        ("/etc/SuSE-release",
         "SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\nPATCHLEVEL = 4\n",
         ("sles", "11.4")),
        ("/etc/SuSE-release", "openSUSE 13.2 (x86_64)\nVERSION = 13.2\nCODENAME = Harlequin\n",
         ("opensuse", "13.2")),
    ],
)
def test_rpm_distro_from_release_file(
    path: str, text: str, expected: tuple[str, str | None]
) -> None:
    assert path in DISTRO_PATHS
    assert detect({path: text.encode()}) == expected


def test_rpm_distro_os_release_wins() -> None:
    files = {
        "/etc/os-release": b'ID="sles"\nVERSION_ID="15.3"\n',
        "/etc/SuSE-release": b"SUSE Linux Enterprise Server 11 (x86_64)\nVERSION = 11\n",
    }

    assert detect(files) == ("sles", "15.3")


def test_rpm_distro_unknown_release_line() -> None:
    assert detect({"/etc/system-release": b"Some Other Linux 1.0\n"}) is None
