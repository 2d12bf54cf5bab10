"""Tests of the package verification data: files that dpkg and apk packages own, with digests."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import SUMMARY_PREFIX
from chalicelib.analysis.interface import AnalysisReport, PackageFileRecord, PackageType
from chalicelib.analysis.verify import SUMMARY_KEY, PackageDigestSummarizer, keeps_database
from tests.analysis.builders import file, image, symlink, tree_items, whiteout

DEBIAN = "acceptance-fixtures/syft/debian/testdata"
HELLO = b"\x7fELF hello 1.0"
README = b"hello readme\n"
CONF = b"greeting=hi\n"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def dpkg_layer(bin_dir: str = "usr/bin", extra_md5sums: str = "") -> list:
    status = (
        "Package: hello\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\n"
        f"Conffiles:\n /etc/hello.conf {md5(CONF)}\n /etc/old.conf {md5(b'x')} obsolete\n"
        "Description: greeter\n\n"
        "Package: gone\nStatus: deinstall ok config-files\nVersion: 2.0\n\n"
    )
    md5sums = f"{md5(HELLO)}  {bin_dir}/hello\n{md5(README)}  usr/share/doc/hello/README\n"
    md5sums += extra_md5sums
    return [
        file("etc/os-release", "ID=debian\nVERSION_ID=12\n"),
        file("var/lib/dpkg/status", status),
        file("usr/bin/hello", HELLO, mode=0o755),
        file("usr/share/doc/hello/README", README),
        file("etc/hello.conf", CONF),
        file("var/lib/dpkg/info/hello:amd64.md5sums", md5sums),
        file("var/lib/dpkg/info/gone.md5sums", f"{md5(b'g')}  usr/bin/gone\n"),
    ]


def records(report: AnalysisReport) -> dict[str, PackageFileRecord]:
    return {record.path: record for record in report.package_verification}


def test_verify_dpkg_unchanged_files() -> None:
    found = records(analyze_image(image(dpkg_layer())))
    assert sorted(found) == [
        "/etc/hello.conf",
        "/etc/old.conf",
        "/usr/bin/hello",
        "/usr/share/doc/hello/README",
    ]
    hello = found["/usr/bin/hello"]
    assert hello.package == "hello"
    assert hello.package_type is PackageType.DPKG
    assert (hello.digest, hello.digest_algorithm) == (md5(HELLO), "md5")
    assert hello.real_path == "/usr/bin/hello"
    assert hello.is_config_file is False
    # Written in the same layer as its md5sums file, so no MD5 was computed.
    assert hello.real_digest is None


def test_verify_dpkg_conffiles() -> None:
    found = records(analyze_image(image(dpkg_layer())))
    conf = found["/etc/hello.conf"]
    assert conf.is_config_file is True
    assert conf.digest == md5(CONF)
    assert conf.real_path == "/etc/hello.conf"
    assert found["/etc/old.conf"].real_path is None


def test_verify_dpkg_changed_in_later_layer() -> None:
    changed = b"\x7fELF hello patched"
    report = analyze_image(image(dpkg_layer(), [file("usr/bin/hello", changed, mode=0o755)]))
    hello = records(report)["/usr/bin/hello"]
    assert hello.digest == md5(HELLO)
    assert hello.real_digest == md5(changed)
    assert report.packages[0].name == "hello"


def test_verify_dpkg_rewritten_unchanged_in_later_layer() -> None:
    report = analyze_image(image(dpkg_layer(), [file("usr/bin/hello", HELLO, mode=0o755)]))
    hello = records(report)["/usr/bin/hello"]
    assert hello.real_digest == hello.digest


def test_verify_dpkg_missing_file() -> None:
    report = analyze_image(image(dpkg_layer(), [whiteout("usr/share/doc/hello/README")]))
    readme = records(report)["/usr/share/doc/hello/README"]
    assert readme.digest == md5(README)
    assert readme.real_path is None
    assert readme.real_digest is None


def test_verify_dpkg_merged_usr_paths() -> None:
    changed = b"\x7fELF hello 2"
    layer = [symlink("bin", "usr/bin"), *dpkg_layer(bin_dir="bin")]
    report = analyze_image(image(layer, [file("usr/bin/hello", changed, mode=0o755)]))
    hello = records(report)["/bin/hello"]
    assert hello.real_path == "/usr/bin/hello"
    assert hello.real_digest == md5(changed)


def test_verify_dpkg_kept_content_digested_in_same_layer() -> None:
    # dpkg's cataloger keeps copyright files, so their MD5 is known without a later layer.
    copyright_text = b"License: MIT\n"
    layer = dpkg_layer(extra_md5sums=f"{md5(b'other')}  usr/share/doc/hello/copyright\n")
    layer.append(file("usr/share/doc/hello/copyright", copyright_text))
    record = records(analyze_image(image(layer)))["/usr/share/doc/hello/copyright"]
    assert record.digest == md5(b"other")
    assert record.real_digest == md5(copyright_text)


def test_verify_dpkg_real_fixture(shared_dir: Path) -> None:
    items = tree_items(shared_dir / DEBIAN / "image-dpkg")
    report = analyze_image(image(items))
    [package] = report.packages
    assert package.name == "libpam-runtime"
    found = records(report)
    assert found["/lib/x86_64-linux-gnu/libz.so.1.2.11"].digest == (
        "55f905631797551d4d936a34c7e73474"
    )
    assert found["/lib/x86_64-linux-gnu/libz.so.1.2.11"].real_path is None
    assert found["/etc/pam.conf"].is_config_file is True
    assert found["/etc/pam.conf"].digest == "87fc76f18e98ee7d3848f6b81b3391e5"
    assert found["/etc/pam.d/other"].digest == "31aa7f2181889ffb00b87df4126d1701"
    # Four md5sums lines and two conffiles.
    assert len(found) == 6


def test_verify_dpkg_distroless_fixture(shared_dir: Path) -> None:
    items = tree_items(shared_dir / DEBIAN / "image-distroless-deb")
    report = analyze_image(image(items))
    found = records(report)
    record = found["/usr/share/doc/libsqlite3-0/README.Debian"]
    assert record.package == "libsqlite3-0"
    assert record.digest == "9d8facc2fa9d2df52f1c7cb4e5fa4741"
    assert "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6" in found


def apk_checksum(data: bytes) -> str:
    return "Q1" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def apk_layer(busybox: bytes) -> list:
    installed = (
        "P:busybox\nV:1.36.1-r2\nA:x86_64\n"
        "F:bin\n"
        f"R:busybox\na:0:0:755\nZ:{apk_checksum(busybox)}\n"
        "R:sh\na:0:0:777\nZ:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=\n"
        "F:etc\n"
        f"R:motd\nZ:{apk_checksum(b'welcome')}\n"
        "\n"
        "P:other\nV:1\n"
        "F:usr/lib\n"
        "R:bad\nZ:not-a-checksum\n"
    )
    return [
        file("etc/os-release", "ID=alpine\nVERSION_ID=3.19.0\n"),
        file("lib/apk/db/installed", installed),
        file("bin/busybox", busybox, mode=0o755),
        symlink("bin/sh", "/bin/busybox"),
        file("etc/motd", b"welcome"),
    ]


def test_verify_apk_records() -> None:
    busybox = b"\x7fELF busybox"
    found = records(analyze_image(image(apk_layer(busybox))))
    record = found["/bin/busybox"]
    assert record.package == "busybox"
    assert record.package_type is PackageType.APK
    assert (record.digest, record.digest_algorithm) == (sha1(busybox), "sha1")
    assert record.mode == 0o755
    assert found["/bin/sh"].real_path == "/bin/sh"
    assert found["/bin/sh"].real_digest is None
    assert found["/etc/motd"].mode is None
    assert found["/usr/lib/bad"].digest is None
    assert found["/usr/lib/bad"].digest_algorithm is None
    assert found["/usr/lib/bad"].real_path is None


def test_verify_apk_changed_in_later_layer() -> None:
    busybox = b"\x7fELF busybox"
    changed = b"\x7fELF busybox trojan"
    report = analyze_image(image(apk_layer(busybox), [file("bin/busybox", changed, mode=0o4755)]))
    record = records(report)["/bin/busybox"]
    assert record.digest == sha1(busybox)
    assert record.real_digest == sha1(changed)
    entry = next(entry for entry in report.files if entry.path == "/bin/busybox")
    assert entry.mode & 0o7777 == 0o4755


def test_verify_records_only_found_packages() -> None:
    report = analyze_image(image(dpkg_layer()))
    assert {record.package for record in report.package_verification} == {"hello"}


def test_verify_keeps_database() -> None:
    assert keeps_database("/var/lib/dpkg/info/zlib1g:amd64.md5sums")
    assert not keeps_database("/var/lib/dpkg/info/zlib1g:amd64.list")
    assert not keeps_database("/usr/share/doc/x.md5sums")


class _Inner:
    """A stand-in for the catalogers' summarizer that wants executables only."""

    max_size = 100

    def wants(self, path: str, mode: int, size: int) -> bool:
        return bool(mode & 0o111)

    def __call__(self, path: str, content: bytes) -> bytes | None:
        return SUMMARY_PREFIX + json.dumps({"go-cataloger": {"size": len(content)}}).encode()


def test_digest_summarizer_merges_summaries() -> None:
    summarizer = PackageDigestSummarizer(_Inner(), 100)  # type: ignore[arg-type]
    summarizer.expected["/usr/bin/tool"] = "md5"
    assert summarizer.wants("/usr/bin/tool", 0o755, 10)
    summary = summarizer(path="/usr/bin/tool", content=b"tool")
    assert summary is not None
    assert json.loads(summary[len(SUMMARY_PREFIX) :]) == {
        "go-cataloger": {"size": 4},
        SUMMARY_KEY: {"md5": md5(b"tool")},
    }


def test_digest_summarizer_skips_inner_for_plain_files() -> None:
    summarizer = PackageDigestSummarizer(_Inner(), 100)  # type: ignore[arg-type]
    summarizer.expected["/etc/conf"] = "sha1"
    assert summarizer.wants("/etc/conf", 0o644, 10)
    summary = summarizer("/etc/conf", b"data")
    assert summary is not None
    assert json.loads(summary[len(SUMMARY_PREFIX) :]) == {SUMMARY_KEY: {"sha1": sha1(b"data")}}


def test_digest_summarizer_size_limit_and_unlisted() -> None:
    summarizer = PackageDigestSummarizer(_Inner(), 100)  # type: ignore[arg-type]
    summarizer.expected["/etc/conf"] = "md5"
    assert not summarizer.wants("/etc/conf", 0o644, 101)
    assert not summarizer.wants("/etc/other", 0o644, 10)
    assert summarizer.wants("/usr/bin/x", 0o755, 10)
    summary = summarizer("/usr/bin/x", b"x")
    assert summary is not None
    assert SUMMARY_KEY.encode() not in summary
