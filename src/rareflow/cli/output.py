"""Printing helpers shared by the CLI commands: tables, JSON, errors."""

from __future__ import annotations

import json
import math
import sys
from typing import Any, NoReturn

import pandas as pd
from rich.console import Console
from rich.table import Table

from rareflow.plain import jsonable

console = Console()
errors = Console(stderr=True)


def counted(number: int, noun: str) -> str:
    """``1 problem``, ``2 problems``: a count with its noun in the right number."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(jsonable(payload), indent=2, ensure_ascii=False) + "\n")


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [jsonable(r) for r in frame.to_dict(orient="records")]


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        if abs(value) >= 10000:  # four digits stay bare, as years do (report.page.readable)
            return f"{value:,.0f}"
        if abs(value) < 1e-6:  # solver noise around zero (a table shows quantities, not 1e-8 t)
            return "0"
        return str(int(value)) if value.is_integer() else f"{value:.6g}"
    return str(value)


def print_frame(frame: pd.DataFrame, title: str | None = None, limit: int | None = None) -> None:
    """Print a DataFrame as a rich table (``limit`` rows at most, with a count of the rest).

    Words are never broken: each column is at least as wide as its longest word, and a table
    that cannot fit the terminal that way is printed one record at a time instead."""
    shown = frame if limit is None else frame.head(limit)
    headers = [str(c) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in shown.itertuples(index=False)]
    widest = [
        max(
            len(word)
            for text in [header, *(row[i] for row in rows)]
            for word in text.split() or [""]
        )
        for i, header in enumerate(headers)
    ]
    room = console.width - (3 * len(headers) + 1)  # borders and padding
    if sum(widest) > room and len(headers) > 2:
        _print_records(headers, rows, title)
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        widths = _widths(headers, rows, widest, room)
        for column, header, width in zip(frame.columns, headers, widths, strict=True):
            numeric = pd.api.types.is_numeric_dtype(frame[column])
            table.add_column(header, justify="right" if numeric else "left", width=width)
        for row in rows:
            table.add_row(*row)
        console.print(table, crop=False)
    if limit is not None and len(frame) > limit:
        console.print(f"... {len(frame) - limit} more rows (use --limit 0 for all)")


def _widths(headers: list[str], rows: list[list[str]], widest: list[int], room: int) -> list[int]:
    """Column widths that fit ``room``: each column's longest line if they all fit, else its
    longest word plus a share of the space left, in proportion to what it would still need."""
    longest = [
        max(len(text) for text in [header, *(row[i] for row in rows)])
        for i, header in enumerate(headers)
    ]
    if sum(longest) <= room:
        return longest
    spare = max(0, room - sum(widest))
    wanted = [full - least for full, least in zip(longest, widest, strict=True)]
    total = sum(wanted) or 1
    return [least + spare * need // total for least, need in zip(widest, wanted, strict=True)]


def _print_records(headers: list[str], rows: list[list[str]], title: str | None) -> None:
    """One block per row, one "header: value" line per column (for narrow terminals)."""
    if title:
        console.print(f"[bold]{title}[/]")
    width = max(len(h) for h in headers)
    for number, row in enumerate(rows, start=1):
        console.print(f"[dim]-- {number} --[/]")
        for header, value in zip(headers, row, strict=True):
            console.print(f"{header.rjust(width)}: {value}", markup=False, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and exit with ``code`` (no traceback)."""
    errors.print("[bold red]error:[/] ", end="")
    errors.print(message, markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)
