"""Read tables of version cases and turn each row into one pytest parameter.

A table is tab-separated text whose first line is a `#` header naming the columns. Inside a field,
`\\t`, `\\n`, `\\r` and `\\\\` stand for a tab, a newline, a carriage return and a backslash.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR

TABLES_DIR = Path("acceptance-fixtures") / "versions"
"""Folder of the version tables, relative to the shared fixtures folder."""

_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
_MAX_ID_FIELD = 40
"""Maximum length of a field in a test id. Longer fields are cut and end in `...`."""


@dataclasses.dataclass(frozen=True)
class TableRow:
    """One row of a table, with its fields unescaped and keyed by column name."""

    table: str
    line: int
    fields: dict[str, str]
    raw_fields: dict[str, str]
    """The fields as written in the file, with escapes, for test ids."""

    def __getitem__(self, column: str) -> str:
        return self.fields[column]

    @property
    def test_id(self) -> str:
        """The row's fields except `source`, as written and joined by `|`."""
        return "|".join(
            _shorten(raw) for column, raw in self.raw_fields.items() if column != "source"
        )


def _unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        try:
            return _ESCAPES[match[1]]
        except KeyError:
            raise ValueError(f"unknown escape {match[0]!r} in table field {text!r}") from None

    return _ESCAPE.sub(replace, text)


def read_table(directory: Path, name: str) -> list[TableRow]:
    """Read table `name` from the version tables under `directory`."""
    path = directory / TABLES_DIR / f"{name}.tsv"
    lines = path.read_text(encoding="utf-8").split("\n")
    if not lines[0].startswith("#"):
        raise ValueError(f"{path} does not start with a '#' header line")
    columns = lines[0][1:].split("\t")

    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        raw_fields = line.split("\t")
        if len(raw_fields) != len(columns):
            raise ValueError(
                f"{path}:{number} has {len(raw_fields)} fields, expected {len(columns)}"
            )
        raw = dict(zip(columns, raw_fields, strict=True))
        fields = {column: _unescape(text) for column, text in raw.items()}
        rows.append(TableRow(table=name, line=number, fields=fields, raw_fields=raw))
    return rows


def _shorten(field: str) -> str:
    return field if len(field) <= _MAX_ID_FIELD else field[: _MAX_ID_FIELD - 3] + "..."


def table_params(name: str) -> list[pytest.ParameterSet]:
    """Return one parameter per row of table `name`, with the row's fields as the test id.

    The `source` column is left out of the id. When the table is absent, the list contains a
    single `None` parameter, so that the `table_row` fixture skips with a reason.
    """
    if not (SHARED_DIR / TABLES_DIR / f"{name}.tsv").is_file():
        return [pytest.param(None, id=f"{name}-absent")]
    return [pytest.param(row, id=row.test_id) for row in read_table(SHARED_DIR, name)]
