"""Binary classifiers and the ELF reader that the Go and Rust catalogers share.

A classifier recognizes a runtime by the file name and a version string in its content, as
Syft 1.18's binary classifiers do for Python, Node.js, OpenSSL, BusyBox and the Go toolchain.
The layer reader never keeps these binaries whole: `summarize_binary` reduces each one to the
classifier's name and version while the layers stream, and `parse_binary` turns that summary
(or a whole file, in tests) into a package.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import struct

from packageurl import PackageURL

from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"


@dataclasses.dataclass(frozen=True)
class ElfSection:
    """One section of an ELF file."""

    name: str
    address: int
    offset: int
    size: int


@dataclasses.dataclass(frozen=True)
class ElfSegment:
    """One `PT_LOAD` program header: file bytes mapped at a virtual address."""

    address: int
    offset: int
    size: int


@dataclasses.dataclass
class ElfFile:
    """The parts of an ELF file that build info readers need."""

    data: bytes
    little_endian: bool
    pointer_size: int
    sections: dict[str, ElfSection]
    segments: list[ElfSegment]

    def section_data(self, name: str) -> bytes | None:
        """Return the file bytes of section `name`, or None when the file has no such section."""
        section = self.sections.get(name)
        if section is None:
            return None
        return self.data[section.offset : section.offset + section.size]

    def read_address(self, address: int, size: int) -> bytes:
        """Return `size` bytes mapped at virtual `address`; raises `ValueError` when unmapped."""
        for segment in self.segments:
            if segment.address <= address and address + size <= segment.address + segment.size:
                start = segment.offset + address - segment.address
                return self.data[start : start + size]
        raise ValueError(f"address {address:#x} is not in any loaded segment")


def read_elf(data: bytes) -> ElfFile | None:
    """Parse the headers of an ELF file; None when `data` is not ELF.

    Raises `ValueError` when the headers point outside the file.
    """
    if not data.startswith(ELF_MAGIC) or len(data) < 52:
        return None
    is64 = data[4] == 2
    little = data[5] != 2
    order = "<" if little else ">"
    if is64:
        if len(data) < 64:
            raise ValueError("ELF header is truncated")
        phoff, shoff = struct.unpack_from(order + "QQ", data, 0x20)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "5H", data, 0x36)
    else:
        phoff, shoff = struct.unpack_from(order + "II", data, 0x1C)
        phentsize, phnum, shentsize, shnum, shstrndx = struct.unpack_from(order + "5H", data, 0x2A)

    segments = []
    for index in range(phnum):
        start = phoff + index * phentsize
        if start + (56 if is64 else 32) > len(data):
            raise ValueError(f"ELF program header {index} is outside the file")
        if is64:
            kind, _, offset, address, _, filesz = struct.unpack_from(order + "IIQQQQ", data, start)
        else:
            kind, offset, address, _, filesz = struct.unpack_from(order + "5I", data, start)
        if kind == 1:  # PT_LOAD
            segments.append(ElfSegment(address, offset, filesz))

    headers = []
    for index in range(shnum):
        start = shoff + index * shentsize
        if start + (64 if is64 else 40) > len(data):
            raise ValueError(f"ELF section header {index} is outside the file")
        if is64:
            name, _, _, address, offset, size = struct.unpack_from(order + "IIQQQQ", data, start)
        else:
            name, _, _, address, offset, size = struct.unpack_from(order + "6I", data, start)
        headers.append((name, address, offset, size))
    sections: dict[str, ElfSection] = {}
    if headers and shstrndx < len(headers):
        _, _, names_offset, names_size = headers[shstrndx]
        names = data[names_offset : names_offset + names_size]
        for name_index, address, offset, size in headers:
            end = names.find(b"\x00", name_index)
            name = names[name_index : end if end >= 0 else None].decode("latin-1")
            if name and offset + size <= len(data):
                sections.setdefault(name, ElfSection(name, address, offset, size))
    return ElfFile(data, little, 8 if is64 else 4, sections, segments)


@dataclasses.dataclass(frozen=True)
class Classifier:
    """Recognizes one runtime by file name and a version string in the content."""

    id: str
    """Syft's classifier id, such as `python-binary`."""
    package: str
    path_regex: re.Pattern[str]
    """Applied to the whole path; a `version` group fills `{version}` in `content_regex`."""
    content_regexes: tuple[bytes, ...]
    """Tried in order; the first match's `version` group is the version."""
    cpe_prefixes: tuple[str, ...]
    """CPE 2.3 vendor:product prefixes, such as `cpe:2.3:a:nodejs:node.js`."""
    cpe_suffix: str = ":*:*:*:*:*:*:*"


# NOTE: Syft 1.18 has classifiers for dozens more runtimes (java, php, redis, postgres, ...); only
# these are recognized. Syft also merges equal packages found in several files into one package
# with several locations, where this cataloger reports one package per file.
_PYTHON_CONTENT = rb"(?P<version>{version}\.[0-9]+[-_a-zA-Z0-9]*)"
CLASSIFIERS: tuple[Classifier, ...] = (
    Classifier(
        "python-binary",
        "python",
        re.compile(r"(?:.*/)?python(?P<version>[0-9]+(?:\.[0-9]+)+)"),
        (_PYTHON_CONTENT,),
        ("cpe:2.3:a:python_software_foundation:python", "cpe:2.3:a:python:python"),
    ),
    Classifier(
        "python-binary-lib",
        "python",
        re.compile(r"(?:.*/)?libpython(?P<version>[0-9]+(?:\.[0-9]+)+)[a-z]?\.so.*"),
        (_PYTHON_CONTENT,),
        ("cpe:2.3:a:python_software_foundation:python", "cpe:2.3:a:python:python"),
    ),
    Classifier(
        "nodejs-binary",
        "node",
        re.compile(r"(?:.*/)?node"),
        (
            rb"node\.js/v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)",
            rb"\x00v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)\x00",
        ),
        ("cpe:2.3:a:nodejs:node.js",),
    ),
    Classifier(
        "openssl-binary",
        "openssl",
        re.compile(r"(?:.*/)?(?:openssl|libssl\.so[.0-9]*|libcrypto\.so[.0-9]*)"),
        (
            rb"\x00OpenSSL (?P<version>[0-9]+\.[0-9]+\.[0-9]+(?:[a-z]|-alpha[0-9]+|-beta[0-9]+"
            rb"|-rc[0-9]+)?) ",
        ),
        ("cpe:2.3:a:openssl:openssl",),
    ),
    Classifier(
        "busybox-binary",
        "busybox",
        re.compile(r"(?:.*/)?busybox"),
        (rb"BusyBox\s+v(?P<version>[0-9]+\.[0-9]+\.[0-9]+)",),
        ("cpe:2.3:a:busybox:busybox",),
    ),
    Classifier(
        "go-binary",
        "go",
        re.compile(r"(?:.*/)?go"),
        (rb"go(?P<version>[0-9]+\.[0-9]+(?:\.[0-9]+|beta[0-9]+|alpha[0-9]+|rc[0-9]+)?)\x00",),
        ("cpe:2.3:a:golang:go",),
        cpe_suffix=":-:*:*:*:*:*:*",
    ),
)

# Shared libraries have no execute bit in most distributions, so they are named by glob.
SUMMARY_PATTERNS = ("**/libpython*.so*", "**/libssl.so*", "**/libcrypto.so*")
# Distro detection keeps `/bin/busybox` whole, so it is never summarized and is parsed as is.
PATTERNS = ("**/busybox",)


def classify(path: str, content: bytes) -> dict[str, str] | None:
    """Return `{classifier, package, version}` for the first classifier that recognizes the file."""
    for classifier in CLASSIFIERS:
        path_match = classifier.path_regex.fullmatch(path)
        if path_match is None:
            continue
        template = path_match.groupdict().get("version")
        for content_regex in classifier.content_regexes:
            if template is not None:
                content_regex = content_regex.replace(b"{version}", re.escape(template.encode()))
            found = re.search(content_regex, content)
            if found is not None:
                return {
                    "classifier": classifier.id,
                    "package": classifier.package,
                    "version": found.group("version").decode("ascii"),
                }
    return None


def exclude_owned_binaries(packages: list[Package]) -> list[Package]:
    """Drop `binary` packages whose file an OS package owns, as Syft 1.18 does by default.

    Syft's `exclude-binary-overlap-by-ownership` setting removes them because the OS package
    already reports that software, under the distro's own version.
    """
    owned = {path for package in packages if package.type.is_os for path in package.files}
    if not owned:
        return packages
    return [
        package
        for package in packages
        if package.type is not PackageType.BINARY or package.location not in owned
    ]


def summarize_binary(path: str, content: bytes) -> dict[str, str] | None:
    """Summarize a file for `parse_binary`: the classifier match, or None."""
    return classify(path, content)


def parse_binary(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Turn a binary's classifier match into a package of type `binary`.

    `content` is a summary from `summarize_binary` after `SUMMARY_PREFIX`, or a whole file.
    """
    if content.startswith(SUMMARY_PREFIX):
        found = json.loads(content[len(SUMMARY_PREFIX) :])
    else:
        found = classify(location, content)
    result = ParseResult()
    if not found:
        return result
    if "error" in found:
        result.add_unknown(location, str(found["error"]))
        return result
    classifier = next(item for item in CLASSIFIERS if item.id == found["classifier"])
    version = found["version"]
    result.packages.append(
        Package(
            name=classifier.package,
            version=version,
            type=PackageType.BINARY,
            location=location,
            purl=PackageURL(type="generic", name=classifier.package, version=version).to_string(),
            cpes=[
                f"{prefix}:{version}{classifier.cpe_suffix}" for prefix in classifier.cpe_prefixes
            ],
            metadata={"classifier": classifier.id},
        )
    )
    return result
