"""Tests of the package verification data: files that dpkg and apk packages own, with digests."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.catalog import SUMMARY_PREFIX
from chalicelib.analysis.interface import AnalysisReport, PackageFileRecord, PackageType
from chalicelib.analysis.verify import SUMMARY_KEY, PackageDigestSummarizer, keeps_database
from chalicelib.registry.archive import OciLayoutSource
from tests.analysis.builders import file, image, symlink, tree_items, whiteout
from tools.imagebuild import (
    DEFAULT_CACHE_DIR,
    DpkgDatabase,
    ImageBuilder,
    fetch_debs,
    run_step,
)

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


def test_verify_dpkg_unchanged_files_left_out() -> None:
    # Only the obsolete conffile, which the image lacks, differs from the database.
    found = records(analyze_image(image(dpkg_layer())))
    assert sorted(found) == ["/etc/old.conf"]
    old = found["/etc/old.conf"]
    assert old.package == "hello"
    assert old.package_type is PackageType.DPKG
    assert old.is_config_file is True
    assert (old.digest, old.digest_algorithm) == (md5(b"x"), "md5")
    assert old.real_path is None
    assert old.real_digest is None


def test_verify_dpkg_changed_in_later_layer() -> None:
    changed = b"\x7fELF hello patched"
    report = analyze_image(image(dpkg_layer(), [file("usr/bin/hello", changed, mode=0o755)]))
    hello = records(report)["/usr/bin/hello"]
    assert hello.package == "hello"
    assert hello.is_config_file is False
    assert (hello.digest, hello.digest_algorithm) == (md5(HELLO), "md5")
    assert hello.real_path == "/usr/bin/hello"
    assert hello.real_digest == md5(changed)
    assert [package.name for package in report.packages] == ["hello"]


def test_verify_dpkg_changed_conffile() -> None:
    report = analyze_image(image(dpkg_layer(), [file("etc/hello.conf", b"greeting=yo\n")]))
    conf = records(report)["/etc/hello.conf"]
    assert conf.is_config_file is True
    assert conf.digest == md5(CONF)
    assert conf.real_digest == md5(b"greeting=yo\n")


def test_verify_dpkg_rewritten_unchanged_left_out() -> None:
    report = analyze_image(image(dpkg_layer(), [file("usr/bin/hello", HELLO, mode=0o755)]))
    assert "/usr/bin/hello" not in records(report)


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
    assert found["/etc/pam.conf"].real_path is None
    assert found["/etc/pam.conf"].digest == "87fc76f18e98ee7d3848f6b81b3391e5"
    assert found["/etc/pam.d/other"].digest == "31aa7f2181889ffb00b87df4126d1701"
    # The fixture has none of the files: four md5sums lines and two conffiles.
    assert len(found) == 6


def test_verify_dpkg_distroless_fixture(shared_dir: Path) -> None:
    items = tree_items(shared_dir / DEBIAN / "image-distroless-deb")
    report = analyze_image(image(items))
    found = records(report)
    record = found["/usr/share/doc/libsqlite3-0/README.Debian"]
    assert record.package == "libsqlite3-0"
    assert record.digest == "9d8facc2fa9d2df52f1c7cb4e5fa4741"
    assert record.real_path is None
    assert "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0.8.6" in found
    # The fixture keeps the copyright file, and the md5sums file does not list it.
    assert "/usr/share/doc/libsqlite3-0/copyright" not in found


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


def test_verify_apk_unchanged_left_out() -> None:
    # Only the file that the image lacks is recorded; its `Z:` value is not a checksum.
    found = records(analyze_image(image(apk_layer(b"\x7fELF busybox"))))
    assert sorted(found) == ["/usr/lib/bad"]
    bad = found["/usr/lib/bad"]
    assert bad.package == "other"
    assert bad.package_type is PackageType.APK
    assert bad.digest is None
    assert bad.digest_algorithm is None
    assert bad.real_path is None


def test_verify_apk_changed_in_later_layer() -> None:
    busybox = b"\x7fELF busybox"
    changed = b"\x7fELF busybox trojan"
    report = analyze_image(image(apk_layer(busybox), [file("bin/busybox", changed, mode=0o755)]))
    record = records(report)["/bin/busybox"]
    assert (record.digest, record.digest_algorithm) == (sha1(busybox), "sha1")
    assert record.real_digest == sha1(changed)
    assert record.mode == 0o755


def test_verify_apk_mode_changed() -> None:
    busybox = b"\x7fELF busybox"
    report = analyze_image(image(apk_layer(busybox), [file("bin/busybox", busybox, mode=0o4755)]))
    record = records(report)["/bin/busybox"]
    assert record.real_digest == record.digest
    assert record.mode == 0o755
    entry = next(entry for entry in report.files if entry.path == "/bin/busybox")
    assert entry.mode & 0o7777 == 0o4755


def test_verify_records_only_found_packages() -> None:
    # `gone` is in config-files state, so its missing /usr/bin/gone is not reported.
    report = analyze_image(image(dpkg_layer()))
    assert {record.path for record in report.package_verification} == {"/etc/old.conf"}


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


REAL_DEBS = ["base-files", "dash", "zlib1g", "coreutils"]


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> AnalysisReport:
    """Analyze real .debs installed in one layer, with a later layer that patches two files."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed; tools/install-test-deps.sh installs it")
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(REAL_DEBS, DEFAULT_CACHE_DIR))
    patch = builder.add_layer(run_step("sed -i s/a/b/ /usr/bin/ls /etc/debian_version"))
    patch.add_file("/usr/bin/ls", b"\x7fELF not the real ls", mode=0o755)
    patch.add_file("/etc/debian_version", b"13.0\n")
    layout = tmp_path_factory.mktemp("verify") / "layout"
    builder.write_oci_layout(layout, "latest")
    with OciLayoutSource(layout, ref_name="latest") as source:
        return analyze_image(source)


def test_verify_real_debs_patched_binary(real_report: AnalysisReport) -> None:
    found = records(real_report)
    ls = found.get("/bin/ls") or found["/usr/bin/ls"]
    assert ls.package == "coreutils"
    assert ls.real_path == "/usr/bin/ls"
    assert ls.real_digest == md5(b"\x7fELF not the real ls")
    assert ls.digest != ls.real_digest


def test_verify_real_debs_patched_conffile(real_report: AnalysisReport) -> None:
    record = records(real_report)["/etc/debian_version"]
    assert record.package == "base-files"
    assert record.is_config_file is True
    # The conffile's MD5 was recorded at install time, from the .deb's own content.
    assert record.digest is not None
    assert record.real_digest == md5(b"13.0\n")


def test_verify_real_debs_only_patched_files(real_report: AnalysisReport) -> None:
    # Every other file is present, and the kept copyright files match their recorded MD5.
    paths = sorted(record.real_path or "" for record in real_report.package_verification)
    assert paths == ["/etc/debian_version", "/usr/bin/ls"]
