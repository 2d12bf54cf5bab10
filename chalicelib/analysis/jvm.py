"""JVM installation cataloger: the `release` file at the top of a JDK or JRE.

OpenJDK builds (Temurin, Corretto, Zulu, Debian's and others) and Oracle's JDK write `KEY="value"`
lines such as `JAVA_VERSION="21.0.4"` and `IMPLEMENTOR="Eclipse Adoptium"` to `release` in the
installation directory. As in Syft 1.18.1's `java-jvm-cataloger`, every file named `release`
is read. Each one with `JAVA_VERSION` or `JAVA_RUNTIME_VERSION` becomes a package of type
`binary`, named `openjdk`, `jdk`, `jre` or `zulu`. Syft drops that package when an OS package
owns the `release` file, as Debian's `openjdk-17-jre-headless` does, and so does
`binary.exclude_owned_binaries`.
"""

from __future__ import annotations

import json
import logging
import posixpath

from packageurl import PackageURL

from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.cpe import ANY, bind_component
from chalicelib.analysis.interface import Package, PackageType

logger = logging.getLogger(__name__)

SUMMARY_PATTERNS = ("**/release",)
MAX_RELEASE_SIZE = 500 * 1024
"""Bytes of a `release` file that are read, the amount Syft 1.18.1 reads. The files of
Debian's and Temurin's JDKs are 1 to 3 KB."""

RELEASE_FIELDS = (
    "IMPLEMENTOR",
    "IMPLEMENTOR_VERSION",
    "JAVA_RUNTIME_VERSION",
    "JAVA_VERSION",
    "JAVA_VERSION_DATE",
    "LIBC",
    "MODULES",
    "OS_ARCH",
    "OS_NAME",
    "OS_VERSION",
    "SOURCE",
    "BUILD_SOURCE",
    "BUILD_SOURCE_REPO",
    "SOURCE_REPO",
    "FULL_VERSION",
    "SEMANTIC_VERSION",
    "BUILD_INFO",
    "JVM_VARIANT",
    "JVM_VERSION",
    "IMAGE_TYPE",
    "BUILD_TYPE",
)
"""Fields of a `release` file that Syft 1.18.1 keeps. It ignores the others."""


def parse_release_fields(text: str) -> dict[str, str] | None:
    """Return the `RELEASE_FIELDS` of a `release` file, or None when it describes no JVM.

    Each `KEY=value` line gives a field, with the double quotes around the value removed. A file
    with neither `JAVA_VERSION` nor `JAVA_RUNTIME_VERSION` is not a JVM's `release` file.
    """
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator and key in RELEASE_FIELDS:
            fields[key] = value.strip('"')
    if "JAVA_VERSION" not in fields and "JAVA_RUNTIME_VERSION" not in fields:
        return None
    return fields


def summarize_jvm_release(path: str, content: bytes) -> dict[str, str] | None:
    """Summarize a file named `release` for `parse_jvm_release`: its fields, or None.

    The summarizer offers every executable too, so other names are rejected before decoding.
    """
    if posixpath.basename(path) != "release":
        return None
    text = content[:MAX_RELEASE_SIZE].decode("utf-8", errors="replace")
    return parse_release_fields(text)


def parse_jvm_release(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Catalog the JVM installation whose `release` file is at `location`.

    `content` is a summary from `summarize_jvm_release` after `SUMMARY_PREFIX`, or a whole file.
    The package lists the files of the installation directory, and a `bin/javac` among them
    makes it a JDK.
    """
    result = ParseResult()
    if content.startswith(SUMMARY_PREFIX):
        fields = json.loads(content[len(SUMMARY_PREFIX) :])
    else:
        fields = summarize_jvm_release(location, content)
    if not fields:
        return result

    files = context.list_files(posixpath.dirname(location))
    has_jdk = any(path.endswith("bin/javac") for path in files)
    version = jvm_version(fields)
    vendor, product = vendor_and_product(fields.get("IMPLEMENTOR", ""), location, fields, has_jdk)
    repository = fields.get("SOURCE_REPO") or fields.get("BUILD_SOURCE_REPO")
    release: dict[str, object] = dict(fields)
    if "MODULES" in fields:
        release["MODULES"] = fields["MODULES"].split(" ")
    result.packages.append(
        Package(
            name=product,
            version=version,
            type=PackageType.BINARY,
            location=location,
            purl=PackageURL(
                type="generic",
                namespace=vendor,
                name=product,
                version=version or None,
                qualifiers={"repository_url": repository} if repository else None,
            ).to_string(),
            cpes=jvm_cpes(version, vendor, product, fields.get("IMAGE_TYPE", ""), has_jdk),
            metadata={"jvm_release": release, "files": files},
        )
    )
    return result


def jvm_version(fields: dict[str, str]) -> str:
    """Return the package version from the release fields, as Syft 1.18.1 picks it.

    `JAVA_RUNTIME_VERSION` comes first. `FULL_VERSION` comes next when its major version equals
    that of `JAVA_VERSION` (Java 8 writes `1.8.0_422-b05` in both), and `JAVA_VERSION` last.
    """
    runtime = fields.get("JAVA_RUNTIME_VERSION", "")
    if runtime:
        return runtime
    full = fields.get("FULL_VERSION", "")
    java = fields.get("JAVA_VERSION", "")
    if full and full.split(".")[0] == java.split(".")[0]:
        return full
    return java


def _jdk_or_jre(image_type: str, has_jdk: bool) -> str:
    return "jdk" if has_jdk or "jre" not in image_type.lower() else "jre"


def vendor_and_product(
    implementor: str, location: str, fields: dict[str, str], has_jdk: bool
) -> tuple[str, str]:
    """Return the purl namespace and package name: Azul's `zulu`, Sun's or Oracle's `jdk` or
    `jre`, and `openjdk` of vendor `oracle` for every other implementor."""
    implementor = implementor.lower().replace(" ", "")
    image_type = fields.get("IMAGE_TYPE", "")
    if "azul" in implementor or "zulu" in location:
        return "azul", "zulu"
    if "sun" in implementor:
        return "sun", _jdk_or_jre(image_type, has_jdk)
    if "oracle" in implementor or "oracle" in location:
        return "oracle", _jdk_or_jre(image_type, has_jdk)
    return "oracle", "openjdk"


def jvm_cpes(version: str, vendor: str, product: str, image_type: str, has_jdk: bool) -> list[str]:
    """Return the CPEs that Syft 1.18.1 declares for a JVM, which take the place of generated ones.

    Azul's Zulu also gets `oracle:openjdk`. Sun's and Oracle's JDKs get a `jre` CPE and, when
    they are JDKs, a `jdk` one, and Oracle's start with `java_se`. A legacy version such as
    `1.8.0_411-b25` becomes version `1.8.0` and update `update411`.
    """
    enterprise = [(vendor, "jre")]
    if _jdk_or_jre(image_type, has_jdk) == "jdk":
        enterprise.append((vendor, "jdk"))
    candidates: list[tuple[str, str]]
    if vendor == "azul":
        candidates = [("azul", "zulu"), ("oracle", "openjdk")]
    elif vendor == "sun":
        candidates = enterprise
    elif vendor == "oracle" and product != "openjdk":
        candidates = [("oracle", "java_se"), *enterprise]
    else:
        candidates = [(vendor, product)]

    short_version, update = _version_and_update(version)
    if update and "update" not in update.lower():
        update = "update" + (update.lstrip("0") if update != "0" else update)
    bound_version = bind_component(short_version)
    bound_update = bind_component(update) if update else ANY
    if not bound_version or not bound_update:
        return []
    return [
        f"cpe:2.3:a:{bind_component(candidate_vendor)}:{bind_component(candidate_product)}"
        f":{bound_version}:{bound_update}:{ANY}:{ANY}:{ANY}:{ANY}:{ANY}:{ANY}"
        for candidate_vendor, candidate_product in candidates
    ]


def _version_and_update(version: str) -> tuple[str, str]:
    """Split `1.8.0_302-b08` into `1.8.0` and `302`, and `9.0.1+20` into `9.0.1` and ""."""
    if "_" in version:
        fields = version.split("_")
        if len(fields) == 2:
            return fields[0], fields[1].split("-")[0]
    elif "+" in version:
        return version.split("+")[0], ""
    return version, ""
