"""A built market LP as text in LP format, with names from the family table, so that a
structural change to the model shows as a readable diff (``tests/golden/*.lp``)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from rareflow.market.families import COLUMNS, ROWS
from rareflow.market.program import INF

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel


def _clean(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", str(value))


def column_name(meta: dict[str, Any]) -> str:
    family = COLUMNS[meta["kind"]]
    parts = [meta["kind"], f"p{meta['period']}", *(meta[field] for field in family.index)]
    return "__".join(_clean(p) for p in parts)


def row_name(key: tuple[Any, ...]) -> str:
    assert key[0] in ROWS
    return "__".join(_clean(p) for p in (key[0], f"p{key[1]}", *key[2:]))


def _number(value: float) -> str:
    return f"{value:.10g}"


def lp_text(model: MarketModel) -> str:
    """The model's current objective, rows and bounds (levers as applied now)."""
    program = model.program
    names = [column_name(meta) for meta in program.meta]
    matrix = model.matrix().tocsr()
    lines = ["\\ rareflow market LP: objective in kUSD, flows in t", "maximize", " obj:"]
    terms = [f"{'+' if c >= 0 else '-'} {_number(abs(c))} {names[i]}"
             for i, c in enumerate(model.cost) if c != 0]  # fmt: skip
    lines += [f"  {t}" for t in terms] or ["  0"]
    lines.append("subject to")
    keys = sorted(program.rows, key=lambda k: program.rows[k])
    for key in keys:
        index = program.rows[key]
        start, end = matrix.indptr[index], matrix.indptr[index + 1]
        row = " ".join(
            f"{'+' if v >= 0 else '-'} {_number(abs(v))} {names[c]}"
            for c, v in sorted(zip(matrix.indices[start:end], matrix.data[start:end], strict=True))
        ) or "0 dummy"  # fmt: skip
        lower, upper = model.row_lower[index], model.current_row_upper[index]
        if lower == upper:
            lines.append(f" {row_name(key)}: {row} = {_number(upper)}")
        else:
            if np.isfinite(upper) and upper < INF:
                lines.append(f" {row_name(key)}: {row} <= {_number(upper)}")
            if np.isfinite(lower) and lower > -INF:
                lines.append(f" {row_name(key)}_lo: {row} >= {_number(lower)}")
    lines.append("bounds")
    for name, upper in zip(names, model.upper, strict=True):
        bound = "+inf" if not np.isfinite(upper) or upper >= INF else _number(upper)
        lines.append(f" 0 <= {name} <= {bound}")
    lines.append("end")
    return "\n".join(lines) + "\n"
