"""Tests of applying layers to the squashed view."""

from __future__ import annotations

import io

import pytest

from chalicelib.analysis.interface import FileType
from chalicelib.analysis.layers import LayerContents, read_layer
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.squash import SquashedView, SymlinkLoopError
from tests.analysis.builders import (
    Item,
    directory,
    file,
    layer_bytes,
    opaque,
    symlink,
    whiteout,
)

SECRET_LINE = "aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"


def layer(digest: str, items: list[Item]) -> LayerContents:
    options = AnalysisOptions()
    return read_layer(
        io.BytesIO(layer_bytes(items)),
        digest,
        options=options,
        wants=lambda path: True,
        scanner=SecretScanner(options.secret_patterns),
    )


def squash(*layers: list[Item]) -> SquashedView:
    view = SquashedView()
    for index, items in enumerate(layers):
        view.apply(layer(f"sha256:layer{index}", items))
    return view


def test_squash_later_layer_overwrites_and_records_layer() -> None:
    view = squash([file("etc/motd", "one"), file("etc/hosts", "h")], [file("etc/motd", "two")])
    assert view.read("/etc/motd") == b"two"
    assert view.get("/etc/motd").layer == "sha256:layer1"
    assert view.get("/etc/hosts").layer == "sha256:layer0"


def test_squash_whiteout_deletes_file() -> None:
    view = squash([file("etc/motd", "one"), file("etc/hosts", "h")], [whiteout("etc/motd")])
    assert view.get("/etc/motd") is None
    assert view.read("/etc/motd") is None
    assert view.get("/etc/hosts") is not None


def test_squash_whiteout_deletes_directory_tree() -> None:
    view = squash(
        [directory("opt/app"), file("opt/app/a"), file("opt/app/sub/b"), file("opt/application")],
        [whiteout("opt/app")],
    )
    assert sorted(view.entries) == ["/opt/application"]


def test_squash_opaque_dir_hides_lower_content() -> None:
    view = squash(
        [directory("var/cache"), file("var/cache/old"), file("var/cache/sub/old2"), file("var/x")],
        [directory("var/cache"), opaque("var/cache"), file("var/cache/new")],
    )
    assert sorted(view.entries) == ["/var/cache", "/var/cache/new", "/var/x"]


def test_squash_opaque_root() -> None:
    view = squash([file("a"), file("b/c")], [opaque(""), file("d")])
    assert sorted(view.entries) == ["/d"]


def test_squash_same_layer_whiteout_keeps_new_file() -> None:
    # Whiteouts apply to lower layers only, so a layer can replace a path it also whites out.
    view = squash(
        [file("etc/app.conf", "old"), file("etc/app.d/x", "old")],
        [file("etc/app.conf", "new"), whiteout("etc/app.conf"), opaque("etc/app.d"),
         file("etc/app.d/y", "new")],
    )
    assert view.read("/etc/app.conf") == b"new"
    assert sorted(path for path in view.entries if path.startswith("/etc/app.d")) == [
        "/etc/app.d/y"
    ]


def test_squash_whiteout_then_recreate_resets_history() -> None:
    view = squash([file("etc/passwd", "a")], [whiteout("etc/passwd")], [file("etc/passwd", "b")])
    versions = view.versions("/etc/passwd")
    assert [version.content for version in versions] == [b"b"]


def test_squash_file_replacing_directory_removes_children() -> None:
    view = squash([directory("srv/data"), file("srv/data/x")], [file("srv/data", "now a file")])
    assert sorted(view.entries) == ["/srv/data"]
    assert view.get("/srv/data").type is FileType.FILE


def test_squash_file_replacing_implicit_directory() -> None:
    # No tar entry lists /srv/data, but a runtime creates it as the parent of /srv/data/x.
    view = squash([file("srv/data/x"), file("srv/data/sub/y")], [file("srv/data", "now a file")])
    assert sorted(view.entries) == ["/srv/data"]
    assert view.read("/srv/data") == b"now a file"


def test_squash_same_layer_file_replacing_directory() -> None:
    view = squash(
        [directory("a"), file("a/x"), file("b/y"), file("a", "file"), symlink("b", "a")]
    )
    assert sorted(view.entries) == ["/a", "/b"]
    assert view.get("/a").type is FileType.FILE
    assert view.get("/b").type is FileType.SYMLINK


def test_squash_same_layer_directory_after_file() -> None:
    # The file entry removes the lower /a/x and this layer's /a/y before /a is a directory again.
    view = squash(
        [directory("a"), file("a/x")],
        [file("a/y"), file("a", "file"), directory("a"), file("a/z")],
    )
    assert sorted(view.entries) == ["/a", "/a/z"]
    assert view.get("/a").type is FileType.DIR
    assert view.get("/a").layer == "sha256:layer1"


def test_squash_symlink_chain() -> None:
    view = squash(
        [
            file("usr/lib/os-release", "ID=debian\n"),
            symlink("etc/os-release", "../usr/lib/os-release"),
            symlink("etc/alias", "os-release"),
            symlink("lib", "usr/lib"),
        ]
    )
    assert view.resolve("/etc/alias") == "/usr/lib/os-release"
    assert view.read("/etc/alias") == b"ID=debian\n"
    assert view.read("/lib/os-release") == b"ID=debian\n"


def test_squash_absolute_symlink_is_image_relative() -> None:
    view = squash([file("opt/real", "inside"), symlink("etc/link", "/opt/real")])
    assert view.resolve("/etc/link") == "/opt/real"
    assert view.read("/etc/link") == b"inside"


def test_squash_symlink_cannot_escape_root() -> None:
    view = squash(
        [file("etc/shadow", "image"), symlink("a/b/link", "../../../../../../etc/shadow")]
    )
    assert view.resolve("/a/b/link") == "/etc/shadow"
    assert view.read("/a/b/link") == b"image"


def test_squash_symlink_loop_stops() -> None:
    view = squash([symlink("a", "b"), symlink("b", "a"), symlink("self", "self")])
    with pytest.raises(SymlinkLoopError, match="more than 40 symbolic links"):
        view.resolve("/a")
    assert view.read("/self") is None
    assert view.exists("/a") is False


def test_squash_symlink_hop_limit_setting() -> None:
    items = [file("target", "t")] + [
        symlink(f"l{index}", f"l{index + 1}" if index < 4 else "target") for index in range(5)
    ]
    view = SquashedView(max_symlink_hops=4)
    view.apply(layer("sha256:one", items))
    with pytest.raises(SymlinkLoopError):
        view.resolve("/l0")
    view.max_symlink_hops = 5
    assert view.resolve("/l0") == "/target"


def test_squash_secret_dropped_when_overwritten() -> None:
    view = squash([file("app/.env", SECRET_LINE), file("app/keep.env", SECRET_LINE)],
                  [file("app/.env", "clean\n")])
    assert [match.path for match in view.secret_matches()] == ["/app/keep.env"]


def test_squash_secret_dropped_when_whited_out() -> None:
    view = squash([file("app/.env", SECRET_LINE)], [whiteout("app")])
    assert view.secret_matches() == []


def test_squash_secret_reported_through_symlink() -> None:
    view = squash([file("app/real.env", SECRET_LINE), symlink("app/link.env", "real.env")])
    assert [match.path for match in view.secret_matches()] == ["/app/link.env", "/app/real.env"]


def test_squash_file_entries_sorted() -> None:
    view = squash([file("b"), file("a"), directory("c")])
    entries = view.file_entries()
    assert [entry.path for entry in entries] == ["/a", "/b", "/c"]
    assert entries[0].layer_digest == "sha256:layer0"
