"""Tests of distribution detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.analysis.distro import detect_distro, parse_os_release

FIXTURES = "acceptance-fixtures"


def detect(files: dict[str, bytes], existing: tuple[str, ...] = ()):
    return detect_distro(files.get, lambda path: path in files or path in existing)


def test_parse_os_release_quotes_and_comments() -> None:
    values = parse_os_release(
        '# comment\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_CODENAME=\'x y\'\n'
        'PRETTY_NAME="A \\"quoted\\" name"\n\ngarbage line\n'
    )
    assert values == {
        "NAME": "Debian GNU/Linux",
        "ID": "debian",
        "VERSION_CODENAME": "x y",
        "PRETTY_NAME": 'A "quoted" name',
    }


def test_distro_debian_os_release(shared_dir: Path) -> None:
    path = shared_dir / FIXTURES / "syft/debian/testdata/image-dpkg/etc/os-release"
    content = path.read_bytes()
    distro = detect({"/etc/os-release": content})
    assert distro is not None
    assert distro.id == "debian"
    assert distro.version_id == "12"
    assert distro.pretty_name == "Debian GNU/Linux 12 (bookworm)"


def test_distro_ubuntu_id_like(shared_dir: Path) -> None:
    path = shared_dir / FIXTURES / "dirscan/syft-image-pkg-coverage/etc/os-release"
    distro = detect({"/usr/lib/os-release": path.read_bytes()})
    assert distro is not None
    assert (distro.id, distro.version_id, distro.id_like) == ("ubuntu", "20.04", ["debian"])


def test_distro_etc_os_release_wins() -> None:
    distro = detect(
        {"/etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n", "/usr/lib/os-release": b"ID=x\n"}
    )
    assert distro is not None
    assert (distro.id, distro.version_id) == ("alpine", "3.19.1")


def test_distro_os_release_without_id_falls_back() -> None:
    distro = detect({"/etc/os-release": b"NAME=whatever\n", "/etc/alpine-release": b"3.10.9\n"})
    assert distro is not None
    assert (distro.id, distro.version_id) == ("alpine", "3.10.9")


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("/etc/debian_version", b"12.5\n", ("debian", "12")),
        ("/etc/debian_version", b"trixie/sid\n", ("debian", None)),
        ("/etc/redhat-release", b"Red Hat Enterprise Linux Server release 7.9 (Maipo)\n",
         ("rhel", "7.9")),
        ("/etc/centos-release", b"CentOS Linux release 7.9.2009 (Core)\n", ("centos", "7.9.2009")),
        ("/etc/lsb-release", b"DISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=16.04\n", ("ubuntu", "16.04")),
    ],
)
def test_distro_fallback_files(path: str, content: bytes, expected: tuple[str, str | None]) -> None:
    distro = detect({path: content})
    assert distro is not None
    assert (distro.id, distro.version_id) == expected


def test_distro_busybox_with_version() -> None:
    binary = b"\x7fELF....BusyBox v1.36.1 (2023-06-02 00:42:02 UTC) multi-call binary"
    distro = detect({"/bin/busybox": binary})
    assert distro is not None
    assert (distro.id, distro.version_id) == ("busybox", "1.36.1")


def test_distro_busybox_without_content() -> None:
    distro = detect({}, existing=("/bin/busybox",))
    assert distro is not None
    assert (distro.id, distro.version_id) == ("busybox", None)


def test_distro_none_for_scratch_image() -> None:
    assert detect({}) is None
