"""The `plimsoll` entry point: finding the subcommand and loading only its module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from chalicelib.cli import SUBCOMMANDS, analyze, build_parser, main, requested_command
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["analyze", "image.tar"], "analyze"),
        (["--log-level", "DEBUG", "analyze", "-o", "json", "x"], "analyze"),
        (["--log-level=DEBUG", "version-compare", "deb"], "version-compare"),
        (["--log", "DEBUG", "analyze"], None),
        (["no-such-command"], None),
        (["-h"], None),
        ([], None),
    ],
)
def test_requested_command_cases(argv: list[str], expected: str | None) -> None:
    assert requested_command(argv) == expected


def test_main_analyze_skips_other_modules() -> None:
    # A fresh interpreter, because this test process has imported every module already.
    script = (
        "import sys\n"
        "from chalicelib.cli import main\n"
        "try:\n"
        "    main(['analyze', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(name for name in sys.modules if name.startswith('chalicelib.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )
    assert "--output" in done.stdout
    modules = done.stdout.strip().splitlines()[-1]
    assert "'chalicelib.cli.analyze'" in modules
    assert "'chalicelib.cli.version_compare'" not in modules
    assert "'chalicelib.vulns'" not in modules
    assert "'chalicelib.store'" not in modules


def test_build_parser_lists_unloaded_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser(["analyze"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    output = capsys.readouterr().out
    for subcommand in SUBCOMMANDS:
        assert subcommand.name in output


def test_build_parser_loads_all_by_default() -> None:
    args = build_parser().parse_args(["version-compare", "deb"])
    assert args.scheme == "deb"
    assert callable(args.run)


def test_analyze_of_local_source_skips_requests() -> None:
    # Only a registry source needs the HTTP client; importing the source module must not load it.
    code = "import sys, chalicelib.cli.sources; print('requests' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_main_rejects_unknown_log_level(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--log-level", "bogus", "analyze", "x"])

    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "--log-level: invalid choice: 'BOGUS'" in error
    for level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        assert level in error
    assert "Traceback" not in error


def test_main_accepts_lower_case_log_level() -> None:
    args = build_parser(["analyze"]).parse_args(["--log-level", "debug", "analyze", "x"])

    assert args.log_level == "DEBUG"


def test_main_interrupted_exits_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted_run(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(analyze, "run", interrupted_run)

    code = main(["analyze", "x"])

    assert code == 130
    assert capsys.readouterr().err == "plimsoll: interrupted\n"
