"""Learning curves of a scenario: a node's unit cost moves from ``cost_factor_start`` to
``cost_factor_end`` times its base cost over ``years`` from ``start`` (linear), in every period
of the horizon (objective coefficients are minus costs, discounted by period)."""

from __future__ import annotations

import numpy as np

from rareflow.scenario.schema import Learning
from rareflow.simulate.world import ScenarioMarket


class LearningCurves:
    """The columns each curve acts on, found once per built market."""

    def __init__(self, market: ScenarioMarket, periods: int) -> None:
        self.market, self.periods = market, periods
        self.curves = self._columns()

    def _columns(self) -> list[tuple[Learning, int, np.ndarray, np.ndarray, float]]:
        """(curve, period, columns of its node, their base objective costs, unit cost)."""
        model = self.market.clearing.model
        program = model.program
        mines = {m.id for m in self.market.world.mines}
        nodes = {m.id: m.cost_usd_per_kg for m in self.market.world.mines}
        nodes.update({p.id: p.cost_usd_per_kg for p in self.market.world.plants()})
        found: list[tuple[Learning, int, np.ndarray, np.ndarray, float]] = []
        for curve in self.market.scenario.learning:
            if curve.node in mines:
                owned = [c for c in program.select("concentrate")
                         if program.meta[c]["mine"] == curve.node]  # fmt: skip
            else:
                owned = [c for c in range(len(program.meta))
                         if program.meta[c].get("plant") == curve.node]  # fmt: skip
            for period in range(self.periods):
                columns = np.array([c for c in owned if program.meta[c]["period"] == period],
                                   dtype=int)  # fmt: skip
                base = model.base_cost[columns].copy()
                found.append((curve, period, columns, base, nodes[curve.node]))
        return found

    def apply(self, year: int, period: int) -> None:
        """Unit costs of ``period`` (year + period) on the learning path."""
        model = self.market.clearing.model
        when = year + period
        for curve, p, columns, base, cost in self.curves:
            if p != period:
                continue
            start, years = curve.start, curve.years
            first, last = curve.cost_factor_start, curve.cost_factor_end
            factor = (
                1.0 if when < start else first + min(1.0, (when - start) / years) * (last - first)
            )
            model.base_cost[columns] = base - (factor - 1.0) * cost * model.discount[period]
