"""Tests of the packages gate's verify trigger: package files that are gone or changed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from chalicelib.analysis import analyze_image
from chalicelib.analysis.interface import (
    AnalysisReport,
    FileEntry,
    FileType,
    Package,
    PackageFileRecord,
    PackageType,
)
from chalicelib.policy import evaluate_bundle
from chalicelib.policy.explain import PackageCause, PackageFileCause
from chalicelib.policy.gate import Firing, default_trigger_id
from chalicelib.policy.interface import ImageFacts
from chalicelib.registry.archive import OciLayoutSource
from tests.policy.factories import (
    IMAGE_DIGEST,
    IMAGE_ID,
    NOW,
    fire,
    make_bundle,
    make_facts,
    make_rule,
)
from tools.imagebuild import DEFAULT_CACHE_DIR, DpkgDatabase, ImageBuilder, fetch_debs, run_step

BASE_LAYER = "sha256:" + "1" * 64
PATCH_LAYER = "sha256:" + "2" * 64


def message(package: str, path: str, status: str) -> str:
    return (
        f"VERIFY check against package db for package '{package}' failed on entry '{path}' "
        f"with status: '{status}'"
    )


def verify(facts: ImageFacts, **params: str) -> list[Firing]:
    return fire("packages", "verify", params, facts)


def verify_messages(facts: ImageFacts, **params: str) -> list[str]:
    return [firing.message for firing in verify(facts, **params)]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dpkg(name: str) -> Package:
    return Package(
        name=name,
        version="1.0-1",
        type=PackageType.DPKG,
        location="/var/lib/dpkg/status",
        layer_digest=BASE_LAYER,
    )


def record(package: str, path: str, **fields: Any) -> PackageFileRecord:
    values: dict[str, Any] = {
        "package": package,
        "package_type": PackageType.DPKG,
        "path": path,
        "digest": "0" * 32,
        "digest_algorithm": "md5",
        "real_path": path,
        "real_digest": "f" * 32,
    }
    values.update(fields)
    return PackageFileRecord(**values)


def entry(path: str, **fields: Any) -> FileEntry:
    values: dict[str, Any] = {
        "path": path,
        "type": FileType.FILE,
        "mode": 0o644,
        "layer_digest": PATCH_LAYER,
    }
    values.update(fields)
    return FileEntry(**values)


DPKG_FACTS = make_facts(
    {
        "packages": [dpkg("coreutils"), dpkg("base-files"), dpkg("libc6")],
        "files": [entry("/usr/bin/ls", mode=0o755), entry("/etc/debian_version")],
        "package_verification": [
            record("base-files", "/etc/debian_version", is_config_file=True),
            record(
                "base-files", "/etc/issue", is_config_file=True, real_path=None, real_digest=None
            ),
            record("coreutils", "/usr/bin/ls"),
            record("coreutils", "/usr/share/man/man1/ls.1.gz", real_path=None, real_digest=None),
            record("libc6", "/usrlocal/lib/libc.so.6", real_path=None, real_digest=None),
        ],
    }
)


def test_verify_dpkg_changed_and_missing_messages() -> None:
    # Rows follow the package order of the analysis, then the order of each package's files.
    assert verify_messages(DPKG_FACTS) == [
        message("coreutils", "/usr/bin/ls", "changed"),
        message("coreutils", "/usr/share/man/man1/ls.1.gz", "missing"),
        message("base-files", "/etc/issue", "missing"),
        message("libc6", "/usrlocal/lib/libc.so.6", "missing"),
    ]


def test_verify_changed_config_file_skipped() -> None:
    # A changed conffile is expected, but a missing one is reported, as Anchore does.
    found = verify_messages(DPKG_FACTS, only_packages="base-files")
    assert found == [message("base-files", "/etc/issue", "missing")]


def test_verify_check_changed_only() -> None:
    assert verify_messages(DPKG_FACTS, check="changed") == [
        message("coreutils", "/usr/bin/ls", "changed")
    ]


def test_verify_check_missing_only() -> None:
    found = verify_messages(DPKG_FACTS, check="missing")
    assert message("coreutils", "/usr/bin/ls", "changed") not in found
    assert len(found) == 3


def test_verify_only_packages_list() -> None:
    found = verify_messages(DPKG_FACTS, only_packages="libc6, coreutils")
    assert found == [
        message("coreutils", "/usr/bin/ls", "changed"),
        message("coreutils", "/usr/share/man/man1/ls.1.gz", "missing"),
        message("libc6", "/usrlocal/lib/libc.so.6", "missing"),
    ]


def test_verify_only_packages_unknown_name() -> None:
    assert verify_messages(DPKG_FACTS, only_packages="openssl") == []


def test_verify_only_directories_plain_prefix() -> None:
    # Prefixes are plain string prefixes, as in Anchore: `/usr` also selects `/usrlocal`.
    found = verify_messages(DPKG_FACTS, only_directories="/usr")
    assert found == [
        message("coreutils", "/usr/bin/ls", "changed"),
        message("coreutils", "/usr/share/man/man1/ls.1.gz", "missing"),
        message("libc6", "/usrlocal/lib/libc.so.6", "missing"),
    ]


def test_verify_only_directories_several() -> None:
    found = verify_messages(DPKG_FACTS, only_directories="/etc,/usr/share/")
    assert found == [
        message("coreutils", "/usr/share/man/man1/ls.1.gz", "missing"),
        message("base-files", "/etc/issue", "missing"),
    ]


def test_verify_all_parameters_combined() -> None:
    params = {"only_packages": "coreutils", "only_directories": "/usr/bin", "check": "changed"}
    assert verify_messages(DPKG_FACTS, **params) == [message("coreutils", "/usr/bin/ls", "changed")]
    assert verify_messages(DPKG_FACTS, **{**params, "check": "missing"}) == []


def test_verify_changed_causes_name_package_and_layer() -> None:
    [firing] = verify(DPKG_FACTS, check="changed")
    package, file = firing.causes
    assert isinstance(package, PackageCause)
    assert package.name == "coreutils"
    assert package.layer_digest == BASE_LAYER
    assert isinstance(file, PackageFileCause)
    assert file.path == "/usr/bin/ls"
    assert file.status == "changed"
    assert file.digest_algorithm == "md5"
    assert file.expected_digest == "0" * 32
    assert file.real_digest == "f" * 32
    assert file.real_path == "/usr/bin/ls"
    assert file.layer_digest == PATCH_LAYER
    assert file.to_json()["kind"] == "package_file"


def test_verify_missing_cause_has_no_layer() -> None:
    firing = verify(DPKG_FACTS, only_packages="libc6")[0]
    file = firing.causes[1]
    assert isinstance(file, PackageFileCause)
    assert file.status == "missing"
    assert file.real_path is None
    assert file.real_digest is None
    assert file.layer_digest is None


def test_verify_apk_mode_change() -> None:
    facts = make_facts(
        {
            "packages": [
                Package(
                    name="busybox",
                    version="1.36.1-r2",
                    type=PackageType.APK,
                    location="/lib/apk/db/installed",
                )
            ],
            "files": [entry("/bin/busybox", mode=0o4755)],
            "package_verification": [
                record(
                    "busybox",
                    "/bin/busybox",
                    package_type=PackageType.APK,
                    digest="a" * 40,
                    digest_algorithm="sha1",
                    real_digest="a" * 40,
                    mode=0o755,
                )
            ],
        }
    )
    [firing] = verify(facts)
    assert firing.message == message("busybox", "/bin/busybox", "changed")
    cause = firing.causes[1]
    assert isinstance(cause, PackageFileCause)
    assert cause.expected_mode == 0o755


def test_verify_ignores_records_of_absent_packages() -> None:
    facts = make_facts(
        {
            "packages": [dpkg("coreutils")],
            "package_verification": [record("gone", "/usr/bin/gone", real_path=None)],
        }
    )
    assert verify_messages(facts) == []


def test_verify_nothing_without_packages() -> None:
    assert verify_messages(make_facts()) == []


BINARY = b"\x7fELF rpm binary"
CONFIG = b"key=value\n"
RPM_FILES = [
    "/usr",
    "/usr/bin",
    "/usr/bin/tool",
    "/usr/bin/resized",
    "/usr/bin/chmodded",
    "/usr/share/tool",
    "/usr/share/tool/gone.txt",
    "/usr/lib/tool.so",
    "/etc/tool.conf",
    "/etc/tool-gone.conf",
]


def rpm_package(algorithm: str = "sha256", digest: str | None = None) -> Package:
    binary_digest = digest if digest is not None else sha256(BINARY)
    return Package(
        name="tool",
        version="1.0-1.el9",
        type=PackageType.RPM,
        location="/var/lib/rpm/rpmdb.sqlite",
        layer_digest=BASE_LAYER,
        files=RPM_FILES,
        metadata={
            "file_digest_algorithm": algorithm,
            "file_digests": [
                "",
                "",
                binary_digest,
                binary_digest,
                binary_digest,
                "",
                sha256(b"gone"),
                "",
                sha256(CONFIG),
                sha256(CONFIG),
            ],
            "file_modes": [
                0o40755,
                0o40755,
                0o100755,
                0o100755,
                0o100755,
                0o40700,
                0o100644,
                0o120777,
                0o100644,
                0o100644,
            ],
            "file_sizes": [0, 0, len(BINARY), len(BINARY), len(BINARY), 0, 4, 7, 10, 10],
            "config_files": ["/etc/tool.conf", "/etc/tool-gone.conf"],
        },
    )


def rpm_facts(package: Package, tool: bytes = BINARY) -> ImageFacts:
    # `/usr` and `/usr/bin` have no tar entry of their own, as in layers that omit parents.
    files = [
        entry("/usr/bin/tool", mode=0o755, size=len(tool), sha256=sha256(tool)),
        entry("/usr/bin/resized", mode=0o755, size=len(BINARY) + 1, sha256=None),
        entry("/usr/bin/chmodded", mode=0o4755, size=len(BINARY), sha256=sha256(BINARY)),
        entry("/usr/share/tool", type=FileType.DIR, mode=0o755),
        entry("/usr/lib/tool.so", type=FileType.SYMLINK, mode=0o777, link_target="x"),
        entry("/etc/tool.conf", size=3, sha256=sha256(b"k=v")),
    ]
    return make_facts({"packages": [package], "files": files})


def test_verify_rpm_sha256_changes() -> None:
    facts = rpm_facts(rpm_package(), tool=b"\x7fELF patched binary")
    assert verify_messages(facts) == [
        message("tool", "/usr/bin/tool", "changed"),
        message("tool", "/usr/bin/resized", "changed"),
        message("tool", "/usr/bin/chmodded", "changed"),
        message("tool", "/usr/share/tool", "changed"),
        message("tool", "/usr/share/tool/gone.txt", "missing"),
        message("tool", "/etc/tool-gone.conf", "missing"),
    ]


def test_verify_rpm_unchanged_binary_not_reported() -> None:
    found = verify_messages(rpm_facts(rpm_package()), only_directories="/usr/bin/tool")
    assert found == []


def test_verify_rpm_changed_cause() -> None:
    facts = rpm_facts(rpm_package(), tool=b"\x7fELF patched binary")
    firing = verify(facts, only_directories="/usr/bin/tool")[0]
    cause = firing.causes[1]
    assert isinstance(cause, PackageFileCause)
    assert cause.digest_algorithm == "sha256"
    assert cause.expected_digest == sha256(BINARY)
    assert cause.real_digest == sha256(b"\x7fELF patched binary")
    assert cause.expected_mode == 0o755
    assert cause.layer_digest == PATCH_LAYER


def test_verify_rpm_md5_compares_size_and_mode() -> None:
    # The analysis has no MD5 of the files, so a same-size edit goes unseen.
    package = rpm_package(algorithm="md5", digest="1" * 32)
    found = verify_messages(rpm_facts(package, tool=b"\x7fELF rpm BINARY"), check="changed")
    assert found == [
        message("tool", "/usr/bin/resized", "changed"),
        message("tool", "/usr/bin/chmodded", "changed"),
        message("tool", "/usr/share/tool", "changed"),
    ]


def test_verify_rpm_not_installed_files_skipped() -> None:
    package = rpm_package()
    package.metadata["not_installed_files"] = ["/usr/share/tool/gone.txt", "/usr/bin/resized"]
    found = verify_messages(rpm_facts(package))
    assert found == [
        message("tool", "/usr/bin/chmodded", "changed"),
        message("tool", "/usr/share/tool", "changed"),
        message("tool", "/etc/tool-gone.conf", "missing"),
    ]


def test_verify_rpm_columns_of_wrong_length_ignored() -> None:
    package = rpm_package()
    package.metadata["file_digests"] = ["x"]
    package.metadata["file_sizes"] = []
    found = verify_messages(rpm_facts(package, tool=b"\x7fELF patched binary"))
    assert message("tool", "/usr/bin/tool", "changed") not in found
    assert message("tool", "/usr/bin/chmodded", "changed") in found


REAL_DEBS = ["base-files", "dash", "zlib1g", "coreutils"]
PATCHED_DASH = b"\x7fELF not the real dash"


@pytest.fixture(scope="module")
def real_facts(tmp_path_factory: pytest.TempPathFactory) -> ImageFacts:
    """Analyze real .debs, with a later layer that patches two files and deletes a third."""
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed; tools/install-test-deps.sh installs it")
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(REAL_DEBS, DEFAULT_CACHE_DIR))
    patch = builder.add_layer(run_step("patch dash and the Debian version, remove a man page"))
    patch.add_file("/usr/bin/dash", PATCHED_DASH, mode=0o755)
    patch.add_file("/etc/debian_version", b"13.0\n")
    patch.add_whiteout("/usr/share/man/man1/dash.1.gz")
    layout = tmp_path_factory.mktemp("verify-gate") / "layout"
    builder.write_oci_layout(layout, "latest")
    with OciLayoutSource(layout, ref_name="latest") as source:
        report: AnalysisReport = analyze_image(source)
    return ImageFacts(image_digest=IMAGE_DIGEST, image_id=IMAGE_ID, analysis=report)


def test_verify_real_debs_changed_and_missing(real_facts: ImageFacts) -> None:
    firings = verify(real_facts)
    found = [firing.message for firing in firings]
    # dash's md5sums lists `bin/dash`, which `/bin -> usr/bin` resolves to `/usr/bin/dash`.
    assert found == [
        message("dash", "/bin/dash", "changed"),
        message("dash", "/usr/share/man/man1/dash.1.gz", "missing"),
    ]
    changed = firings[0].causes[1]
    assert isinstance(changed, PackageFileCause)
    assert changed.real_path == "/usr/bin/dash"
    assert changed.real_digest == hashlib.md5(PATCHED_DASH).hexdigest()
    assert changed.layer_digest == real_facts.analysis.layers[-1].digest


def test_verify_real_debs_check_filters(real_facts: ImageFacts) -> None:
    assert [f.message for f in verify(real_facts, check="missing")] == [
        message("dash", "/usr/share/man/man1/dash.1.gz", "missing")
    ]
    assert verify(real_facts, only_packages="base-files,coreutils") == []
    assert len(verify(real_facts, only_directories="/usr/share/man")) == 1


def test_verify_real_debs_no_patch_layer_fires_nothing(tmp_path: Path) -> None:
    if shutil.which("apt-get") is None:
        pytest.skip("apt-get is not installed; tools/install-test-deps.sh installs it")
    builder = ImageBuilder()
    DpkgDatabase().install(builder.add_layer(), fetch_debs(REAL_DEBS, DEFAULT_CACHE_DIR))
    builder.write_oci_layout(tmp_path / "layout", "latest")
    with OciLayoutSource(tmp_path / "layout", ref_name="latest") as source:
        report = analyze_image(source)
    facts = ImageFacts(image_digest=IMAGE_DIGEST, image_id=IMAGE_ID, analysis=report)
    assert verify(facts) == []


def test_verify_rows_explained_and_whitelisted() -> None:
    changed = message("coreutils", "/usr/bin/ls", "changed")
    changed_id = default_trigger_id("packages", "verify", changed)
    bundle = make_bundle(
        [make_rule("packages", "verify", {"only_packages": "coreutils"}, rule_id="r-verify")],
        whitelist_items=[{"id": "w-ls", "gate": "packages", "trigger_id": changed_id}],
    )

    document = evaluate_bundle(bundle, DPKG_FACTS, "docker.io/library/app:1", now=NOW)

    rows = document["result"][IMAGE_ID]["result"]["rows"]
    missing = message("coreutils", "/usr/share/man/man1/ls.1.gz", "missing")
    assert [row[2] for row in rows] == [
        changed_id,
        default_trigger_id("packages", "verify", missing),
    ]
    assert [row[6] for row in rows] == ["go", "stop"]
    assert rows[0][7]["matched_rule_id"] == "w-ls"
    assert rows[1][7] is False
    [first, second] = document["explanations"]
    assert first["causes"][1]["kind"] == "package_file"
    assert first["causes"][1]["layer_digest"] == PATCH_LAYER
    assert second["causes"][0] == {
        "kind": "package",
        "name": "coreutils",
        "version": "1.0-1",
        "type": "dpkg",
        "location": "/var/lib/dpkg/status",
        "layer_digest": BASE_LAYER,
    }
    assert second["causes"][1]["status"] == "missing"
