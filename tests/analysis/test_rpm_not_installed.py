"""Tests of the rpm files that package verification skips: `%ghost` and not installed files."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.test_rpm import MARINER, RPM_FIXTURES, by_name, parse


def test_rpm_not_installed_docs_of_nodocs_image(shared_dir: Path) -> None:
    # SUSE's BCI images are built without documentation, so rpm marks those files not installed.
    content = (shared_dir / RPM_FIXTURES / "sle15-bci/Packages.db").read_bytes()
    glibc = by_name(parse(content, "/usr/lib/sysimage/rpm/Packages.db", None))["glibc"]
    not_installed = glibc.metadata["not_installed_files"]

    assert "/usr/share/man/man1/getconf.1.gz" in not_installed
    assert "/usr/share/doc/packages/glibc" in not_installed
    assert "/usr/bin/getconf" in glibc.files
    assert "/usr/bin/getconf" not in not_installed


def test_rpm_ghost_files_not_installed(shared_dir: Path) -> None:
    content = (shared_dir / RPM_FIXTURES / "cbl-mariner-2.0/rpmdb.sqlite").read_bytes()
    packages = by_name(parse(content, distro=MARINER))

    assert packages["libselinux"].metadata["not_installed_files"] == ["/var/run/setrans"]
    assert packages["sqlite"].metadata["not_installed_files"] == []
