"""Property tests: the squashed view of random layers equals those layers applied to a directory.

Hypothesis draws a few layers over small sets of paths: regular files, directories,
symbolic links (relative, absolute, dangling and looping), hard links, duplicate paths within
one layer, `.wh.NAME` whiteouts and `.wh..wh..opq` opaque markers, and entries and markers
below symbolic links. `DirectoryOracle` applies each layer to a real temporary directory as
the OCI image spec's "Applying Changesets" section describes. Like containerd, it follows the
links in parent directories inside the root. The layer is then written as a gzip or plain
tar, read by `read_layer` and applied to a `SquashedView`, and after every layer both trees
must match in paths, types, modes, link targets, sizes, digests and kept content. Another
property resolves every path through symbolic links with `SquashedView.resolve` and with the
kernel's `openat2` confined to the directory. Both properties also run on layers over a first
layer of directories and links, where more entries land below a link.

The runs are derandomized and keep no example database, so a failure in CI reproduces
locally with the same command and the pinned Hypothesis version.
"""

from __future__ import annotations

import ctypes
import dataclasses
import errno
import hashlib
import io
import itertools
import os
import shutil
import stat
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from chalicelib.analysis.interface import FileType
from chalicelib.analysis.layers import read_layer
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.squash import SquashedView, SymlinkLoopError
from tests.analysis.builders import Item, directory, file, layer_bytes, opaque, symlink, whiteout

NAMES = ("a", "b", "c")
"""Path components: three names make collisions, replacements and nesting frequent."""
PATHS = tuple(
    "/".join(parts)
    for depth in (1, 2, 3)
    for parts in itertools.product(NAMES, repeat=depth)
)
NESTED_PATHS = ("a", "a/a", "a/b", "a/a/a")
"""Few paths on one branch, so that one path is often replaced several times in one layer."""
FILE_MODES = (0o644, 0o600, 0o755, 0o4755, 0o2755, 0o400, 0o000)
DIR_MODES = (0o755, 0o700, 0o1777, 0o2750)
"""Directory modes keep the owner's rwx bits, so the oracle can write below them without root."""

TARGET_NAMES = ("missing", "etc", "passwd")
"""Names that appear only in link targets. The oracle creates them as parents of an entry."""
BLOCKED = "blocked"
"""`DirectoryOracle.kind` result for a path below a file or symbolic link."""
MAX_SYMLINK_HOPS = SquashedView().max_symlink_hops
"""The view's default hop limit, which the oracle applies too."""

OPTIONS = AnalysisOptions()
SCANNER = SecretScanner(OPTIONS.secret_patterns)


@dataclasses.dataclass(frozen=True)
class Change:
    """One drawn tar entry, before the oracle accepts it and fixes its hard link source."""

    kind: str
    """`file`, `dir`, `symlink`, `hardlink`, `whiteout` or `opaque`."""
    path: str
    """Relative path made of `NAMES`, or the empty string for an opaque marker in the root."""
    content: bytes = b""
    mode: int = 0o644
    target: str = ""
    """Symbolic link text, stored as written and never followed."""
    pick: int = 0
    """For `hardlink`: index, modulo their number, into the regular files present at the time."""


def layer_lists(names: tuple[str, ...]) -> st.SearchStrategy[list[tuple[list[Change], bool]]]:
    """Draw one to four layers of changes to `names`, each layer with its compression flag."""
    paths = st.sampled_from(names)
    link_targets = st.one_of(
        paths,
        paths.map(lambda path: "/" + path),
        paths.map(lambda path: "../" + path),
        st.sampled_from((".", "..", "/", "missing", "a/missing", "../../../etc/passwd")),
    )
    changes = st.one_of(
        st.builds(
            Change, st.just("file"), paths,
            content=st.binary(max_size=12), mode=st.sampled_from(FILE_MODES),
        ),
        st.builds(Change, st.just("dir"), paths, mode=st.sampled_from(DIR_MODES)),
        st.builds(Change, st.just("symlink"), paths, target=link_targets),
        st.builds(Change, st.just("hardlink"), paths, pick=st.integers(0, 63)),
        st.builds(Change, st.just("whiteout"), paths),
        st.builds(Change, st.just("opaque"), st.sampled_from(("",) + names)),
    )
    return st.lists(
        st.tuples(st.lists(changes, max_size=10), st.booleans()), min_size=1, max_size=4
    )


def linked_layer_lists(
    names: tuple[str, ...],
) -> st.SearchStrategy[list[tuple[list[Change], bool]]]:
    """Draw layers over a first layer of directories and links, mostly to directories.

    Later entries then often name a path below a link, in a lower layer or their own.
    """
    paths = st.sampled_from(names)
    base = st.lists(
        st.one_of(
            st.builds(Change, st.just("dir"), paths, mode=st.sampled_from(DIR_MODES)),
            st.builds(
                Change,
                st.just("symlink"),
                paths,
                target=st.one_of(
                    paths, paths.map(lambda path: "/" + path), paths.map(lambda path: "../" + path)
                ),
            ),
        ),
        min_size=2,
        max_size=6,
    )
    return st.tuples(base, layer_lists(names)).map(lambda drawn: [(drawn[0], False), *drawn[1]])


def attached_markers(layer: list[Change]) -> tuple[dict[str, int], set[int]]:
    """Return the opaque markers of directories that `layer` writes, and markers to leave out.

    Such a marker applies where the layer writes its directory, so it is returned by that path.
    The layer reader drops an entry named below a non-directory that a directory replaces in
    the same layer, so a marker for such an entry is left out, by its index.
    """
    entry_paths = {change.path for change in layer if change.kind not in ("whiteout", "opaque")}
    replaced = tuple(
        change.path + "/" for change in layer if change.kind not in ("whiteout", "opaque", "dir")
    )
    attached: dict[str, int] = {}
    left_out: set[int] = set()
    for index, change in enumerate(layer):
        if change.kind == "opaque" and change.path in entry_paths:
            attached[change.path] = index
            if change.path.startswith(replaced):
                left_out.add(index)
    return attached, left_out


class DirectoryOracle:
    """Applies layers to a real directory, as the OCI image spec and containerd require.

    Whiteouts and opaque markers delete lower-layer content only, so they are applied first,
    with their paths resolved in the tree before the layer. The exception is the opaque marker
    of a directory that the layer writes, which applies where and when that directory is
    written. The other entries are then written in tar order, and an entry replaces what is at
    its path, removing a directory with its content, unless both are directories, when only
    the mode changes. As containerd's `archive.Apply` does, the symbolic links in an entry's
    parent directory are followed inside the root against the tree written so far, while the
    entry's own name is never followed. Parents missing from the layer are created and
    remembered as implicit, because the squashed view records only tar entries.

    Changes that a runtime would reject are dropped and left out of the tar: entries below a
    file, a link loop or a link to a file, and hard links when no regular file exists. So are
    changes that `LayerContents` cannot express, because it keeps one entry per path at the
    position where the path first appeared. One is a symbolic link at a path that the layer
    already wrote. The others are second writes of a name in the tar after the layer wrote a
    link, when the name now lands elsewhere, or when another name of the layer wrote the same
    path. A second write over a path below which the layer wrote through a link is dropped too.
    Markers whose path depends on an earlier marker of the layer are dropped too, and so is the
    opaque marker of a directory whose first entry in the layer is not a directory.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.implicit: set[str] = set()
        """Directories created only as parents of entries."""
        self.written: dict[str, str] = {}
        """Where the current layer wrote each entry, keyed by the entry's name in the tar."""
        self.writers: dict[str, set[str]] = {}
        """The names in the tar under which the current layer wrote each path, keyed by the path."""
        self.wrote_symlink = False
        """Whether the current layer has written a symbolic link yet."""
        self.moved: set[str] = set()
        """Paths that the current layer wrote through a symbolic link in the entry's name."""

    def host(self, path: str) -> str:
        parts = path.split("/")
        # Only drawn names and link target names reach the file system, so no write can leave
        # `root`.
        assert all(part in NAMES + TARGET_NAMES for part in parts), path
        return os.path.join(self.root, *parts)

    def kind(self, path: str) -> str | None:
        """Return `dir`, `file`, `symlink`, None when missing, or `BLOCKED`.

        Each ancestor is checked with `lstat` before its child, so no symbolic link is followed.
        """
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            try:
                mode = os.lstat(self.host("/".join(parts[:depth]))).st_mode
            except FileNotFoundError:
                return None
            if depth < len(parts) and not stat.S_ISDIR(mode):
                return BLOCKED
        if stat.S_ISDIR(mode):
            return "dir"
        return "symlink" if stat.S_ISLNK(mode) else "file"

    def real_directory(self, path: str) -> str | None:
        """Return `path` with its links followed inside the root, "" for the root itself.

        Absolute targets start at the root, `..` stops there, and missing components are kept.
        Returns None when a loop or a non-directory among the components makes a runtime fail.
        """
        pending = path.split("/")
        pending.reverse()
        resolved: list[str] = []
        hops = 0
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                resolved = resolved[:-1]
                continue
            candidate = resolved + [name]
            host = self.host("/".join(candidate))
            try:
                mode = os.lstat(host).st_mode
            except FileNotFoundError:
                resolved = candidate
                continue
            if stat.S_ISDIR(mode):
                resolved = candidate
                continue
            if not stat.S_ISLNK(mode):
                return None
            hops += 1
            if hops > MAX_SYMLINK_HOPS:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                resolved = []
            parts = target.split("/")
            parts.reverse()
            pending.extend(parts)
        return "/".join(resolved)

    def real_path(self, path: str) -> str | None:
        """Return where a runtime writes the entry `path`, or None when a runtime fails on it.

        The parent is resolved as in `real_directory` and the final name is kept.
        """
        parent, _, name = path.rpartition("/")
        real_parent = self.real_directory(parent)
        if real_parent is None:
            return None
        return f"{real_parent}/{name}" if real_parent else name

    def marker_path(self, change: Change) -> str | None:
        """Return the path that a whiteout deletes or the directory an opaque marker empties.

        Returns None when a runtime fails to resolve it.
        """
        if change.kind == "whiteout":
            return self.real_path(change.path)
        return self.real_directory(change.path) if change.path else ""

    def empty_lower(self, directory: str) -> None:
        """Remove what `directory` contains except the paths this layer wrote and their parents.

        Parents kept only for those paths become implicit, because a runtime that applied the
        marker first would have created them again.
        """
        written = set(self.written.values())
        for name in os.listdir(self.host(directory) if directory else self.root):
            path = f"{directory}/{name}" if directory else name
            if path in written or any(other.startswith(path + "/") for other in written):
                if path not in written:
                    self.implicit.add(path)
                if self.kind(path) == "dir":
                    self.empty_lower(path)
            else:
                self.remove(path)

    def moved_below(self, path: str, real: str) -> bool:
        """Return True when the layer wrote through a link below the name `path` or `real`."""
        return any(
            landed != name and (name.startswith(path + "/") or landed.startswith(real + "/"))
            for name, landed in self.written.items()
        )

    def remove(self, path: str) -> None:
        host = self.host(path)
        if self.kind(path) == "dir":
            shutil.rmtree(host)
        else:
            os.unlink(host)
        self.implicit = {
            name for name in self.implicit if name != path and not name.startswith(path + "/")
        }

    def regular_files(self) -> list[str]:
        return sorted(path[1:] for path, node in self.tree().items() if node[0] == "file")

    def apply(self, layer: list[Change]) -> list[Item]:
        """Apply `layer` and return the tar entries it accepted, in the drawn order."""
        self.written = {}
        self.writers = {}
        self.wrote_symlink = False
        self.moved = set()
        accepted: dict[int, Item] = {}
        attached, left_out = attached_markers(layer)
        markers = [
            (index, change, self.marker_path(change))
            for index, change in enumerate(layer)
            if change.kind == "whiteout"
            or (change.kind == "opaque" and change.path not in attached)
        ]
        for index, change, real in markers:
            # Markers are resolved in the tree before the layer, as the view does. containerd
            # resolves each one after the earlier markers, so a marker that containerd would
            # place elsewhere is dropped.
            if index in left_out or real is None or self.marker_path(change) != real:
                continue
            if self.apply_marker(change, real):
                accepted[index] = (
                    whiteout(change.path) if change.kind == "whiteout" else opaque(change.path)
                )
        for index, change in enumerate(layer):
            if change.kind in ("whiteout", "opaque"):
                continue
            item = self.write(change)
            if item is None:
                continue
            accepted[index] = item
            marker = attached.pop(change.path, None)
            if marker is not None and marker not in left_out and change.kind == "dir":
                accepted[marker] = opaque(change.path)
                self.empty_lower(self.written[change.path])
        return [accepted[index] for index in sorted(accepted)]

    def apply_marker(self, change: Change, real: str) -> bool:
        """Delete what a whiteout or opaque marker names at `real`, or return False to drop it."""
        found = self.kind(real) if real else "dir"
        if change.kind == "whiteout":
            if found == BLOCKED:
                return False
            if found is not None:
                self.remove(real)
            return True
        if found not in ("dir", None):
            return False
        if found == "dir":
            for name in os.listdir(self.host(real) if real else self.root):
                self.remove(f"{real}/{name}" if real else name)
        return True

    def write(self, change: Change) -> Item | None:
        """Write one entry, or return None when the change is dropped (see the class)."""
        path = change.path
        real = self.real_path(path)
        if real is None:
            return None
        if path in self.written and (
            change.kind == "symlink"
            or self.wrote_symlink
            or self.written[path] != real
            or self.writers[real] != {path}
            or self.moved_below(path, real)
        ):
            return None
        parts = real.split("/")
        missing = []
        for depth in range(1, len(parts)):
            ancestor = "/".join(parts[:depth])
            if self.kind(ancestor) is None:
                missing.append(ancestor)
        source = ""
        if change.kind == "hardlink":
            # The layer reader finds a hard link's source by the name in the tar, so a source
            # that this layer wrote under another name is left out.
            sources = [
                name for name in self.regular_files()
                if name != real and not name.startswith(real + "/") and name not in self.moved
            ]
            if not sources:
                return None
            source = sources[change.pick % len(sources)]

        self.written[path] = real
        self.writers.setdefault(real, set()).add(path)
        if real != path:
            self.moved.add(real)
        for ancestor in missing:
            os.mkdir(self.host(ancestor), 0o755)
            self.implicit.add(ancestor)
        host = self.host(real)
        found = self.kind(real)
        if change.kind == "dir" and found == "dir":
            os.chmod(host, change.mode)
            self.implicit.discard(real)
            return directory(path, change.mode)
        if found is not None:
            self.remove(real)

        if change.kind == "file":
            descriptor = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(change.content)
            os.chmod(host, change.mode)
            return file(path, change.content, mode=change.mode)
        if change.kind == "dir":
            os.mkdir(host, 0o700)
            os.chmod(host, change.mode)
            return directory(path, change.mode)
        if change.kind == "symlink":
            self.wrote_symlink = True
            os.symlink(change.target, host)
            return symlink(path, change.target)
        os.link(self.host(source), host, follow_symlinks=False)
        # A hard link shares its source's inode, so tar writers record the source's mode.
        mode = stat.S_IMODE(os.lstat(host).st_mode)
        return Item(path, "hardlink", target=source, mode=mode)

    def tree(self) -> dict[str, tuple]:
        """Return every explicit path as (type, mode, link target, sha256, size, content)."""
        nodes: dict[str, tuple] = {}
        pending = [""]
        while pending:
            parent = pending.pop()
            for name in os.listdir(self.host(parent) if parent else self.root):
                path = f"{parent}/{name}" if parent else name
                host = self.host(path)
                info = os.lstat(host)
                mode = stat.S_IMODE(info.st_mode)
                if stat.S_ISDIR(info.st_mode):
                    pending.append(path)
                    if path not in self.implicit:
                        nodes["/" + path] = ("dir", mode, None, None, 0, None)
                elif stat.S_ISLNK(info.st_mode):
                    nodes["/" + path] = ("symlink", None, os.readlink(host), None, 0, None)
                else:
                    assert stat.S_ISREG(info.st_mode), path
                    content = Path(host).read_bytes()
                    digest = hashlib.sha256(content).hexdigest()
                    nodes["/" + path] = ("file", mode, None, digest, len(content), content)
        return nodes


def view_tree(view: SquashedView) -> dict[str, tuple]:
    """Return the view's entries in the shape of `DirectoryOracle.tree`."""
    nodes: dict[str, tuple] = {}
    for path, entry in view.entries.items():
        if entry.type is FileType.DIR:
            nodes[path] = ("dir", entry.mode, None, None, 0, None)
        elif entry.type is FileType.SYMLINK:
            nodes[path] = ("symlink", None, entry.link_target, None, 0, None)
        else:
            # On disk a hard link is one more name of a regular file, so it compares as a file.
            assert entry.has_content, (path, entry.type)
            nodes[path] = (
                "file", entry.mode, None, entry.sha256, entry.size, view.content(path),
            )
    return nodes


def squash_and_apply(
    layers: list[tuple[list[Change], bool]], oracle: DirectoryOracle
) -> SquashedView:
    """Apply `layers` to the oracle's directory and squash them, comparing after each layer."""
    view = SquashedView()
    for index, (layer, compress) in enumerate(layers):
        items = oracle.apply(layer)
        note(f"layer {index} (gzip={compress}): {items}")
        contents = read_layer(
            io.BytesIO(layer_bytes(items, compress=compress)),
            f"sha256:{index:064x}",
            options=OPTIONS,
            wants=lambda path: True,
            scanner=SCANNER,
            lower=view,
        )
        view.apply(contents)
        assert contents.unknowns == [], f"layer {index}"
        assert view_tree(view) == oracle.tree(), f"after layer {index}"
    return view


def check_squash_matches_directory(
    layers: list[tuple[list[Change], bool]], temporary: Path
) -> None:
    with tempfile.TemporaryDirectory(dir=temporary) as root:
        squash_and_apply(layers, DirectoryOracle(Path(root)))


_SYS_OPENAT2 = 437
"""The number of `openat2` on x86-64 and in the generic table that arm64 uses."""
_RESOLVE_IN_ROOT = 0x10
_LIBC = ctypes.CDLL(None, use_errno=True)


def open_in_root(root_fd: int, path: str) -> int:
    """Open `path` with O_PATH below `root_fd` as if `root_fd` were the root directory.

    The kernel's RESOLVE_IN_ROOT (Linux 5.6) resolves absolute symbolic links from `root_fd`
    and stops `..` there, the semantics `SquashedView.resolve` implements for an image.
    Raises `OSError` with the kernel's errno.
    """
    # struct open_how: flags, mode and resolve, each a 64-bit unsigned integer.
    open_how = struct.pack("QQQ", os.O_PATH | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT)
    descriptor = _LIBC.syscall(
        _SYS_OPENAT2, root_fd, path.encode(), ctypes.create_string_buffer(open_how), len(open_how)
    )
    if descriptor < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), path)
    return descriptor


def openat2_unavailable() -> str | None:
    """Return why the kernel cannot run `open_in_root`, or None when it can."""
    if not hasattr(os, "O_PATH"):
        return "O_PATH and openat2 exist only on Linux"
    root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.close(open_in_root(root_fd, "."))
    except OSError as error:
        return f"openat2 with RESOLVE_IN_ROOT failed: {error}"
    finally:
        os.close(root_fd)
    return None


def check_resolve_matches_kernel(
    layers: list[tuple[list[Change], bool]], temporary: Path
) -> None:
    with tempfile.TemporaryDirectory(dir=temporary) as root:
        oracle = DirectoryOracle(Path(root))
        view = squash_and_apply(layers, oracle)
        real_root = os.path.realpath(root)
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for path in PATHS:
                try:
                    descriptor = open_in_root(root_fd, path)
                except OSError as error:
                    assert error.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP), error
                    if error.errno == errno.ELOOP:
                        with pytest.raises(SymlinkLoopError):
                            view.resolve("/" + path)
                    else:
                        assert not view.exists("/" + path), path
                    continue
                try:
                    host = os.readlink(f"/proc/self/fd/{descriptor}")
                    is_file = stat.S_ISREG(os.fstat(descriptor).st_mode)
                finally:
                    os.close(descriptor)
                relative = os.path.relpath(host, real_root)
                resolved = "/" if relative == "." else "/" + relative
                assert view.resolve("/" + path) == resolved, path
                expected = Path(host).read_bytes() if is_file else None
                assert view.read("/" + path) == expected, path
        finally:
            os.close(root_fd)


# Without a deadline or the too_slow health check, a loaded CI machine cannot fail a run by timing.
EXAMPLES = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
    print_blob=True,
)


@EXAMPLES
@given(layers=layer_lists(PATHS))
def test_squash_matches_directory(
    layers: list[tuple[list[Change], bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_squash_matches_directory(layers, tmp_path_factory.getbasetemp())


@EXAMPLES
@given(layers=layer_lists(NESTED_PATHS))
def test_squash_matches_directory_nested_paths(
    layers: list[tuple[list[Change], bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_squash_matches_directory(layers, tmp_path_factory.getbasetemp())


@EXAMPLES
@given(layers=linked_layer_lists(PATHS))
def test_squash_matches_directory_below_symlinks(
    layers: list[tuple[list[Change], bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_squash_matches_directory(layers, tmp_path_factory.getbasetemp())


OPENAT2_UNAVAILABLE = openat2_unavailable()


@pytest.mark.skipif(OPENAT2_UNAVAILABLE is not None, reason=str(OPENAT2_UNAVAILABLE))
@EXAMPLES
@given(layers=layer_lists(PATHS))
def test_squash_resolve_matches_kernel(
    layers: list[tuple[list[Change], bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_resolve_matches_kernel(layers, tmp_path_factory.getbasetemp())


@pytest.mark.skipif(OPENAT2_UNAVAILABLE is not None, reason=str(OPENAT2_UNAVAILABLE))
@EXAMPLES
@given(layers=linked_layer_lists(PATHS))
def test_squash_resolve_matches_kernel_below_symlinks(
    layers: list[tuple[list[Change], bool]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    check_resolve_matches_kernel(layers, tmp_path_factory.getbasetemp())
