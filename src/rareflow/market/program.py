"""A small sparse LP builder (columns with metadata, keyed rows) and a quiet HiGHS instance."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import highspy

INF = highspy.kHighsInf


@dataclass
class Program:
    cost: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[tuple[Any, ...], int] = field(default_factory=dict)
    row_upper: list[float] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    entries: tuple[list[int], list[int], list[float]] = field(default_factory=lambda: ([], [], []))

    def row(self, key: tuple[Any, ...], lower: float = 0.0, upper: float = 0.0) -> int:
        index = self.rows.get(key)
        if index is None:
            index = self.rows[key] = len(self.row_upper)
            self.row_lower.append(lower)
            self.row_upper.append(upper)
        return index

    def column(
        self,
        meta: dict[str, Any],
        cost: float,
        entries: list[tuple[tuple[Any, ...], float]],
        upper: float = INF,
    ) -> int:
        index = len(self.cost)
        self.cost.append(cost)
        self.upper.append(upper)
        self.meta.append(meta)
        rows, columns, values = self.entries
        for key, value in entries:
            rows.append(self.row(key))
            columns.append(index)
            values.append(value)
        return index


def pool(commodity: str, item: str, location: str, track: int) -> tuple[Any, ...]:
    """Key of the balance row: uses - supplies = 0 (its dual is the price)."""
    return ("pool", commodity, item, location, track)


def quiet_highs() -> highspy.Highs:
    """A HiGHS instance whose start-up banner (printed by the C++ library on fd 1) is dropped,
    so that JSON written to stdout stays clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highs = highspy.Highs()  # type: ignore[no-untyped-call]
            highs.setOptionValue("output_flag", False)
            # the LP is small and sparse; presolve costs more than it saves (benchmarks/README.md)
            highs.setOptionValue("presolve", "off")
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return highs
