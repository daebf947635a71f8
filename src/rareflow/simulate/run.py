"""One run of a scenario: the yearly loop over the horizon on a built market.

Each year: capacities from the pipeline (start, slippage, ramp-up), committed candidates
arriving after their lead time, demand growth by end use, end-of-life recycling by cohort,
stockpile purchases and releases, the levers in force, then the market clearing (warm-started;
price floors settled). Candidates commit when their capacity row's dual - the rent a t of
capacity would earn - has covered their annualised capital for ``signal_years`` years.
The HiGHS basis is reset to the base year's at the start of every run, so a run's numbers do
not depend on which runs the same worker solved before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rareflow.elements import element
from rareflow.market.results import _ledger
from rareflow.metrics import stockpile_days
from rareflow.process.cost import capital_recovery_factor
from rareflow.scenario.schema import Learning
from rareflow.simulate.plan import RunPlan, ramp_fraction
from rareflow.simulate.record import Recorder
from rareflow.simulate.world import ScenarioMarket, stock_lever_id

MAGNET_REO_PER_T = 0.36
"""t REO in a t of scrapped NdFeB magnet: ~31 % rare earths (metal) x ~1.17 oxide per metal."""


@dataclass
class RunState:
    committed: dict[str, list[int]] = field(default_factory=dict)
    """Candidate id -> arrival years of committed units."""
    signal: dict[str, int] = field(default_factory=dict)
    cohorts: dict[str, dict[int, float]] = field(default_factory=dict)
    """End use -> year -> t of magnets put in use."""
    stocks: dict[str, float] = field(default_factory=dict)


class Runner:
    """Runs of one scenario on one built market (one per worker process)."""

    def __init__(self, market: ScenarioMarket) -> None:
        self.market = market
        scenario = market.scenario
        self.years = list(range(scenario.horizon.start, scenario.horizon.end + 1))
        model = market.clearing.model
        self.recorder = Recorder(model, scenario.measure.group, tuple(scenario.measure.elements))
        self.segments = {s.id: s for s in market.world.segments}
        self.columns: dict[tuple[str, str], np.ndarray] = {}
        groups: dict[tuple[str, str], list[int]] = {}
        for column, meta in enumerate(model.program.meta):
            if meta["kind"] == "demand":
                segment = self.segments[meta["segment"]]
                groups.setdefault((segment.end_use, segment.region), []).append(column)
        self.columns = {k: np.array(v, dtype=int) for k, v in groups.items()}
        self.magnet_columns = {
            k: np.array([c for c in v if model.program.meta[c]["commodity"] == "magnet"], dtype=int)
            for k, v in groups.items()
        }
        self.magnet_reference = {
            k: sum(
                s.reference_t
                for s in self.segments.values()
                if (s.end_use, s.region) == k and s.commodity == "magnet"
            )
            for k in groups
        }
        self.stock_levers = self._stock_levers()
        self.annual_use = self._annual_use()
        self.factors = {year: self.growth_factors(year) for year in self.years}
        self.learning = self._learning_columns()
        self.lever_columns = {
            meta["lever"]: c for c, meta in enumerate(model.program.meta) if "lever" in meta
        }
        market.clearing.solve()
        self.base_basis = model.highs.getBasis()

    def _annual_use(self) -> dict[str, float]:
        """Reference annual use behind each stockpile element (t), keyed like the stocks."""
        return {
            f"{pile}_{e}": target * 365.0 / days
            for lever, (pile, e, kind, target) in self.stock_levers.items()
            if kind == "buy"
            for days in [next(p.days for p in self.market.scenario.stockpiles if p.id == pile)]
        }

    def _stock_levers(self) -> dict[str, tuple[str, str, str, float]]:
        """Stock purchase / release lever ids -> (pile id, element, kind, target t)."""
        found = {}
        world = self.market.world
        for pile in self.market.scenario.stockpiles:
            for e in pile.elements:
                use = sum(
                    s.reference_t
                    for s in world.segments
                    if s.region == pile.region and s.commodity == "oxide" and s.item == e
                )
                use += sum(
                    s.reference_t * world.grades[s.item].get(e, 0.0) * element(e).oxide_per_metal
                    for s in world.segments
                    if s.region == pile.region and s.commodity == "magnet"
                )
                target = use * pile.days / 365.0
                found[stock_lever_id(pile.id, e, "buy")] = (pile.id, e, "buy", target)
                found[stock_lever_id(pile.id, e, "release")] = (pile.id, e, "release", target)
        return found

    def run(self, plan: RunPlan) -> pd.DataFrame:
        """Yearly records of one run as a tidy DataFrame (run, year, metric, key, value)."""
        rows: list[tuple[int, str, str, float]] = []
        for year, values, duals, extra in self.years_of(plan):
            rows += self.recorder.record(year, values, duals, extra["reference"], extra["subsidy"])
            rows.append((year, "ledger_residual_t", "all", extra["ledger"]))
            rows.append((year, "recycled_t", "world", extra["recycled"]))
            for key, level in extra.items():
                if key.startswith("stock:"):
                    pile = key.removeprefix("stock:")
                    rows.append((year, "stock_t", pile, level))
                    use = self.annual_use.get(pile, 0.0)
                    rows.append((year, "stockpile_days", pile, stockpile_days(level, use)))
        frame = pd.DataFrame(rows, columns=["year", "metric", "key", "value"])
        frame.insert(0, "run", plan.run)
        return frame

    def years_of(
        self, plan: RunPlan, until: int | None = None
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, dict[str, float]]]:
        """Solve the run year by year: (year, column values, row duals, extras) each year."""
        model = self.market.clearing.model
        model.highs.clearSolver()
        model.highs.setBasis(self.base_basis)
        for floor_id in model.floor_subsidy:
            model.floor_subsidy[floor_id] = 0.0
        state = RunState()
        clearing = self.market.clearing
        for year in self.years:
            if until is not None and year > until:
                return
            self._capacities(year, plan, state)
            self._apply_learning(year)
            reference = self._demand(year, plan)
            recycled = self._recycling(year, state)
            self._levers(year, plan, state)
            values, duals, _, _ = clearing.solve_arrays()
            extra = {
                "reference": reference,
                "subsidy": clearing.subsidy_cost_kusd(values),
                "ledger": float(_ledger(clearing.model, values)["residual_t"].abs().max()),
                "recycled": recycled,
            }
            self._after(year, plan, state, values, duals)
            for key, level in state.stocks.items():
                extra[f"stock:{key}"] = level
            yield year, values, duals, extra

    def _learning_columns(self) -> list[tuple[Learning, np.ndarray, np.ndarray, float]]:
        """(curve, columns of its node, their base objective costs, the node's unit cost)."""
        model = self.market.clearing.model
        nodes = {m.id: m.cost_usd_per_kg for m in self.market.world.mines}
        nodes.update({p.id: p.cost_usd_per_kg for p in self.market.world.plants()})
        found = []
        for curve in self.market.scenario.learning:
            key = "mine" if curve.node in {m.id for m in self.market.world.mines} else "plant"
            columns = np.array(
                [c for c, m in enumerate(model.program.meta) if m.get(key) == curve.node
                 and (key == "plant" or m["kind"] == "concentrate")], dtype=int,
            )  # fmt: skip
            found.append((curve, columns, model.base_cost[columns].copy(), nodes[curve.node]))
        return found

    def _apply_learning(self, year: int) -> None:
        """Unit costs on the learning path (objective coefficients are minus costs)."""
        model = self.market.clearing.model
        for curve, columns, base, cost in self.learning:
            if year < curve.start:
                factor = 1.0
            else:
                progress = min(1.0, (year - curve.start) / curve.years)
                factor = curve.cost_factor_start + progress * (
                    curve.cost_factor_end - curve.cost_factor_start
                )
            model.base_cost[columns] = base - (factor - 1.0) * cost

    def _capacities(self, year: int, plan: RunPlan, state: RunState) -> None:
        market, clearing = self.market, self.market.clearing
        for node, factor in self.factors[year].items():
            extra = sum(
                p.capacity_t
                * ramp_fraction(year, plan.project_start[p.id], plan.project_ramp[p.id])
                for p in market.expansions.get(node, [])
            )
            clearing.set_capacity(node, market.base_capacity[node] * factor + extra)
        for node, project in market.new_nodes.items():
            fraction = ramp_fraction(
                year, plan.project_start[project.id], plan.project_ramp[project.id]
            )
            clearing.set_capacity(node, project.capacity_t * fraction)
        for node, candidate in market.candidates.items():
            arrivals = state.committed.get(node, [])
            units = sum(ramp_fraction(year, start, 2.0) for start in arrivals)
            clearing.set_capacity(node, candidate.capacity_t * units)

    def growth_factors(self, year: int) -> dict[str, float]:
        """Base-capacity factor of every existing node in ``year`` (capacity growth rules)."""
        market = self.market
        world = market.world
        existing = [
            n
            for n in list(market.expansions) + list(market.stages)
            if n not in market.new_nodes and n not in market.candidates
        ]
        factors = dict.fromkeys(existing, 1.0)
        for rule in market.scenario.capacity_growth:
            nodes = [
                n
                for n, (stage, place) in market.stages.items()
                if stage == rule.stage
                and world.matches(place, rule.places)
                and n not in market.new_nodes
                and n not in market.candidates
            ]
            for y in range(self.years[0] + 1, year + 1):
                if (rule.start is None or rule.start <= y) and (rule.end is None or y <= rule.end):
                    for n in nodes:
                        factors[n] *= 1 + rule.rate_pct / 100.0
        return factors

    def _growth(self, year: int, end_use: str, region: str, plan: RunPlan) -> float:
        factor = 1.0
        rules = self.market.scenario.demand.growth
        specific = [g for g in rules if g.end_use == end_use and g.region in (None, region)]
        chosen = specific or [g for g in rules if g.end_use == "default"]
        for y in range(self.years[0] + 1, year + 1):
            rate = next(
                (
                    g.rate_pct
                    for g in chosen
                    if (g.start is None or g.start <= y) and (g.end is None or y <= g.end)
                ),
                0.0,
            )
            factor *= 1 + plan.growth_scale * rate / 100.0
        return factor

    def _demand(self, year: int, plan: RunPlan) -> float:
        """Scale every segment group; returns the reference magnet demand of the year (t)."""
        model = self.market.clearing.model
        reference = 0.0
        for key, columns in self.columns.items():
            factor = self._growth(year, key[0], key[1], plan)
            model.column_scale[columns] = factor
            reference += factor * self.magnet_reference[key]
        return reference

    def _recycling(self, year: int, state: RunState) -> float:
        recycling = self.market.scenario.recycling
        if self.market.recycler is None:
            return 0.0
        start, end = self.years[0], self.years[-1]
        rate = recycling.collection_rate
        if recycling.collection_rate_end is not None and end > start:
            rate += (recycling.collection_rate_end - rate) * (year - start) / (end - start)
        scrap = 0.0
        for end_use, cohorts in state.cohorts.items():
            life = recycling.lifetimes.get(end_use)
            if life is not None:
                scrap += cohorts.get(year - life, 0.0)
        recycled = rate * scrap * MAGNET_REO_PER_T
        base = self.market.base_capacity.get(self.market.recycler, 0.0)
        self.market.clearing.set_capacity(self.market.recycler, base + recycled)
        return recycled

    def _levers(self, year: int, plan: RunPlan, state: RunState) -> None:
        market = self.market
        active = set(market.base_levers)
        live_blocks = set()
        for block in market.scenario.levers:
            start = plan.lever_start.get(block.id)
            if start is not None and start <= year and (block.end is None or year <= block.end):
                active |= market.block_levers[block.id]
                live_blocks.add(block.id)
        model = market.clearing.model
        for pile in market.scenario.stockpiles:
            for e in pile.elements:
                stock = state.stocks.get(f"{pile.id}_{e}", 0.0)
                _, _, _, target = self.stock_levers[stock_lever_id(pile.id, e, "buy")]
                releasing = bool(set(pile.release_during) & live_blocks)
                buy = (
                    0.0
                    if releasing or year < pile.start
                    else max(0.0, min(target - stock, target / pile.build_years))
                )
                model.set_lever_volume(stock_lever_id(pile.id, e, "buy"), buy)
                model.set_lever_volume(
                    stock_lever_id(pile.id, e, "release"), stock if releasing else 0.0
                )
                active |= {stock_lever_id(pile.id, e, "buy"), stock_lever_id(pile.id, e, "release")}
        model.active = active
        model.refresh()

    def _after(
        self, year: int, plan: RunPlan, state: RunState, values: np.ndarray, duals: np.ndarray
    ) -> None:
        """Cohorts, stock levels and investment signals from the solved year."""
        model = self.market.clearing.model
        for (end_use, _), columns in self.magnet_columns.items():
            cohort = state.cohorts.setdefault(end_use, {})
            cohort[year] = cohort.get(year, 0.0) + float(values[columns].sum())
        for lever_id, (pile, e, kind, _) in self.stock_levers.items():
            column = self.lever_columns.get(lever_id)
            moved = float(values[column]) if column is not None else 0.0
            key = f"{pile}_{e}"
            state.stocks[key] = state.stocks.get(key, 0.0) + (moved if kind == "buy" else -moved)
        rows = model.program.rows
        for node, candidate in self.market.candidates.items():
            rent = float(duals[rows[("capacity", node)]])
            annual = (
                candidate.capex_usd_per_t_year
                / 1000.0
                * capital_recovery_factor(candidate.wacc_pct / 100.0, candidate.life_years)
            )
            state.signal[node] = state.signal.get(node, 0) + 1 if rent >= annual else 0
            units = state.committed.setdefault(node, [])
            if state.signal[node] >= candidate.signal_years and len(units) < candidate.max_units:
                units.append(year + plan.lead_times[node][len(units)])
