"""Unpack real `.deb` files into layers with a matching dpkg database, without running dpkg.

What `dpkg --unpack` plus `--configure` would leave on disk is written directly: each package's
`data.tar` content, `/var/lib/dpkg/status` with every installed package, and
`/var/lib/dpkg/info/<package>.list`, `.md5sums`, `.conffiles` and the maintainer scripts from
the control archive. Maintainer scripts never run; the one effect of them that images rely on,
`/etc/passwd` and `/etc/group` from base-passwd, is reproduced.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import posixpath
import tarfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from tools.imagebuild.errors import ImageBuildError, run_tool_bytes
from tools.imagebuild.layer import Layer, normalize_path

logger = logging.getLogger(__name__)

MERGED_USR_DIRS = ("bin", "sbin", "lib", "lib64")
"""Top-level directories that are symbolic links into `/usr` on a merged-/usr system such as
Debian 12 (debootstrap's default there on amd64)."""

STATUS_PATH = "var/lib/dpkg/status"
INFO_DIR = "var/lib/dpkg/info"
MAINTAINER_SCRIPTS = ("preinst", "postinst", "prerm", "postrm", "config")
BASE_PASSWD_FILES = {
    "etc/passwd": "usr/share/base-passwd/passwd.master",
    "etc/group": "usr/share/base-passwd/group.master",
}


@dataclasses.dataclass(frozen=True)
class ControlField:
    """One field of a control paragraph, with the raw text after the colon kept verbatim."""

    name: str
    raw: str
    """Everything after `Name:`, continuation lines included, without the final newline."""

    @property
    def value(self) -> str:
        """The first line of the value, stripped."""
        return self.raw.split("\n", 1)[0].strip()


@dataclasses.dataclass(frozen=True)
class DataMember:
    """One entry of a package's `data.tar`, with the content of regular files."""

    info: tarfile.TarInfo
    data: bytes


@dataclasses.dataclass(frozen=True)
class DebPackage:
    """A `.deb` file read into memory: control fields, control archive files and data."""

    path: Path
    fields: list[ControlField]
    control_files: dict[str, tuple[bytes, int]]
    """Files of `control.tar` other than `control`, by name, with their permission bits."""
    data: list[DataMember]

    def field(self, name: str) -> str | None:
        """Return the first line of control field `name` (case-insensitive), or None."""
        for control_field in self.fields:
            if control_field.name.lower() == name.lower():
                return control_field.value
        return None

    @property
    def name(self) -> str:
        """The binary package name."""
        return self.field("Package") or ""

    @property
    def version(self) -> str:
        """The full Debian version, epoch included."""
        return self.field("Version") or ""

    @property
    def architecture(self) -> str:
        """The package architecture, `all` for architecture-independent packages."""
        return self.field("Architecture") or ""

    @property
    def database_name(self) -> str:
        """The name dpkg files the package under: `name:arch` for `Multi-Arch: same`."""
        if (self.field("Multi-Arch") or "").lower() == "same":
            return f"{self.name}:{self.architecture}"
        return self.name


def read_deb(path: Path) -> DebPackage:
    """Read a `.deb` file: parse its `ar` container, control archive and data archive.

    gzip, xz and bzip2 archives are read in Python; zstd (used by Ubuntu) goes through
    `dpkg-deb`. Raises `ImageBuildError` naming the file when it is not a valid package.
    """
    members = _ar_members(path)
    control_name = _member_name(members, "control.tar", path)
    data_name = _member_name(members, "data.tar", path)

    control_tar = _open_tar(path, control_name, members[control_name], "--ctrl-tarfile")
    fields: list[ControlField] = []
    control_files: dict[str, tuple[bytes, int]] = {}
    with control_tar:
        for info in control_tar:
            if not info.isfile():
                continue
            name = posixpath.basename(info.name)
            content = _read_member(control_tar, info)
            if name == "control":
                fields = parse_control(content.decode("utf-8"))
            else:
                control_files[name] = (content, info.mode & 0o7777)
    if not fields:
        raise ImageBuildError(f"{path} has no control file in {control_name}; is it a .deb?")

    data_tar = _open_tar(path, data_name, members[data_name], "--fsys-tarfile")
    with data_tar:
        data = [DataMember(info, _read_member(data_tar, info)) for info in data_tar]
    return DebPackage(path, fields, control_files, data)


def parse_control(text: str) -> list[ControlField]:
    """Parse the first paragraph of a Debian control file into its fields, in order."""
    fields: list[ControlField] = []
    for line in text.split("\n"):
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and fields:
            last = fields[-1]
            fields[-1] = ControlField(last.name, f"{last.raw}\n{line}")
            continue
        name, colon, raw = line.partition(":")
        if not colon:
            raise ImageBuildError(
                f"control line {line!r} has no field name; expected 'Name: value'"
            )
        fields.append(ControlField(name.strip(), raw))
    return fields


@dataclasses.dataclass
class _InstalledPackage:
    package: DebPackage
    conffiles: list[tuple[str, str]]
    """Each conffile path with the md5 of its content."""
    files: list[str]
    """Paths as dpkg lists them: `/.` first, no trailing slash, unmerged (`/bin/bash`)."""
    directories: set[str]
    """The entries of `files` that are directories."""
    info_files: list[str]
    """Image paths written under `var/lib/dpkg/info`."""


class DpkgDatabase:
    """The dpkg view of an image as packages are installed layer by layer.

    Every `install` or `remove` call writes the complete status file into the layer it is given,
    because a layer replaces the whole file. With `merged_usr` (the default, as on Debian 12),
    the first install adds the `/bin`, `/sbin`, `/lib` and `/lib64` links into `/usr`. Package
    files under those directories then go to `/usr`, but the dpkg lists keep the paths the
    packages ship, as dpkg does on a merged-/usr system.
    """

    def __init__(self, merged_usr: bool = True) -> None:
        """Create an empty database; see the class docstring for `merged_usr`."""
        self.merged_usr = merged_usr
        self._installed: dict[str, _InstalledPackage] = {}
        self._root_prepared = False

    @property
    def packages(self) -> list[DebPackage]:
        """The installed packages, sorted by name."""
        return [self._installed[key].package for key in sorted(self._installed)]

    def image_path(self, path: str) -> str:
        """Return where a path a package ships (`/bin/bash`) lives in the image (`usr/bin/bash`)."""
        normalized = normalize_path(path)
        top = normalized.split("/", 1)[0]
        if self.merged_usr and top in MERGED_USR_DIRS:
            return f"usr/{normalized}"
        return normalized

    def files_of(self, name: str) -> list[str]:
        """Return the paths that package `name` ships, as its dpkg `.list` file lists them."""
        return list(self._find(name).files)

    def install(self, layer: Layer, debs: Iterable[Path]) -> list[DebPackage]:
        """Unpack each `.deb` into `layer` and write the updated dpkg database there.

        A package already installed is replaced. Returns the packages read.
        """
        if self.merged_usr and not self._root_prepared:
            for top in MERGED_USR_DIRS:
                layer.add_dir(f"usr/{top}")
                layer.add_symlink(top, f"usr/{top}")
        self._root_prepared = True

        installed = []
        for deb_path in debs:
            package = read_deb(deb_path)
            logger.debug("unpacking %s %s", package.name, package.version)
            record = self._unpack(layer, package)
            self._installed[package.database_name] = record
            installed.append(package)
            if package.name == "base-passwd":
                self._write_account_files(layer, package)

        self._write_status(layer)
        return installed

    def remove(self, layer: Layer, names: Sequence[str]) -> None:
        """Purge packages `names` in `layer` with whiteouts, as `apt-get purge` would.

        Files another installed package also ships are kept. Directories are kept as well.
        """
        for name in names:
            record = self._find(name)
            del self._installed[record.package.database_name]
            still_owned = {path for other in self._installed.values() for path in other.files}
            for path in record.files:
                if path == "/." or path in still_owned or path in record.directories:
                    continue
                layer.add_whiteout(self.image_path(path))
            for info_path in record.info_files:
                layer.add_whiteout(info_path)
        self._write_status(layer)

    def _find(self, name: str) -> _InstalledPackage:
        for key, record in self._installed.items():
            if name in (key, record.package.name):
                return record
        raise ImageBuildError(
            f"package {name!r} is not installed; installed: {sorted(self._installed)}"
        )

    def _unpack(self, layer: Layer, package: DebPackage) -> _InstalledPackage:
        files = ["/."]
        directories = set()
        contents: dict[str, bytes] = {}
        for member in package.data:
            info = member.info
            try:
                shipped = "/" + normalize_path(info.name)
            except ImageBuildError:
                continue  # the `./` entry of the root directory
            files.append(shipped)
            target = self.image_path(shipped)
            mode = info.mode & 0o7777
            if info.isfile():
                layer.add_file(target, member.data, mode, info.uid, info.gid, int(info.mtime))
                contents[shipped] = member.data
            elif info.isdir():
                directories.add(shipped)
                layer.add_dir(target, mode, info.uid, info.gid, int(info.mtime))
            elif info.issym():
                layer.add_symlink(target, info.linkname, int(info.mtime))
            elif info.islnk():
                layer.add_hardlink(target, self.image_path(info.linkname), int(info.mtime))
            else:
                logger.warning(
                    "skipping %s in %s: device and fifo entries are not supported",
                    shipped,
                    package.path.name,
                )

        conffiles = []
        for line in package.control_files.get("conffiles", (b"", 0))[0].decode().splitlines():
            # dpkg 1.20.1 and later allow flags such as `remove-on-upgrade` before the path.
            path = line.split()[-1] if line.strip() else ""
            if path in contents:
                conffiles.append((path, hashlib.md5(contents[path]).hexdigest()))

        info_files = self._write_info_files(layer, package, files)
        return _InstalledPackage(package, conffiles, files, directories, info_files)

    def _write_info_files(self, layer: Layer, package: DebPackage, files: list[str]) -> list[str]:
        prefix = f"{INFO_DIR}/{package.database_name}"
        written = []
        for name, (content, mode) in sorted(package.control_files.items()):
            executable = name in MAINTAINER_SCRIPTS or mode & 0o111
            layer.add_file(f"{prefix}.{name}", content, 0o755 if executable else 0o644)
            written.append(f"{prefix}.{name}")
        layer.add_file(f"{prefix}.list", ("\n".join(files) + "\n").encode())
        written.append(f"{prefix}.list")
        return written

    def _write_account_files(self, layer: Layer, package: DebPackage) -> None:
        # base-passwd's postinst copies its master files when /etc/passwd or /etc/group is absent.
        by_path = {
            member.info.name.removeprefix("./"): member.data
            for member in package.data
            if member.info.isfile()
        }
        for target, source in BASE_PASSWD_FILES.items():
            if source not in by_path:
                raise ImageBuildError(f"{package.path} has no {source}; is it base-passwd?")
            layer.add_file(target, by_path[source], 0o644)

    def _write_status(self, layer: Layer) -> None:
        paragraphs = [_status_paragraph(self._installed[key]) for key in sorted(self._installed)]
        layer.add_dir(INFO_DIR)
        layer.add_file(STATUS_PATH, "".join(paragraphs).encode("utf-8"))


def _status_paragraph(record: _InstalledPackage) -> str:
    """Format one status paragraph: `Status` after `Package`, `Conffiles` before `Description`."""
    lines = []
    conffiles_written = False
    for control_field in record.package.fields:
        if control_field.name == "Description" and record.conffiles:
            lines.append(_conffiles_field(record.conffiles))
            conffiles_written = True
        lines.append(f"{control_field.name}:{control_field.raw}")
        if control_field.name == "Package":
            lines.append("Status: install ok installed")
    if record.conffiles and not conffiles_written:
        lines.append(_conffiles_field(record.conffiles))
    return "\n".join(lines) + "\n\n"


def _conffiles_field(conffiles: list[tuple[str, str]]) -> str:
    return "Conffiles:\n" + "\n".join(f" {path} {md5}" for path, md5 in conffiles)


def _ar_members(path: Path) -> dict[str, bytes]:
    """Split an `ar` archive (the container of a `.deb`) into its members."""
    content = path.read_bytes()
    if not content.startswith(b"!<arch>\n"):
        raise ImageBuildError(f"{path} is not an ar archive, so not a .deb; download it again")
    members = {}
    offset = 8
    while offset + 60 <= len(content):
        header = content[offset : offset + 60]
        if header[58:60] != b"`\n":
            raise ImageBuildError(f"{path} has a corrupt ar header at byte {offset}")
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        start = offset + 60
        members[name] = content[start : start + size]
        offset = start + size + size % 2
    return members


def _member_name(members: dict[str, bytes], prefix: str, path: Path) -> str:
    for name in members:
        if name.startswith(prefix):
            return name
    raise ImageBuildError(f"{path} has no {prefix}.* member; members: {sorted(members)}")


def _open_tar(path: Path, name: str, content: bytes, dpkg_deb_option: str) -> tarfile.TarFile:
    if name.endswith(".zst"):
        content = run_tool_bytes(["dpkg-deb", dpkg_deb_option, str(path)])
    try:
        return tarfile.open(fileobj=io.BytesIO(content), mode="r:*")
    except tarfile.TarError as error:
        raise ImageBuildError(f"{path}: cannot read {name}: {error}") from error


def _read_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    if not info.isfile():
        return b""
    reader = archive.extractfile(info)
    return reader.read() if reader is not None else b""
