"""Tests of the Python cataloger on real dist-info and egg-info metadata."""

from __future__ import annotations

from pathlib import Path

from chalicelib.analysis import CATALOGERS, analyze_image
from chalicelib.analysis.catalog import ParseContext, ParseResult
from chalicelib.analysis.interface import PackageType
from chalicelib.analysis.python import normalize_name, parse_python_metadata
from tests.analysis.builders import directory_reader, file, image

SYFT_PYTHON = "acceptance-fixtures/syft/python/testdata"


def parse(root: Path, location: str) -> ParseResult:
    content = (root / location.lstrip("/")).read_bytes()
    return parse_python_metadata(location, content, ParseContext(None, directory_reader(root)))


def test_python_dist_info_metadata(shared_dir: Path) -> None:
    root = shared_dir / SYFT_PYTHON
    location = "/site-packages/license/without-license-file-declared.dist-info/METADATA"
    result = parse(root, location)
    assert result.unknowns == []
    [package] = result.packages
    assert (package.name, package.version) == ("Pygments", "2.6.1")
    assert package.type is PackageType.PYTHON
    assert package.location == "/site-packages/license/without-license-file-declared.dist-info"
    assert package.origin == "Georg Brandl <georg@python.org>"
    assert package.purl == "pkg:pypi/pygments@2.6.1"


def test_python_license_from_classifier(shared_dir: Path) -> None:
    # This METADATA has no License field, only `License :: OSI Approved :: BSD License`.
    location = "/site-packages/license/without-license-file-declared.dist-info/METADATA"
    [package] = parse(shared_dir / SYFT_PYTHON, location).packages
    assert package.licenses == ["BSD License"]


def test_python_license_field(shared_dir: Path) -> None:
    [package] = parse(shared_dir / SYFT_PYTHON, "/Python-2.7.egg-info").packages
    assert (package.name, package.version) == ("Python", "2.7.13")
    assert package.licenses == ["PSF license"]
    assert package.location == "/Python-2.7.egg-info"


def test_python_files_from_record(shared_dir: Path) -> None:
    location = "/site-packages/license/with-license-file-declared.dist-info/METADATA"
    [package] = parse(shared_dir / SYFT_PYTHON, location).packages
    assert "/bin/pygmentize" in package.files
    assert "/site-packages/license/with-license-file-declared.dist-info/AUTHORS" in package.files
    assert len(package.files) == 7


def test_python_malformed_record_rows_skipped(shared_dir: Path) -> None:
    location = "/site-packages/malformed-record/dist-info/METADATA"
    [package] = parse(shared_dir / SYFT_PYTHON, location).packages
    assert all("<<<<" not in path and "====" not in path for path in package.files)
    assert "/site-packages/malformed-record/flask/json/tag.py" in package.files


def test_python_egg_info_directory(shared_dir: Path) -> None:
    root = shared_dir / "acceptance-fixtures/dirscan/syft-image-pkg-coverage/pkgs/python"
    location = "/someotherpkg-3.19.0-py3.8.egg-info/PKG-INFO"
    [package] = parse(root, location).packages
    assert package.location == "/someotherpkg-3.19.0-py3.8.egg-info"
    assert package.name and package.version


def test_python_egg_info_file(shared_dir: Path) -> None:
    [package] = parse(shared_dir / SYFT_PYTHON, "/site-packages/test/test.egg-info").packages
    assert (package.name, package.version) == ("requests", "2.22.0")
    assert package.origin == "Kenneth Reitz <me@kennethreitz.org>"
    assert package.licenses == ["Apache 2.0"]


def test_python_missing_version_is_unknown(shared_dir: Path) -> None:
    location = "/site-packages/no-version/no-version-py3.8.egg-info"
    result = parse(shared_dir / SYFT_PYTHON, location)
    assert result.packages == []
    assert [unknown.reason for unknown in result.unknowns] == ["Python metadata has no Version"]


def test_python_bogus_metadata_is_unknown(shared_dir: Path) -> None:
    result = parse(shared_dir / SYFT_PYTHON, "/glob-paths/site-packages/x.dist-info/METADATA")
    assert result.packages == []
    assert result.unknowns[0].reason == "Python metadata has no Name"


def test_python_license_expression_wins() -> None:
    content = (
        b"Metadata-Version: 2.4\nName: Foo_Bar.Baz\nVersion: 1.0\nLicense-Expression: MIT\n"
        b"License: Some text\nAuthor-email: Jane <jane@example.com>\n"
    )
    location = "/usr/lib/python3/site-packages/foo_bar.baz-1.0.dist-info/METADATA"
    [package] = parse_python_metadata(location, content, ParseContext(None, dict().get)).packages
    assert package.licenses == ["MIT"]
    assert package.origin == "Jane <jane@example.com>"
    assert package.purl == "pkg:pypi/foo-bar-baz@1.0"


def test_python_multiline_license_prefers_classifiers() -> None:
    content = (
        b"Name: x\nVersion: 1\nLicense: Permission is hereby granted\n        free of charge\n"
        b"Classifier: License :: OSI Approved :: MIT License\n"
    )
    context = ParseContext(None, dict().get)
    [package] = parse_python_metadata("/x.egg-info", content, context).packages
    assert package.licenses == ["MIT License"]


def test_normalize_name() -> None:
    assert normalize_name("Foo__Bar.baz-Qux") == "foo-bar-baz-qux"


def test_python_metadata_directory_names(shared_dir: Path) -> None:
    # Syft's `*dist-info` and `*EGG-INFO` globs match bare and upper-case directory names too.
    root = shared_dir / SYFT_PYTHON / "site-packages"
    items = [
        file(f"usr/lib/python3/{path.relative_to(root)}", path.read_bytes())
        for folder in ("nested", "uppercase")
        for path in sorted((root / folder).rglob("*"))
        if path.is_file()
    ]
    report = analyze_image(image(items))
    found = {(p.location, p.name) for p in report.packages if p.type is PackageType.PYTHON}
    assert found == {
        ("/usr/lib/python3/nested/dist-name/dist-info", "Pygments"),
        ("/usr/lib/python3/nested/egg-name/egg-info", "requests"),
        ("/usr/lib/python3/uppercase/dist-name/DIST-INFO", "Pygments"),
        ("/usr/lib/python3/uppercase/egg-name/EGG-INFO", "requests"),
    }
    files = {p.location: p.files for p in report.packages}
    assert files["/usr/lib/python3/uppercase/dist-name/DIST-INFO"]


def test_python_glob_paths(shared_dir: Path) -> None:
    root = shared_dir / SYFT_PYTHON / "glob-paths/site-packages"
    matched = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and any(cataloger_parses(f"/{path.relative_to(root)}"))
    )
    assert matched == [
        "v.DIST-INFO/METADATA",
        "w.EGG-INFO/PKG-INFO",
        "x.dist-info/METADATA",
        "y.egg-info/PKG-INFO",
        "z.egg-info",
    ]


def cataloger_parses(path: str) -> list[bool]:
    return [
        cataloger.parses(path)
        for cataloger in CATALOGERS
        if cataloger.id == "python-installed-package-cataloger"
    ]
