"""The range a price could take where the market LP leaves it undetermined.

A place's price is the dual of its balance row. Where the LP is degenerate at the optimum (a
step of a demand or supply curve exactly filled, a pool nothing flows through), every price in
an interval is optimal, and the reported one is the tie-break's choice (docs/market.md,
"One optimum, one set of prices"): reproducible, not economic. The interval's ends are the
one-sided derivatives of the optimal welfare in the stock the balance starts with:

- ``low``: what one more t at the place is worth, (W(b + step) - W(b)) / step;
- ``high``: what one t fewer costs, (W(b) - W(b - step)) / step.

Welfare is concave in b, so low <= price <= high; a price is determined where they meet. Where
one more t cannot be used, low is -inf; where one t fewer cannot be replaced, high is +inf. Two
warm re-solves per price (period 0, the taxes and floor subsidies of the settled year held).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from rareflow.market.model import MarketModel
from rareflow.market.program import RowKey

STEP_T = 0.1
"""Stock added and removed at the place, t: small against every step of the curves."""
DETERMINED_USD_PER_KG = 0.01
"""A price whose interval is narrower than this (plus 0.1 % of it) counts as determined."""


def price_intervals(model: MarketModel, keys: Iterable[RowKey] | None = None) -> pd.DataFrame:
    """commodity, item, location, track, usd_per_kg (reported), low, high, determined for the
    balance rows ``keys`` (every period-0 balance by default) of a solved model; the model is
    left at its optimum."""
    rows = model.program.rows
    if keys is None:
        keys = [key for key in rows if key[0] == "pool" and key[1] == 0]
    _, duals, base = model.solve_once()
    found = []
    for key in keys:
        if key[0] != "pool" or key[1] != 0:
            raise ValueError(f"{key} is not a period-0 balance row")
        index = rows[key]
        lower, upper = float(model.row_lower[index]), float(model.row_upper[index])
        ends = []
        for sign in (1.0, -1.0):
            model.set_row_bounds(key, lower + sign * STEP_T, upper + sign * STEP_T)
            try:
                _, _, objective = model.solve_once(explain=False)
            except RuntimeError:
                # no way to use one more t (or to replace one t fewer) at the place
                ends.append(-sign * math.inf)
                model.highs.clearSolver()
                continue
            ends.append((objective - base) / (sign * STEP_T))
        model.set_row_bounds(key, lower, upper)
        price = float(duals[index])
        # the reported price is an optimal dual, so it lies in the interval: differences of
        # objectives (rounding about 1e-6 USD/kg) must not place it outside
        low, high = min(ends[0], price), max(ends[1], price)
        found.append(
            {"commodity": key[2], "item": key[3], "location": key[4], "track": key[5],
             "usd_per_kg": price, "low": low, "high": high,
             "determined": high - low <= DETERMINED_USD_PER_KG + 1e-3 * abs(price)}
        )  # fmt: skip
    model.solve_once()
    return pd.DataFrame(
        found,
        columns=["commodity", "item", "location", "track", "usd_per_kg", "low", "high",
                 "determined"],
    )  # fmt: skip
