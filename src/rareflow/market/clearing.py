"""Clearing one market year: solve the LP, settle price floors, check balances, report.

A price floor pays eligible producers the gap between the floor and the market price on up to
the guaranteed volume. The gap depends on the price the LP finds, so it is settled by bisection
on the per-kg subsidy s (s = max(0, floor - price(s))), each step a warm-started re-solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.levers import Levers
from rareflow.market.model import MarketModel
from rareflow.market.network import World
from rareflow.market.program import pool
from rareflow.market.results import MarketResult, summarise
from rareflow.market.world_data import build_world

FLOOR_TOLERANCE_USD_PER_KG = 1e-3
FLOOR_FIRST_STEP_USD_PER_KG = 1.0
FLOOR_ROUNDS = 4


@dataclass
class Clearing:
    """A built model that clears again after cheap changes (warm starts)."""

    model: MarketModel

    @classmethod
    def from_dataset(
        cls, dataset: Dataset, year: int | None = None, levers: Levers | None = None
    ) -> Clearing:
        world = build_world(dataset, year)
        if levers is not None:
            world.levers = world.levers.merged(levers)
        return cls(MarketModel(world))

    @property
    def world(self) -> World:
        return self.model.world

    def solve(self) -> MarketResult:
        """Clear the market (settling floors) and return the checked result."""
        values, duals, objective, iterations = self.solve_arrays()
        return summarise(self.model, values, duals, objective, iterations)

    def solve_arrays(self) -> tuple[np.ndarray, np.ndarray, float, int]:
        """Clear the market (settling active floors): column values, row duals, objective and
        the number of LP solves, without building result tables (for year loops)."""
        values, duals, objective = self.model.solve_once()
        iterations = 1
        if any(f in self.model.active for f in self.model.floor_columns):
            values, duals, objective, used = self._settle_floors()
            iterations += used
        return values, duals, objective, iterations

    def subsidy_cost_kusd(self, values: np.ndarray) -> float:
        """What active floors and production subsidies cost at these activity levels."""
        model = self.model
        floors = sum(
            model.floor_subsidy[f] * float(values[c])
            for f, c in model.floor_columns.items()
            if f in model.active
        )
        if not model.world.levers.subsidies:
            return floors
        return floors + sum(kusd for _, kusd in model.subsidy_payments(values).values())

    # --- cheap changes for re-solves ---------------------------------------------------------

    def set_capacity(self, node_id: str, capacity_t: float) -> None:
        """New capacity of a mine or plant (t/yr)."""
        self.model.set_row_upper(("capacity", node_id), capacity_t)

    def scale_demand(
        self, factor: float, end_use: str | None = None, region: str | None = None
    ) -> None:
        """Multiply the reference demand of segments (all, or one end use and/or region)."""
        segments = {
            s.id
            for s in self.world.segments
            if (end_use is None or s.end_use == end_use) and (region is None or s.region == region)
        }
        columns = self.demand_columns(segments)
        self.model.set_column_scale(columns, factor)

    def demand_columns(self, segments: set[str]) -> np.ndarray:
        return np.array(
            [
                c
                for c, meta in enumerate(self.model.program.meta)
                if meta["kind"] == "demand" and meta["segment"] in segments
            ],
            dtype=int,
        )

    def activate(self, lever_ids: set[str]) -> None:
        """Exactly these levers (of those the model was built with) are in force."""
        self.model.activate(lever_ids)

    # --- floors ------------------------------------------------------------------------------

    def _floor_gap(self, floor_id: str, duals: np.ndarray) -> float:
        """Floor minus the output-weighted market price of the floor's elements at its plants."""
        floor = next(f for f in self.world.levers.floors if f.id == floor_id)
        rows = self.model.program.rows
        plants = {p.id: p for p in self.world.plants()}
        weighted, weight = 0.0, 0.0
        for plant_id in floor.plants:
            location = plants[plant_id].location
            for e in floor.elements:
                share = sum(c for _, c in self.model.outputs.get((plant_id, e), []))
                row = rows.get(pool("oxide", e, location, 0))
                if row is not None and share > 0:
                    weighted += share * duals[row]
                    weight += share
        price = weighted / weight if weight else 0.0
        return floor.floor_usd_per_kg - price

    def _bracket_and_bisect(self, floor_id: str, column: int, ceiling: float) -> tuple[float, int]:
        """The subsidy s in [0, floor] where h(s) = max(0, floor - price(s)) - s changes sign,
        searched from the last subsidy outwards (years and runs move it little)."""
        start = min(max(self.model.floor_subsidy.get(floor_id, 0.0), 0.0), ceiling)
        solves, step = 1, FLOOR_FIRST_STEP_USD_PER_KG
        if _excess(self, floor_id, column, start) > 0:
            low, high = start, ceiling
            while start + step < ceiling:
                solves += 1
                if _excess(self, floor_id, column, start + step) <= 0:
                    high = start + step
                    break
                low, step = start + step, 2 * step
        else:
            low, high = 0.0, start
            while start - step > 0:
                solves += 1
                if _excess(self, floor_id, column, start - step) > 0:
                    low = start - step
                    break
                high, step = start - step, 2 * step
        if low == 0.0 and high == start == 0.0:
            return 0.0, solves
        while high - low > FLOOR_TOLERANCE_USD_PER_KG:
            middle = 0.5 * (low + high)
            solves += 1
            low, high = (
                (middle, high) if _excess(self, floor_id, column, middle) > 0 else (low, middle)
            )
        return high, solves

    def _settle_floors(self) -> tuple[np.ndarray, np.ndarray, float, int]:
        model, used = self.model, 0
        values, duals, objective = model.solve_once()
        for _ in range(FLOOR_ROUNDS):
            changed = False
            for floor in self.world.levers.floors:
                if floor.id not in model.active:
                    continue
                column = model.floor_columns[floor.id]
                subsidy, solves = self._bracket_and_bisect(floor.id, column, floor.floor_usd_per_kg)
                used += solves
                model.set_column_cost(column, subsidy)
                changed |= abs(subsidy - model.floor_subsidy[floor.id]) > FLOOR_TOLERANCE_USD_PER_KG
                model.floor_subsidy[floor.id] = subsidy
            values, duals, objective = model.solve_once()
            used += 1
            if not changed:
                break
        return values, duals, objective, used


def _excess(clearing: Clearing, floor_id: str, column: int, subsidy: float) -> float:
    """h(s) = (floor - price at subsidy s) - s: positive while the subsidy is too small."""
    clearing.model.set_column_cost(column, subsidy)
    _, duals, _ = clearing.model.solve_once()
    return max(0.0, clearing._floor_gap(floor_id, duals)) - subsidy


def clear(dataset: Dataset, year: int | None = None, levers: Levers | None = None) -> MarketResult:
    """Clear the world market of ``year`` under the base levers plus ``levers``."""
    return Clearing.from_dataset(dataset, year, levers).solve()
