"""Tests of layer reader results reused across images through a `LayerCache`."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from chalicelib.analysis import AnalysisOptions, MemoryLayerCache, analyze_image
from chalicelib.analysis.interface import AnalysisError, FileType, SecretMatch, Unknown
from chalicelib.analysis.layercache import (
    chain_key,
    decode_layer,
    encode_layer,
    selection_fingerprint,
)
from chalicelib.analysis.layers import LayerContents, LayerEntry
from chalicelib.analysis.options import SecretPattern
from chalicelib.store import Store
from chalicelib.store.layercache import StoreLayerCache
from tests.analysis.builders import (
    MemoryImageSource,
    directory,
    file,
    hardlink,
    layer_bytes,
    opaque,
    symlink,
    whiteout,
)

OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
PASSWD = "root:x:0:0:root:/root:/bin/bash\n"
SECRET = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
CURL = b"curl binary\n"
STATUS = (
    "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n\n"
    "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.88.1-10\n"
)
METADATA = "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\n"


def base_layer() -> bytes:
    return layer_bytes(
        [
            directory("etc"),
            file("usr/lib/os-release", OS_RELEASE),
            symlink("etc/os-release", "../usr/lib/os-release"),
            file("etc/passwd", PASSWD),
            file("var/lib/dpkg/status", STATUS),
            file("var/lib/dpkg/info/curl.list", "/usr/bin/curl\n"),
            file(
                "var/lib/dpkg/info/curl.md5sums",
                f"{hashlib.md5(CURL).hexdigest()}  usr/bin/curl\n",
            ),
            file("usr/bin/curl", CURL, mode=0o755),
            file("opt/old/readme", "old"),
            file("tmp/gone", "gone"),
        ]
    )


def app_layer(name: str) -> bytes:
    return layer_bytes(
        [
            file(f"app/{name}/.env", "# config\n" + SECRET),
            file("usr/lib/python3/dist-packages/requests-2.31.0.dist-info/METADATA", METADATA),
            hardlink(f"app/{name}/curl", "usr/bin/curl"),
            whiteout("tmp/gone"),
            opaque("opt/old"),
            file("opt/old/new", "new"),
        ]
    )


def test_layer_cache_reads_shared_base_once() -> None:
    base = base_layer()
    first = MemoryImageSource([base, app_layer("one")])
    second = MemoryImageSource([base, app_layer("two")])
    cache = MemoryLayerCache()

    analyze_image(first, layer_cache=cache)
    analyze_image(second, layer_cache=cache)

    base_digest = first.layers[0].digest
    assert first.opened == [base_digest, first.layers[1].digest]
    assert second.opened == [second.layers[1].digest]
    assert len(cache) == 3


def test_layer_cache_report_same_as_without_cache() -> None:
    base = base_layer()
    cache = MemoryLayerCache()
    analyze_image(MemoryImageSource([base, app_layer("one")]), layer_cache=cache)

    cold = analyze_image(MemoryImageSource([base, app_layer("two")]))
    warm_source = MemoryImageSource([base, app_layer("two")])
    warm = analyze_image(warm_source, layer_cache=cache)
    hot_source = MemoryImageSource([base, app_layer("two")])
    hot = analyze_image(hot_source, layer_cache=cache)

    assert len(warm_source.opened) == 1
    assert hot_source.opened == []
    assert warm.model_dump() == cold.model_dump()
    assert hot.model_dump() == cold.model_dump()


def test_layer_cache_report_keeps_cached_details() -> None:
    cache = MemoryLayerCache()
    source = MemoryImageSource([base_layer(), app_layer("one")])
    analyze_image(source, layer_cache=cache)
    report = analyze_image(MemoryImageSource([base_layer(), app_layer("one")]), layer_cache=cache)

    names = {package.name for package in report.packages}
    assert {"base-files", "curl", "requests"} <= names
    assert [secret.path for secret in report.secrets] == ["/app/one/.env"]
    paths = {entry.path: entry for entry in report.files}
    assert "/tmp/gone" not in paths
    assert "/opt/old/readme" not in paths
    assert paths["/app/one/curl"].sha256 == hashlib.sha256(CURL).hexdigest()
    assert paths["/app/one/curl"].layer_digest == source.layers[1].digest
    curl = [record for record in report.package_verification if record.package == "curl"]
    assert curl == [
        record
        for record in analyze_image(
            MemoryImageSource([base_layer(), app_layer("one")])
        ).package_verification
        if record.package == "curl"
    ]


def test_layer_cache_reads_layer_on_other_base() -> None:
    top = app_layer("one")
    other_base = layer_bytes([file("etc/passwd", PASSWD)])
    cache = MemoryLayerCache()
    analyze_image(MemoryImageSource([base_layer(), top]), layer_cache=cache)

    source = MemoryImageSource([other_base, top])
    analyze_image(source, layer_cache=cache)

    assert source.opened == [layer.digest for layer in source.layers]


def test_layer_cache_misses_after_options_change() -> None:
    cache = MemoryLayerCache()
    analyze_image(MemoryImageSource([base_layer()]), layer_cache=cache)
    options = AnalysisOptions(secret_patterns=(SecretPattern("TOKEN", r".*token=.*"),))

    source = MemoryImageSource([base_layer()])
    analyze_image(source, options=options, layer_cache=cache)

    assert source.opened == [source.layers[0].digest]


def test_layer_cache_rereads_damaged_entry() -> None:
    class DamagedCache(MemoryLayerCache):
        def get(self, key: str) -> bytes | None:
            return b"not zlib" if super().get(key) is not None else None

    cache = DamagedCache()
    analyze_image(MemoryImageSource([base_layer()]), layer_cache=cache)
    source = MemoryImageSource([base_layer()])

    report = analyze_image(source, layer_cache=cache)

    assert source.opened == [source.layers[0].digest]
    assert "curl" in {package.name for package in report.packages}


def test_layer_cache_failing_cache_is_a_miss() -> None:
    class FailingCache:
        def get(self, key: str) -> bytes | None:
            raise OSError("disk gone")

        def put(self, key: str, layer_digest: str, payload: bytes) -> None:
            raise OSError("disk gone")

    source = MemoryImageSource([base_layer()])
    report = analyze_image(source, layer_cache=FailingCache())

    assert source.opened == [source.layers[0].digest]
    assert "curl" in {package.name for package in report.packages}


def test_encode_layer_round_trip() -> None:
    contents = LayerContents(
        digest="sha256:abc",
        whiteouts=["/tmp/gone"],
        opaque_dirs=["/opt"],
        uncompressed_size=1234,
    )
    odd_name = "/data/caf\udce9"  # an undecodable byte of a tar entry name
    contents.entries = {
        "/etc": LayerEntry("/etc", FileType.DIR, 0o755, 0, 0, 0, None, None, "sha256:abc"),
        odd_name: LayerEntry(
            odd_name, FileType.FILE, 0o600, 1000, 1000, 3, "ab" * 32, None, "sha256:abc"
        ),
        "/bin/sh": LayerEntry(
            "/bin/sh", FileType.SYMLINK, 0o777, 0, 0, 0, None, "dash", "sha256:abc"
        ),
    }
    contents.kept = {"/etc/passwd": b"\x00\xffbinary"}
    contents.secrets = {
        "/.env": [SecretMatch(path="/.env", name="AWS_ACCESS_KEY", regex="x", lines=[2, 5])]
    }
    contents.unknowns = [Unknown(location="/x", reason="too big")]

    decoded = decode_layer(encode_layer(contents))

    assert decoded.digest == contents.digest
    assert list(decoded.entries) == list(contents.entries)
    for path, entry in contents.entries.items():
        assert [getattr(decoded.entries[path], slot) for slot in LayerEntry.__slots__] == [
            getattr(entry, slot) for slot in LayerEntry.__slots__
        ]
    assert decoded.kept == contents.kept
    assert decoded.secrets == contents.secrets
    assert decoded.unknowns == contents.unknowns
    assert decoded.whiteouts == contents.whiteouts
    assert decoded.opaque_dirs == contents.opaque_dirs
    assert decoded.uncompressed_size == 1234


@pytest.mark.parametrize(
    "payload",
    [b"junk", zlib.compress(b"[]"), zlib.compress(b'{"format": 99}'), zlib.compress(b"{")],
)
def test_decode_layer_rejects_damaged_payload(payload: bytes) -> None:
    with pytest.raises(AnalysisError, match="read again"):
        decode_layer(payload)


def test_chain_key_depends_on_lower_layers() -> None:
    fingerprint = selection_fingerprint((), (), AnalysisOptions())
    on_empty = chain_key(fingerprint, "", "sha256:top")
    on_base = chain_key(fingerprint, chain_key(fingerprint, "", "sha256:base"), "sha256:top")

    assert on_empty != on_base
    assert on_base == chain_key(
        fingerprint, chain_key(fingerprint, "", "sha256:base"), "sha256:top"
    )


def test_selection_fingerprint_changes_with_kept_paths() -> None:
    options = AnalysisOptions()

    assert selection_fingerprint((), ("/etc/passwd",), options) != selection_fingerprint(
        (), ("/etc/passwd", "/etc/group"), options
    )


def test_memory_layer_cache_drops_oldest_beyond_limit() -> None:
    cache = MemoryLayerCache(max_bytes=10)
    cache.put("a", "sha256:a", b"12345")
    cache.put("b", "sha256:b", b"12345")
    assert cache.get("a") == b"12345"

    cache.put("c", "sha256:c", b"12345")

    assert cache.get("b") is None
    assert cache.get("a") == b"12345"
    assert cache.get("c") == b"12345"


def test_memory_layer_cache_skips_payload_over_limit() -> None:
    cache = MemoryLayerCache(max_bytes=4)

    cache.put("a", "sha256:a", b"12345")

    assert cache.get("a") is None


def test_store_layer_cache_reads_shared_base_once(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    base = base_layer()
    analyze_image(MemoryImageSource([base, app_layer("one")]), layer_cache=StoreLayerCache(store))
    cold = analyze_image(MemoryImageSource([base, app_layer("two")]))

    source = MemoryImageSource([base, app_layer("two")])
    warm = analyze_image(source, layer_cache=StoreLayerCache(store))
    store.close()

    assert source.opened == [source.layers[1].digest]
    assert warm.model_dump() == cold.model_dump()


def test_store_layer_cache_keeps_first_row(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/store.db")
    store.migrate()
    cache = StoreLayerCache(store)

    cache.put("sha256:key", "sha256:layer", b"first")
    cache.put("sha256:key", "sha256:layer", b"second")

    assert cache.get("sha256:key") == b"first"
    assert cache.get("sha256:other") is None
    store.close()
