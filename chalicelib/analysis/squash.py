"""The squashed view: all layers applied in order, with whiteouts, opaque directories and links."""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Callable
from typing import NamedTuple

from chalicelib.analysis.interface import FileEntry, FileType, SecretMatch, Unknown
from chalicelib.analysis.layers import LayerContents, LayerEntry

logger = logging.getLogger(__name__)


class KeptVersion(NamedTuple):
    """Content that one layer wrote at a kept path."""

    layer: str
    sha256: str | None
    content: bytes


class SymlinkLoopError(Exception):
    """Resolving a path followed more symbolic links than the hop limit allows."""


Lookup = Callable[[str], "LayerEntry | None"]
"""A function that returns the entry at an exact path in one state of the tree, or None."""


class SquashedView:
    """The file tree after applying layers in order, as a container runtime would see it.

    Whiteouts and opaque directories delete lower-layer paths only, so a layer can delete and
    recreate a path (OCI image layout, "Whiteouts"). A non-directory that replaces a directory
    removes what was below it. An entry below a symbolic link is stored where a runtime writes
    it, at the link's target (see `_rebase`). Kept file content is stored per layer so that
    catalogers can tell which layer introduced a package.
    """

    def __init__(self, max_symlink_hops: int = 40) -> None:
        """Create an empty view whose symlink resolution stops after `max_symlink_hops` links."""
        self.max_symlink_hops = max_symlink_hops
        self.entries: dict[str, LayerEntry] = {}
        self._kept: dict[str, list[KeptVersion]] = {}
        self._secrets: dict[str, tuple[str, list[SecretMatch]]] = {}
        self._parents: set[str] = set()
        """Ancestors of every path applied so far, including directories no layer lists.

        Deletions leave their ancestors here, so a path in it may have nothing below it now.
        """

    def apply(self, layer: LayerContents) -> None:
        """Apply one layer on top of the view.

        Paths below a symbolic link are first moved to where a runtime writes them (see
        `_rebase`). When a runtime would reject the layer instead, an `Unknown` is appended to
        `layer.unknowns` and the path is kept as the layer names it.
        """
        directories = {path[: path.rfind("/")] for path in layer.entries}
        if self._has_symlink_parent(layer, directories):
            layer = self._rebase(layer)
            directories = {path[: path.rfind("/")] for path in layer.entries}
        entries = self.entries
        prefixes: list[str] = []
        deleted: set[str] = set()
        for path in layer.whiteouts:
            if entries.pop(path, None) is not None:
                deleted.add(path)
            prefixes.append(path + "/")
        for directory in layer.opaque_dirs:
            prefixes.append("/" if directory == "/" else directory + "/")
        # A non-directory replaces whatever is below its path: lower content, parent directories
        # that no tar entry lists, and what this layer wrote there before replacing it.
        parents = self._parents
        for parent in directories - parents:
            while parent and parent not in parents:
                parents.add(parent)
                parent = parent[: parent.rfind("/")]
        replaced = [
            path + "/"
            for path, entry in layer.entries.items()
            if entry.type is not FileType.DIR and path in parents
        ]
        if prefixes or replaced:
            deleted.update(self._delete_below(prefixes + replaced))

        self._update_kept(layer, deleted)
        entries.update(layer.entries)
        if replaced:
            for path in self._delete_below(replaced):
                self._kept.pop(path, None)
        for path, matches in layer.secrets.items():
            self._secrets[path] = (layer.digest, matches)

    def _delete_below(self, prefixes: list[str]) -> list[str]:
        """Delete every path that starts with one of `prefixes` and return the deleted paths."""
        keys = sorted(self.entries)
        deleted: list[str] = []
        for prefix in prefixes:
            # Paths under PREFIX sort between PREFIX and PREFIX with its final "/" turned into
            # "0", the next character.
            start = bisect.bisect_left(keys, prefix)
            end = bisect.bisect_left(keys, prefix[:-1] + "0", lo=start)
            for key in keys[start:end]:
                if key != "/" and self.entries.pop(key, None) is not None:
                    deleted.append(key)
        return deleted

    def _update_kept(self, layer: LayerContents, deleted: set[str]) -> None:
        # Kept paths are entries of the view, so `deleted` lists those under deleted prefixes;
        # testing each kept path against every prefix took time kept paths times whiteouts.
        kept = self._kept
        for path in list(kept):
            overwritten = path in layer.entries and path not in layer.kept
            if overwritten or path in deleted:
                del kept[path]
        for path, content in layer.kept.items():
            entry = layer.entries.get(path)
            version = KeptVersion(layer.digest, entry.sha256 if entry else None, content)
            kept.setdefault(path, []).append(version)

    def get(self, path: str) -> LayerEntry | None:
        """Return the entry at the exact `path`, without following symbolic links."""
        return self.entries.get(path)

    def content(self, path: str) -> bytes | None:
        """Return the kept content of the file at the exact `path`, or None."""
        versions = self._kept.get(path)
        entry = self.entries.get(path)
        if not versions or entry is None or not entry.has_content:
            return None
        return versions[-1].content

    def versions(self, path: str) -> list[KeptVersion]:
        """Return the kept contents of `path`, oldest first, since it was last created."""
        return list(self._kept.get(path, ()))

    def kept_paths(self) -> list[str]:
        """Return the sorted paths of files whose content is kept."""
        return sorted(path for path in self._kept if self.content(path) is not None)

    def secrets_at(self, path: str) -> list[SecretMatch]:
        """Return the secret matches of the file now at the exact `path`."""
        entry = self.entries.get(path)
        found = self._secrets.get(path)
        if entry is None or found is None or found[0] != entry.layer or not entry.has_content:
            return []
        return found[1]

    def resolve(self, path: str) -> str:
        """Return `path` with every symbolic link in it followed, inside the image root.

        Absolute link targets start again at the image root and `..` stops at `/`, so no path
        leaves the image. Components that do not exist are kept as written. Raises
        `SymlinkLoopError` after `max_symlink_hops` links.
        """
        return self._follow_links(path, self.entries.get) or "/"

    def _follow_links(self, path: str, lookup: Lookup, *, directory: bool = False) -> str:
        """Return `path` with every symbolic link followed in the tree that `lookup` reads.

        The root is returned as "". With `directory`, raises `NotADirectoryError` when a
        component after a followed link is not a directory, because a runtime fails to create a
        path there.
        """
        pending = path.split("/")
        pending.reverse()
        resolved = ""
        hops = 0
        while pending:
            name = pending.pop()
            if name in ("", "."):
                continue
            if name == "..":
                resolved = resolved[: resolved.rfind("/")] if resolved else ""
                continue
            candidate = resolved + "/" + name
            entry = lookup(candidate)
            if entry is None or entry.type is not FileType.SYMLINK:
                if directory and hops and entry is not None and entry.type is not FileType.DIR:
                    raise NotADirectoryError(
                        f"{path} leads to {candidate}, which is not a directory"
                    )
                resolved = candidate
                continue
            hops += 1
            if hops > self.max_symlink_hops:
                raise SymlinkLoopError(
                    f"{path} follows more than {self.max_symlink_hops} symbolic links"
                )
            target = entry.link_target or ""
            if target.startswith("/"):
                resolved = ""
            parts = target.split("/")
            parts.reverse()
            pending.extend(parts)
        return resolved

    def _has_symlink_parent(self, layer: LayerContents, directories: set[str]) -> bool:
        """Return True when a symbolic link may be an ancestor of a path that `layer` names.

        `directories` are the parents of the layer's entries. Links of the view and of the layer
        count, so False means that every path of the layer is already where a runtime writes it.
        Each directory is looked up once, which keeps layers without such paths cheap.
        """
        # Bound methods are kept in locals because this loop runs for every directory of a layer.
        lower_get = self.entries.get
        written_get = layer.entries.get
        symlink = FileType.SYMLINK
        clean: set[str] = set()
        clean_add = clean.add
        whiteout_parents = (path[: path.rfind("/")] for path in layer.whiteouts)
        for directory in itertools.chain(directories, whiteout_parents, layer.opaque_dirs):
            while directory and directory not in clean:
                entry = lower_get(directory)
                if entry is not None and entry.type is symlink:
                    return True
                entry = written_get(directory)
                if entry is not None and entry.type is symlink:
                    return True
                clean_add(directory)
                directory = directory[: directory.rfind("/")]
        return False

    def _rebase(self, layer: LayerContents) -> LayerContents:
        """Return a copy of `layer` with each path moved to where a container runtime writes it.

        containerd's `applyNaive` follows the symbolic links in the parent directory of each
        tar entry, so "lib/x" over "lib -> usr/lib" is written to /usr/lib/x (`pkg/archive/tar.go`
        with continuity's `fs.RootPath`, read at commit 301026e of August 2026). The final name
        is never followed, absolute targets start at the root, `..` stops at the root, and
        missing directories are created, so a dangling link's target becomes a directory.
        Entries are resolved in the layer's order against the lower layers and this layer's
        earlier entries, so a link written earlier in the same layer is followed.

        The OCI image spec says that whiteouts and opaque markers delete lower-layer paths only.
        So the parent of a whiteout and the directory of an opaque marker are resolved against
        the lower layers. The exception is a marker of a directory that the layer writes
        itself, which applies where that entry is written. The same holds for the opaque
        directory that `read_layer` records when the layer replaces a non-directory with a
        directory.

        A loop, or a link that leads into a non-directory, makes runtimes reject the layer.
        Such a path is kept as the layer names it and reported in `layer.unknowns`, once per
        directory. containerd allows 255 links where the view stops at `max_symlink_hops`.
        containerd also removes `..` from link targets as text, but the view steps back from
        the directory that the links led to, as the kernel does. moby's `UnpackLayer` (moby
        commit b985e23) rejects a relative link that climbs above the root, where containerd
        and the view stop.

        NOTE: `LayerContents` keeps one entry per path, at the position where the path first
        appeared, and `read_layer` drops entries named below a path that a directory replaces
        in the same layer. So when a layer writes one path twice and a link is written in
        between or leads to that path, the view can differ from a runtime's tree.
        """
        rebase = _Rebase(self, layer)
        rebased = rebase.rebased
        for path in layer.whiteouts:
            rebased.whiteouts.append(rebase.real_path(path, self.entries.get))
        written_opaque_dirs: set[str] = set()
        for directory in layer.opaque_dirs:
            if directory == "/":
                rebased.opaque_dirs.append(directory)
            elif directory in layer.entries:
                written_opaque_dirs.add(directory)
            else:
                rebased.opaque_dirs.append(rebase.real_directory(directory, self.entries.get))
        rebase.hide_deleted()

        moved = 0
        for path, entry in layer.entries.items():
            real = rebase.place(path, entry)
            if path in written_opaque_dirs:
                rebased.opaque_dirs.append(real)
                rebase.deleted_below.add(real)
            moved += real != path
        logger.debug("moved entries below symbolic links layer=%s moved=%d", layer.digest, moved)
        return rebased

    def _resolve_quietly(self, path: str) -> str | None:
        try:
            return self.resolve(path)
        except SymlinkLoopError as error:
            logger.debug("not following %s: %s", path, error)
            return None

    def exists(self, path: str) -> bool:
        """Return True when `path`, with symbolic links followed, names an entry."""
        real = self._resolve_quietly(path)
        return real is not None and real in self.entries

    def read(self, path: str) -> bytes | None:
        """Return the kept content at `path` with symbolic links followed, or None."""
        real = self._resolve_quietly(path)
        return None if real is None else self.content(real)

    def secret_matches(self) -> list[SecretMatch]:
        """Return the secret matches of the files in the view, sorted by path and name.

        A symbolic link to a file with matches reports them under its own path too, as
        Anchore's scan of the squashed image does.
        """
        by_path = {path: self.secrets_at(path) for path in self._secrets}
        by_path = {path: matches for path, matches in by_path.items() if matches}
        if by_path:
            for entry in list(self.entries.values()):
                if entry.type is not FileType.SYMLINK:
                    continue
                real = self._resolve_quietly(entry.path)
                if real is not None and real in by_path and entry.path not in by_path:
                    by_path[entry.path] = [
                        match.model_copy(update={"path": entry.path}) for match in by_path[real]
                    ]
        matches = [match for found in by_path.values() for match in found]
        matches.sort(key=lambda match: (match.path, match.name))
        return matches

    def file_entries(self) -> list[FileEntry]:
        """Return every entry as a `FileEntry`, sorted by path."""
        return [self.entries[path].to_file_entry() for path in sorted(self.entries)]


class _Rebase:
    """The state of moving one layer's paths to where a runtime writes them.

    `SquashedView._rebase` describes the rules. `rebased` collects the moved layer, and lookups
    read the lower layers with this layer's deletions and earlier entries applied.
    """

    def __init__(self, view: SquashedView, layer: LayerContents) -> None:
        self.view = view
        self.layer = layer
        self.rebased = LayerContents(
            digest=layer.digest, unknowns=layer.unknowns, uncompressed_size=layer.uncompressed_size
        )
        self.written = self.rebased.entries
        self.written_parents: set[str] = set()
        """Ancestors of the paths in `written`, including some that have nothing below them now."""
        self.deleted_paths: set[str] = set()
        """Lower-layer paths that the layer's whiteouts delete."""
        self.deleted_below: set[str] = set()
        """Lower-layer paths whose content this layer deleted, including all of `deleted_paths`."""
        self.resolved: dict[str, str] = {}
        """Real parent directories by the parent as the layer names it.

        Cleared when an entry replaces a path in `looked_up`.
        """
        self.looked_up: set[str] = set()
        """Paths read while filling `resolved`."""

    def hide_deleted(self) -> None:
        """Hide the lower-layer paths that the layer's whiteouts and opaque markers delete."""
        self.deleted_paths.update(self.rebased.whiteouts)
        self.deleted_below.update(self.rebased.whiteouts)
        self.deleted_below.update(
            "" if path == "/" else path for path in self.rebased.opaque_dirs
        )

    def lookup(self, path: str) -> LayerEntry | None:
        """Return the entry at `path` after this layer's changes so far, or None."""
        entry = self.written.get(path)
        if entry is not None:
            return entry
        if self.deleted_below:
            if path in self.deleted_paths:
                return None
            ancestor = path
            while ancestor:
                ancestor = ancestor[: ancestor.rfind("/")]
                if ancestor in self.deleted_below:
                    return None
        return self.view.entries.get(path)

    def _recording_lookup(self, path: str) -> LayerEntry | None:
        self.looked_up.add(path)
        return self.lookup(path)

    def real_directory(self, directory: str, lookup: Lookup, path: str | None = None) -> str:
        """Follow every link in `directory` in the tree that `lookup` reads, and return the result.

        When a runtime would reject the layer, `directory` is returned unchanged and an `Unknown`
        is appended to `layer.unknowns`, under `path` or, without it, under `directory`.
        """
        try:
            return self.view._follow_links(directory, lookup, directory=True)
        except (SymlinkLoopError, NotADirectoryError) as error:
            self.layer.unknowns.append(
                Unknown(
                    location=path or directory,
                    reason=f"container runtimes reject this layer because {error}, so the "
                    "view lists the path as the layer names it",
                )
            )
            return directory

    def real_path(self, path: str, lookup: Lookup) -> str:
        """Return `path` with its parent resolved in the tree that `lookup` reads."""
        slash = path.rfind("/")
        parent = path[:slash]
        real_parent = self.real_directory(parent, lookup, path)
        return path if real_parent == parent else real_parent + path[slash:]

    def place(self, path: str, entry: LayerEntry) -> str:
        """Add the layer's entry `path` where a runtime writes it, and return that path."""
        slash = path.rfind("/")
        parent = path[:slash]
        real_parent = self.resolved.get(parent)
        if real_parent is None:
            real_parent = self.real_directory(parent, self._recording_lookup, path)
            self.resolved[parent] = real_parent
        real = path if real_parent == parent else real_parent + path[slash:]

        is_dir = entry.type is FileType.DIR
        if real in self.looked_up:
            previous = self.lookup(real)
            if not is_dir or (previous is not None and previous.type is not FileType.DIR):
                self.resolved.clear()
                self.looked_up.clear()
        if is_dir:
            earlier = self.written.get(real)
            if earlier is not None and earlier.type is not FileType.DIR:
                # The earlier non-directory removed what the lower layers had below `real`.
                self.rebased.opaque_dirs.append(real)
        else:
            if real in self.written_parents:
                self._drop_written_below(real)
            if real in self.written_parents or real in self.view._parents:
                self.deleted_below.add(real)

        self._write(path, real, entry)
        return real

    def _write(self, path: str, real: str, entry: LayerEntry) -> None:
        """Store the entry `path` of the layer, with its content and secrets, at `real`."""
        rebased = self.rebased
        rebased.kept.pop(real, None)
        rebased.secrets.pop(real, None)
        if real != path:
            entry = LayerEntry(
                real, entry.type, entry.mode, entry.uid, entry.gid, entry.size, entry.sha256,
                entry.link_target, entry.layer,
            )
        self.written[real] = entry
        ancestor = real[: real.rfind("/")]
        while ancestor and ancestor not in self.written_parents:
            self.written_parents.add(ancestor)
            ancestor = ancestor[: ancestor.rfind("/")]

        content = self.layer.kept.get(path)
        if content is not None:
            rebased.kept[real] = content
        matches = self.layer.secrets.get(path)
        if matches:
            rebased.secrets[real] = (
                matches
                if real == path
                else [match.model_copy(update={"path": real}) for match in matches]
            )

    def _drop_written_below(self, directory: str) -> None:
        """Delete the entries written below `directory`, with their content and secrets."""
        rebased = self.rebased
        prefix = directory + "/"
        for path in [path for path in self.written if path.startswith(prefix)]:
            del self.written[path]
            rebased.kept.pop(path, None)
            rebased.secrets.pop(path, None)
