"""rpm cataloger: the package database in any of its three formats, and Mariner's rpm manifest.

The database is read in pure Python (`chalicelib.analysis.rpmdb`), with no `rpm` binary. The
package version is `VERSION-RELEASE`, as Anchore reports it, and the epoch is kept in `metadata`
and in the purl. `metadata` also keeps the per-file data that package verification compares with
the image: `file_digests`, `file_modes`, `file_sizes` (each parallel to `Package.files`),
`file_digest_algorithm`, `config_files` and `not_installed_files`.
"""

from __future__ import annotations

import logging

from packageurl import PackageURL

from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import Distro, Package, PackageType
from chalicelib.analysis.rpmdb import Header, RpmdbError, Tag, database_format, read_blobs

logger = logging.getLogger(__name__)

_DATABASE_DIRS = ("/var/lib/rpm", "/usr/share/rpm", "/usr/lib/sysimage/rpm")
_DATABASE_NAMES = ("Packages", "Packages.db", "rpmdb.sqlite")
MANIFEST_PATH = "/var/lib/rpmmanifest/container-manifest-2"
"""Package list of Mariner's distroless images, which have no rpm database."""

# NOTE: Syft matches these paths below any directory (`**/var/lib/rpm/Packages`), but here only
# the image's own database counts, so a chroot's database is missed and the path match is cheap.
DATABASE_PATHS = tuple(
    f"{directory}/{name}" for directory in _DATABASE_DIRS for name in _DATABASE_NAMES
)
DATABASE_PATTERNS = (*DATABASE_PATHS, MANIFEST_PATH)
EXTRA_PATTERNS = tuple(f"{directory}/rpmdb.sqlite-wal" for directory in _DATABASE_DIRS)
"""SQLite write-ahead logs, whose committed pages belong to the database."""

DIGEST_ALGORITHMS = {
    1: "md5",
    2: "sha1",
    3: "ripemd160",
    8: "sha256",
    9: "sha384",
    10: "sha512",
    11: "sha224",
}
"""OpenPGP hash algorithm numbers that rpm's `FILEDIGESTALGO` uses; MD5 when the tag is absent."""

_RPMFILE_CONFIG = 1 << 0
_RPMFILE_GHOST = 1 << 6
_SOURCE_RPM_SUFFIXES = (".src.rpm", ".nosrc.rpm")


def parse_rpmdb(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse an rpm package database (BerkeleyDB, NDB or SQLite) or an rpm manifest.

    A header that cannot be parsed becomes an `Unknown` and the next one is read. A database
    whose structure is corrupt becomes an `Unknown` that gives how many packages were read
    before the damage, and those packages are kept.
    """
    if location == MANIFEST_PATH:
        return parse_rpm_manifest(location, content, context)
    result = ParseResult()
    if not content:
        logger.debug("skipping empty rpm database %s", location)
        return result
    kind = database_format(content)
    wal = context.read(location + "-wal") if kind == "sqlite" else None
    try:
        for record in read_blobs(content, wal):
            if isinstance(record, RpmdbError):
                result.add_unknown(location, f"rpm header skipped: {record}")
                continue
            try:
                package = _package(location, Header(record), context.distro, result)
            except RpmdbError as error:
                result.add_unknown(location, f"rpm header skipped: {error}")
                continue
            if package is not None:
                result.packages.append(package)
    except RpmdbError as error:
        result.add_unknown(
            location,
            f"rpm database ({kind or 'unknown format'}) is corrupt after "
            f"{len(result.packages)} packages: {error}",
        )
    logger.debug("read rpm database %s format=%s packages=%d", location, kind, len(result.packages))
    return result


def _package(
    location: str, header: Header, distro: Distro | None, result: ParseResult
) -> Package | None:
    name = header.string(Tag.NAME)
    version = header.string(Tag.VERSION)
    if not name or not version:
        result.add_unknown(location, f"rpm header of {name or 'a package'} has no NAME or VERSION")
        return None
    release = header.string(Tag.RELEASE)
    epoch = header.integer(Tag.EPOCH)
    architecture = header.string(Tag.ARCH)
    source_rpm = header.string(Tag.SOURCERPM)
    vendor = header.string(Tag.VENDOR) or None
    license_text = header.string(Tag.LICENSE)
    full_version = f"{version}-{release}" if release else version
    source_name, source_version = _split_source_rpm(source_rpm)

    metadata: dict = {
        "epoch": epoch,
        "version": version,
        "release": release,
        "source_rpm": source_rpm,
        "vendor": vendor,
    }
    modularity_label = header.string(Tag.MODULARITYLABEL)
    if modularity_label:
        metadata["modularity_label"] = modularity_label
    files = _file_paths(location, name, header, result)
    if files:
        metadata.update(_file_metadata(location, name, header, files, result))

    return Package(
        name=name,
        version=full_version,
        type=PackageType.RPM,
        location=location,
        source_name=source_name,
        source_version=source_version,
        architecture=architecture,
        origin=vendor or header.string(Tag.PACKAGER),
        licenses=[license_text] if license_text else [],
        size=header.integer(Tag.LONGSIZE) or header.integer(Tag.SIZE),
        purl=_purl(name, full_version, epoch, architecture, source_rpm, distro),
        files=files,
        metadata=metadata,
    )


def _split_source_rpm(source_rpm: str | None) -> tuple[str | None, str | None]:
    """Split `NAME-VERSION-RELEASE.src.rpm` into the source name and `VERSION-RELEASE`."""
    if not source_rpm:
        return None, None
    stem = source_rpm
    for suffix in _SOURCE_RPM_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None, None
    return parts[0], f"{parts[1]}-{parts[2]}"


def _file_paths(location: str, name: str, header: Header, result: ParseResult) -> list[str]:
    """Return the package's paths from `DIRNAMES`, `DIRINDEXES` and `BASENAMES`.

    Headers of rpm before 4.0 list whole paths in `OLDFILENAMES` instead.
    """
    basenames = header.strings(Tag.BASENAMES)
    if not basenames:
        return header.strings(Tag.OLDFILENAMES)
    dirnames = header.strings(Tag.DIRNAMES)
    indexes = header.integers(Tag.DIRINDEXES)
    if len(indexes) != len(basenames) or any(index >= len(dirnames) for index in indexes):
        result.add_unknown(
            location,
            f"package {name} has {len(basenames)} BASENAMES but {len(indexes)} DIRINDEXES into "
            f"{len(dirnames)} DIRNAMES; its files are not listed",
        )
        return []
    return [dirnames[index] + basename for index, basename in zip(indexes, basenames)]


def _file_metadata(
    location: str, name: str, header: Header, files: list[str], result: ParseResult
) -> dict:
    """Return the per-file lists that have one value per path in `files`."""
    algorithm = header.integer(Tag.FILEDIGESTALGO) or 1
    found: dict = {"file_digest_algorithm": DIGEST_ALGORITHMS.get(algorithm, str(algorithm))}
    columns = {
        "file_digests": header.strings(Tag.FILEDIGESTS),
        "file_modes": header.integers(Tag.FILEMODES),
        "file_sizes": header.integers(Tag.LONGFILESIZES) or header.integers(Tag.FILESIZES),
    }
    for key, values in columns.items():
        if len(values) == len(files):
            found[key] = values
        elif values:
            result.add_unknown(
                location, f"package {name} has {len(values)} {key} for {len(files)} files"
            )
    flags = header.integers(Tag.FILEFLAGS)
    if len(flags) == len(files):
        found["config_files"] = [
            path for path, flag in zip(files, flags) if flag & _RPMFILE_CONFIG
        ]
    states = header.get(Tag.FILESTATES)
    if isinstance(states, bytes) and len(states) == len(files) and len(flags) == len(files):
        # Package verification skips these, as `rpm --verify` does. A `%ghost` file has no
        # content in the package. A file in another state than normal (0) was left out by an
        # install option such as `tsflags=nodocs`, or replaced by another package's file.
        found["not_installed_files"] = [
            path
            for path, flag, state in zip(files, flags, states)
            if flag & _RPMFILE_GHOST or state != 0
        ]
    return found


def _purl(
    name: str,
    version: str,
    epoch: int | None,
    architecture: str | None,
    source_rpm: str | None,
    distro: Distro | None,
) -> str:
    """Build the purl with the distro id as namespace and, as the purl spec for rpm requires, the
    epoch as a qualifier."""
    qualifiers: dict[str, str] = {}
    if architecture:
        qualifiers["arch"] = architecture
    if epoch is not None:
        qualifiers["epoch"] = str(epoch)
    if source_rpm:
        qualifiers["upstream"] = source_rpm
    if distro is not None and distro.version_id:
        qualifiers["distro"] = f"{distro.id}-{distro.version_id}"
    return PackageURL(
        type="rpm",
        namespace=distro.id if distro is not None else None,
        name=name,
        version=version,
        qualifiers=qualifiers,
    ).to_string()


def parse_rpm_manifest(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """Parse Mariner's `container-manifest-2`: one tab-separated line per package.

    Fields: name, `VERSION-RELEASE`, install time, build time, vendor, epoch (`(none)` when it
    has none), size, arch, an unused field, source RPM. The manifest is skipped when the image
    also has an rpm database, which lists the same packages with their files.
    """
    result = ParseResult()
    for path in DATABASE_PATHS:
        if context.read(path):
            logger.debug("skipping %s: the image has the rpm database %s", location, path)
            return result
    text = content.decode(errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 10 or not fields[0] or not fields[1]:
            result.add_unknown(location, f"line {number} is not a 10-field rpm manifest line")
            continue
        name, full_version, vendor, epoch_text, size_text, architecture, source_rpm = (
            fields[0], fields[1], fields[4], fields[5], fields[6], fields[7], fields[9]
        )
        epoch = int(epoch_text) if epoch_text.isdigit() else None
        version, _, release = full_version.rpartition("-")
        source_name, source_version = _split_source_rpm(source_rpm)
        result.packages.append(
            Package(
                name=name,
                version=full_version,
                type=PackageType.RPM,
                location=location,
                source_name=source_name,
                source_version=source_version,
                architecture=architecture or None,
                origin=vendor or None,
                size=int(size_text) if size_text.isdigit() else None,
                purl=_purl(name, full_version, epoch, architecture, source_rpm, context.distro),
                metadata={
                    "epoch": epoch,
                    "version": version or full_version,
                    "release": release if version else None,
                    "source_rpm": source_rpm or None,
                    "vendor": vendor or None,
                },
            )
        )
    return result
