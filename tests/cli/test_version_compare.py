"""Tests of `plimsoll version-compare`: in process through `main`, and as the installed command."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.cli import main
from chalicelib.vulns.versions import SCHEMES, get_scheme
from tests.vulns.versions.tables import TableRow, read_table

PLIMSOLL = Path(sys.executable).parent / "plimsoll"
"""The console script that installing the project puts beside the interpreter."""
COMPARE_TABLES = {
    "deb": "deb_compare",
    "apk": "apk_compare",
    "pep440": "pep440_compare",
    "npm": "npm_compare",
    "rpm": "rpm_evr_compare",
    "gem": "gem_compare",
    "maven": "maven_compare",
    "gosemver": "gosemver_compare",
}
"""The comparison table of each scheme that has one."""


def run_version_compare(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], scheme: str, lines: str
) -> tuple[int, list[str]]:
    """Run `plimsoll version-compare SCHEME` on `lines`; return the exit code and output lines."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    code = main(["version-compare", scheme])
    return code, capsys.readouterr().out.splitlines()


def comparable_rows(shared_dir: Path, scheme: str) -> list[TableRow]:
    """Return the rows of the scheme's table that the scheme's `compare` can take.

    npm rows with options need flags that the command does not have, and the gosemver table
    also orders invalid versions, which the command reports as errors instead.
    """
    rows = read_table(shared_dir, COMPARE_TABLES[scheme])
    if scheme == "npm":
        rows = [row for row in rows if not row["options"]]
    if scheme == "gosemver":
        is_valid = get_scheme(scheme).is_valid
        rows = [row for row in rows if is_valid(row["a"]) and is_valid(row["b"])]
    return rows


def test_version_compare_prints_signs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(
        monkeypatch, capsys, "rpm", "1.0-1\t1.0-2\n1:1.0\t2.0\n1.0~rc1\t1.0~rc1\n"
    )

    assert code == 0
    assert output == ["-1", "1", "0"]


def test_version_compare_reports_invalid_version(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(
        monkeypatch, capsys, "gosemver", "v1.0.0\tv1.0.1\n1.0.0\tv1.0.0\nv2\tv1.9.9\n"
    )

    assert code == 1
    assert output[0] == "-1"
    assert output[1].startswith("error: line 2: invalid gosemver version '1.0.0'")
    assert output[2] == "1"


def test_version_compare_reports_missing_tab(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(monkeypatch, capsys, "maven", "1.0 2.0\n1.0\t2.0\n")

    assert code == 1
    assert output == ["error: line 1 has no TAB between the two versions: '1.0 2.0'", "-1"]


def test_version_compare_reports_extra_tab(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(monkeypatch, capsys, "deb", "1\t2\t3\n1.0\t2.0\n")

    assert code == 1
    assert output[0] == (
        "error: line 1 has 2 TABs: '1\\t2\\t3'; a line must be two versions separated by "
        "one TAB"
    )
    assert "spaces" not in output[0]
    assert output[1] == "-1"


def test_version_compare_accepts_crlf_lines(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(monkeypatch, capsys, "deb", "1.0-1\t1.0-2\r\n")

    assert code == 0
    assert output == ["-1"]


def test_version_compare_empty_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_version_compare(monkeypatch, capsys, "gem", "")

    assert code == 0
    assert output == []


def test_version_compare_offers_every_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["version-compare", "--help"])

    help_text = capsys.readouterr().out
    assert caught.value.code == 0
    for scheme in SCHEMES:
        assert scheme.name in help_text


def test_version_compare_rejects_unknown_scheme(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["version-compare", "cargo"])

    assert caught.value.code == 2
    assert "invalid choice: 'cargo'" in capsys.readouterr().err


@pytest.mark.parametrize("scheme", sorted(COMPARE_TABLES))
def test_version_compare_matches_table(
    scheme: str,
    shared_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = comparable_rows(shared_dir, scheme)
    lines = "".join(f"{row['a']}\t{row['b']}\n" for row in rows)

    code, output = run_version_compare(monkeypatch, capsys, scheme, lines)

    assert code == 0
    assert output == [row["expected"] for row in rows]


def test_plimsoll_command_reads_piped_table(shared_dir: Path, tmp_path: Path) -> None:
    if not PLIMSOLL.is_file():
        pytest.skip(f"{PLIMSOLL} is absent: install the project with 'pip install -e .'")
    rows = comparable_rows(shared_dir, "maven")
    pairs = tmp_path / "maven_pairs.tsv"
    pairs.write_text("".join(f"{row['a']}\t{row['b']}\n" for row in rows), encoding="utf-8")

    with pairs.open("rb") as stdin:
        completed = subprocess.run(
            [str(PLIMSOLL), "version-compare", "maven"],
            stdin=stdin,
            capture_output=True,
            text=True,
            check=False,
        )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [row["expected"] for row in rows]


def test_plimsoll_command_exits_1_on_invalid_line() -> None:
    if not PLIMSOLL.is_file():
        pytest.skip(f"{PLIMSOLL} is absent: install the project with 'pip install -e .'")

    completed = subprocess.run(
        [str(PLIMSOLL), "version-compare", "rpm"],
        input="1.0-1.el9\t1.0-1.el9_2\nx:1.0\t1.0\n",
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    assert lines[0] == "-1"
    assert lines[1].startswith("error: line 2: invalid rpm version 'x:1.0'")
