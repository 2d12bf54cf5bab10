"""Image analysis: stream the layers once, squash them, and catalog what the image contains.

`analyze_image` is the entry point. `CATALOGERS` is the one table of package catalogers. Each
entry names a parse function in its ecosystem's module and the globs of the files it reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from chalicelib.analysis import (
    apk,
    binary,
    dotnet,
    dpkg,
    golang,
    java,
    jvm,
    npm,
    php,
    python,
    rpm,
    ruby,
    rust,
)
from chalicelib.analysis.catalog import (
    Cataloger,
    ExecutableSummarizer,
    PathMatcher,
    ParseResult,
    run_catalogers,
)
from chalicelib.analysis.content_search import SearchScanner
from chalicelib.analysis.cpe import assign_cpes
from chalicelib.analysis.distro import (
    DISTRO_PATHS,
    OS_RELEASE_PATHS,
    detect_distro,
    distro_from_os_release,
)
from chalicelib.analysis.dockerfile import ACTUAL, GUESSED, guess_dockerfile
from chalicelib.analysis.hints import HINTS_PATH, parse_hints
from chalicelib.analysis.interface import (
    AnalysisError,
    AnalysisReport,
    Distro,
    ImageSource,
    LayerInfo,
    LayerRef,
    Package,
    Unknown,
)
from chalicelib.analysis.layercache import (
    LayerCache,
    MemoryLayerCache,
    cached_layer,
    chain_key,
    selection_fingerprint,
    store_layer,
)
from chalicelib.analysis.layers import (
    LayerContents,
    Summarizer,
    path_bytes,
    path_limit_message,
    read_layer,
)
from chalicelib.analysis.options import AnalysisOptions, SecretPattern
from chalicelib.analysis.retrieved import retrieve_files
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.squash import SquashedView, SymlinkLoopError
from chalicelib.analysis.tarstream import LayerError
from chalicelib.analysis.verify import (
    PackageDigestSummarizer,
    keeps_database,
    package_file_records,
)

__all__ = [
    "CATALOGERS",
    "AnalysisError",
    "AnalysisOptions",
    "Cataloger",
    "LayerCache",
    "LayerError",
    "MemoryLayerCache",
    "SecretPattern",
    "analyze_image",
]

logger = logging.getLogger(__name__)

PASSWD_PATH = "/etc/passwd"

CATALOGERS: tuple[Cataloger, ...] = (
    Cataloger(
        id="dpkg-db-cataloger",
        parser=dpkg.parse_dpkg_status,
        patterns=dpkg.STATUS_PATTERNS,
        extra_patterns=dpkg.EXTRA_PATTERNS,
        exclude=dpkg.EXCLUDE_PATTERNS,
        tags=frozenset({"os", "dpkg"}),
    ),
    Cataloger(
        id="rpm-db-cataloger",
        parser=rpm.parse_rpmdb,
        patterns=rpm.DATABASE_PATTERNS,
        extra_patterns=rpm.EXTRA_PATTERNS,
        tags=frozenset({"os", "rpm"}),
    ),
    Cataloger(
        id="apk-db-cataloger",
        parser=apk.parse_apk_installed,
        patterns=apk.INSTALLED_PATTERNS,
        tags=frozenset({"os", "apk"}),
    ),
    Cataloger(
        id="python-installed-package-cataloger",
        parser=python.parse_python_metadata,
        patterns=python.METADATA_PATTERNS,
        extra_patterns=python.EXTRA_PATTERNS,
        tags=frozenset({"language", "python"}),
    ),
    Cataloger(
        id="npm-installed-package-cataloger",
        parser=npm.parse_package_json,
        patterns=npm.PACKAGE_JSON_PATTERNS,
        exclude=npm.EXCLUDE_PATTERNS,
        tags=frozenset({"language", "npm"}),
    ),
    Cataloger(
        id="ruby-installed-gemspec-cataloger",
        parser=ruby.parse_gemspec,
        patterns=ruby.SPECIFICATION_PATTERNS,
        tags=frozenset({"language", "gem"}),
    ),
    Cataloger(
        id="php-composer-installed-cataloger",
        parser=php.parse_installed_json,
        patterns=php.INSTALLED_JSON_PATTERNS,
        tags=frozenset({"language", "composer"}),
    ),
    Cataloger(
        id="dotnet-deps-cataloger",
        parser=dotnet.parse_deps_json,
        patterns=dotnet.DEPS_JSON_PATTERNS,
        tags=frozenset({"language", "nuget"}),
    ),
    Cataloger(
        id="java-archive-cataloger",
        parser=java.parse_java_archive,
        patterns=(),
        summarize=java.summarize_java_archive,
        summary_patterns=java.ARCHIVE_PATTERNS,
        tags=frozenset({"language", "java"}),
    ),
    Cataloger(
        id="java-jvm-cataloger",
        parser=jvm.parse_jvm_release,
        patterns=(),
        summarize=jvm.summarize_jvm_release,
        summary_patterns=jvm.SUMMARY_PATTERNS,
        tags=frozenset({"java", "jvm"}),
    ),
    Cataloger(
        id="go-module-binary-cataloger",
        parser=golang.parse_go_binary,
        patterns=(),
        summarize=golang.summarize_go_binary,
        tags=frozenset({"language", "go"}),
    ),
    Cataloger(
        id="cargo-auditable-binary-cataloger",
        parser=rust.parse_rust_binary,
        patterns=(),
        summarize=rust.summarize_rust_binary,
        tags=frozenset({"language", "rust"}),
    ),
    Cataloger(
        id="binary-classifier-cataloger",
        parser=binary.parse_binary,
        patterns=binary.PATTERNS,
        summarize=binary.summarize_binary,
        summary_patterns=binary.SUMMARY_PATTERNS,
        tags=frozenset({"binary"}),
    ),
)


def _check_unique_ids(catalogers: Sequence[Cataloger]) -> None:
    seen: set[str] = set()
    for cataloger in catalogers:
        if cataloger.id in seen:
            raise ValueError(f"cataloger id {cataloger.id!r} appears twice in CATALOGERS")
        seen.add(cataloger.id)


_check_unique_ids(CATALOGERS)


def analyze_image(
    source: ImageSource,
    *,
    dockerfile: str | None = None,
    options: AnalysisOptions | None = None,
    layer_cache: LayerCache | None = None,
) -> AnalysisReport:
    """Analyze the image that `source` provides and return its analysis document.

    Each layer blob is read once, in order, and nothing is written to disk. With `layer_cache`,
    a layer whose reader result is cached (for the same lower layers and the same catalogers
    and options) is not opened at all, and each layer read is stored there. `dockerfile` is the
    Dockerfile the user supplied (mode `Actual`); without it one is guessed from the config
    history (mode `Guessed`). Files that a cataloger cannot parse are listed in `problems`.

    Raises `AnalysisError` (or a subclass such as `LayerError`) when the image cannot be analyzed
    at all: a corrupt, truncated or zstd-compressed layer, a layer over the limits in `options`,
    or a config whose diff ids do not match the layers.
    """
    options = options or AnalysisOptions()
    started = time.monotonic()
    digest = source.manifest_digest
    logger.info("analysis started image_digest=%s layers=%d", digest, len(source.layers))

    diff_ids = _diff_ids(source)
    kept_paths = (*DISTRO_PATHS, PASSWD_PATH, *options.retrieved_files)
    matcher = PathMatcher(
        CATALOGERS, extra_paths=(*kept_paths, HINTS_PATH) if options.enable_hints else kept_paths
    )
    scanner = SearchScanner(options)
    layer_options = scanner.layer_options(options)
    summarizer = PackageDigestSummarizer(
        ExecutableSummarizer(CATALOGERS, options.max_executable_size), options.max_executable_size
    )
    view = SquashedView(options.max_symlink_hops)
    layers: list[LayerInfo] = []
    problems: list[Unknown] = []

    def wants(path: str) -> bool:
        return matcher(path) or keeps_database(path)

    fingerprint = (
        selection_fingerprint(CATALOGERS, kept_paths, options) if layer_cache is not None else ""
    )
    key = ""
    paths_written = 0
    for index, layer in enumerate(source.layers):
        contents = None
        if layer_cache is not None:
            key = chain_key(fingerprint, key, layer.digest)
            contents = cached_layer(layer_cache, key, layer.digest)
        if contents is None:
            path_budget = options.max_image_path_bytes - paths_written
            contents = _read_source_layer(
                source, layer, layer_options, wants, scanner, view, summarizer, path_budget
            )
            if layer_cache is not None:
                store_layer(layer_cache, key, contents)
        paths_written += path_bytes(contents)
        if paths_written > options.max_image_path_bytes:
            raise AnalysisError(path_limit_message(options, f"layer {layer.digest}"))
        view.apply(contents)
        summarizer.learn(view, contents)
        problems.extend(contents.unknowns)
        layers.append(
            LayerInfo(
                digest=layer.digest,
                media_type=layer.media_type,
                size=layer.size,
                diff_id=diff_ids[index] if diff_ids else None,
                uncompressed_size=contents.uncompressed_size,
            )
        )

    distro = detect_distro(view.read, view.exists)
    problems.extend(_unreadable_system_files(view))
    cataloged: ParseResult = run_catalogers(view, CATALOGERS, distro)
    cataloged.packages = binary.exclude_owned_binaries(cataloged.packages)
    problems.extend(cataloged.unknowns)
    if options.enable_hints:
        hinted = _hinted_packages(view, cataloged.packages, distro)
        cataloged.packages = sorted(
            [*cataloged.packages, *hinted.packages],
            key=lambda package: (package.type.value, package.name, package.location),
        )
        problems.extend(hinted.unknowns)
    # CPEs are generated once the package list is final, so hinted packages get them too.
    assign_cpes(cataloged.packages)
    secrets, content_matches = scanner.split(
        view.secret_matches(), lambda path: _file_size(view, path)
    )
    retrieved, not_retrieved = retrieve_files(
        view, options.retrieved_files, options.retrieved_file_max_size, reported=(PASSWD_PATH,)
    )
    problems.extend(not_retrieved)
    passwd = view.read(PASSWD_PATH)
    config = source.config
    report = AnalysisReport(
        image_digest=digest,
        image_id=_image_id(source),
        architecture=config.get("architecture"),
        os=config.get("os"),
        layers=layers,
        distro=distro,
        packages=cataloged.packages,
        files=view.file_entries(),
        passwd=passwd.decode(errors="replace") if passwd is not None else None,
        secrets=secrets,
        config=config,
        manifest=source.manifest,
        history=list(config.get("history") or []),
        dockerfile=dockerfile if dockerfile else guess_dockerfile(config.get("history") or []),
        dockerfile_mode=ACTUAL if dockerfile else GUESSED,
        image_size=sum(layer.uncompressed_size or 0 for layer in layers),
        problems=problems,
        content_matches=content_matches,
        retrieved_files=retrieved,
        package_verification=package_file_records(view, cataloged.packages),
    )
    logger.info(
        "analysis finished image_digest=%s distro=%s packages=%d files=%d problems=%d "
        "seconds=%.2f",
        digest,
        f"{distro.id}:{distro.version_id}" if distro else None,
        len(report.packages),
        len(report.files),
        len(problems),
        time.monotonic() - started,
    )
    return report


def _read_source_layer(
    source: ImageSource,
    layer: LayerRef,
    options: AnalysisOptions,
    wants: Callable[[str], bool],
    scanner: SecretScanner,
    view: SquashedView,
    summarizer: Summarizer,
    path_budget: int,
) -> LayerContents:
    try:
        blob = source.open_layer(layer)
    except OSError as error:
        raise LayerError(f"layer {layer.digest} could not be opened: {error}") from error
    try:
        contents = read_layer(
            blob,
            layer.digest,
            options=options,
            wants=wants,
            scanner=scanner,
            lower=view,
            summarizer=summarizer,
            path_budget=path_budget,
        )
    except KeyboardInterrupt:
        # A reading thread may still be in a read of the blob, and closing a buffered stream
        # waits for that read, so the interrupted process would wait on a stalled download.
        raise
    except BaseException:
        blob.close()
        raise
    blob.close()
    return contents


def _unreadable_system_files(view: SquashedView) -> list[Unknown]:
    """List the os-release and passwd files that could not be read or have no distro ID.

    Only files at the paths in `DISTRO_PATHS` and `PASSWD_PATH` are kept while the layers
    stream, so a symbolic link from one of them to another path cannot be read.
    """
    problems = []
    for path in (*OS_RELEASE_PATHS, PASSWD_PATH):
        try:
            real = view.resolve(path)
        except SymlinkLoopError as error:
            problems.append(Unknown(location=path, reason=f"not read: {error}"))
            continue
        content = view.read(path)
        if content is None and real != path and view.exists(real):
            reason = f"links to {real}, whose content was not kept"
            problems.append(Unknown(location=path, reason=reason))
        elif content is not None and path in OS_RELEASE_PATHS:
            if distro_from_os_release(content.decode(errors="replace")) is None:
                problems.append(Unknown(location=path, reason="os-release has no ID line"))
    return problems


def _hinted_packages(
    view: SquashedView, found: list[Package], distro: Distro | None
) -> ParseResult:
    """Return the packages of `/anchore_hints.json` that the catalogers did not find."""
    content = view.read(HINTS_PATH)
    if content is None:
        return ParseResult()
    entry = view.get(HINTS_PATH)
    return parse_hints(content, found, distro, entry.layer if entry is not None else None)


def _file_size(view: SquashedView, path: str) -> int | None:
    """Return the size of the file at `path`, symbolic links followed, or None."""
    try:
        entry = view.get(view.resolve(path))
    except SymlinkLoopError:
        return None
    return entry.size if entry is not None else None


def _diff_ids(source: ImageSource) -> list[str] | None:
    """Return the config's diff ids, checking that there is one per layer.

    NOTE: the diff id of a compressed layer is reported as the config gives it. Its blob digest
    is checked, but SHA-256 of the uncompressed stream as well would cost about half as much CPU
    time as inflating it. containerd rejects such an image when it unpacks it, so it cannot run.
    An uncompressed layer's digest is its diff id, so that one is checked.
    """
    rootfs = source.config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not diff_ids:
        return None
    if len(diff_ids) != len(source.layers):
        raise AnalysisError(
            f"image {source.manifest_digest} lists {len(source.layers)} layers in its manifest "
            f"but {len(diff_ids)} diff ids in its config; the image is malformed, rebuild it"
        )
    return [str(diff_id) for diff_id in diff_ids]


def _image_id(source: ImageSource) -> str:
    """Return the config digest from the manifest, without its `sha256:` prefix."""
    config = source.manifest.get("config")
    digest = config.get("digest", "") if isinstance(config, dict) else ""
    return str(digest).removeprefix("sha256:")
