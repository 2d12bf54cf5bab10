"""Hostile images: each must give a correct report or an `AnalysisError`, quickly and in memory.

Every analysis here runs in a forked child inside a private mount namespace in which every
filesystem outside /proc, /sys and /dev is read-only, with limits on address space and CPU time.
So a bug that extracts, writes, loops or allocates without bound fails its test instead of
harming the machine. Where the namespace cannot be made (no CAP_SYS_ADMIN, no `unshare`), the
analyses run in this process and `test_hostile_sandbox_is_read_only` is skipped with the reason.
Speed is checked by counting bytes read, inflated or allocated, never by timing.
"""

from __future__ import annotations

import builtins
import ctypes
import errno
import functools
import gzip
import io
import json
import os
import pickle
import resource
import signal
import tarfile
import tempfile
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pytest

from chalicelib.analysis import AnalysisOptions, analyze_image, tarstream
from chalicelib.analysis.catalog import MAX_UNKNOWNS_PER_FILE
from chalicelib.analysis.interface import AnalysisError, AnalysisReport, FileType, LayerRef
from chalicelib.analysis.tarstream import LayerError
from chalicelib.registry import DockerArchiveSource, OciLayoutSource, blobstore
from chalicelib.registry.errors import (
    BlobNotFoundError,
    DigestMismatchError,
    InvalidImageLayoutError,
)
from tests.analysis.builders import (
    MemoryImageSource,
    directory,
    file,
    hardlink,
    image,
    layer_bytes,
    symlink,
    tar_bytes,
)
from tests.conftest import REPO_ROOT
from tests.support.ocilayout import OCI_LAYER, OCI_LAYER_GZIP, OciLayoutWriter

T = TypeVar("T")

# The sandbox uses these even while a test replaces them with stubs that reject writes.
_OS_OPEN = os.open
_OS_WRITE = os.write

MIB = 1024 * 1024
GIB = 1024 * MIB
PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
OS_RELEASE = "ID=debian\nVERSION_ID=12\n"

# Mount flags and the namespace flag from <sys/mount.h> and <sched.h>.
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_KEPT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC}
_PSEUDO_MOUNTS = ("/proc", "/sys", "/dev")

CHILD_ADDRESS_SPACE = 2 * GIB
"""Address space a sandboxed analysis may add to what the test process already maps."""
CHILD_CPU_SECONDS = 120
"""CPU time after which the kernel kills a sandboxed analysis that loops."""
CHILD_WALL_SECONDS = 600
"""Time after which an alarm kills a sandboxed analysis that waits forever, as on a lock that
another thread of the test process held when it forked."""


# --- The sandbox -------------------------------------------------------------------------------


def _protected_dirs() -> list[Path]:
    """Return the folders that must be read-only during an analysis."""
    candidates = [Path("/etc"), Path("/usr"), Path("/root"), Path("/work"), REPO_ROOT]
    candidates.append(Path(tempfile.gettempdir()))
    return [path for path in dict.fromkeys(candidates) if path.is_dir()]


def _mount_points() -> list[tuple[str, int]]:
    """Return each mount point of this namespace with the flags it must keep when remounted."""
    points = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            # Mount points escape spaces and other bytes as octal, such as `\\040`.
            point = fields[4].encode().decode("unicode_escape")
            options = fields[5].split(",")
            flags = sum(flag for name, flag in _KEPT_FLAGS.items() if name in options)
            points.append((point, flags))
    return points


def _enter_read_only_namespace() -> None:
    """Move this process into a new mount namespace where every real filesystem is read-only.

    Raises `OSError` when the kernel refuses, as it does without CAP_SYS_ADMIN.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"unshare(CLONE_NEWNS) failed: {os.strerror(code)}")
    # Without this, the remounts below would propagate to the namespace of the machine.
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"making / private failed: {os.strerror(code)}")
    for point, flags in _mount_points():
        if point.startswith(_PSEUDO_MOUNTS):
            continue
        remount = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | flags
        if libc.mount(None, point.encode(), None, remount, None) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"remounting {point} read-only failed: {os.strerror(code)}")


def _probe_writes() -> dict[str, int]:
    """Try to create a file in each protected folder; return the errno of each attempt."""
    results = {}
    for folder in _protected_dirs():
        probe = folder / f".hostile-write-probe-{os.getpid()}"
        try:
            descriptor = _OS_OPEN(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except OSError as error:
            results[str(folder)] = error.errno
            continue
        os.close(descriptor)
        os.unlink(probe)
        results[str(folder)] = 0
    return results


def _limit_child() -> None:
    with open("/proc/self/status", encoding="utf-8") as status:
        size_kib = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    limit = size_kib * 1024 + CHILD_ADDRESS_SPACE
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (CHILD_CPU_SECONDS, CHILD_CPU_SECONDS))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(CHILD_WALL_SECONDS)


def _run_child(function: Callable[[], Any], write: int) -> None:
    """Run `function` in the forked child and send its outcome through the pipe `write`."""
    try:
        _enter_read_only_namespace()
        probes = _probe_writes()
        _limit_child()
        try:
            outcome: tuple[str, Any] = ("value", (function(), probes))
        except BaseException as error:  # noqa: BLE001 - every outcome goes back to the test
            outcome = ("error", error)
        try:
            payload = pickle.dumps(outcome)
        except Exception as error:  # noqa: BLE001 - such as pytest's own `Failed`
            message = f"{outcome[1]!r}, which the sandbox could not send back: {error}"
            payload = pickle.dumps(("error", AssertionError(message)))
    except OSError as error:
        payload = pickle.dumps(("unavailable", str(error)))
    view = memoryview(payload)
    while view:
        view = view[_OS_WRITE(write, view) :]
    os.close(write)


def _in_child(function: Callable[[], T]) -> tuple[str, Any]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            _run_child(function, write)
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise AssertionError(f"the sandboxed analysis was killed by {name} (over a limit)")
    return pickle.loads(payload)


@functools.cache
def sandbox_unavailable() -> str | None:
    """Return why analyses cannot run in a read-only mount namespace, or None when they can."""
    if not hasattr(os, "fork") or not Path("/proc/self/mountinfo").exists():
        return "this platform has no fork or /proc/self/mountinfo"
    kind, value = _in_child(lambda: None)
    if kind == "unavailable":
        return str(value)
    if kind == "error":
        return f"the sandbox failed: {value!r}"
    _, probes = value
    writable = [folder for folder, code in probes.items() if code != errno.EROFS]
    if writable:
        return f"these folders stayed writable in the namespace: {writable}"
    return None


def sandboxed(function: Callable[[], T]) -> T:
    """Return `function()` run in the read-only sandbox, raising what it raised.

    Runs `function` in this process when the sandbox is unavailable.
    """
    if sandbox_unavailable() is not None:
        return function()
    kind, value = _in_child(function)
    if kind == "error":
        raise value
    if kind == "unavailable":
        raise AssertionError(f"the sandbox stopped working: {value}")
    result, probes = value
    assert all(code == errno.EROFS for code in probes.values()), probes
    return result


def analyze(source: Any, options: AnalysisOptions | None = None) -> AnalysisReport:
    """Analyze `source` in the sandbox and return its report, checking it encodes as JSON."""
    report = sandboxed(lambda: analyze_image(source, options=options))
    report.model_dump_json()
    return report


def test_hostile_sandbox_is_read_only() -> None:
    reason = sandbox_unavailable()
    if reason is not None:
        pytest.skip(f"hostile analyses run without a read-only mount namespace: {reason}")
    probes = sandboxed(_probe_writes)
    assert str(REPO_ROOT) in probes
    assert str(Path(tempfile.gettempdir())) in probes
    assert set(probes.values()) == {errno.EROFS}
    assert _probe_writes()[str(Path(tempfile.gettempdir()))] == 0


# --- Generated blobs ---------------------------------------------------------------------------


class GeneratedBlob(io.RawIOBase):
    """A layer blob produced piece by piece, which counts the bytes that the reader takes."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        super().__init__()
        self._pieces: Iterator[bytes] = iter(pieces)
        self._current = memoryview(b"")
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._current:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._current = memoryview(piece)
        count = min(len(buffer), len(self._current))
        buffer[:count] = self._current[:count]
        self._current = self._current[count:]
        self.bytes_read += count
        return count


class GeneratedSource:
    """An `ImageSource` whose layers come from functions that return blob pieces."""

    def __init__(self, *layers: Callable[[], Iterable[bytes]]) -> None:
        self._layers = {f"sha256:{index:064x}": layer for index, layer in enumerate(layers)}
        self.layers = [
            LayerRef(digest=digest, media_type=OCI_LAYER, size=0) for digest in self._layers
        ]
        self.manifest_digest = "sha256:" + "ee" * 32
        self.manifest: dict[str, Any] = {"config": {"digest": "sha256:" + "cc" * 32}}
        self.config: dict[str, Any] = {"architecture": "amd64", "os": "linux"}
        self.blobs: list[GeneratedBlob] = []

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        blob = GeneratedBlob(self._layers[layer.digest]())
        self.blobs.append(blob)
        return io.BufferedReader(blob)


class CountingBlob(io.BytesIO):
    """An in-memory blob that counts the bytes read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def header(
    name: bytes, size: int, type_flag: bytes = b"0", size_field: bytes | None = None
) -> bytes:
    """Return one ustar header block, with `size_field` written as given when set."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = size_field if size_field is not None else b"%011o\0" % size
    block[136:148] = b"00000000000\0"
    block[156:157] = type_flag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pax_records(records: dict[str, str]) -> bytes:
    """Encode PAX `LENGTH KEY=VALUE\\n` records."""
    encoded = b""
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        length = len(body) + 1
        while len(str(length)) + len(body) != length:
            length += 1
        encoded += str(length).encode() + body
    return encoded


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def pax_entry(records: dict[str, str], name: bytes, content: bytes = b"") -> bytes:
    """Return a PAX extended header followed by the regular file entry it describes."""
    extension = pax_records(records)
    return (
        header(b"PaxHeader/x", len(extension), b"x")
        + padded(extension)
        + header(name, len(content))
        + padded(content)
    )


END = bytes(1024)
ZEROS = bytes(MIB)


def zero_file_tar(name: bytes, size: int) -> Callable[[], Iterator[bytes]]:
    """Return a function that yields a tar of one file of `size` zero bytes, never held whole."""

    def pieces() -> Iterator[bytes]:
        yield header(name, size)
        left = size
        while left:
            piece = ZEROS if left >= len(ZEROS) else bytes(left)
            left -= len(piece)
            yield piece
        yield bytes(-size % 512) + END

    return pieces


def peak_memory(function: Callable[[], T]) -> tuple[T, int]:
    """Return what `function` returns and the peak of memory that Python allocated meanwhile."""
    tracemalloc.start()
    try:
        result = function()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def paths(report: AnalysisReport) -> set[str]:
    return {entry.path for entry in report.files}


def problems(report: AnalysisReport) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in report.problems:
        found.setdefault(problem.location, []).append(problem.reason)
    return found


# --- Path traversal ----------------------------------------------------------------------------


def test_hostile_traversal_names_stay_in_root() -> None:
    report = analyze(
        image(
            [
                file("../../etc/x", "a"),
                file("/abs/path", "b"),
                file("a/../../b", "c"),
                file("./../../../../../tmp/escaped", "d"),
            ]
        )
    )
    assert paths(report) == {"/etc/x", "/abs/path", "/b", "/tmp/escaped"}
    assert all(path.startswith("/") and "/.." not in path for path in paths(report))


def test_hostile_pax_name_with_nul_rejected() -> None:
    blob = pax_entry({"path": "etc/pass\0wd"}, b"placeholder", b"x") + END
    with pytest.raises(LayerError, match="PAX path with a NUL byte"):
        analyze(MemoryImageSource([blob]))


def test_hostile_pax_link_with_nul_rejected() -> None:
    extension = pax_records({"linkpath": "/etc/shadow\0.txt"})
    blob = header(b"PaxHeader/l", len(extension), b"x") + padded(extension)
    blob += header(b"etc/passwd", 0, b"2") + END
    with pytest.raises(LayerError, match="PAX linkpath with a NUL byte"):
        analyze(MemoryImageSource([blob]))


def test_hostile_name_over_path_max_rejected() -> None:
    blob = pax_entry({"path": "d/" * 2500 + "file"}, b"placeholder", b"x") + END
    with pytest.raises(LayerError, match="name is 5004 bytes long, over the 4095-byte limit"):
        analyze(MemoryImageSource([blob]))


def test_hostile_link_target_over_path_max_rejected() -> None:
    items = [symlink("etc/os-release", "ab/" * 1400)]
    with pytest.raises(LayerError, match="link target is 4200 bytes long"):
        analyze(image(items))


def test_hostile_deep_directories_within_path_max() -> None:
    deep = "/".join(["d"] * 2000)
    items = [directory(deep[: index * 2 + 1]) for index in range(0, 2000, 100)]
    items.append(file(deep + "/leaf", "x"))
    report = analyze(image(items))
    assert f"/{deep}/leaf" in paths(report)


def test_hostile_whiteouts_of_dot_dot_delete_nothing() -> None:
    lower = [file("etc/passwd", PASSWD), file("etc/os-release", OS_RELEASE), file("top", "x")]
    upper = [file(".wh...", ""), file("etc/.wh...", ""), file("etc/.wh..", ""), file(".wh.", "")]
    report = analyze(image(lower, upper))
    assert paths(report) == {"/etc/passwd", "/etc/os-release", "/top"}
    assert report.passwd == PASSWD


def test_hostile_many_whiteouts_over_kept_files() -> None:
    def lower() -> Iterator[bytes]:
        for index in range(2000):
            content = b'{"name":"p%d","version":"1.0.0"}' % index
            name = b"app/node_modules/p%d/package.json" % index
            yield header(name, len(content)) + padded(content)
        yield END

    def upper() -> Iterator[bytes]:
        yield header(b"app/node_modules/.wh.p7", 0)
        for index in range(30_000):
            yield header(b"srv/.wh.gone%d" % index, 0)
        yield END

    # Squashing used to test every kept path against every whiteout: 6e7 prefix tests here.
    report = analyze(GeneratedSource(lower, upper))
    names = {package.name for package in report.packages}
    assert len(names) == 1999
    assert "p7" not in names


def test_hostile_hardlink_climbing_stays_in_image() -> None:
    report = analyze(
        image(
            [file("etc/passwd", PASSWD)],
            [hardlink("app/copy", "../../etc/passwd"), hardlink("app/gone", "../../etc/shadow")],
        )
    )
    entries = {entry.path: entry for entry in report.files}
    assert entries["/app/copy"].link_target == "/etc/passwd"
    assert entries["/app/copy"].sha256 == entries["/etc/passwd"].sha256
    assert entries["/app/gone"].sha256 is None
    assert problems(report)["/app/gone"] == ["hard link to /etc/shadow, which is not a file"]


def test_hostile_hardlink_to_itself() -> None:
    report = analyze(image([hardlink("etc/passwd", "etc/passwd")]))
    assert report.passwd is None
    assert problems(report)["/etc/passwd"] == ["hard link to /etc/passwd, which is not a file"]


def test_hostile_symlink_climbing_past_root() -> None:
    report = analyze(
        image(
            [
                file("srv/real-passwd", PASSWD),
                symlink("etc/passwd", "../../../../../../../srv/./real-passwd"),
                symlink("usr/lib/os-release", "../../../../../../../../etc/hostname"),
            ]
        )
    )
    # Only the files at the paths read later are kept, so the link target's content is unknown.
    assert report.passwd is None
    assert problems(report)["/etc/passwd"] == [
        "links to /srv/real-passwd, whose content was not kept"
    ]
    assert report.distro is None
    assert "/usr/lib/os-release" not in problems(report)


def test_hostile_symlink_to_kept_file_past_root() -> None:
    report = analyze(
        image(
            [
                file("usr/lib/os-release", OS_RELEASE),
                symlink("etc/os-release", "../../../../../../usr/./lib/os-release"),
            ]
        )
    )
    assert report.distro is not None and report.distro.id == "debian"
    assert report.problems == []


def test_hostile_absolute_symlinks_read_only_the_image() -> None:
    report = analyze(
        image(
            [
                file("etc/shadow", "root:*:19000:0:99999:7:::\n"),
                symlink("etc/passwd", "/etc/shadow"),
                symlink("etc/os-release", "/proc/self/environ"),
                symlink("usr/lib/os-release", "/../../etc/machine-id"),
            ]
        )
    )
    assert report.passwd is None
    assert problems(report)["/etc/passwd"] == ["links to /etc/shadow, whose content was not kept"]
    assert report.distro is None


def test_hostile_passwd_symlink_outside_image() -> None:
    report = analyze(image([symlink("etc/passwd", "/etc/hostname")]))
    assert report.passwd is None


@pytest.mark.parametrize("path", ["etc/os-release", "usr/lib/os-release"])
def test_hostile_os_release_symlink_loop(path: str) -> None:
    report = analyze(
        image(
            [
                symlink(path, "loop-b"),
                symlink(path.rsplit("/", 1)[0] + "/loop-b", "/" + path),
                file("etc/debian_version", "12.5\n"),
            ]
        )
    )
    assert report.distro is not None
    assert (report.distro.id, report.distro.version_id) == ("debian", "12")
    [reason] = problems(report)["/" + path]
    assert "follows more than 40 symbolic links" in reason


def test_hostile_passwd_symlink_to_itself() -> None:
    report = analyze(image([symlink("etc/passwd", "passwd")]))
    assert report.passwd is None
    assert "/etc/passwd" in problems(report)


def test_hostile_node_modules_loop() -> None:
    package = '{"name":"left-pad","version":"1.3.0"}'
    report = analyze(
        image(
            [
                file("app/node_modules/left-pad/package.json", package),
                symlink("app/node_modules/left-pad/node_modules", "../../node_modules"),
                symlink("app/node_modules/self", "."),
            ],
            [symlink("srv/node_modules", "/srv/node_modules")],
        )
    )
    assert [(package.name, package.location) for package in report.packages] == [
        ("left-pad", "/app/node_modules/left-pad/package.json")
    ]


def test_hostile_site_packages_loop() -> None:
    site = "usr/lib/python3/site-packages"
    report = analyze(
        image(
            [
                file(f"{site}/six-1.16.0.dist-info/METADATA", "Name: six\nVersion: 1.16.0\n"),
                symlink(f"{site}/six-1.16.0.dist-info/RECORD", "RECORD"),
                symlink(f"{site}/loop", f"/{site}"),
                symlink("usr/lib/python3.11", "python3.11"),
            ]
        )
    )
    [package] = report.packages
    assert (package.name, package.files) == ("six", [])


def test_hostile_directory_replaced_by_file() -> None:
    report = analyze(
        image(
            [directory("etc"), file("etc/passwd", PASSWD), file("etc/os-release", OS_RELEASE)],
            [file("etc", "now a file")],
        )
    )
    entries = {entry.path: entry for entry in report.files}
    assert set(entries) == {"/etc"}
    assert entries["/etc"].type is FileType.FILE
    assert report.passwd is None
    assert report.distro is None


def test_hostile_file_replaced_by_directory() -> None:
    package = '{"name":"left-pad","version":"1.3.0"}'
    report = analyze(
        image(
            [file("app/node_modules/left-pad", "a file")],
            [
                directory("app/node_modules/left-pad"),
                file("app/node_modules/left-pad/package.json", package),
            ],
        )
    )
    entries = {entry.path: entry for entry in report.files}
    assert entries["/app/node_modules/left-pad"].type is FileType.DIR
    assert [package.name for package in report.packages] == ["left-pad"]


def test_hostile_directory_replaced_by_symlink() -> None:
    report = analyze(
        image(
            [directory("etc"), file("etc/passwd", PASSWD)],
            [symlink("etc", "/srv"), file("srv/passwd", "attacker:x:0:0::/:/bin/sh\n")],
        )
    )
    assert "/etc/passwd" not in paths(report)
    assert report.passwd is None
    assert problems(report)["/etc/passwd"] == ["links to /srv/passwd, whose content was not kept"]


def test_hostile_analysis_never_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    writer = OciLayoutWriter(tmp_path / "layout")
    items = [
        file("../../../../tmp/escaped-by-analysis", "x"),
        symlink("etc/passwd", "/../../../../etc/passwd"),
        hardlink("evil", "../../../etc/shadow"),
        directory("../../../../tmp/escaped-dir"),
    ]
    writer.tag(writer.add_image([(tar_bytes(items), OCI_LAYER_GZIP)]), "hostile")
    attempts: list[str] = []

    def reject_write(original: Callable[..., Any]) -> Callable[..., Any]:
        def opener(target: Any, mode: Any = "r", *args: Any, **kwargs: Any) -> Any:
            writing = (
                isinstance(mode, int) and mode & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            ) or (isinstance(mode, str) and set(mode) & set("wax+"))
            if writing:
                attempts.append(str(target))
                raise PermissionError(f"analysis tried to write {target!r}")
            return original(target, mode, *args, **kwargs)

        return opener

    def reject(name: str) -> Callable[..., Any]:
        def forbidden(*args: Any, **kwargs: Any) -> None:
            attempts.append(f"{name}{args!r}")
            raise PermissionError(f"analysis called {name}")

        return forbidden

    monkeypatch.setattr(builtins, "open", reject_write(builtins.open))
    monkeypatch.setattr(io, "open", reject_write(io.open))
    monkeypatch.setattr(os, "open", reject_write(os.open))
    for name in ("mkdir", "makedirs", "symlink", "link", "rename", "replace", "mknod"):
        monkeypatch.setattr(os, name, reject(name))

    def run() -> tuple[AnalysisReport, list[str]]:
        with OciLayoutSource(tmp_path / "layout", ref_name="hostile") as source:
            return analyze_image(source), attempts

    report, attempted = sandboxed(run)
    monkeypatch.undo()
    assert attempted == []
    assert "/tmp/escaped-by-analysis" in paths(report)
    assert not Path("/tmp/escaped-by-analysis").exists()
    assert not Path("/tmp/escaped-dir").exists()
    assert report.passwd is None


# --- Decompression bombs and damaged blobs -----------------------------------------------------


_DECOMPRESSOBJ = tarstream._decompressobj


class CountingInflater:
    """A gzip decompressor (isal or zlib, as tarstream uses) that counts the compressed bytes fed to it and the bytes it inflates."""

    compressed = 0
    inflated = 0

    def __init__(self, wbits: int) -> None:
        self._inflater = _DECOMPRESSOBJ(wbits)

    def decompress(self, data: Any, max_length: int = 0) -> bytes:
        CountingInflater.compressed += len(data)
        output = self._inflater.decompress(data, max_length)
        CountingInflater.inflated += len(output)
        return output

    def flush(self) -> bytes:
        output = self._inflater.flush()
        CountingInflater.inflated += len(output)
        return output

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inflater, name)


def count_inflation(function: Callable[[], T]) -> tuple[T | BaseException, int, int]:
    """Return the outcome of `function`, and the compressed and inflated bytes it used."""
    CountingInflater.compressed = CountingInflater.inflated = 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tarstream, "_decompressobj", CountingInflater)
        try:
            outcome: T | BaseException = function()
        except AnalysisError as error:
            outcome = error
    return outcome, CountingInflater.compressed, CountingInflater.inflated


@functools.cache
def zero_bomb() -> bytes:
    """Return one gzip member that inflates to 64 MiB of zeros."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(ZEROS) for _ in range(64)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_hostile_gzip_bomb_stops_at_limit() -> None:
    bomb = zero_bomb()
    options = AnalysisOptions(max_layer_bytes=4 * MIB)

    def run() -> tuple[Any, int, int]:
        outcome, compressed, inflated = count_inflation(
            lambda: analyze_image(MemoryImageSource([bomb]), options=options)
        )
        return outcome, compressed, inflated

    outcome, compressed, inflated = sandboxed(run)
    assert isinstance(outcome, LayerError)
    assert "expands to more than 4194304 bytes" in str(outcome)
    assert "--max-layer-bytes" in str(outcome)
    assert inflated <= 4 * MIB + MIB
    assert compressed < len(bomb) // 4


def test_hostile_concatenated_bomb_reads_little() -> None:
    member = gzip.compress(ZEROS, compresslevel=9)
    bomb = member * 8192
    blob = CountingBlob(bomb)
    source = MemoryImageSource([b"placeholder"])
    source.open_layer = lambda layer: blob  # type: ignore[method-assign]

    def run() -> tuple[str, int]:
        with pytest.raises(LayerError) as raised:
            analyze_image(source, options=AnalysisOptions(max_layer_bytes=4 * MIB))
        return str(raised.value), blob.bytes_read

    message, bytes_read = sandboxed(run)
    assert "--max-layer-bytes" in message
    # The reading thread may be a few 1 MiB reads ahead of the inflater when it raises.
    assert bytes_read <= 4 * MIB
    assert len(bomb) > 8 * MIB


def test_hostile_many_empty_gzip_members_linear() -> None:
    content = tar_bytes([file("etc/os-release", OS_RELEASE)])
    blob = gzip.compress(content) + gzip.compress(b"", mtime=0) * 100_000

    def run() -> tuple[Any, int, int]:
        return count_inflation(lambda: analyze_image(MemoryImageSource([blob])))

    report, compressed, _ = sandboxed(run)
    assert isinstance(report, AnalysisReport)
    assert report.distro is not None and report.distro.id == "debian"
    # Each member gets a slice of at most 64 bytes more than its size. Before, each 256 KiB read
    # was handed over once per member that started in it, which is some 13 GB here.
    assert compressed <= 4 * len(blob)


def test_hostile_gzip_members_over_limit() -> None:
    content = tar_bytes([file("a", "x")])
    blob = gzip.compress(content) + gzip.compress(b"", mtime=0) * 2000
    with pytest.raises(LayerError, match="more than 1000 gzip members"):
        analyze(MemoryImageSource([blob]), AnalysisOptions(max_layer_entries=1000))


def test_hostile_millions_of_entries_stop_at_limit() -> None:
    def entries() -> Iterator[bytes]:
        for index in range(3_000_000):
            yield header(b"f%07d" % index, 0)

    source = GeneratedSource(entries)

    def run() -> tuple[str, int]:
        with pytest.raises(LayerError) as raised:
            analyze_image(source, options=AnalysisOptions(max_layer_entries=1000))
        return str(raised.value), source.blobs[0].bytes_read

    message, bytes_read = sandboxed(run)
    assert "more than 1000 tar entries" in message
    assert "--max-layer-entries" in message
    assert bytes_read <= 1001 * 512 + 2 * MIB


def test_hostile_huge_dpkg_status_streams() -> None:
    source = GeneratedSource(zero_file_tar(b"var/lib/dpkg/status", GIB))
    report, peak = sandboxed(lambda: peak_memory(lambda: analyze_image(source)))
    entries = {entry.path: entry for entry in report.files}
    assert entries["/var/lib/dpkg/status"].size == GIB
    assert entries["/var/lib/dpkg/status"].sha256 is not None
    assert report.packages == []
    [reason] = problems(report)["/var/lib/dpkg/status"]
    assert f"over the limit of {32 * MIB} bytes kept for catalogers" in reason
    assert peak < 8 * MIB


def test_hostile_huge_package_json_streams() -> None:
    name = b"app/node_modules/big/package.json"
    source = GeneratedSource(zero_file_tar(name, 100 * MIB))
    report, peak = sandboxed(lambda: peak_memory(lambda: analyze_image(source)))
    assert report.packages == []
    [reason] = problems(report)["/" + name.decode()]
    assert "raise the limit with `plimsoll analyze --max-kept-file-size`" in reason
    assert peak < 8 * MIB


def test_hostile_sparse_dpkg_status_reported() -> None:
    records = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "var/lib/dpkg/status",
        "GNU.sparse.realsize": str(1 << 40),
    }
    sparse_map = padded(b"1\n0\n0\n")
    blob = pax_entry(records, b"GNUSparseFile.0/status", sparse_map) + END
    report = analyze(MemoryImageSource([blob]))
    entries = {entry.path: entry for entry in report.files}
    assert entries["/var/lib/dpkg/status"].size == 1 << 40
    assert report.packages == []
    [reason] = problems(report)["/var/lib/dpkg/status"]
    assert "stored sparse" in reason


def test_hostile_oversized_extended_header_rejected() -> None:
    def pieces() -> Iterator[bytes]:
        yield header(b"PaxHeader/big", 64 * MIB, b"x")
        for _ in range(64):
            yield ZEROS
        yield END

    source = GeneratedSource(pieces)

    def run() -> tuple[tuple[str, int], int]:
        def attempt() -> tuple[str, int]:
            with pytest.raises(LayerError) as raised:
                analyze_image(source)
            return str(raised.value), source.blobs[0].bytes_read

        return peak_memory(attempt)

    (message, bytes_read), peak = sandboxed(run)
    assert "tar extended header of 67108864 bytes" in message
    # The reading thread may be a few 1 MiB reads ahead of the header parser when it raises.
    assert bytes_read <= 6 * MIB
    assert peak < 8 * MIB


def test_hostile_global_pax_records_do_not_pile_up() -> None:
    def pieces() -> Iterator[bytes]:
        for index in range(400):
            records = pax_records({f"junk.{index}": "v" * 60_000})
            yield header(b"PaxGlobal", len(records), b"g") + padded(records)
        yield header(b"etc/os-release", len(OS_RELEASE)) + padded(OS_RELEASE.encode()) + END

    source = GeneratedSource(pieces)
    report, peak = sandboxed(lambda: peak_memory(lambda: analyze_image(source)))
    assert report.distro is not None and report.distro.id == "debian"
    assert peak < 8 * MIB


@pytest.mark.parametrize(
    "size_field",
    [b"\xff" + (-512 % (1 << 88)).to_bytes(11, "big"), b"\xff" * 12],
    ids=["minus-512", "minus-1"],
)
def test_hostile_negative_size_rejected(size_field: bytes) -> None:
    blob = header(b"etc/passwd", 0, size_field=size_field) + END
    with pytest.raises(LayerError, match="negative size"):
        analyze(MemoryImageSource([blob]))


def test_hostile_negative_pax_size_rejected() -> None:
    blob = pax_entry({"size": "-512"}, b"etc/passwd") + END
    with pytest.raises(LayerError, match="invalid number in the PAX header"):
        analyze(MemoryImageSource([blob]))


def test_hostile_gzip_trailing_garbage_ignored() -> None:
    blob = layer_bytes([file("etc/os-release", OS_RELEASE)]) + b"trailing garbage" * 100
    report = analyze(MemoryImageSource([blob]))
    assert report.distro is not None and report.distro.id == "debian"


def test_hostile_gzip_trailing_fake_member_rejected() -> None:
    blob = layer_bytes([file("etc/os-release", OS_RELEASE)]) + b"\x1f\x8bnot deflate data"
    with pytest.raises(LayerError, match="invalid gzip data"):
        analyze(MemoryImageSource([blob]))


def test_hostile_concatenated_gzip_members_read() -> None:
    content = tar_bytes([file("etc/os-release", OS_RELEASE), file("etc/passwd", PASSWD)])
    pieces = [content[start : start + 700] for start in range(0, len(content), 700)]
    blob = b"".join(gzip.compress(piece, mtime=0) for piece in pieces)
    report = analyze(MemoryImageSource([blob]))
    assert report.passwd == PASSWD
    assert report.distro is not None and report.distro.id == "debian"


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_hostile_truncated_layer_rejected(compress: bool) -> None:
    blob = layer_bytes([file("etc/passwd", PASSWD * 200)], compress=compress)
    cut = blob[: len(blob) // 2] if compress else blob[:700]
    with pytest.raises(LayerError, match="truncated"):
        analyze(MemoryImageSource([cut]))


def test_hostile_tar_header_checksum_rejected() -> None:
    block = bytearray(header(b"etc/passwd", 5))
    block[0:3] = b"xyz"
    with pytest.raises(LayerError, match="bad checksum"):
        analyze(MemoryImageSource([bytes(block) + padded(b"hello") + END]))


def _layout_with_replaced_layer(root: Path, compress: bool) -> None:
    writer = OciLayoutWriter(root)
    content = tar_bytes([file("etc/passwd", PASSWD)])
    descriptor = writer.add_image([(content, OCI_LAYER_GZIP if compress else OCI_LAYER)])
    writer.tag(descriptor, "hostile")
    manifest = json.loads(writer.blob_path(descriptor["digest"]).read_bytes())
    layer = writer.blob_path(manifest["layers"][0]["digest"])
    forged = tar_bytes([file("etc/passwd", PASSWD.replace("root", "evil"))])
    layer.write_bytes(gzip.compress(forged, mtime=0) if compress else forged)
    assert len(layer.read_bytes()) == manifest["layers"][0]["size"]


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "plain"])
def test_hostile_layer_digest_mismatch_raises(tmp_path: Path, compress: bool) -> None:
    _layout_with_replaced_layer(tmp_path, compress)

    def run() -> AnalysisReport:
        with OciLayoutSource(tmp_path, ref_name="hostile") as source:
            return analyze_image(source)

    with pytest.raises(DigestMismatchError, match="has digest sha256:"):
        sandboxed(run)


# --- Hostile archives and layout folders -------------------------------------------------------


def _docker_directory(root: Path, layer_name: str, layer: bytes | None) -> Path:
    """Write an extracted `docker save` folder whose one layer is at `layer_name`."""
    content = tar_bytes([file("etc/passwd", PASSWD)]) if layer is None else layer
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{'0' * 64}"]},
    }
    config_bytes = json.dumps(config).encode()
    (root / "config.json").write_bytes(config_bytes)
    manifest = [{"Config": "config.json", "RepoTags": ["x:1"], "Layers": [layer_name]}]
    (root / "manifest.json").write_text(json.dumps(manifest))
    if layer is not None:
        (root / "layer.tar").write_bytes(content)
    return root


def test_hostile_layout_symlink_outside_rejected(tmp_path: Path) -> None:
    outside = tmp_path / "outside.tar"
    outside.write_bytes(tar_bytes([file("etc/passwd", "host secret\n")]))
    root = tmp_path / "archive"
    root.mkdir()
    _docker_directory(root, "layer.tar", None)
    (root / "layer.tar").symlink_to(outside)
    with pytest.raises(BlobNotFoundError, match="links outside it"):
        sandboxed(lambda: DockerArchiveSource(root))


def test_hostile_layout_layer_name_climbs(tmp_path: Path) -> None:
    (tmp_path / "secret.tar").write_bytes(tar_bytes([file("etc/passwd", "host secret\n")]))
    root = tmp_path / "archive"
    root.mkdir()
    _docker_directory(root, "../secret.tar", b"")
    with pytest.raises(BlobNotFoundError, match="secret.tar is missing"):
        sandboxed(lambda: DockerArchiveSource(root))


def test_hostile_archive_with_too_many_members(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "many.tar"
    with tarfile.open(archive, "w") as writer:
        for index in range(300):
            info = tarfile.TarInfo(f"junk/{index}")
            writer.addfile(info, io.BytesIO(b""))
    monkeypatch.setattr(blobstore, "MAX_ARCHIVE_MEMBERS", 200)
    with pytest.raises(InvalidImageLayoutError, match="more than 200 members"):
        sandboxed(lambda: OciLayoutSource(archive))


# --- Malformed metadata ------------------------------------------------------------------------


def test_hostile_dpkg_status_binary_junk() -> None:
    junk = bytes(range(256)) * 4
    status = (
        b"Package: curl\nStatus: install ok installed\nVersion: 7.88.1-10\n\n"
        + junk
        + b"\n\nPackage: \xff\xfe\nVersion: \x00\x01\n\n"
    )
    report = analyze(image([file("var/lib/dpkg/status", status)]))
    assert [(package.name, package.version) for package in report.packages] == [
        ("curl", "7.88.1-10")
    ]
    assert problems(report)["/var/lib/dpkg/status"]


def test_hostile_dpkg_status_problems_capped() -> None:
    status = b"Package: curl\nVersion: 7.88.1-10\n\n" + b"junk\n\n" * 300_000
    report = analyze(image([file("var/lib/dpkg/status", status)]))
    assert [package.name for package in report.packages] == ["curl"]
    reasons = problems(report)["/var/lib/dpkg/status"]
    assert len(reasons) == MAX_UNKNOWNS_PER_FILE + 1
    assert reasons[-1] == f"more than {MAX_UNKNOWNS_PER_FILE} problems; the rest are not listed"


def test_hostile_apk_db_without_names() -> None:
    installed = "V:1.0-r0\nA:x86_64\n\nV:2.0-r0\nL:MIT\n\nP:musl\nV:1.2.3-r0\n"
    report = analyze(image([file("lib/apk/db/installed", installed)]))
    assert [package.name for package in report.packages] == ["musl"]
    reasons = problems(report)["/lib/apk/db/installed"]
    assert reasons == [
        "record at line 1: no package name (P:)",
        "record at line 4: no package name (P:)",
    ]


def test_hostile_python_metadata_not_utf8() -> None:
    metadata = b"Metadata-Version: 2.1\nName: s\xffx\nVersion: 1.0\nAuthor: \xe9l\xe8ve\n"
    location = "/usr/lib/python3/site-packages/six-1.0.dist-info"
    report = analyze(image([file(location.lstrip("/") + "/METADATA", metadata)]))
    [package] = report.packages
    assert (package.name, package.version) == ("s\ufffdx", "1.0")
    [reason] = problems(report)[location + "/METADATA"]
    assert reason.startswith("Python metadata is not valid UTF-8 at byte 29")


def test_hostile_python_metadata_utf8_author() -> None:
    metadata = "Name: six\nVersion: 1.0\nAuthor: Jürgen Müller\n".encode()
    location = "usr/lib/python3/site-packages/six-1.0.dist-info/METADATA"
    report = analyze(image([file(location, metadata)]))
    [package] = report.packages
    assert package.origin == "Jürgen Müller"
    assert report.problems == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "package.json is not valid JSON"),
        (b'["name", "version"]', "package.json is not a JSON object"),
        (b"\xff\xfe\x00junk", "package.json is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "failed: maximum recursion depth exceeded"),
    ],
    ids=["not-json", "array", "binary", "deep"],
)
def test_hostile_package_json_malformed(content: bytes, reason: str) -> None:
    location = "/app/node_modules/bad/package.json"
    report = analyze(image([file(location.lstrip("/"), content)]))
    assert report.packages == []
    [found] = problems(report)[location]
    assert reason in found


def test_hostile_package_json_lone_surrogate() -> None:
    content = b'{"name": "pad", "version": "1.0.0", "license": "MIT\\ud800"}'
    location = "/app/node_modules/pad/package.json"
    report = analyze(image([file(location.lstrip("/"), content)]))
    [package] = report.packages
    assert package.licenses == ["MIT?"]
    [reason] = problems(report)[location]
    assert "not valid Unicode" in reason


@pytest.mark.parametrize(
    "content",
    [b"\x00\xff\xfe junk \x1b[31m\n=\n==\nID\n", b"", b"PRETTY_NAME=x\n" * 1000],
    ids=["binary", "empty", "no-id"],
)
def test_hostile_os_release_junk(content: bytes) -> None:
    report = analyze(
        image([file("etc/os-release", content), file("etc/alpine-release", "3.19.1\n")])
    )
    assert report.distro is not None
    assert (report.distro.id, report.distro.version_id) == ("alpine", "3.19.1")
    assert problems(report)["/etc/os-release"] == ["os-release has no ID line"]
