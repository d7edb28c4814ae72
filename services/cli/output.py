"""Rendering for list commands: a readable table by default, json / jsonl / csv for scripts.

Values are shown as plain text, since many of them (titles, comments, keys, error
messages) come from outside: rich markup is escaped, and control characters are shown as
``\x1b``-style escapes, so no value can move the cursor, erase a line of the table, recolour
the terminal or set its title.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# C0 but tab and newline, DEL and C1 (U+009B is CSI for terminals that read C1 codes).
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))}


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    title: str | None = None,
) -> None:
    out = sys.stdout
    if fmt is Format.JSON:
        out.write(json.dumps(list(rows), indent=2, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.JSONL:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    elif fmt is Format.CSV:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _plain(row.get(c)) for c in columns})
    else:
        table = Table(title=title, title_justify="left")
        for c in columns:
            table.add_column(c, overflow="fold")
        for row in rows:
            table.add_row(*(shown(_plain(row.get(c))) for c in columns))
        # Piped output is not folded to 80 columns: scripts and pagers get whole rows.
        Console(soft_wrap=False, width=None if out.isatty() else 240).print(table)


def shown(text: str) -> str:
    """``text`` as a terminal may show it: controls visible as escapes, rich markup escaped."""
    return escape(text.translate(_CONTROLS))


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
