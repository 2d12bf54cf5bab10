"""Go binary cataloger: the build info that the Go linker embeds in every module-aware binary.

The build info starts with the 14-byte magic `\\xff Go buildinf:`, a pointer size and a flags
byte, in the `.go.buildinfo` ELF section (or found by scanning Mach-O and PE files). Since Go
1.18 the Go version and the module info follow the 32-byte header as varint-prefixed strings;
older binaries store two pointers to Go string headers instead, which are resolved through the
ELF program headers. The module info lists the main module (`mod`), dependencies (`dep`),
replacements (`=>`) and build settings (`build`), as `go version -m` prints them.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re

from packageurl import PackageURL

from chalicelib.analysis.binary import ElfFile, read_elf
from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.executables import GO_BUILD_INFO_MAGIC
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

_HEADER_SIZE = 32
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
_MAX_STRING = 4 * 1024 * 1024
"""Maximum module info size in bytes; real ones are a few KB even with hundreds of modules."""
# The linker wraps the module info in these 16-byte sentinels (cmd/go/internal/modload).
_MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")


DEVEL = "(devel)"
# Version flags such as `-X main.version=1.2.3` or `-X pkg/build.Tag=v1.2.3`, as Syft 1.18
# recognizes them in `-ldflags`.
_LDFLAGS_VERSION = (
    re.compile(r"\.(?:[gG]it)?(?:[bB]uild)?[vV]ersion=(?:\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)"),
    re.compile(r"\.[tT]ag=(?:\S+/)*(?P<version>v?\d+.\d+.\d+[-\w]*)"),
)


class BuildInfoError(ValueError):
    """The build info blob is present but cannot be decoded; the message gives the reason."""


@dataclasses.dataclass
class Module:
    """One module line of the build info."""

    path: str
    version: str = ""
    sum: str = ""
    replace: Module | None = None


@dataclasses.dataclass
class BuildInfo:
    """The decoded build info of one Go binary."""

    go_version: str
    path: str = ""
    """Package path of the main package, such as `github.com/org/tool/cmd/tool`."""
    main: Module | None = None
    deps: list[Module] = dataclasses.field(default_factory=list)
    settings: dict[str, str] = dataclasses.field(default_factory=dict)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise BuildInfoError("truncated varint in the build info")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _inline_string(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = _varint(data, pos)
    if length > _MAX_STRING or pos + length > len(data):
        raise BuildInfoError(f"build info string of {length} bytes runs past the blob")
    return data[pos : pos + length], pos + length


def find_build_info(data: bytes) -> tuple[bytes, ElfFile | None] | None:
    """Return the build info blob (from the magic on) and the parsed ELF file, or None.

    Raises `ValueError` for an ELF file whose headers point outside it.
    """
    elf = read_elf(data)
    if elf is not None:
        section = elf.section_data(".go.buildinfo")
        if section is not None and section.startswith(GO_BUILD_INFO_MAGIC):
            return section, elf
        # The Go linker always writes the section, so an ELF file with section headers but
        # without it is no Go binary, and the scan below would only cost time.
        if elf.sections and section is None:
            return None
    # Mach-O, PE and stripped ELF files: the blob is 16-byte aligned in the data segment.
    pos = data.find(GO_BUILD_INFO_MAGIC)
    while pos >= 0 and pos % 16:
        pos = data.find(GO_BUILD_INFO_MAGIC, pos + 1)
    if pos < 0:
        return None
    return data[pos : pos + 64 * 1024], elf


def decode_build_info(blob: bytes, elf: ElfFile | None) -> tuple[str, str]:
    """Return the Go version and the module info text of a build info blob.

    Raises `BuildInfoError` when the blob is truncated or its pointers lead nowhere.
    """
    if len(blob) < _HEADER_SIZE:
        raise BuildInfoError("build info header is truncated")
    pointer_size = blob[14]
    flags = blob[15]
    if flags & _FLAG_INLINE:
        version, pos = _inline_string(blob, _HEADER_SIZE)
        modinfo, _ = _inline_string(blob, pos)
    else:
        if pointer_size not in (4, 8):
            raise BuildInfoError(f"build info pointer size {pointer_size} is not 4 or 8")
        if elf is None:
            raise BuildInfoError(
                "build info of Go before 1.18 is read only from ELF files read whole"
            )
        order = "big" if flags & _FLAG_BIG_ENDIAN else "little"
        version = _pointed_string(blob, 16, pointer_size, order, elf)
        modinfo = _pointed_string(blob, 16 + pointer_size, pointer_size, order, elf)
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    elif modinfo.startswith(_MODINFO_START) and modinfo.endswith(_MODINFO_END):
        modinfo = modinfo[16:-16]
    return version.decode("utf-8", "replace"), modinfo.decode("utf-8", "replace")


def _pointed_string(blob: bytes, at: int, size: int, order: str, elf: ElfFile) -> bytes:
    """Read a Go string header (data pointer, length) that a pointer in `blob` points to."""
    try:
        address = int.from_bytes(blob[at : at + size], order)  # type: ignore[arg-type]
        header = elf.read_address(address, 2 * size)
        data = int.from_bytes(header[:size], order)  # type: ignore[arg-type]
        length = int.from_bytes(header[size:], order)  # type: ignore[arg-type]
        if length > _MAX_STRING:
            raise BuildInfoError(f"build info string of {length} bytes is implausibly long")
        return elf.read_address(data, length) if length else b""
    except ValueError as error:
        raise BuildInfoError(f"build info pointer leads nowhere: {error}") from error


def parse_modinfo(go_version: str, text: str) -> BuildInfo:
    """Parse module info text (`path`, `mod`, `dep`, `=>` and `build` lines)."""
    info = BuildInfo(go_version=go_version)
    last: Module | None = None
    for line in text.splitlines():
        kind, _, rest = line.partition("\t")
        fields = rest.split("\t")
        if kind == "path":
            info.path = rest
        elif kind in ("mod", "dep", "=>") and fields[0]:
            module = Module(*fields[:3])
            if kind == "mod":
                info.main = module
            elif kind == "dep":
                info.deps.append(module)
            elif last is not None:
                last.replace = module
                continue
            last = module
        elif kind == "build":
            key, _, value = rest.partition("=")
            if value.startswith('"'):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            info.settings[key] = value
    return info


def read_build_info(data: bytes) -> BuildInfo | None:
    """Return the build info of a Go executable, or None when `data` has none.

    Raises `BuildInfoError` when the build info is present but corrupt.
    """
    try:
        found = find_build_info(data)
    except ValueError as error:
        raise BuildInfoError(f"invalid ELF headers: {error}") from error
    if found is None:
        return None
    version, modinfo = decode_build_info(*found)
    return parse_modinfo(version, modinfo)


def summarize_go_binary(path: str, content: bytes) -> dict[str, str] | None:
    """Summarize an executable for `parse_go_binary`: Go version and module info, or None.

    An ELF file with section headers is judged by its `.go.buildinfo` section alone, so most
    large executables cost a header parse instead of a search through every byte.
    """
    try:
        found = find_build_info(content)
        if found is None:
            return None
        version, modinfo = decode_build_info(*found)
    except ValueError as error:
        if GO_BUILD_INFO_MAGIC not in content:
            # Not a Go binary, even if its ELF headers are damaged: no problem to report.
            return None
        return {"error": f"Go build info not readable: {error}"}
    return {"go_version": version, "modinfo": modinfo}


def _purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return PackageURL(
        type="golang", namespace=namespace or None, name=name, version=version or None
    ).to_string()


def parse_go_binary(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Catalog the main module, dependencies and standard library of a Go binary.

    `content` is a summary from `summarize_go_binary` after `SUMMARY_PREFIX`, or a whole file.
    A replaced dependency is reported under its replacement. A main module stamped `(devel)`
    gets the version from `main_module_version` when the build settings give one, as Syft 1.18
    reports it.
    """
    result = ParseResult()
    try:
        if content.startswith(SUMMARY_PREFIX):
            summary = json.loads(content[len(SUMMARY_PREFIX) :])
            if "error" in summary:
                result.add_unknown(location, str(summary["error"]))
                return result
            info = parse_modinfo(summary["go_version"], summary["modinfo"])
        else:
            found = read_build_info(content)
            if found is None:
                return result
            info = found
    except BuildInfoError as error:
        result.add_unknown(location, f"Go build info not readable: {error}")
        return result

    common = {"go_compiled_version": info.go_version}
    arch = info.settings.get("GOARCH")
    if arch:
        common["architecture"] = arch
    if info.main is not None and info.main.path:
        common["main_module"] = info.main.path
        main = _package(location, info.main, common)
        if main.version in (DEVEL, ""):
            main.version = main_module_version(info.settings) or main.version
            main.purl = _purl(main.name, main.version)
        main.metadata["build_settings"] = info.settings
        main.metadata["package_path"] = info.path
        result.packages.append(main)
    for dep in info.deps:
        result.packages.append(_package(location, dep.replace or dep, common))
    stdlib = _stdlib(location, info.go_version, common)
    if stdlib is not None:
        result.packages.append(stdlib)
    return result


def main_module_version(settings: dict[str, str]) -> str | None:
    """Return a version for a main module stamped `(devel)`, as Syft 1.18 derives one.

    A version set with `-X ...version=` or `-X ...Tag=` in `-ldflags` comes first (with a `v`
    prefix added); then a pseudo-version from `vcs.revision` and `vcs.time`. Returns None when
    the settings have neither.
    """
    ldflags = settings.get("-ldflags", "")
    for pattern in _LDFLAGS_VERSION:
        found = pattern.search(ldflags)
        if found is not None:
            version = found.group("version")
            return version if version.startswith("v") else "v" + version
    revision = settings.get("vcs.revision", "")
    stamp = settings.get("vcs.time", "")
    if revision and stamp:
        try:
            when = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        utc = when.astimezone(datetime.timezone.utc)
        return f"v0.0.0-{utc:%Y%m%d%H%M%S}-{revision[:12]}"
    return None


def _package(location: str, module: Module, common: dict[str, str]) -> Package:
    metadata: dict[str, object] = dict(common)
    if module.sum:
        metadata["h1_digest"] = module.sum
    return Package(
        name=module.path,
        version=module.version,
        type=PackageType.GO,
        location=location,
        purl=_purl(module.path, module.version),
        metadata=metadata,
    )


def _stdlib(location: str, go_version: str, common: dict[str, str]) -> Package | None:
    """Return the `stdlib` package that Syft adds for the Go version a binary was built with."""
    # "go1.22.1 X:boringcrypto" names experiments after the version.
    version = go_version.split()[0] if go_version.split() else ""
    if not version.startswith("go"):
        return None
    bare = version.removeprefix("go")
    return Package(
        name="stdlib",
        version=version,
        type=PackageType.GO,
        location=location,
        purl=PackageURL(type="golang", name="stdlib", version=bare).to_string(),
        cpes=[f"cpe:2.3:a:golang:go:{bare}:-:*:*:*:*:*:*"],
        metadata=dict(common),
    )
