"""Package verification data: files of dpkg and apk packages that are gone or changed.

The `packages/verify` gate compares what a package database records for each file (dpkg
`info/*.md5sums` and status `Conffiles`, apk `Z:` SHA-1 checksums and `a:` modes) with the file
in the image. Package databases record MD5 or SHA-1 digests, but the layer reader computes only
SHA-256 for every file. Python's MD5 ran at 137 MB/s against SHA-256's 360 MB/s on a 2-core
x86-64 test machine, so an MD5 of every file would cost more than the whole SHA-256 pass.
`PackageDigestSummarizer` therefore computes the recorded algorithm's digest only for the files
that a package database in a lower layer lists, as the layers stream. Those are the files that a
later layer can have changed. A file whose content a cataloger keeps is digested at the end.

NOTE: a file that the layer installing its package also changed (in the same `RUN` step) gets no
real digest, so the gate cannot see that change.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import posixpath
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from chalicelib.analysis.catalog import SUMMARY_PREFIX, ExecutableSummarizer
from chalicelib.analysis.interface import Package, PackageFileRecord, PackageType
from chalicelib.analysis.layers import LayerContents
from chalicelib.analysis.squash import SquashedView, SymlinkLoopError

logger = logging.getLogger(__name__)

DPKG_INFO_DIRECTORY = "/var/lib/dpkg/info/"
DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_STATUS_D = "/var/lib/dpkg/status.d/"
APK_DATABASES = ("/lib/apk/db/installed", "/usr/lib/apk/db/installed")
SUMMARY_KEY = "package-verification"
"""Key of the digests in a file's kept summary. No cataloger has this id, so catalogers skip it."""

_CONFFILE_LINE = re.compile(r"^\s+(/\S.*?)\s+([0-9a-fA-F]{32})(?:\s+[a-z-]+)*\s*$")


def keeps_database(path: str) -> bool:
    """Return True for the dpkg `info/*.md5sums` files, which no cataloger keeps.

    The dpkg cataloger keeps the status files and `status.d/*.md5sums`, and the apk cataloger
    keeps the `installed` database, so those need no rule here.
    """
    return path.endswith(".md5sums") and path.startswith(DPKG_INFO_DIRECTORY)


class PackageDigestSummarizer:
    """A layer reader summarizer that adds MD5 or SHA-1 digests of package-owned files.

    It wraps the `ExecutableSummarizer` of the catalogers. After each layer is applied,
    `learn` reads the package databases the layer wrote, and from then on every file at a path
    they list is read whole and summarized with its digest in the recorded algorithm.
    """

    def __init__(self, inner: ExecutableSummarizer | None, max_size: int) -> None:
        """Wrap `inner`, and digest package-owned files of at most `max_size` bytes."""
        self.inner = inner
        self.max_size = max_size
        self.expected: dict[str, str] = {}
        """Digest algorithm by the path of each file that a package database lists."""
        self._inner_wants: dict[str, bool] = {}

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Return True when `inner` wants the file or a package database lists it."""
        inner = self.inner is not None and self.inner.wants(path, mode, size)
        if path in self.expected and size <= self.max_size:
            self._inner_wants[path] = inner
            return True
        return inner

    def __call__(self, path: str, content: bytes) -> bytes | None:
        """Return `inner`'s summary of the file, with the file's digest added when it is listed."""
        algorithm = self.expected.get(path)
        inner_wants = self._inner_wants.pop(path, True)
        summary = self.inner(path, content) if self.inner is not None and inner_wants else None
        if algorithm is None:
            return summary
        summaries = json.loads(summary[len(SUMMARY_PREFIX) :]) if summary else {}
        digest = hashlib.new(algorithm, content, usedforsecurity=False).hexdigest()
        summaries[SUMMARY_KEY] = {algorithm: digest}
        return SUMMARY_PREFIX + json.dumps(summaries, separators=(",", ":")).encode()

    def learn(self, view: SquashedView, layer: LayerContents) -> None:
        """Add the files listed by the package databases that `layer` wrote to `expected`.

        The databases are dpkg `md5sums` files, the dpkg status file's `Conffiles` and the apk
        `installed` database. Paths are added as listed and with symbolic links followed in
        `view`, so that `/bin/sh` in a database also matches `/usr/bin/sh` on a merged-`/usr`
        image. Paths are never removed: digesting a file that no package owns any more costs
        time, not correctness.
        """
        for path, content in layer.kept.items():
            if keeps_database(path) or (
                path.startswith(DPKG_STATUS_D) and path.endswith(".md5sums")
            ):
                algorithm = "md5"
                listed = [line[1] for line in _md5sums_lines(content)]
            elif path == DPKG_STATUS:
                algorithm = "md5"
                listed = [
                    conffile for found in _conffiles(content).values() for conffile, _ in found
                ]
            elif path in APK_DATABASES:
                algorithm = "sha1"
                listed = [item.path for item in _apk_files(content)]
            else:
                continue
            for listed_path in listed:
                self.expected[listed_path] = algorithm
                if view.get(listed_path) is not None:
                    continue
                try:
                    self.expected[view.resolve(listed_path)] = algorithm
                except SymlinkLoopError:
                    continue


def package_file_records(
    view: SquashedView, packages: Sequence[Package]
) -> list[PackageFileRecord]:
    """Return a record of each file of a found dpkg or apk package that has changed or is gone.

    dpkg files come from `info/NAME[:ARCH].md5sums` (or `status.d/NAME.md5sums` on distroless
    images) and the status file's `Conffiles`, and apk files from the `installed` database. A
    file is recorded when the image has no entry at its path, when its real digest is known and
    differs from the recorded one, or when its permission bits differ from the recorded mode.
    Files that match, and files that cannot be compared, are left out: an image can list tens of
    thousands of package files, and their records would only repeat the package databases.
    """
    dpkg_by_location: dict[str, list[Package]] = {}
    apk_names: dict[str, set[str]] = {}
    for package in packages:
        if package.type is PackageType.DPKG:
            dpkg_by_location.setdefault(package.location, []).append(package)
        elif package.type is PackageType.APK:
            apk_names.setdefault(package.location, set()).add(package.name)

    listed: list[_ListedFile] = []
    for location, found in dpkg_by_location.items():
        listed.extend(_dpkg_files(view, location, found))
    for location, names in apk_names.items():
        apk_files = _apk_files(view.read(location) or b"")
        listed.extend(item for item in apk_files if item.package in names)
    records = (_record(view, item) for item in listed)
    return [record for record in records if record is not None]


class _ListedFile(NamedTuple):
    """A file as a package database lists it, before the image's file is looked up."""

    package: str
    package_type: PackageType
    path: str
    digest: str | None
    digest_algorithm: str | None
    mode: int | None = None
    is_config_file: bool = False


def _dpkg_files(
    view: SquashedView, location: str, packages: list[Package]
) -> Iterator[_ListedFile]:
    conffiles = _conffiles(view.read(location) or b"")
    directory = posixpath.dirname(location)
    distroless = posixpath.basename(directory) == "status.d"
    for package in packages:
        if distroless:
            candidates = [f"{directory}/{package.name}.md5sums"]
        else:
            info = posixpath.join(directory, "info")
            candidates = [f"{info}/{package.name}.md5sums"]
            if package.architecture:
                candidates.insert(0, f"{info}/{package.name}:{package.architecture}.md5sums")
        content = next((c for c in map(view.read, candidates) if c is not None), b"")
        for digest, path in _md5sums_lines(content):
            yield _ListedFile(package.name, PackageType.DPKG, path, digest, "md5")
        for path, digest in conffiles.get(package.name, []):
            yield _ListedFile(
                package.name, PackageType.DPKG, path, digest, "md5", is_config_file=True
            )


def _md5sums_lines(content: bytes) -> Iterator[tuple[str, str]]:
    """Yield (hex digest, absolute path) from a dpkg `md5sums` file; bad lines are skipped."""
    for line in content.decode(errors="replace").splitlines():
        # dpkg writes `DIGEST  PATH`; the general split below is for hand-made files.
        digest, separator, path = line.partition("  ")
        if not separator or len(digest) != 32:
            parts = line.split(None, 1)
            if len(parts) != 2 or len(parts[0]) != 32:
                continue
            digest, path = parts
        path = path.strip()
        if path.startswith(("/", ".")) or "//" in path or "/." in path:
            path = posixpath.normpath("/" + path.lstrip("/"))
        else:
            path = "/" + path
        yield digest.lower(), path


def _conffiles(status: bytes) -> dict[str, list[tuple[str, str]]]:
    """Return the `Conffiles` entries (path, md5) of each package in a dpkg status file."""
    found: dict[str, list[tuple[str, str]]] = {}
    name = ""
    in_conffiles = False
    for line in status.decode(errors="replace").splitlines():
        if not line.strip():
            name, in_conffiles = "", False
        elif line[0] in " \t":
            match = _CONFFILE_LINE.match(line) if in_conffiles else None
            if match and name:
                found.setdefault(name, []).append((match.group(1), match.group(2).lower()))
        else:
            key, _, value = line.partition(":")
            in_conffiles = key == "Conffiles"
            if key == "Package":
                name = value.strip()
    return found


def _apk_files(content: bytes) -> Iterator[_ListedFile]:
    """Yield each `R:` file of an apk `installed` database with its checksum and mode.

    `Z:` is `Q1` and the base64 of the file's SHA-1, and `a:UID:GID:MODE` gives its octal mode.
    """
    package = ""
    directory = ""
    current: _ListedFile | None = None
    for line in content.decode(errors="replace").splitlines():
        key, value = line[:2], line[2:].strip()
        if key == "a:" and current is not None:
            mode = value.rsplit(":", 1)[-1]
            if mode and set(mode) <= set("01234567"):
                current = current._replace(mode=int(mode, 8))
            continue
        if key == "Z:" and current is not None:
            digest = _apk_sha1(value)
            current = current._replace(digest=digest, digest_algorithm="sha1" if digest else None)
            continue
        if current is not None:
            yield current
            current = None
        if not line.strip():
            package, directory = "", ""
        elif key == "P:":
            package = value
        elif key == "F:":
            directory = value.strip("/")
        elif key == "R:" and package:
            path = f"/{directory}/{value}" if directory else f"/{value}"
            current = _ListedFile(package, PackageType.APK, path, None, None)
    if current is not None:
        yield current


def _apk_sha1(checksum: str) -> str | None:
    if not checksum.startswith("Q1"):
        return None
    try:
        raw = base64.b64decode(checksum[2:], validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 20 else None


def _record(view: SquashedView, listed: _ListedFile) -> PackageFileRecord | None:
    """Return the record of `listed` when the image's file is gone or differs, else None."""
    real: str | None = listed.path
    entry = view.get(listed.path)
    if entry is None:
        # A path under a linked directory, such as `/bin/ls` on a merged-`/usr` image.
        try:
            real = view.resolve(listed.path)
        except SymlinkLoopError:
            real = None
        entry = view.get(real) if real is not None else None
    if entry is None or real is None:
        return _make_record(listed, None, None)
    # apk lists symbolic links as files, and their checksum covers the link target text.
    if not entry.has_content or listed.digest_algorithm is None:
        return None
    real_digest = _digest_of(view.content(real), listed.digest_algorithm)
    if real_digest is not None and real_digest != listed.digest:
        return _make_record(listed, real, real_digest)
    if listed.mode is not None and entry.mode & 0o7777 != listed.mode & 0o7777:
        return _make_record(listed, real, real_digest)
    return None


def _make_record(
    listed: _ListedFile, real_path: str | None, real_digest: str | None
) -> PackageFileRecord:
    return PackageFileRecord(
        package=listed.package,
        package_type=listed.package_type,
        path=listed.path,
        digest=listed.digest,
        digest_algorithm=listed.digest_algorithm,
        mode=listed.mode,
        is_config_file=listed.is_config_file,
        real_path=real_path,
        real_digest=real_digest,
    )


def _digest_of(content: bytes | None, algorithm: str) -> str | None:
    """Return the digest from a kept summary, or of kept content, or None without either."""
    if content is None:
        return None
    if content.startswith(SUMMARY_PREFIX):
        summaries = json.loads(content[len(SUMMARY_PREFIX) :])
        digest = summaries.get(SUMMARY_KEY, {}).get(algorithm)
        return digest if isinstance(digest, str) else None
    return hashlib.new(algorithm, content, usedforsecurity=False).hexdigest()
