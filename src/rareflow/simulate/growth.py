"""Demand growth of a run: each demand group's factor from the first year, as arrays.

A demand group is the demand-step columns of one (end use, region, oxide element or None,
period). Its growth rule's rate in each year is the same in every run; a run draws one scale
of all rates, so a run's factors are one cumulative product per group, and a year's demand is
one indexed assignment of the model's column scales.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from rareflow.scenario.schema import Growth

if TYPE_CHECKING:
    from rareflow.simulate.world import ScenarioMarket

GroupKey = tuple[str, str, str | None, int]
"""(end use, region, oxide element or None, period)."""


def growth_rates(
    rules: list[Growth],
    end_use: str,
    region: str,
    element: str | None,
    years: range,
) -> np.ndarray:
    """The rate (%) in force in each of ``years``: the first rule in force among the element's
    rules, then among the end use's (the ``default`` rules when the end use has none)."""
    specific = [g for g in rules if g.end_use == end_use and g.region in (None, region)]
    own = [g for g in specific if element in g.elements]
    general = [g for g in specific if not g.elements]
    chosen = own + (general or [g for g in rules if g.end_use == "default"])
    return np.array([
        next((g.rate_pct for g in chosen
              if (g.start is None or g.start <= y) and (g.end is None or y <= g.end)), 0.0)
        for y in years
    ])  # fmt: skip


class DemandGrowth:
    """Every demand group's growth factor by year, for the growth scale a run draws."""

    def __init__(
        self,
        rules: list[Growth],
        groups: dict[GroupKey, np.ndarray],
        magnet_reference: dict[tuple[str, str], float],
        first_year: int,
        last_year: int,
        periods: int,
    ) -> None:
        self.first_year = first_year
        later = range(first_year + 1, last_year + periods + 1)
        self.columns: list[np.ndarray] = []
        """Per period: the demand columns of its groups, concatenated."""
        self.owner: list[np.ndarray] = []
        """Per period: the index of each of those columns' group."""
        self.rates: list[np.ndarray] = []
        """Per period: groups x years after the first, the rate (%) in force."""
        self.magnet_reference: list[np.ndarray] = []
        """Per period: each group's reference magnet demand (t; 0 for other groups)."""
        for period in range(periods):
            keys = [key for key in groups if key[3] == period]
            self.columns.append(np.concatenate([groups[k] for k in keys]).astype(np.int64)
                                if keys else np.zeros(0, dtype=np.int64))  # fmt: skip
            self.owner.append(np.repeat(np.arange(len(keys)), [groups[k].size for k in keys]))
            self.rates.append(np.array([growth_rates(rules, *k[:3], later) for k in keys])
                              .reshape(len(keys), len(later)))  # fmt: skip
            self.magnet_reference.append(
                np.array([magnet_reference.get(k[:2], 0.0) for k in keys], dtype=float)
            )
        self._scale = math.nan
        self._paths: list[np.ndarray] = []

    def paths(self, scale: float) -> list[np.ndarray]:
        """Per period: groups x years from the first, each group's factor under ``scale``."""
        if scale != self._scale:
            self._paths = [
                np.hstack([np.ones((r.shape[0], 1)), np.cumprod(1.0 + scale * r / 100.0, axis=1)])
                for r in self.rates
            ]
            self._scale = scale
        return self._paths

    def apply(self, column_scale: np.ndarray, year: int, period: int, scale: float) -> float:
        """Set the period's demand-column scales for ``year``; returns its reference magnet
        demand (t)."""
        factors = self.paths(scale)[period][:, max(0, year + period - self.first_year)]
        column_scale[self.columns[period]] = factors[self.owner[period]]
        return float(factors @ self.magnet_reference[period])


def installed_magnets(
    market: ScenarioMarket, magnet_reference: dict[tuple[str, str], float], start: int
) -> dict[tuple[str, str], dict[int, float]]:
    """Magnets put in use before the first year ``start``, by (end use, region) and year: the
    base year's reference use discounted by the end use's past growth (``market.yaml``), back
    over the longest lifetime, so end-of-life scrap flows from the first year."""
    recycling, dataset = market.scenario.recycling, market.dataset
    if not recycling.lifetimes or dataset is None or dataset.market is None:
        return {}
    growth = dataset.market.magnet_use_growth_pct
    default = growth["default"].value if "default" in growth else 0.0
    oldest = max(recycling.lifetimes.values())
    found: dict[tuple[str, str], dict[int, float]] = {}
    for (end_use, region), used in magnet_reference.items():
        rate = growth[end_use].value if end_use in growth else default
        found[(end_use, region)] = {
            start - age: used * (1 + rate / 100.0) ** -age for age in range(1, oldest + 1)
        }
    return found
