"""Tests of .deb reading and of the dpkg database written into layers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.tools.imagebuild.conftest import MakeDeb
from tests.tools.imagebuild.layouts import entry_at
from tools.imagebuild import DpkgDatabase, ImageBuildError, Layer, parse_control, read_deb


def _status(layer: Layer) -> str:
    return entry_at(layer, "var/lib/dpkg/status").data.decode()


def _paragraphs(status: str) -> dict[str, str]:
    assert status.endswith("\n\n"), "each status paragraph ends with a blank line"
    paragraphs = [paragraph for paragraph in status.split("\n\n") if paragraph]
    return {
        paragraph.split("\n", 1)[0].removeprefix("Package: "): paragraph for paragraph in paragraphs
    }


def test_parse_control_keeps_continuation_lines() -> None:
    fields = parse_control(
        "Package: demo\nDescription: short\n long line\n .\n more\nConffiles:\n /etc/a 0a\n\n"
        "Package: ignored\n"
    )

    assert [field.name for field in fields] == ["Package", "Description", "Conffiles"]
    assert fields[1].value == "short"
    assert fields[1].raw == " short\n long line\n .\n more"
    assert fields[2].value == ""


def test_parse_control_rejects_line_without_colon() -> None:
    with pytest.raises(ImageBuildError, match="no field name"):
        parse_control("Package demo\n")


def test_read_deb_real_package_fields(real_debs: dict[str, Path]) -> None:
    package = read_deb(real_debs["passwd"])

    assert package.name == "passwd"
    assert package.field("Source") == "shadow"
    assert package.version.startswith("1:4.13")
    assert package.architecture == "amd64"
    assert "md5sums" in package.control_files
    assert "control" not in package.control_files


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd", "none"])
def test_read_deb_each_compression(make_deb: MakeDeb, compression: str) -> None:
    deb = make_deb("tool", {"/usr/bin/tool": (b"#!/bin/sh\n", 0o755)}, compression=compression)

    package = read_deb(deb)

    assert package.name == "tool"
    files = {member.info.name: member for member in package.data}
    assert files["./usr/bin/tool"].data == b"#!/bin/sh\n"
    assert files["./usr/bin/tool"].info.mode & 0o7777 == 0o755


def test_read_deb_rejects_non_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.deb"
    bogus.write_bytes(b"PK\x03\x04 not an ar archive")

    with pytest.raises(ImageBuildError, match="not an ar archive"):
        read_deb(bogus)


def test_dpkg_status_lists_every_package(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, real_debs.values())

    paragraphs = _paragraphs(_status(layer))

    assert sorted(paragraphs) == ["base-files", "base-passwd", "passwd"]
    for paragraph in paragraphs.values():
        assert paragraph.split("\n")[1] == "Status: install ok installed"
    assert "\nSource: shadow" in paragraphs["passwd"]
    assert "\nVersion: 1:4.13" in paragraphs["passwd"]


def test_dpkg_conffiles_carry_content_md5(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, [real_debs["base-files"]])

    paragraph = _paragraphs(_status(layer))["base-files"]
    conffile_lines = paragraph.split("\nConffiles:\n", 1)[1].split("\nDescription:")[0]

    issue_line = next(line for line in conffile_lines.split("\n") if " /etc/issue " in line)
    issue = entry_at(layer, "etc/issue")
    assert issue_line.split()[1] == hashlib.md5(issue.data).hexdigest()


def test_dpkg_info_list_and_md5sums(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, [real_debs["passwd"]])

    listed = entry_at(layer, "var/lib/dpkg/info/passwd.list")
    md5sums = entry_at(layer, "var/lib/dpkg/info/passwd.md5sums")
    postinst = entry_at(layer, "var/lib/dpkg/info/passwd.postinst")

    lines = listed.data.decode().splitlines()
    assert lines[0] == "/."
    assert "/usr/bin/passwd" in lines
    assert "/usr/bin" in lines
    passwd_md5 = hashlib.md5(entry_at(layer, "usr/bin/passwd").data).hexdigest()
    assert f"{passwd_md5}  usr/bin/passwd" in md5sums.data.decode()
    assert postinst.mode == 0o755


def test_dpkg_keeps_setuid_and_group(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, [real_debs["passwd"]])

    passwd = entry_at(layer, "usr/bin/passwd")
    chage = entry_at(layer, "usr/bin/chage")

    assert passwd.mode == 0o4755
    assert chage.mode == 0o2755
    assert chage.gid == 42  # the `shadow` group of base-passwd


def test_dpkg_account_files_from_base_passwd(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, [real_debs["base-passwd"]])

    passwd = entry_at(layer, "etc/passwd")
    group = entry_at(layer, "etc/group")

    assert passwd.data == entry_at(layer, "usr/share/base-passwd/passwd.master").data
    assert passwd.data.startswith(b"root:*:0:0:root:/root:/bin/bash\n")
    assert b"\nshadow:*:42:\n" in group.data


def test_dpkg_os_release_stays_a_symlink(real_debs: dict[str, Path]) -> None:
    layer = Layer()
    DpkgDatabase().install(layer, [real_debs["base-files"]])

    os_release = entry_at(layer, "etc/os-release")
    target = entry_at(layer, "usr/lib/os-release")

    assert os_release.link_target == "../usr/lib/os-release"
    assert b'VERSION_ID="12"' in target.data


def test_dpkg_merged_usr_keeps_listed_path(make_deb: MakeDeb) -> None:
    deb = make_deb("tool", {"/bin/tool": (b"#!/bin/sh\n", 0o755), "/lib/tool.so": b"so"})
    layer = Layer()
    database = DpkgDatabase()

    database.install(layer, [deb])

    assert entry_at(layer, "bin").link_target == "usr/bin"
    assert "usr/bin/tool" in layer
    assert "usr/lib/tool.so" in layer
    assert "bin/tool" not in layer
    assert "/bin/tool" in database.files_of("tool")
    assert "/bin/tool" in entry_at(layer, "var/lib/dpkg/info/tool.list").data.decode()


def test_dpkg_without_merged_usr_keeps_bin(make_deb: MakeDeb) -> None:
    deb = make_deb("tool", {"/bin/tool": (b"#!/bin/sh\n", 0o755)})
    layer = Layer()

    DpkgDatabase(merged_usr=False).install(layer, [deb])

    assert "bin/tool" in layer
    assert "usr/bin/tool" not in layer


def test_dpkg_multi_arch_same_info_names(make_deb: MakeDeb) -> None:
    deb = make_deb(
        "libdemo1",
        {"/usr/lib/x86_64-linux-gnu/libdemo.so.1": b"elf"},
        control={"Multi-Arch": "same"},
        control_files={"md5sums": b""},
    )
    layer = Layer()

    DpkgDatabase().install(layer, [deb])

    assert "var/lib/dpkg/info/libdemo1:amd64.list" in layer
    assert "var/lib/dpkg/info/libdemo1:amd64.md5sums" in layer
    assert "var/lib/dpkg/info/libdemo1.list" not in layer


def test_dpkg_later_layer_rewrites_whole_status(make_deb: MakeDeb) -> None:
    first, second = Layer(), Layer()
    database = DpkgDatabase()

    database.install(first, [make_deb("alpha", {"/usr/share/alpha": b"a"})])
    database.install(second, [make_deb("beta", {"/usr/share/beta": b"b"})])

    assert sorted(_paragraphs(_status(first))) == ["alpha"]
    assert sorted(_paragraphs(_status(second))) == ["alpha", "beta"]
    assert "var/lib/dpkg/info/alpha.list" not in second
    assert "bin" not in second


def test_dpkg_remove_whiteouts_files_and_info(make_deb: MakeDeb) -> None:
    base, purge = Layer(), Layer()
    database = DpkgDatabase()
    shared = {"/usr/share/doc/shared/README": b"shared"}
    kept_deb = make_deb("keep", {**shared, "/usr/bin/keep": b"k"})
    purged_deb = make_deb(
        "gone",
        {**shared, "/bin/gone": b"g", "/etc/gone.conf": b"x"},
        control_files={"conffiles": b"/etc/gone.conf\n"},
    )
    database.install(base, [kept_deb, purged_deb])

    database.remove(purge, ["gone"])

    whiteouts = sorted(entry.path for entry in purge.entries if "/.wh." in "/" + entry.path)
    assert whiteouts == [
        "etc/.wh.gone.conf",
        "usr/bin/.wh.gone",
        "var/lib/dpkg/info/.wh.gone.conffiles",
        "var/lib/dpkg/info/.wh.gone.list",
    ]
    assert sorted(_paragraphs(_status(purge))) == ["keep"]
    assert [package.name for package in database.packages] == ["keep"]


def test_dpkg_remove_unknown_package_raises() -> None:
    with pytest.raises(ImageBuildError, match="not installed"):
        DpkgDatabase().remove(Layer(), ["missing"])


def test_dpkg_conffiles_skip_flagged_unshipped_paths(make_deb: MakeDeb) -> None:
    conffiles = b"/etc/flags.conf\nremove-on-upgrade /etc/obsolete.conf\n"
    deb = make_deb("flags", {"/etc/flags.conf": b"x"}, control_files={"conffiles": conffiles})
    layer = Layer()

    DpkgDatabase().install(layer, [deb])

    md5 = hashlib.md5(b"x").hexdigest()
    assert f"Conffiles:\n /etc/flags.conf {md5}\nDescription:" in _status(layer)
