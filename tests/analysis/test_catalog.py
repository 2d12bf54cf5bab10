"""Tests of the generic cataloger driver."""

from __future__ import annotations

import io
import re

import pytest

from chalicelib.analysis import CATALOGERS
from chalicelib.analysis.catalog import (
    Cataloger,
    GlobSet,
    ParseContext,
    ParseResult,
    PathMatcher,
    glob_to_regex,
    run_catalogers,
)
from chalicelib.analysis.interface import Package, PackageType
from chalicelib.analysis.layers import read_layer
from chalicelib.analysis.options import AnalysisOptions
from chalicelib.analysis.secrets import SecretScanner
from chalicelib.analysis.squash import SquashedView
from tests.analysis.builders import Item, file, layer_bytes, whiteout


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/var/lib/dpkg/status", "/var/lib/dpkg/status", True),
        ("/var/lib/dpkg/status", "/var/lib/dpkg/status-old", False),
        ("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/libc6", True),
        ("/var/lib/dpkg/status.d/*", "/var/lib/dpkg/status.d/a/b", False),
        ("**/*.dist-info/METADATA", "/usr/lib/python3/site-packages/a-1.dist-info/METADATA", True),
        ("**/*.dist-info/METADATA", "/a-1.dist-info/METADATA", True),
        ("**/*.dist-info/METADATA", "/a-1.dist-infoX/METADATA", False),
        ("/usr/**/bin", "/usr/bin", True),
        ("/usr/**/bin", "/usr/local/bin", True),
        ("/file?.txt", "/file1.txt", True),
        ("/file?.txt", "/file/.txt", False),
        ("/a+b(c)", "/a+b(c)", True),
    ],
)
def test_glob_to_regex(pattern: str, path: str, matches: bool) -> None:
    assert (re.fullmatch(glob_to_regex(pattern), path) is not None) is matches


def test_glob_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="not absolute"):
        glob_to_regex("etc/passwd")


def _glob_set_paths(patterns: list[str]) -> list[str]:
    """Return paths near each glob: wildcards filled in several ways, and small edits of those."""
    paths = ["/", "/etc/passwd", "/usr/bin/python3", "/a/b/c"]
    for pattern in patterns:
        base = "/" + pattern.removeprefix("/")
        for star, mark in (("", "x"), ("lib", "1"), ("a/b", "/"), ("x.so.1", ".")):
            path = base.replace("**", star).replace("*", star).replace("?", mark)
            path = re.sub("/+", "/", path)
            paths.extend([path, path + "x", path[:-1], path + "/extra", "/prefix" + path])
    return paths


@pytest.mark.parametrize(
    "patterns",
    [
        [pattern for cataloger in CATALOGERS for pattern in cataloger.patterns],
        [pattern for cataloger in CATALOGERS for pattern in cataloger.extra_patterns],
        [pattern for cataloger in CATALOGERS for pattern in cataloger.summary_patterns],
        ["/usr/**", "/etc/*", "**/lib?", "/opt/**/x?y*z", "/usr/**/bin", "/etc/"],
        ["/etc/passwd", "**/*"],
    ],
    ids=["patterns", "extra", "summary", "edge", "unfiltered"],
)
def test_glob_set_agrees_with_regex(patterns: list[str]) -> None:
    globs = GlobSet(patterns)
    regex = re.compile("|".join(glob_to_regex(pattern) for pattern in patterns))
    paths = _glob_set_paths(patterns)
    matched = [path for path in paths if regex.fullmatch(path)]
    assert matched, "no sample path matches, so the test checks nothing"
    assert [path for path in paths if globs.match(path)] == matched


def test_glob_set_empty_matches_nothing() -> None:
    assert not GlobSet([]).match("/etc/passwd")


def test_cataloger_ids_unique_and_kebab_case() -> None:
    ids = [cataloger.id for cataloger in CATALOGERS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cataloger_id) for cataloger_id in ids)


def test_path_matcher_keeps_cataloged_and_extra_paths() -> None:
    matcher = PathMatcher(CATALOGERS, extra_paths=("/etc/passwd",))
    assert matcher("/etc/passwd")
    assert matcher("/var/lib/dpkg/status")
    assert matcher("/var/lib/dpkg/info/libc6:amd64.list")
    assert matcher("/usr/share/doc/libc6/copyright")
    assert matcher("/lib/apk/db/installed")
    assert matcher("/app/node_modules/left-pad/package.json")
    assert not matcher("/app/package.json")
    assert not matcher("/usr/bin/python3")
    assert not matcher("/etc/shadow")


def parse_lines(location: str, content: bytes, context: ParseContext) -> ParseResult:
    """A toy parser: each line `NAME VERSION` is a package; a line `boom` raises."""
    result = ParseResult()
    for line in content.decode().splitlines():
        if line == "boom":
            raise RuntimeError("cannot parse boom")
        name, version = line.split()
        result.packages.append(
            Package(name=name, version=version, type=PackageType.APK, location=location)
        )
    return result


TOY = Cataloger(id="toy-cataloger", parser=parse_lines, patterns=("/db/*",))


def view_of(*layers: list[Item]) -> SquashedView:
    options = AnalysisOptions()
    view = SquashedView()
    for index, items in enumerate(layers):
        view.apply(
            read_layer(
                io.BytesIO(layer_bytes(items)),
                f"sha256:layer{index}",
                options=options,
                wants=PathMatcher([TOY]),
                scanner=SecretScanner(()),
                lower=view,
            )
        )
    return view


def test_run_catalogers_records_introducing_layer() -> None:
    view = view_of(
        [file("db/installed", "base 1\n")],
        [file("db/installed", "base 1\ncurl 8\n")],
        [file("db/installed", "base 1\ncurl 8\njq 1.7\n")],
        [file("db/installed", "base 1\ncurl 9\njq 1.7\n")],
    )
    result = run_catalogers(view, [TOY], None)
    layers = {package.name: package.layer_digest for package in result.packages}
    assert layers == {"base": "sha256:layer0", "curl": "sha256:layer3", "jq": "sha256:layer2"}


def test_run_catalogers_rewritten_identical_file_keeps_first_layer() -> None:
    view = view_of([file("db/a", "pkg 1\n")], [file("db/a", "pkg 1\n")])
    [package] = run_catalogers(view, [TOY], None).packages
    assert package.layer_digest == "sha256:layer0"


def test_run_catalogers_recreated_file_starts_over() -> None:
    view = view_of([file("db/a", "pkg 1\n")], [whiteout("db/a")], [file("db/a", "pkg 1\n")])
    [package] = run_catalogers(view, [TOY], None).packages
    assert package.layer_digest == "sha256:layer2"


def test_run_catalogers_parser_failure_is_unknown() -> None:
    view = view_of([file("db/good", "a 1\n"), file("db/bad", "boom\n")])
    result = run_catalogers(view, [TOY], None)
    assert [package.name for package in result.packages] == ["a"]
    assert [unknown.location for unknown in result.unknowns] == ["/db/bad"]
    assert result.unknowns[0].reason == "toy-cataloger failed: cannot parse boom"


def test_run_catalogers_skips_deleted_files() -> None:
    view = view_of([file("db/a", "a 1\n"), file("db/b", "b 1\n")], [whiteout("db/b")])
    assert [package.name for package in run_catalogers(view, [TOY], None).packages] == ["a"]
