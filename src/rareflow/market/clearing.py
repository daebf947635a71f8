"""Clearing a market: solve the LP, settle export taxes, licences and price floors, check, report.

Three levers depend on the prices the LP finds, so they are settled with warm re-solves:

- an **export tax** is ad valorem on the export (FOB) price, which the tax itself raises: the
  per-kg tax t = rate x FOB(t) is a fixed point, reached by secant steps on the tax base (a
  plain iteration contracts only by the rate, slowly for high rates);
- a **licence** lets through (1 - refused share) of each product's flows the year before; a
  one-year clearing takes "the year before" as the same year without the licence;
- a **price floor** pays eligible producers the gap between the floor and the market price on
  up to the guaranteed volume; the per-kg subsidy s = max(0, floor - price(s)) is settled by
  safeguarded fixed-point steps (bisection where they stall).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.levers import Levers
from rareflow.market.accounting import subsidy_payments
from rareflow.market.effects import EffectKind
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA, CHINA_EXPORT, World
from rareflow.market.program import pool
from rareflow.market.rents import buyer_rent
from rareflow.market.results import MarketResult, summarise
from rareflow.market.world_data import build_world

FLOOR_TOLERANCE_USD_PER_KG = 1e-3
FLOOR_MAX_SOLVES = 40
FLOOR_ROUNDS = 4
TAX_TOLERANCE_USD_PER_KG = 1e-3
TAX_ROUNDS = 12

Solution = tuple[np.ndarray, np.ndarray, float]


@dataclass
class Clearing:
    """A built model that clears again after cheap changes (warm starts)."""

    model: MarketModel
    _evaluated: tuple[dict[str, float], Solution] | None = field(
        default=None, init=False, repr=False
    )
    """The floor subsidies of the last floor evaluation and its solution."""

    @classmethod
    def from_dataset(
        cls,
        dataset: Dataset,
        year: int | None = None,
        levers: Levers | None = None,
        periods: int = 1,
    ) -> Clearing:
        world = build_world(dataset, year)
        if levers is not None:
            world.levers = world.levers.merged(levers)
        return cls(MarketModel(world, periods))

    @property
    def world(self) -> World:
        return self.model.world

    def solve(self) -> MarketResult:
        """Clear the market (settling taxes, licences and floors) and return the checked
        result of period 0."""
        self.reference_licences()
        values, duals, objective, iterations = self.solve_arrays()
        return summarise(self.model, values, duals, objective, iterations)

    def solve_arrays(self) -> tuple[np.ndarray, np.ndarray, float, int]:
        """Clear the market: column values, row duals, objective and the number of LP solves,
        without building result tables (for year loops)."""
        solution = self.model.solve_once()
        iterations = 1
        if self._taxes():
            solution, used = self._settle_taxes(solution)
            iterations += used
        if any(f in self.model.levers.active[0] for f in self.model.floor_subsidy):
            solution, used = self._settle_floors(solution)
            iterations += used
        return (*solution, iterations)

    def reference_licences(self) -> None:
        """Licences without volumes get (1 - refused share) x each product's flows when no
        licence is in force (one solve)."""
        model = self.model
        pending = [
            licence
            for licence in self.world.levers.licences
            if licence.id in model.levers.active[0] and (licence.id, 0) not in model.referenced
        ]
        if not pending:
            return
        active = [set(a) for a in model.levers.active]
        model.activate({i for i in active[0] if i not in {lic.id for lic in pending}})
        values, _, _ = model.solve_once()
        for licence in pending:
            for period in range(model.periods):
                flows = model.licence_flows(licence.id, period, values)
                model.set_licence_volumes(licence, period, flows)
        model.levers.active = active
        model.refresh()

    def subsidy_cost_kusd(self, values: np.ndarray) -> float:
        """What active floors and production subsidies cost in period 0 at these levels."""
        model = self.model
        floors = sum(
            model.floor_subsidy[f] * float(values[c])
            for (f, period), c in model.floor_columns.items()
            if period == 0 and f in model.levers.active[0]
        )
        if not model.world.levers.subsidies:
            return floors
        return floors + sum(kusd for _, kusd in subsidy_payments(model, values).values())

    # --- cheap changes for re-solves ---------------------------------------------------------

    def set_capacity(self, node_id: str, capacity_t: float, period: int | None = None) -> None:
        """New capacity of a mine or plant (t/yr), in one period or all."""
        for p in range(self.model.periods) if period is None else [period]:
            self.model.set_row_upper(("capacity", p, node_id), capacity_t)

    def scale_demand(
        self, factor: float, end_use: str | None = None, region: str | None = None
    ) -> None:
        """Multiply the reference demand of segments (all, or one end use and/or region)."""
        segments = {
            s.id
            for s in self.world.segments
            if (end_use is None or s.end_use == end_use) and (region is None or s.region == region)
        }
        self.model.set_column_scale(self.demand_columns(segments), factor)

    def demand_columns(self, segments: set[str]) -> np.ndarray:
        program = self.model.program
        return np.array(
            [c for c in program.select("demand") if program.meta[c]["segment"] in segments],
            dtype=int,
        )

    def activate(self, lever_ids: set[str]) -> None:
        """Exactly these levers (of those the model was built with) are in force."""
        self.model.activate(lever_ids)

    # --- export taxes ------------------------------------------------------------------------

    def _taxes(self) -> list[tuple[int, int, tuple[object, ...]]]:
        """(effect position, column, key of the pool whose price is the tax base) per active
        ad valorem effect."""
        model, program = self.model, self.model.program
        found = []
        for position, effect in model.levers.of_kind(EffectKind.AD_VALOREM):
            if effect.lever not in model.levers.active[effect.period]:
                continue
            meta = program.meta[effect.target]
            destination = meta.get("destination", CHINA_EXPORT)
            key = pool(meta["commodity"], meta["item"], destination, meta["track"], effect.period)
            found.append((position, effect.target, key))
        return found

    def _settle_taxes(self, solution: Solution) -> tuple[Solution, int]:
        """Find the tax bases (FOB net of freight) that reproduce themselves: b = FOB(b). The FOB
        price moves with the tax it carries, FOB(b) ~ a + slope x b with a slope between 0 (no
        pass-through) and the rate (full), so each base takes a secant step on b - FOB(b)
        once two points are known (exact when the slope is constant, as in the textbook case)
        and a plain step before; it stops when every base reproduces itself within tolerance."""
        model, used = self.model, 0
        taxes = self._taxes()
        last: dict[int, tuple[float, float]] = {}
        for _ in range(TAX_ROUNDS):
            duals, updates, change = solution[1], {}, 0.0
            for position, column, key in taxes:
                effect = model.levers.effects[position]
                meta = model.program.meta[column]
                price = duals[model.program.rows[key]] / model.discount[effect.period]
                if key[4] == CHINA_EXPORT:  # the exporters' price: less what licensed buyers keep
                    price -= buyer_rent(
                        model, duals, meta["commodity"], meta["item"], effect.period
                    )
                freight = model.freight(meta["commodity"], meta.get("origin", CHINA),
                                        meta.get("destination", CHINA_EXPORT))  # fmt: skip
                fob = max(0.0, price - freight)
                base = model.levers.tax_base.get(position, 0.0)
                change = max(change, abs(fob - base))
                updates[position] = _secant(base, fob, last.get(position))
                last[position] = (base, fob)
            if change <= TAX_TOLERANCE_USD_PER_KG:
                break
            model.levers.tax_base.update(updates)
            model.refresh()
            solution = model.solve_once()
            used += 1
        return solution, used

    # --- floors ------------------------------------------------------------------------------

    def _floor_gap(self, floor_id: str, duals: np.ndarray) -> float:
        """Floor minus the output-weighted market price of the floor's elements at its plants
        (period 0)."""
        floor = next(f for f in self.world.levers.floors if f.id == floor_id)
        rows = self.model.program.rows
        plants = {p.id: p for p in self.world.plants()}
        weighted, weight = 0.0, 0.0
        for plant_id in floor.plants:
            location = plants[plant_id].location
            for e in floor.elements:
                share = sum(c for _, c in self.model.outputs.get((0, plant_id, e), []))
                row = rows.get(pool("oxide", e, location, 0))
                if row is not None and share > 0:
                    weighted += share * duals[row]
                    weight += share
        price = weighted / weight if weight else 0.0
        return floor.floor_usd_per_kg - price

    def _set_floor(self, floor_id: str, subsidy: float) -> None:
        self.model.floor_subsidy[floor_id] = subsidy
        for (f, period), column in self.model.floor_columns.items():
            if f == floor_id:
                active = f in self.model.levers.active[period]
                self.model.set_column_cost(column, self.model.discount[period] * subsidy * active)

    def _excess(self, floor_id: str, subsidy: float) -> float:
        """h(s) = (floor - price at subsidy s) - s: positive while the subsidy is too small."""
        self._set_floor(floor_id, subsidy)
        solution = self.model.solve_once()
        self._evaluated = (dict(self.model.floor_subsidy), solution)
        return max(0.0, self._floor_gap(floor_id, solution[1])) - subsidy

    def _floor_root(self, floor_id: str, ceiling: float) -> tuple[float, int]:
        """The subsidy s in [0, ceiling] where h(s) = 0, and the solves it took.

        h(0) >= 0 and h(ceiling) <= 0 unless the price is negative, so a root lies between (else
        the subsidy stops at the ceiling, the floor itself). Where
        the price does not move with s, h falls with slope -1 and the step s + h(s) (the floor
        gap at s) lands on the root at once; it is taken while it stays inside the bracket and
        at least halves |h|, else the bracket is halved. Starting from the last subsidy, a
        year or a round that moves the price little settles in one or two solves."""
        low, high = 0.0, ceiling
        subsidy = min(max(self.model.floor_subsidy.get(floor_id, 0.0), 0.0), ceiling)
        last = np.inf
        for solves in range(1, FLOOR_MAX_SOLVES + 1):
            excess = self._excess(floor_id, subsidy)
            if abs(excess) <= FLOOR_TOLERANCE_USD_PER_KG:
                return subsidy, solves
            low, high = (subsidy, high) if excess > 0 else (low, subsidy)
            if high - low <= FLOOR_TOLERANCE_USD_PER_KG:
                break
            step = subsidy + excess  # max(0, gap) >= 0: 0 when the floor does not bind
            inside = (low < step or step == low == 0.0) and step < high
            inside = inside and abs(excess) <= 0.5 * abs(last)
            subsidy, last = (step if inside else 0.5 * (low + high)), excess
        return high, solves

    def _settle_floors(self, solution: Solution) -> tuple[Solution, int]:
        """Each active floor's subsidy in turn, in rounds until none moves; the solution at the
        settled subsidies (the last evaluation's when it was at them: one optimum per state)."""
        model, used = self.model, 0
        self._evaluated = None
        for _ in range(FLOOR_ROUNDS):
            changed = False
            for floor in self.world.levers.floors:
                if floor.id not in model.levers.active[0]:
                    continue
                before = model.floor_subsidy[floor.id]
                subsidy, solves = self._floor_root(floor.id, floor.floor_usd_per_kg)
                used += solves
                self._set_floor(floor.id, subsidy)
                changed |= abs(subsidy - before) > FLOOR_TOLERANCE_USD_PER_KG
            if self._evaluated is not None and self._evaluated[0] == model.floor_subsidy:
                solution = self._evaluated[1]
            else:
                solution = model.solve_once()
                used += 1
            if not changed:
                break
        return solution, used


def _secant(base: float, fob: float, before: tuple[float, float] | None) -> float:
    """The next tax base: the root of b - FOB(b) through this point and the one before, when
    their slope is a plausible pass-through (0 to 0.98), else FOB itself."""
    if before is not None and abs(base - before[0]) > 1e-12:
        slope = (fob - before[1]) / (base - before[0])
        if 0.0 <= slope <= 0.98:
            return max(0.0, (fob - slope * base) / (1.0 - slope))
    return fob


def clear(dataset: Dataset, year: int | None = None, levers: Levers | None = None) -> MarketResult:
    """Clear the world market of ``year`` under the base levers plus ``levers``."""
    return Clearing.from_dataset(dataset, year, levers).solve()
