"""Install wheels into a layer the way `pip install --no-deps --no-compile` lays them out.

A wheel is a zip file whose top level goes into `site-packages`, except `<name>.data/<scheme>/`
trees, which go to the scheme's directory (`scripts` to `bin`, `data` to the prefix, ...).
The `.dist-info` directory keeps the wheel's `RECORD`, with rows added for what the installer
writes (`INSTALLER`, console scripts) and paths of moved files made relative to site-packages.
"""

from __future__ import annotations

import base64
import configparser
import csv
import dataclasses
import email.parser
import hashlib
import io
import logging
import posixpath
import zipfile
from collections.abc import Iterable
from pathlib import Path

from tools.imagebuild.errors import ImageBuildError
from tools.imagebuild.layer import Layer, normalize_path

logger = logging.getLogger(__name__)

INSTALLER_NAME = b"pip\n"

_SCRIPT_TEMPLATE = """#!{interpreter}
import sys

from {module} import {import_name}

if __name__ == "__main__":
    sys.exit({call})
"""
"""Launcher of a `console_scripts` entry point, like the one pip writes."""


@dataclasses.dataclass(frozen=True)
class InstalledWheel:
    """A wheel as installed: its distribution name and version, and its `.dist-info` path."""

    name: str
    version: str
    dist_info: str
    """Image path of the `.dist-info` directory, without a leading `/`."""


def install_wheels(
    layer: Layer,
    wheels: Iterable[Path],
    prefix: str = "/usr/local",
    python_version: str = "3.11",
) -> list[InstalledWheel]:
    """Unpack each wheel into `layer` under `prefix` for Python `python_version`.

    Site-packages is `<prefix>/lib/python<version>/site-packages`, scripts go to
    `<prefix>/bin` with `#!python` shebangs pointing at `<prefix>/bin/python<version>`, and each
    `console_scripts` entry point gets a launcher script there. Nothing is byte-compiled.
    Raises `ImageBuildError` naming the wheel when it has no `.dist-info` directory.
    """
    installed = []
    for wheel_path in wheels:
        installer = _WheelInstaller(layer, wheel_path, normalize_path(prefix), python_version)
        installed.append(installer.install())
    return installed


class _WheelInstaller:
    def __init__(self, layer: Layer, wheel_path: Path, prefix: str, python_version: str) -> None:
        self.layer = layer
        self.wheel_path = wheel_path
        self.prefix = prefix
        self.python_version = python_version
        self.site_packages = f"{prefix}/lib/python{python_version}/site-packages"
        self.interpreter = f"/{prefix}/bin/python{python_version}"

    def install(self) -> InstalledWheel:
        try:
            archive = zipfile.ZipFile(self.wheel_path)
        except (OSError, zipfile.BadZipFile) as error:
            raise ImageBuildError(f"{self.wheel_path} is not a readable wheel: {error}") from error
        with archive:
            dist_info = self._dist_info_dir(archive)
            metadata = email.parser.HeaderParser().parsestr(
                archive.read(f"{dist_info}/METADATA").decode("utf-8")
            )
            name, version = metadata["Name"], metadata["Version"]
            data_dir = dist_info.removesuffix(".dist-info") + ".data"

            moved: dict[str, str] = {}
            for info in archive.infolist():
                if info.is_dir() or info.filename == f"{dist_info}/RECORD":
                    continue
                target = self._target(info.filename, data_dir, name)
                content = archive.read(info)
                mode = 0o755 if (info.external_attr >> 16) & 0o111 else 0o644
                if target.startswith(f"{self.prefix}/bin/"):
                    content, mode = self._fix_shebang(content), 0o755
                self.layer.add_file(target, content, mode)
                if info.filename.startswith(data_dir + "/"):
                    moved[info.filename] = posixpath.relpath(target, self.site_packages)

            extra_rows = [self._write(f"{dist_info}/INSTALLER", INSTALLER_NAME, 0o644)]
            extra_rows += self._write_console_scripts(archive, dist_info)
            record = self._record(archive, dist_info, moved, extra_rows)
            self.layer.add_file(f"{self.site_packages}/{dist_info}/RECORD", record, 0o644)

        logger.debug("installed wheel %s %s", name, version)
        return InstalledWheel(name, version, f"{self.site_packages}/{dist_info}")

    def _dist_info_dir(self, archive: zipfile.ZipFile) -> str:
        candidates = {
            name.split("/", 1)[0]
            for name in archive.namelist()
            if name.split("/", 1)[0].endswith(".dist-info") and name.endswith("/METADATA")
        }
        if len(candidates) != 1:
            raise ImageBuildError(
                f"{self.wheel_path} has {len(candidates)} .dist-info directories with METADATA; "
                "a wheel has exactly one"
            )
        return candidates.pop()

    def _target(self, member: str, data_dir: str, name: str) -> str:
        if not member.startswith(data_dir + "/"):
            return normalize_path(f"{self.site_packages}/{member}")
        scheme, _, rest = member[len(data_dir) + 1 :].partition("/")
        scheme_dirs = {
            "purelib": self.site_packages,
            "platlib": self.site_packages,
            "scripts": f"{self.prefix}/bin",
            "data": self.prefix,
            "headers": f"{self.prefix}/include/python{self.python_version}/{name}",
        }
        if scheme not in scheme_dirs:
            raise ImageBuildError(
                f"{self.wheel_path}: {member} is in unknown scheme {scheme!r}; expected one of "
                f"{sorted(scheme_dirs)}"
            )
        return normalize_path(f"{scheme_dirs[scheme]}/{rest}")

    def _fix_shebang(self, content: bytes) -> bytes:
        # Wheels mark scripts to be bound to the target interpreter with `#!python`.
        if content.startswith(b"#!python"):
            first_line, _, rest = content.partition(b"\n")
            return b"#!" + self.interpreter.encode() + first_line[len(b"#!python") :] + b"\n" + rest
        return content

    def _write_console_scripts(self, archive: zipfile.ZipFile, dist_info: str) -> list[list[str]]:
        entry_points_name = f"{dist_info}/entry_points.txt"
        if entry_points_name not in archive.namelist():
            return []
        parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(archive.read(entry_points_name).decode("utf-8"))
        if not parser.has_section("console_scripts"):
            return []

        rows = []
        for script_name, reference in parser.items("console_scripts"):
            module, _, attribute = reference.strip().partition(":")
            attribute = attribute.split("[", 1)[0].strip()
            import_name = attribute.split(".", 1)[0]
            script = _SCRIPT_TEMPLATE.format(
                interpreter=self.interpreter,
                module=module.strip(),
                import_name=import_name,
                call=f"{attribute}()",
            )
            rows.append(self._write(f"{self.prefix}/bin/{script_name}", script.encode(), 0o755))
        return rows

    def _write(self, path: str, content: bytes, mode: int) -> list[str]:
        """Add a file the installer creates; return its RECORD row."""
        image_path = path if path.startswith(self.prefix + "/") else f"{self.site_packages}/{path}"
        self.layer.add_file(image_path, content, mode)
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
        relative = posixpath.relpath(image_path, self.site_packages)
        return [relative, f"sha256={digest}", str(len(content))]

    def _record(
        self,
        archive: zipfile.ZipFile,
        dist_info: str,
        moved: dict[str, str],
        extra_rows: list[list[str]],
    ) -> bytes:
        record_name = f"{dist_info}/RECORD"
        rows = []
        if record_name in archive.namelist():
            text = archive.read(record_name).decode("utf-8")
            for row in csv.reader(io.StringIO(text)):
                if not row or row[0] == record_name:
                    continue
                rows.append([moved.get(row[0], row[0]), *row[1:]])
        else:
            logger.warning(
                "%s has no RECORD; writing one with the installer's files only", self.wheel_path
            )
        rows += extra_rows
        rows.append([record_name, "", ""])
        output = io.StringIO()
        csv.writer(output, lineterminator="\n").writerows(rows)
        return output.getvalue().encode("utf-8")
