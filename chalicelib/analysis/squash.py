"""The squashed view: all layers applied in order, with whiteouts, opaque directories and links."""

from __future__ import annotations

import bisect
import logging
from typing import NamedTuple

from chalicelib.analysis.interface import FileEntry, FileType, SecretMatch
from chalicelib.analysis.layers import LayerContents, LayerEntry

logger = logging.getLogger(__name__)


class KeptVersion(NamedTuple):
    """Content that one layer wrote at a kept path."""

    layer: str
    sha256: str | None
    content: bytes


class SymlinkLoopError(Exception):
    """Resolving a path followed more symbolic links than the hop limit allows."""


class SquashedView:
    """The file tree after applying layers in order, as a container runtime would see it.

    Whiteouts and opaque directories delete lower-layer paths only, so a layer can delete and
    recreate a path (OCI image layout, "Whiteouts"). A non-directory that replaces a directory
    removes what was below it. Kept file content is stored per layer so that catalogers can tell
    which layer introduced a package.
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
        """Apply one layer on top of the view."""
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
        for parent in {path[: path.rfind("/")] for path in layer.entries} - parents:
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
        # TODO: containerd's archive.Apply writes an entry below a symbolic link at the link's
        # target, resolved inside the root, but the view keeps the literal path. So "lib/x" in a
        # layer over "lib -> usr/lib" is listed as /lib/x and read() finds it at neither path.
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
            entry = self.entries.get(candidate)
            if entry is None or entry.type is not FileType.SYMLINK:
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
        return resolved or "/"

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
