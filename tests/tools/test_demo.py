"""The demo's table formatting."""

from __future__ import annotations

from tools.demo import table


def test_table_aligns_columns() -> None:
    text = table(["Type", "Count"], [["os", 25], ["python", 6]])

    assert text.splitlines() == [
        "Type    Count",
        "------  -----",
        "os      25",
        "python  6",
    ]


def test_table_wraps_last_column_whole_ids() -> None:
    output = (
        "CRITICAL Vulnerability found in non-os package type (npm) - "
        "/app/node_modules/lodash/package.json (GHSA-jf85-cpcp-j695)"
    )

    lines = table(["Gate", "Check output"], [["vulnerabilities", output]], wrap_last=40).splitlines()

    assert lines[2].startswith("vulnerabilities  CRITICAL Vulnerability found")
    assert all(line.startswith(" " * 17) for line in lines[3:])
    assert " ".join(line.strip() for line in lines[2:]).endswith(output.split(" - ")[1])
    assert any("(GHSA-jf85-cpcp-j695)" in line for line in lines)
