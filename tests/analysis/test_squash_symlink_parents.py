"""Tests of entries, whiteouts and opaque markers below a symbolic link of any layer.

containerd and moby write such an entry at the link's target, resolved inside the image root,
so the squashed view must list it there.
"""

from __future__ import annotations

import io

import pytest

from chalicelib.analysis.interface import FileType
from chalicelib.analysis.layers import LayerContents, read_layer
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.squash import SquashedView
from tests.analysis.builders import Item, directory, file, layer_bytes, opaque, symlink, whiteout

SECRET_LINE = "aws_access_key_id = AKIAABCDEFGHIJKLMNOP\n"
MERGED_USR = [
    directory("usr/lib"), file("usr/lib/os-release", "ID=debian\n"), symlink("lib", "usr/lib"),
]


def layer(digest: str, items: list[Item]) -> LayerContents:
    """Read `items` as one layer tar, keeping the content of every file."""
    options = AnalysisOptions()
    return read_layer(
        io.BytesIO(layer_bytes(items)),
        digest,
        options=options,
        wants=lambda path: True,
        scanner=SecretScanner(options.secret_patterns),
    )


def squash(*layers: list[Item]) -> tuple[SquashedView, list[LayerContents]]:
    """Apply `layers` in order to a new view and return it with each layer as read."""
    view = SquashedView()
    contents = [layer(f"sha256:layer{index}", items) for index, items in enumerate(layers)]
    for layer_contents in contents:
        view.apply(layer_contents)
    return view, contents


@pytest.mark.parametrize("target", ["usr/lib", "/usr/lib", "./usr/../usr/lib", "../../usr/lib"])
def test_symlink_parent_entry_written_at_target(target: str) -> None:
    view, _ = squash(
        [directory("usr/lib"), symlink("lib", target)], [file("lib/libz.so", "z")]
    )
    assert view.get("/lib/libz.so") is None
    assert view.get("/usr/lib/libz.so").path == "/usr/lib/libz.so"
    assert view.get("/usr/lib/libz.so").layer == "sha256:layer1"
    assert view.read("/usr/lib/libz.so") == b"z"
    assert view.read("/lib/libz.so") == b"z"
    assert [entry.path for entry in view.file_entries()] == [
        "/lib", "/usr/lib", "/usr/lib/libz.so",
    ]


def test_symlink_parent_chain_and_nested_link() -> None:
    view, _ = squash(
        [symlink("lib", "lib64"), symlink("lib64", "usr/lib64"), symlink("usr/lib64", "/opt/lib")],
        [file("lib/sub/x", "x")],
    )
    assert sorted(path for path in view.entries if path.endswith("/x")) == ["/opt/lib/sub/x"]
    assert view.read("/lib/sub/x") == b"x"


def test_symlink_parent_dangling_target_created() -> None:
    view, contents = squash([symlink("lib", "missing/lib")], [file("lib/x", "x")])
    assert "/missing/lib/x" in view.entries
    assert "/missing/lib" not in view.entries
    assert view.read("/lib/x") == b"x"
    assert contents[1].unknowns == []


def test_symlink_parent_loop_reported() -> None:
    view, contents = squash([symlink("a", "b"), symlink("b", "a")], [file("a/x", "x"), file("a/y")])
    assert "/a/x" in view.entries
    assert "/a/y" in view.entries
    assert len(contents[1].unknowns) == 1
    unknown = contents[1].unknowns[0]
    assert unknown.location == "/a/x"
    assert "container runtimes reject this layer" in unknown.reason
    assert "more than 40 symbolic links" in unknown.reason


def test_symlink_parent_to_file_reported() -> None:
    view, contents = squash(
        [file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), symlink("conf", "etc/passwd")],
        [file("conf/x", "x")],
    )
    assert "/conf/x" in view.entries
    assert "/etc/passwd/x" not in view.entries
    assert [unknown.location for unknown in contents[1].unknowns] == ["/conf/x"]
    assert "/etc/passwd, which is not a directory" in contents[1].unknowns[0].reason


def test_symlink_parent_same_layer_link_followed() -> None:
    view, _ = squash(
        [directory("usr/lib"), symlink("lib", "usr/lib"), file("lib/x", "x"), symlink("lib/y", "x")]
    )
    assert sorted(view.entries) == ["/lib", "/usr/lib", "/usr/lib/x", "/usr/lib/y"]
    assert view.get("/usr/lib/y").link_target == "x"
    assert view.read("/lib/y") == b"x"


def test_symlink_parent_link_replaces_directory() -> None:
    # /lib/x is written into the directory /lib, which the link then replaces.
    view, _ = squash([file("lib/x", "old"), symlink("lib", "usr/lib"), file("lib/y", "new")])
    assert sorted(view.entries) == ["/lib", "/usr/lib/y"]
    assert view.read("/lib/x") is None
    assert view.read("/lib/y") == b"new"


def test_symlink_parent_two_names_for_one_path() -> None:
    # Both entries name /usr/lib/x, and the later one in the tar wins.
    view, _ = squash(MERGED_USR, [file("usr/lib/x", "first"), file("lib/x", "second")])
    assert view.read("/usr/lib/x") == b"second"
    assert [version.content for version in view.versions("/usr/lib/x")] == [b"second"]


def test_symlink_parent_file_replaces_target_directory() -> None:
    view, _ = squash(
        MERGED_USR + [file("usr/lib/d/inner", "i"), file("usr/lib/d/more/deep")],
        [file("lib/d", "now a file")],
    )
    assert sorted(path for path in view.entries if path.startswith("/usr/lib/d")) == ["/usr/lib/d"]
    assert view.get("/usr/lib/d").type is FileType.FILE
    assert view.read("/lib/d/inner") is None


def test_symlink_parent_directory_after_file() -> None:
    # The file removes the lower directory's content before the directory is written again.
    view, _ = squash(
        MERGED_USR + [file("usr/lib/d/inner", "i")],
        [file("lib/d", "file"), directory("usr/lib/d"), file("usr/lib/d/new", "n")],
    )
    assert sorted(path for path in view.entries if path.startswith("/usr/lib/d")) == [
        "/usr/lib/d", "/usr/lib/d/new",
    ]


def test_symlink_parent_kept_versions_and_content() -> None:
    view, _ = squash(MERGED_USR, [file("lib/os-release", "ID=ubuntu\n")])
    assert view.read("/usr/lib/os-release") == b"ID=ubuntu\n"
    assert view.content("/usr/lib/os-release") == b"ID=ubuntu\n"
    assert view.content("/lib/os-release") is None
    assert [version.layer for version in view.versions("/usr/lib/os-release")] == [
        "sha256:layer0", "sha256:layer1",
    ]
    assert "/usr/lib/os-release" in view.kept_paths()


def test_symlink_parent_secret_reported_at_target() -> None:
    view, _ = squash(MERGED_USR, [file("lib/app/.env", SECRET_LINE)])
    matches = view.secret_matches()
    assert [match.path for match in matches] == ["/usr/lib/app/.env"]
    assert view.secrets_at("/usr/lib/app/.env") == matches


def test_symlink_parent_whiteout_deletes_target_entry() -> None:
    view, _ = squash(
        MERGED_USR + [file("usr/lib/.env", SECRET_LINE), file("usr/lib/keep")],
        [whiteout("lib/.env"), whiteout("lib/os-release")],
    )
    assert "/usr/lib/.env" not in view.entries
    assert "/usr/lib/os-release" not in view.entries
    assert "/usr/lib/keep" in view.entries
    assert view.read("/lib/os-release") is None
    assert view.versions("/usr/lib/os-release") == []
    assert view.secret_matches() == []


def test_symlink_parent_link_whiteout_keeps_target() -> None:
    view, _ = squash(MERGED_USR, [whiteout("lib"), file("lib/new", "n")])
    assert view.get("/lib") is None
    assert "/lib/new" in view.entries
    assert view.read("/usr/lib/os-release") == b"ID=debian\n"


def test_symlink_parent_opaque_marker_clears_target() -> None:
    view, _ = squash(
        MERGED_USR + [file("usr/lib/old/deep")],
        [opaque("lib"), file("lib/new", "n")],
    )
    assert sorted(path for path in view.entries if path.startswith("/usr/lib")) == [
        "/usr/lib", "/usr/lib/new",
    ]
    assert view.get("/lib").type is FileType.SYMLINK


def test_symlink_parent_opaque_directory_replaces_link() -> None:
    # The layer writes /lib itself, so the marker empties that new directory, not /usr/lib.
    view, _ = squash(MERGED_USR, [directory("lib"), opaque("lib"), file("lib/new", "n")])
    assert view.get("/lib").type is FileType.DIR
    assert sorted(path for path in view.entries if path.startswith("/lib")) == ["/lib", "/lib/new"]
    assert view.read("/usr/lib/os-release") == b"ID=debian\n"


def test_symlink_parent_unlinked_layer_not_rebased(monkeypatch: pytest.MonkeyPatch) -> None:
    # Layers that write nothing below a link never pay for resolving their paths.
    view = SquashedView()
    view.apply(layer("sha256:base", MERGED_USR))

    def fail(layer: LayerContents) -> LayerContents:
        raise AssertionError("rebased a layer without paths below a symbolic link")

    monkeypatch.setattr(view, "_rebase", fail)
    view.apply(layer("sha256:top", [file("usr/lib/x"), file("etc/hosts"), whiteout("usr/lib/y")]))
    assert "/usr/lib/x" in view.entries


def test_symlink_parent_replacement_hides_lower_links() -> None:
    # lib/d replaces the lower directory /usr/lib/d and its link s, so usr/lib/d/s/y is written
    # into a new directory s, not through the removed link.
    view, _ = squash(
        MERGED_USR + [directory("usr/lib/d"), symlink("usr/lib/d/s", "/opt")],
        [file("lib/d", "file"), directory("usr/lib/d"), file("usr/lib/d/s/y", "y")],
    )
    assert sorted(path for path in view.entries if path.startswith(("/usr/lib/d", "/opt"))) == [
        "/usr/lib/d", "/usr/lib/d/s/y",
    ]


def test_symlink_parent_replacement_drops_written_links() -> None:
    # The link s, written by this layer, goes with the directory that lib/d replaces.
    view, _ = squash(
        MERGED_USR + [symlink("lib32", "usr/lib")],
        [
            directory("usr/lib/d"),
            symlink("usr/lib/d/s", "/opt"),
            file("lib/d", "file"),
            directory("lib32/d"),
            file("usr/lib/d/s/y", "y"),
        ],
    )
    assert sorted(path for path in view.entries if path.startswith(("/usr/lib/d", "/opt"))) == [
        "/usr/lib/d", "/usr/lib/d/s/y",
    ]


def test_symlink_parent_opaque_directory_at_target() -> None:
    view, _ = squash(
        MERGED_USR + [file("usr/lib/d/old")],
        [directory("lib/d"), opaque("lib/d"), file("lib/d/new", "n")],
    )
    assert sorted(path for path in view.entries if path.startswith("/usr/lib/d")) == [
        "/usr/lib/d", "/usr/lib/d/new",
    ]


def test_symlink_parent_below_plain_file_kept() -> None:
    # Only a followed link makes a path below a file worth reporting, so this one stays as named.
    view, contents = squash(
        MERGED_USR + [file("etc/hosts")],
        [file("lib/x", "x"), file("etc/hosts/x", "y")],
    )
    assert "/usr/lib/x" in view.entries
    assert "/etc/hosts/x" in view.entries
    assert contents[1].unknowns == []
