"""Java archive cataloger: jar, war, ear, jpi and hpi files, with nested archives to any depth.

Names and versions follow Syft 1.18: the archive's own package comes from a `pom.properties`
whose artifactId matches the file name, else from `MANIFEST.MF` (down to the OSGi
`Bundle-Version`) and the file name. Every other `pom.properties` is a package of its own.
Archives are read from memory with `zipfile`, and a nested archive gets the location
`outer.war:WEB-INF/lib/inner.jar`.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import posixpath
import re
import zipfile
import zlib
from collections.abc import Mapping

from packageurl import PackageURL

from chalicelib.analysis.catalog import SUMMARY_PREFIX, ParseContext, ParseResult
from chalicelib.analysis.interface import Package, PackageType, Unknown

logger = logging.getLogger(__name__)

ARCHIVE_EXTENSIONS = (".jar", ".war", ".ear", ".jpi", ".hpi")
ARCHIVE_PATTERNS = tuple(f"**/*{extension}" for extension in ARCHIVE_EXTENSIONS)

MANIFEST_PATH = "META-INF/MANIFEST.MF"
# Syft 1.18.1 reads the entries that its globs `*pom.properties` and `*pom.xml` match, where `*`
# spans directories too: any entry whose path ends with the name, not only `META-INF/maven/`.
POM_PROPERTIES_SUFFIX = "pom.properties"
POM_XML_SUFFIX = "pom.xml"


@dataclasses.dataclass(frozen=True)
class ArchiveLimits:
    """Limits on one image file and everything nested in it, against zip bombs.

    Reaching a limit stops reading that file; what was found so far is kept and the file gets
    an `Unknown` naming the limit.
    """

    max_depth: int = 8
    """Archives nested inside the image file, counting the file itself as depth 1."""
    max_entries: int = 200_000
    """Zip entries listed, summed over the file and its nested archives."""
    max_inflated_bytes: int = 512 * 1024 * 1024
    """Bytes decompressed (manifests, pom.properties and nested archives), summed likewise."""


DEFAULT_LIMITS = ArchiveLimits()


class _LimitReached(Exception):
    """An `ArchiveLimits` limit was reached; the message names it."""


@dataclasses.dataclass
class _Budget:
    limits: ArchiveLimits
    entries: int = 0
    inflated: int = 0

    def count_entries(self, count: int, virtual_path: str) -> None:
        self.entries += count
        if self.entries > self.limits.max_entries:
            raise _LimitReached(
                f"more than {self.limits.max_entries} zip entries in nested archives, at "
                f"{virtual_path}; the archive may be a zip bomb"
            )

    def read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, virtual_path: str) -> bytes:
        """Decompress one entry, counting its size before and after against the budget."""
        left = self.limits.max_inflated_bytes - self.inflated
        if info.file_size > left:
            raise _LimitReached(
                f"{virtual_path}:{info.filename} inflates to {info.file_size} bytes, over the "
                f"{self.limits.max_inflated_bytes} bytes read from one archive; the archive may "
                "be a zip bomb"
            )
        with archive.open(info) as entry:
            data = entry.read(left + 1)
        self.inflated += len(data)
        if len(data) > left:
            raise _LimitReached(
                f"{virtual_path}:{info.filename} inflates beyond the "
                f"{self.limits.max_inflated_bytes} bytes read from one archive"
            )
        return data


@dataclasses.dataclass
class JavaManifest:
    """A parsed `MANIFEST.MF`: the main section and the named sections."""

    main: dict[str, str] = dataclasses.field(default_factory=dict)
    sections: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def field(self, name: str) -> str:
        """Return the value of `name` in the main section, else in the first named section."""
        if self.main.get(name):
            return self.main[name]
        for section in self.sections.values():
            if section.get(name):
                return section[name]
        return ""


def parse_manifest(text: str) -> JavaManifest:
    """Parse `MANIFEST.MF` text into sections.

    Blank lines separate sections, a line that starts with a space continues the previous value,
    and each other line is `Name: value`. Lines without a colon and continuations with no
    attribute before them are skipped, so a damaged manifest still names the archive.
    """
    sections: list[dict[str, str]] = [{}]
    key = ""
    for line in text.splitlines():
        if not line.strip():
            key = ""
            if sections[-1]:
                sections.append({})
            continue
        if line.startswith(" "):
            if not key:
                continue
            sections[-1][key] += line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon:
            key = ""
            continue
        key = name.strip()
        sections[-1][key] = value.strip()

    manifest = JavaManifest(main=sections[0])
    for index, section in enumerate(sections[1:]):
        if not section:
            continue
        name = section.pop("Name", None) or str(index)
        manifest.sections[name] = section
    return manifest


def parse_pom_properties(text: str) -> dict[str, str]:
    """Parse a `pom.properties` file: `key=value` or `key:value` lines, `#` and `!` comments.

    The key ends at the first `=` or `:`, as in Syft, so `version=1.0:beta` keeps its colon.
    """
    properties: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        match = re.search(r"[=:]", line)
        if match is None:
            continue
        properties[line[: match.start()].strip()] = line[match.end() :].strip()
    return properties


_NAME = re.compile(r"[A-Za-z][\w.]*(?:-[A-Za-z][\w.]*)*-?", re.ASCII)
_VERSION = r"(?:\d.*|build\d+.*|rc?\d+)"
_VERSION_RE = re.compile(_VERSION, re.ASCII | re.IGNORECASE)
_SECONDARY_VERSION = re.compile(r"[._-](" + _VERSION + ")", re.ASCII | re.IGNORECASE)


def split_archive_filename(filename: str) -> tuple[str, str]:
    """Split an archive file name such as `commons-text-1.10.0.jar` into name and version.

    The name runs over dash-separated words that start with a letter; the first word that
    starts with a digit, `build<digits>` or `r<digits>`/`rc<digits>` begins the version, as in
    Syft's file name pattern. Names like `foo_1.2` or `foo.1.2` split at the `_` or `.`.
    Returns `("", "")` when the name does not start with a letter.
    """
    stem = posixpath.basename(filename)
    stem, dot, _ = stem.rpartition(".")
    if not dot:
        stem = posixpath.basename(filename)

    name, version = "", ""
    start = 0
    while True:
        dash = stem.find("-", start)
        if dash < 0:
            break
        if _NAME.fullmatch(stem, 0, dash) and _VERSION_RE.fullmatch(stem, dash + 1):
            name, version = stem[:dash], stem[dash + 1 :]
            break
        start = dash + 1
    if not name and _NAME.fullmatch(stem):
        name = stem

    if name and not version:
        for match in _SECONDARY_VERSION.finditer(name):
            if match.end() == len(name) and _VERSION_RE.fullmatch(match.group(1)):
                version = match.group(1)
                name = name[: match.start()]
                break
    return name, version


# Syft 1.18 takes a manifest value as a group id when it starts with one of these strings, dot
# or not; a run of Syft 1.18.1 on jars built for the purpose showed `com-foo` and `org` accepted.
_GROUP_PREFIXES = ("com", "org", "net", "io", "be")
# Fields tried in order, the secondary ones only when no primary field has a group id (the order
# Syft 1.18.1 showed on jars that set every field).
_PRIMARY_GROUP_FIELDS = (
    "Group-Id",
    "Bundle-SymbolicName",
    "Extension-Name",
    "Specification-Vendor",
    "Implementation-Vendor",
    "Implementation-Vendor-Id",
    "Implementation-Title",
    "Bundle-Activator",
    "Package",
)
_SECONDARY_GROUP_FIELDS = ("Automatic-Module-Name", "Main-Class")


def manifest_group_ids(main: Mapping[str, str]) -> list[str]:
    """Return the values of a manifest main section that read as Maven group ids, in field order.

    The secondary fields are read only when no primary field has a group id. CPE generation
    takes vendor and product candidates from all of them, where the purl takes the first.
    """
    for fields in (_PRIMARY_GROUP_FIELDS, _SECONDARY_GROUP_FIELDS):
        values = [str(main.get(field, "")).split(";")[0].strip() for field in fields]
        found = [value for value in values if value.startswith(_GROUP_PREFIXES)]
        if found:
            return found
    return []


def _group_from_manifest(manifest: JavaManifest | None) -> str:
    # NOTE: Syft 1.18 first looks the artifact up in its own table of well-known artifact ids
    # (`ant` is `org.apache.ant`); without that table such jars get the manifest's group id.
    if manifest is None:
        return ""
    for fields in (_PRIMARY_GROUP_FIELDS, _SECONDARY_GROUP_FIELDS):
        for field in fields:
            # OSGi headers carry directives after a semicolon: `org.x; singleton:=true`.
            value = manifest.field(field).split(";")[0].strip()
            if value.startswith(_GROUP_PREFIXES):
                return value
    return ""


def maven_purl(group: str, artifact: str, version: str) -> str:
    """Return `pkg:maven/group/artifact@version`; the artifact replaces a missing group."""
    return PackageURL(
        type="maven", namespace=group or artifact, name=artifact, version=version or None
    ).to_string()


def summarize_java_archive(path: str, content: bytes) -> dict[str, object] | None:
    """Catalog a Java archive while its layer streams; None for files of other names.

    Jars are kept as these summaries rather than whole, so a Java-heavy image costs the size of
    its package lists in memory, and archives over the kept-file limit are still read.
    """
    if not path.endswith(ARCHIVE_EXTENSIONS):
        return None
    result = catalog_archive(path, content, DEFAULT_LIMITS)
    return {
        "path": path,
        "packages": [package.model_dump(mode="json") for package in result.packages],
        "unknowns": [unknown.model_dump(mode="json") for unknown in result.unknowns],
    }


def parse_java_archive(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Catalog the Java archive at `location` and every archive nested in it.

    `content` is the archive, or a summary from `summarize_java_archive` after
    `SUMMARY_PREFIX`. A file that is not a zip archive, a corrupt nested archive or a limit of
    `DEFAULT_LIMITS` reached becomes an `Unknown`; packages found before it are kept.
    """
    if not content.startswith(SUMMARY_PREFIX):
        return catalog_archive(location, content, DEFAULT_LIMITS)

    summary = json.loads(content[len(SUMMARY_PREFIX) :])
    result = ParseResult()
    if "error" in summary:
        result.add_unknown(location, str(summary["error"]))
        return result
    # A hard link shares its target's summary, whose locations start with the target's path.
    old = summary["path"]
    for fields in summary["packages"]:
        package = Package.model_validate(fields)
        package.location = location + package.location[len(old) :]
        virtual_path = package.metadata.get("virtual_path")
        if isinstance(virtual_path, str):
            package.metadata["virtual_path"] = location + virtual_path[len(old) :]
        result.packages.append(package)
    for fields in summary["unknowns"]:
        unknown = Unknown.model_validate(fields)
        result.add_unknown(location + unknown.location[len(old) :], unknown.reason)
    return result


def catalog_archive(location: str, content: bytes, limits: ArchiveLimits) -> ParseResult:
    """Catalog the archive bytes `content` found at `location` within `limits`."""
    result = ParseResult()
    budget = _Budget(limits)
    try:
        _catalog(location, content, 1, budget, result)
    except _LimitReached as error:
        logger.warning("java archive %s not fully read: %s", location, error)
        result.add_unknown(location, str(error))
    return result


def _open_zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
               NotImplementedError, ValueError, RuntimeError)
"""Exceptions that zipfile raises for corrupt, encrypted or truncated archives and entries."""


def _catalog(
    virtual_path: str, data: bytes, depth: int, budget: _Budget, result: ParseResult
) -> None:
    if depth > budget.limits.max_depth:
        raise _LimitReached(
            f"{virtual_path} is nested deeper than {budget.limits.max_depth} archives"
        )
    try:
        archive = _open_zip(data)
        infos = archive.infolist()
    except _ZIP_ERRORS as error:
        result.add_unknown(virtual_path, f"not a readable zip archive: {error}")
        return
    budget.count_entries(len(infos), virtual_path)

    try:
        packages = _archive_packages(virtual_path, archive, infos, budget, result)
    except _ZIP_ERRORS as error:
        result.add_unknown(virtual_path, f"corrupt zip archive: {error}")
        packages = []
    result.packages.extend(packages)

    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith(ARCHIVE_EXTENSIONS):
            continue
        nested_path = f"{virtual_path}:{info.filename}"
        try:
            nested = budget.read(archive, info, virtual_path)
        except _ZIP_ERRORS as error:
            result.add_unknown(nested_path, f"nested archive could not be read: {error}")
            continue
        _catalog(nested_path, nested, depth + 1, budget, result)


@dataclasses.dataclass
class _PomProperties:
    path: str
    group: str
    artifact: str
    version: str
    fields: dict[str, str]


def _archive_packages(
    virtual_path: str,
    archive: zipfile.ZipFile,
    infos: list[zipfile.ZipInfo],
    budget: _Budget,
    result: ParseResult,
) -> list[Package]:
    """Return the archive's own package and its pom.properties packages, without nesting."""
    manifest: JavaManifest | None = None
    # Syft keys pom.properties files by directory, so one directory contributes one package.
    poms_by_directory: dict[str, _PomProperties] = {}
    pom_xml_directories: set[str] = set()
    for info in sorted(infos, key=lambda info: info.filename):
        if info.filename == MANIFEST_PATH:
            text = budget.read(archive, info, virtual_path).decode("utf-8", errors="replace")
            manifest = parse_manifest(text)
        elif info.filename.endswith(POM_XML_SUFFIX):
            pom_xml_directories.add(posixpath.dirname(info.filename))
        elif info.filename.endswith(POM_PROPERTIES_SUFFIX):
            text = budget.read(archive, info, virtual_path).decode("utf-8", errors="replace")
            fields = parse_pom_properties(text)
            if fields.get("artifactId") and fields.get("version"):
                poms_by_directory[posixpath.dirname(info.filename)] = _PomProperties(
                    info.filename,
                    fields.get("groupId", ""),
                    fields["artifactId"],
                    fields["version"],
                    fields,
                )
    poms = [poms_by_directory[directory] for directory in sorted(poms_by_directory)]

    # Syft reports no packages of an archive without a manifest but its nested archives.
    if manifest is None:
        return []
    main, matched = _main_package(virtual_path, manifest, poms, pom_xml_directories)
    packages = [main] if main.name else []
    for pom in poms:
        if pom is matched:
            continue
        # Syft's last resort: a pom.properties whose artifactId is the archive's package name
        # describes the archive itself.
        if pom.artifact == main.name:
            _adopt_pom(main, pom)
            continue
        packages.append(_pom_package(virtual_path, pom))
    return packages


def _main_package(
    virtual_path: str,
    manifest: JavaManifest,
    poms: list[_PomProperties],
    pom_xml_directories: set[str],
) -> tuple[Package, _PomProperties | None]:
    """Return the archive's own package and the pom.properties it was named from, if any."""
    filename = virtual_path.rsplit(":", 1)[-1]
    file_name, file_version = split_archive_filename(filename)

    matched = _pom_matching_filename(poms, file_name, pom_xml_directories)
    name = matched.artifact if matched else ""
    version = matched.version if matched else ""
    if not name:
        name = file_name or _first_field(
            manifest, "Name", "Bundle-Name", "Short-Name", "Extension-Name", "Implementation-Title"
        )
    if not version:
        # OSGi bundles built without Maven metadata may state their version only as
        # `Bundle-Version`. Syft 1.18.1 reads it too, after the other fields.
        version = file_version or _first_field(
            manifest,
            "Implementation-Version",
            "Specification-Version",
            "Plugin-Version",
            "Bundle-Version",
        )

    package = Package(
        name=name,
        version=version,
        type=PackageType.JAVA,
        location=virtual_path,
        licenses=_manifest_licenses(manifest),
        metadata={
            "virtual_path": virtual_path,
            "manifest": _stored_manifest(manifest),
            "implementation-version": manifest.field("Implementation-Version"),
            "specification-version": manifest.field("Specification-Version"),
            "maven-version": "",
            "origin": _group_from_manifest(manifest) or manifest.field("Implementation-Vendor"),
        },
    )
    group = package.metadata["origin"]
    package.purl = maven_purl(group if _looks_like_group(group) else "", name, version)
    if matched is not None:
        _adopt_pom(package, matched)
    return package, matched


MAX_STORED_MANIFEST_VALUE = 1024
"""Longest main-section manifest value kept in a package's metadata, in characters."""


def _stored_manifest(manifest: JavaManifest) -> dict[str, str]:
    """Return the main section without values over `MAX_STORED_MANIFEST_VALUE` characters.

    OSGi headers such as `Export-Package` run to tens of KB per jar, and the named sections of a
    signed jar list a digest per class, so neither is stored for every jar of an image.
    """
    return {
        key: value
        for key, value in manifest.main.items()
        if len(value) <= MAX_STORED_MANIFEST_VALUE
    }


def _looks_like_group(value: str) -> bool:
    return bool(value) and " " not in value


def _first_field(manifest: JavaManifest, *names: str) -> str:
    for name in names:
        value = manifest.main.get(name, "")
        if value:
            return value
    return ""


def _manifest_licenses(manifest: JavaManifest) -> list[str]:
    value = manifest.field("Bundle-License") or manifest.field("Plugin-License-Name")
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def _pom_matching_filename(
    poms: list[_PomProperties], file_name: str, pom_xml_directories: set[str]
) -> _PomProperties | None:
    """Return the pom.properties whose artifactId fits the archive's file name, as Syft does.

    When an artifactId equals the file name, only such pom.properties fit. Otherwise one fits
    when its artifactId starts with the file name or the file name ends with it. `poms` are in
    directory order. Of the fitting ones, the first with a `pom.xml` beside it wins, else the
    last one.
    """
    if not file_name:
        return None
    exact = any(pom.artifact == file_name for pom in poms)
    matched = None
    for pom in poms:
        if exact:
            fits = pom.artifact == file_name
        else:
            fits = pom.artifact.startswith(file_name) or file_name.endswith(pom.artifact)
        if not fits:
            continue
        matched = pom
        # NOTE: Syft requires the pom.xml to parse, but here its presence is enough.
        if posixpath.dirname(pom.path) in pom_xml_directories:
            break
    return matched


def _adopt_pom(package: Package, pom: _PomProperties) -> None:
    """Give the archive's package the identity that its own pom.properties states."""
    package.name = pom.artifact
    package.version = pom.version
    package.purl = maven_purl(pom.group, pom.artifact, pom.version)
    if "pom_properties" not in package.metadata:
        package.metadata["pom_properties"] = {**pom.fields, "path": pom.path}
        package.metadata["maven-version"] = pom.version
        if pom.group:
            package.metadata["origin"] = pom.group


def _pom_package(virtual_path: str, pom: _PomProperties) -> Package:
    return Package(
        name=pom.artifact,
        version=pom.version,
        type=PackageType.JAVA,
        location=virtual_path,
        purl=maven_purl(pom.group, pom.artifact, pom.version),
        metadata={
            "virtual_path": f"{virtual_path}:{pom.group}:{pom.artifact}",
            "pom_properties": {**pom.fields, "path": pom.path},
            "implementation-version": "",
            "specification-version": "",
            "maven-version": pom.version,
            "origin": pom.group,
        },
    )
