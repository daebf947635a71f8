"""Fixed tie-breaks that make each year's market optimum, and its prices, unique.

A market LP with stepped supply and demand curves, tranches of stock and lanes that carry
nothing is degenerate: many flows can be equally optimal (which plant makes which grade, where
idle stock sits), and a price can lie anywhere in an interval (at the edge of a step, or in a
pool nothing flows through). The simplex then reports whichever optimum its path reaches, so the
same year solved warm or cold, or inside a game's larger LP, gave other prices (many times
apart in a pool nothing flows through) and other flows, and a run carried them into the next
years' stocks and expectations.

HiGHS is given, instead of the model's own costs and bounds, ones moved by tiny amounts fixed by
each column's and row's name: every column costs up to ``TIE_COST_USD_PER_KG`` more (breaks ties
between flows), every open column may run from just below zero to just above its upper bound,
and every inequality row is relaxed by up to ``TIE_BOUND_T`` (breaks ties between prices). The
perturbed LP has one optimum whatever the path, and it is within those amounts of an optimum of
the model's LP. The model's arrays are never changed; reported flows are clamped into the model's
bounds, and prices are the duals of the optimal basis at the model's own costs. Where
the model's LP leaves a price undetermined, the one reported is fixed by these names, not by
economics (docs/market.md).
"""

from __future__ import annotations

import hashlib

import highspy
import numpy as np

from rareflow.market.program import Program

TIE_COST_USD_PER_KG = 1e-3
"""Largest added cost of a column (USD/kg, i.e. thousand USD per t): below any price's last
reported digit (and taken out of the prices), large enough for HiGHS's tolerances to see after
scaling (1e-4 was not)."""
TIE_BOUND_T = 1e-8
"""Largest move of a bound (t): a hundred times the feasibility tolerance HiGHS is given (1e-10,
``program.py``), and far below any flow the model reports."""


class TieBreak:
    """Fixed, tiny, distinct perturbations of costs and bounds that HiGHS sees (never the
    model's own arrays), so that the optimum and its prices are unique and the same whatever
    path the simplex took."""

    def __init__(self, program: Program) -> None:
        names = [repr(sorted(meta.items())) for meta in program.meta]
        u, v = _uniform(names, b"cost"), _uniform(names, b"bound")
        row_names = [""] * len(program.row_lower)
        for key, index in program.rows.items():
            row_names[index] = repr(key)
        w = _uniform(row_names, b"row")
        self.cost = -TIE_COST_USD_PER_KG * (0.5 + u)
        self.lower = -TIE_BOUND_T * (0.5 + v)
        self.upper = TIE_BOUND_T * (0.5 + v)
        self.row = TIE_BOUND_T * (0.5 + w)

    def columns(self, at: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of these columns as HiGHS sees them: closed columns stay at zero."""
        top = upper[at]
        open_ = top > 0
        lower = np.where(open_, self.lower[at], 0.0)
        return lower, np.where(open_ & np.isfinite(top), top + self.upper[at], top)

    def rows(
        self, at: np.ndarray, lower: np.ndarray, upper: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Inequality rows relaxed by a tiny distinct amount; equalities as they are."""
        low, high = lower[at], upper[at]
        ranged = high > low
        shift = self.row[at]
        low = np.where(ranged & np.isfinite(low), low - shift, low)
        high = np.where(ranged & np.isfinite(high), high + shift, high)
        return low, high

    def model_duals(self, highs: highspy.Highs, duals: np.ndarray) -> np.ndarray:
        """Row duals of the optimal basis HiGHS holds, at the model's own costs: the tie costs'
        share, B^-T of the basic columns' tie costs, taken out (one solve with the basis's
        factors). Prices then match hand calculations to rounding."""
        _, basic = highs.getBasicVariables()  # type: ignore[attr-defined]
        basic = np.asarray(basic)
        structural = basic >= 0
        ties = np.zeros(basic.size)
        ties[structural] = self.cost[basic[structural]]
        _, share = highs.getBasisTransposeSolve(ties)  # type: ignore[attr-defined]
        corrected: np.ndarray = duals - np.asarray(share)
        return corrected


def _uniform(names: list[str], salt: bytes) -> np.ndarray:
    """A number in [0, 1) fixed by each name (not by its position in the LP)."""
    digests = (hashlib.blake2b(n.encode(), digest_size=8, salt=salt).digest() for n in names)
    return np.array([int.from_bytes(d, "little") / 2.0**64 for d in digests])
