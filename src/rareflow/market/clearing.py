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

FLOOR_TOLERANCE_USD_PER_KG = 1e-4
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
        values, duals, objective = self.model.solve_once()
        iterations = 1
        if self.model.floor_columns:
            values, duals, objective, used = self._settle_floors()
            iterations += used
        return summarise(self.model, values, duals, objective, iterations)

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

    def _settle_floors(self) -> tuple[np.ndarray, np.ndarray, float, int]:
        model, used = self.model, 0
        values, duals, objective = model.solve_once()
        for _ in range(FLOOR_ROUNDS):
            changed = False
            for floor in self.world.levers.floors:
                column = model.floor_columns[floor.id]
                low, high = 0.0, floor.floor_usd_per_kg
                model.set_column_cost(column, 0.0)
                values, duals, objective = model.solve_once()
                used += 1
                if self._floor_gap(floor.id, duals) <= 0:
                    subsidy = 0.0
                else:
                    while high - low > FLOOR_TOLERANCE_USD_PER_KG:
                        middle = 0.5 * (low + high)
                        model.set_column_cost(column, middle)
                        values, duals, objective = model.solve_once()
                        used += 1
                        low, high = (
                            (middle, high)
                            if self._floor_gap(floor.id, duals) > middle
                            else (low, middle)
                        )
                    subsidy = high
                model.set_column_cost(column, subsidy)
                changed |= abs(subsidy - model.floor_subsidy[floor.id]) > FLOOR_TOLERANCE_USD_PER_KG
                model.floor_subsidy[floor.id] = subsidy
            values, duals, objective = model.solve_once()
            used += 1
            if not changed:
                break
        return values, duals, objective, used


def clear(dataset: Dataset, year: int | None = None, levers: Levers | None = None) -> MarketResult:
    """Clear the world market of ``year`` under the base levers plus ``levers``."""
    return Clearing.from_dataset(dataset, year, levers).solve()
