"""Executable file formats as the layer reader sees them: a test of the first bytes, and a
streaming search for the Go build info of a binary too large to read whole.

Syft 1.18.1 gives its Go and Rust binary catalogers every file whose MIME type, detected from
the first bytes by gabriel-vasile/mimetype 1.4.7, is an ELF executable or shared library, a
Mach-O or a PE file, whatever the file's mode. `is_executable_format` applies the same tests.
"""

from __future__ import annotations

import struct

GO_BUILD_INFO_MAGIC = b"\xff Go buildinf:"
"""Start of the build info blob that the Go linker writes, at a 16-byte aligned offset."""
GO_BUILD_INFO_WINDOW = 64 * 1024
"""Bytes kept from the build info magic on. The blob of Go 1.18 and later is a few KB."""

_ELF_MAGIC = b"\x7fELF"
# ELF e_type values that mimetype reports as `application/x-object` and
# `application/x-coredump`, which are not among Syft's executable MIME types. mimetype reads
# the two bytes in either order, whatever the file's byte order.
_ELF_NOT_EXECUTABLE = (b"\x01\x00", b"\x00\x01", b"\x04\x00", b"\x00\x04")
_MACHO_MAGICS = (b"\xfe\xed\xfa\xce", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe")
_FAT_MAGIC = b"\xca\xfe\xba\xbe"
_PT_LOAD = 1
_PF_X = 0x1
_PF_W = 0x2


def is_executable_format(head: bytes) -> bool:
    """Return True when `head`, the first bytes of a file, starts an ELF, Mach-O or PE file.

    ELF relocatable objects and core dumps do not count. A universal (fat) Mach-O file shares
    its magic with Java class files, which mimetype distinguishes by byte 7: below 0x14 (the
    number of architectures) it is Mach-O.
    """
    if head.startswith(_ELF_MAGIC):
        return len(head) < 18 or head[16:18] not in _ELF_NOT_EXECUTABLE
    if head.startswith(b"MZ") or head[:4] in _MACHO_MAGICS:
        return True
    return head.startswith(_FAT_MAGIC) and len(head) >= 8 and head[7] < 0x14


def elf_writable_segments(head: bytes) -> list[tuple[int, int]]:
    """Return the file ranges `(start, end)` of the writable, non-executable `PT_LOAD` segments.

    Returns an empty list when `head` is not ELF or does not contain the whole program header
    table.
    """
    if not head.startswith(_ELF_MAGIC) or len(head) < 52:
        return []
    is64 = head[4] == 2
    order = ">" if head[5] == 2 else "<"
    if is64:
        if len(head) < 64:
            return []
        (phoff,) = struct.unpack_from(order + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x36)
        layout, minimum = order + "IIQQQQ", 40
    else:
        (phoff,) = struct.unpack_from(order + "I", head, 0x1C)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 0x2A)
        layout, minimum = order + "IIIIIII", 28
    if phentsize < minimum or phoff + phnum * phentsize > len(head):
        return []
    ranges = []
    for index in range(phnum):
        fields = struct.unpack_from(layout, head, phoff + index * phentsize)
        if is64:
            kind, flags, offset, _, _, filesz = fields
        else:
            kind, offset, _, _, filesz, _, flags = fields
        if kind == _PT_LOAD and flags & (_PF_X | _PF_W) == _PF_W and filesz:
            ranges.append((offset, offset + filesz))
    return ranges


class GoBuildInfoSearch:
    """Finds the Go build info magic in a file fed chunk by chunk, and keeps the bytes after it.

    Go places the blob in the writable data segment (`.go.buildinfo`), and Go's own
    `debug/buildinfo` looks for it in the first writable, non-executable `PT_LOAD` segment of an
    ELF file without sections. So in an ELF file only those segments are searched, a small share
    of a shared library. Mach-O and PE files, and ELF files whose program headers are not in the
    head, are searched whole. `excerpt` is the `GO_BUILD_INFO_WINDOW` bytes from the magic on,
    or fewer at the end of the file.
    """

    def __init__(self, head: bytes, size: int) -> None:
        """Search a file of `size` bytes whose first bytes are `head`."""
        self._ranges = elf_writable_segments(head) or [(0, size)]
        self._offset = 0
        self._tail = b""
        """The last bytes searched, which may hold the start of a magic cut by a chunk end."""
        self._tail_end = -1
        self.excerpt: bytearray | None = None

    def feed(self, chunk: bytes | memoryview) -> None:
        """Search the next `chunk` of the file, or add it to `excerpt` after the magic."""
        start = self._offset
        end = start + len(chunk)
        self._offset = end
        if self.excerpt is not None:
            missing = GO_BUILD_INFO_WINDOW - len(self.excerpt)
            if missing > 0:
                self.excerpt += chunk[:missing]
            return
        for low, high in self._ranges:
            low, high = max(low, start), min(high, end)
            if low < high and self._search(chunk, start, low, high):
                return

    def _search(self, chunk: bytes | memoryview, start: int, low: int, high: int) -> bool:
        """Search the file bytes `low` to `high` of `chunk`, which starts at file offset `start`."""
        tail = self._tail if self._tail_end == low else b""
        base = low - len(tail)
        text = tail + bytes(chunk[low - start : high - start])
        pos = text.find(GO_BUILD_INFO_MAGIC)
        while pos >= 0 and (base + pos) % 16:
            pos = text.find(GO_BUILD_INFO_MAGIC, pos + 1)
        if pos < 0:
            self._tail = text[-(len(GO_BUILD_INFO_MAGIC) - 1) :]
            self._tail_end = high
            return False
        excerpt = bytearray(text[pos : pos + GO_BUILD_INFO_WINDOW])
        excerpt += chunk[high - start : high - start + GO_BUILD_INFO_WINDOW - len(excerpt)]
        self.excerpt = excerpt
        return True
