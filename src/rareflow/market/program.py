"""A sparse LP builder over declared families (``families.py``) and a quiet HiGHS instance.

Columns carry their family and index fields (``meta``); rows are keyed ``(family, period,
*index)``. Both are checked against the family table when they are made, and selected by family
afterwards (``select``), so the rest of the code never matches strings.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np

from rareflow.market.families import check_columns, check_row

INF = highspy.kHighsInf

RowKey = tuple[Any, ...]


@dataclass
class Program:
    cost: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    """Per column: ``kind`` (its family), ``period`` and the family's index fields."""
    rows: dict[RowKey, int] = field(default_factory=dict)
    row_upper: list[float] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    entries: tuple[list[int], list[int], list[float]] = field(default_factory=lambda: ([], [], []))
    _families: dict[str, list[int]] = field(default_factory=dict)

    def row(self, key: RowKey, lower: float = 0.0, upper: float = 0.0) -> int:
        index = self.rows.get(key)
        if index is None:
            check_row(key[0], len(key) - 1)
            index = self.rows[key] = len(self.row_upper)
            self.row_lower.append(lower)
            self.row_upper.append(upper)
        return index

    def column(
        self,
        family: str,
        index: dict[str, Any],
        cost: float,
        entries: list[tuple[RowKey, float]],
        upper: float = INF,
    ) -> int:
        check_columns(family, set(index))
        column = len(self.cost)
        self.cost.append(cost)
        self.upper.append(upper)
        self.meta.append({"kind": family, **index})
        self._families.setdefault(family, []).append(column)
        rows, columns, values = self.entries
        for key, value in entries:
            rows.append(self.row(key))
            columns.append(column)
            values.append(value)
        return column

    def entry(self, row: int, column: int, value: float) -> None:
        rows, columns, values = self.entries
        rows.append(row)
        columns.append(column)
        values.append(value)

    def select(self, *families: str, period: int | None = None) -> np.ndarray:
        """Columns of these families (optionally of one period), in build order."""
        found = sorted(c for f in families for c in self._families.get(f, []))
        if period is not None:
            found = [c for c in found if self.meta[c]["period"] == period]
        return np.asarray(found, dtype=np.int64)

    def row_keys(self, family: str, period: int | None = None) -> list[RowKey]:
        return [
            key for key in self.rows if key[0] == family and (period is None or key[1] == period)
        ]


def pool(commodity: str, item: str, location: str, track: int, period: int = 0) -> RowKey:
    """Key of the balance row: uses - supplies = initial stock (its dual is the price)."""
    return ("pool", period, commodity, item, location, track)


def capacity(node: str, period: int = 0) -> RowKey:
    return ("capacity", period, node)


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
            # the dual simplex's cost perturbation (against degeneracy, which the tie-break of
            # ties.py removes) quadrupled the pivots of warm re-solves after stock values moved
            highs.setOptionValue("dual_simplex_cost_perturbation_multiplier", 0.0)
            # tight enough to see the tie-break's bounds (ties.py)
            highs.setOptionValue("primal_feasibility_tolerance", 1e-10)
            # Dantzig pricing: a third off a cold solve and a little off warm ones here; with one
            # optimum per year (ties.py) the pricing rule cannot change any number
            highs.setOptionValue("simplex_dual_edge_weight_strategy", 0)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return highs
