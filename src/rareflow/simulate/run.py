"""One run of a scenario: a rolling horizon over the years on a built market.

Each year t the market clears t and looks ``lookahead_years`` ahead (periods 1..): capacities
from the pipeline (start, slippage, ramp-up) and committed candidates, demand growth by end use,
end-of-life recycling by cohort, stockpile purchases and releases, and the levers known at t
(blocks whose drawn start, or announcement, is not after t) in force in each year of the
horizon. Private stocks, heavy concentrate held for separation, substitution, design, smuggling
and undocumented-mining capacities are carried from year to year (``RunState``). Only period 0
is recorded; the later periods are the expectations behind it. Candidates commit when the
expected rent of their capacity over the horizon (capacity-row duals) has covered their
annualised capital for ``signal_years`` years.
The HiGHS basis is reset to the base year's at the start of every run, so a run's numbers do
not depend on which runs the same worker solved before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rareflow.market.accounting import ledger_residual
from rareflow.market.adjusting import built, set_adjustment_level, set_initial_stocks
from rareflow.market.separation import heavy_held, set_heavy_stocks
from rareflow.process.cost import capital_recovery_factor
from rareflow.simulate.expectations import (
    DEFAULT_PRICE_RANGE,
    StockExpectations,
    expectation_rule,
)
from rareflow.simulate.growth import DemandGrowth, installed_magnets
from rareflow.simulate.learning import LearningCurves
from rareflow.simulate.piles import Piles
from rareflow.simulate.plan import RunPlan, lead_time_of, project_capacity, ramp_fraction
from rareflow.simulate.record import Recorder
from rareflow.simulate.trajectories import Trajectories
from rareflow.simulate.world import PastCapacities, ScenarioMarket, past_capacities

MAGNET_REO_PER_T = 0.36
"""t REO in a t of scrapped NdFeB magnet: ~31 % rare earths (metal) x ~1.17 oxide per metal."""


@dataclass
class RunState:
    committed: dict[str, list[int]] = field(default_factory=dict)
    """Candidate id -> arrival years of committed units."""
    signal: dict[str, int] = field(default_factory=dict)
    cohorts: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    """(End use, region) -> year -> t of magnets put in use (before the first year: the
    magnets in use then, ``Runner.installed``)."""
    piles: dict[str, float] = field(default_factory=dict)
    """State stockpile levels by ``pile_element`` (t)."""
    stocks: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """Private stocks by (commodity, item, place) at the end of the last year (t)."""
    levels: dict[str, float] = field(default_factory=dict)
    """Adjusting capacities (substitution, designs, smuggling, undocumented mining)."""
    unlicensed: dict[str, dict[tuple[str, str], float]] = field(default_factory=dict)
    """Licence -> (commodity, item) -> the product's flows in the last year without licences."""
    heavy: dict[tuple[str, str, int], float] = field(default_factory=dict)
    """Heavy concentrate held at the end of the last year by (mine, light plant, track)."""


class Runner:
    """Runs of one scenario on one built market (one per worker process)."""

    def __init__(self, market: ScenarioMarket) -> None:
        self.market = market
        scenario = market.scenario
        self.years = list(range(scenario.horizon.start, scenario.horizon.end + 1))
        self.live_blocks: set[str] = set()  # in force this year: named if a year cannot clear
        model = market.clearing.model
        self.periods = model.periods
        self.recorder = Recorder(model, scenario.measure)
        self.trajectories: Trajectories | None = None  # built on the first detailed run
        program = model.program
        segments = {s.id: s for s in market.world.segments}
        groups: dict[tuple[str, str, str | None, int], list[int]] = {}
        for column in program.select("demand"):
            meta = program.meta[column]
            segment = segments[meta["segment"]]
            element = segment.item if segment.commodity == "oxide" else None
            key = (segment.end_use, segment.region, element, meta["period"])
            groups.setdefault(key, []).append(column)
        self.demand_columns = {k: np.array(v, dtype=int) for k, v in groups.items()}
        magnets: dict[tuple[str, str], list[int]] = {}
        for (use, region, _, period), cols in groups.items():
            if period == 0:
                chosen = [c for c in cols if program.meta[c]["commodity"] == "magnet"]
                magnets.setdefault((use, region), []).extend(chosen)
        self.magnet_columns = {k: np.array(v, dtype=int) for k, v in magnets.items()}
        self.magnet_reference = {
            key: sum(s.reference_t for s in segments.values()
                     if (s.end_use, s.region) == key and s.commodity == "magnet")
            for key in self.magnet_columns
        }  # fmt: skip
        self.installed = installed_magnets(market, self.magnet_reference, self.years[0])
        collect = scenario.recycling.regions
        self.collected = {
            s.region for s in segments.values()
            if not collect or market.world.matches(s.location, collect)
        }  # fmt: skip
        """Demand regions whose end-of-life magnets the scenario's recycler collects."""
        tranches = [
            ((meta["commodity"], meta["item"], meta["location"]), int(column))
            for column in model.program.select("inventory", period=0)
            for meta in [model.program.meta[column]]
        ]
        self.stock_keys = list(dict.fromkeys(key for key, _ in tranches))
        """(commodity, item, place) of every private stock of period 0."""
        self.stock_columns = np.asarray([c for _, c in tranches], dtype=np.int64)
        self.stock_owner = np.asarray(
            [self.stock_keys.index(key) for key, _ in tranches], dtype=np.int64
        )
        """Each stock tranche's column and the index of its key."""
        self._capacity_factors: dict[int, dict[str, float]] = {}
        self.growth = DemandGrowth(
            scenario.demand.growth,
            self.demand_columns,
            self.magnet_reference,
            self.years[0],
            self.years[-1],
            self.periods,
        )
        self.piles = Piles(market)
        self.past = past_capacities(market) if scenario.history else PastCapacities({}, set())
        self.foresees_outputs = scenario.market.foresight == "recorded"
        self.learning = LearningCurves(market, self.periods)
        self.licences = {licence.id: licence for licence in market.world.levers.licences}
        covered = {
            lid: {c for cols in model.licensed.get((lid, 0), {}).values() for c in cols}
            for lid in self.licences
        }
        self.overlapping = {
            lid: {other for other in self.licences if covered[lid] & covered[other]}
            for lid in self.licences
        }
        """Each licence and the licences that cover some of its flows (itself included): its
        reference is a year with none of them in force."""
        parameters = market.dataset.market if market.dataset else None
        steps = parameters.price_steps if parameters else []
        held = parameters.inventories if parameters else None
        self.expectations = StockExpectations(
            model,
            expectation_rule(scenario.market.expectations, held.expectations if held else None),
            (min(steps), max(steps)) if steps else DEFAULT_PRICE_RANGE,
        )
        # each candidate's capacity rows by period and annual capital charge (USD/kg a year
        # per t/yr), for the investment signal of every year
        self.candidate_rows = {
            node: np.array([program.rows[("capacity", p, node)] for p in range(self.periods)])
            for node in market.candidates
        }
        self.discounts = np.asarray(model.discount[: self.periods], dtype=float)
        self.capital_charge = {
            node: candidate.capex
            / 1000.0
            * capital_recovery_factor(candidate.wacc_pct / 100.0, candidate.life_years)
            for node, candidate in market.candidates.items()
        }
        market.clearing.solve()
        self.base_basis = model.highs.getBasis()
        self.base_row_upper = model.row_upper.copy()
        self.base_row_lower = model.row_lower.copy()

    def run(self, plan: RunPlan) -> pd.DataFrame:
        """Yearly records of one run as a tidy DataFrame (run, year, metric, key, value)."""
        return self.run_detailed(plan, detail=False)[0]

    def run_detailed(
        self, plan: RunPlan, detail: bool = True
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The yearly records and, with ``detail``, the trajectories by country, facility and
        trade lane (``trajectories.py``: run, year, measure, place, key, value)."""
        rows: list[tuple[int, str, str, float]] = []
        flows: list[tuple[int, str, str, str, float]] = []
        if detail and self.trajectories is None:
            self.trajectories = Trajectories(self.market.clearing.model, self.recorder.parts)
        for year, values, duals, extra in self.years_of(plan):
            rows += self.recorder.record(year, values, duals, extra)
            rows += self.piles.rows(year, extra)
            if detail and self.trajectories is not None:
                flows += self.trajectories.record(year, values)
        frame = pd.DataFrame(rows, columns=["year", "metric", "key", "value"])
        frame.insert(0, "run", plan.run)
        if not detail:
            return frame, None
        trajectories = pd.DataFrame(flows, columns=["year", "measure", "place", "key", "value"])
        trajectories.insert(0, "run", plan.run)
        return frame, trajectories

    def years_of(
        self,
        plan: RunPlan,
        until: int | None = None,
        decide: Callable[[int], None] | None = None,
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, dict[str, float]]]:
        """Solve the run year by year: (year, column values, row duals, extras) each year.
        ``decide(year)``, if given, runs once the year's inputs are set and before its solve
        (players choosing their policies on the year's model, ``rareflow.game``)."""
        model = self.market.clearing.model
        model.highs.clearSolver()
        model.highs.setBasis(self.base_basis)
        model.row_upper[:] = self.base_row_upper
        model.row_lower[:] = self.base_row_lower
        for floor_id in model.floor_subsidy:
            model.floor_subsidy[floor_id] = 0.0
        model.levers.tax_base.clear()
        state = RunState(
            cohorts={key: dict(years) for key, years in self.installed.items()},
            stocks=dict(model.inventory_base),
            levels={name: record["spec"].initial_t for name, record in model.adjustments.items()},
        )
        clearing = self.market.clearing
        self.expectations.reset()
        for year in self.years:
            if until is not None and year > until:
                return
            reference = 0.0
            for period in range(self.periods):
                self._capacities(year, period, plan, state)
                self.learning.apply(year, period)
                demand = self._demand(year, period, plan)
                reference = demand if period == 0 else reference
            recycled = self._recycling(year, state)
            self._levers(year, plan, state)
            set_initial_stocks(model, state.stocks)
            set_heavy_stocks(model, state.heavy)
            for name, level in state.levels.items():
                set_adjustment_level(model, name, level)
            self.expectations.apply()
            model.refresh()
            if decide is not None:
                decide(year)
            try:
                values, duals, _, _ = clearing.solve_arrays()
            except RuntimeError as error:
                blocks = ", ".join(sorted(self.live_blocks)) or "none"
                raise RuntimeError(
                    f"{self.market.scenario.name}, run {plan.run}, {year}: {error}; lever blocks "
                    f"in force that year: {blocks}; check their volumes and limits and the "
                    "year's demand and capacities (a limit below what contracts or stocks must "
                    "move makes the year impossible)"
                ) from None
            extra = {
                "reference": reference,
                "subsidy": clearing.subsidy_cost_kusd(values),
                "ledger": ledger_residual(model, values),
                "recycled": recycled,
            }
            self._after(year, plan, state, values, duals)
            self.expectations.observe(duals)
            extra.update(self.piles.levels(state.piles))
            yield year, values, duals, extra

    # --- inputs of each period ---------------------------------------------------------------

    def _capacities(self, year: int, period: int, plan: RunPlan, state: RunState) -> None:
        market, model = self.market, self.market.clearing.model
        rows, when = model.program.rows, year + period
        factors = self.growth_factors(min(when, self.years[-1]))
        past = self.past.levels.get(min(when, self.years[-1]), {})
        now = self.past.levels.get(min(year, self.years[-1]), {})
        for node, factor in factors.items():
            if node in past:
                # a recorded output is realised in its year: later periods keep this year's
                known = self.foresees_outputs or node not in self.past.recorded or node not in now
                level = past[node] if known else now[node]
                model.row_upper[rows[("capacity", period, node)]] = level
                continue
            extra = sum(project_capacity(p, when, plan) for p in market.expansions.get(node, []))
            model.row_upper[rows[("capacity", period, node)]] = (
                market.base_capacity[node] * factor + extra
            )
        for node, project in market.new_nodes.items():
            row = rows[("capacity", period, node)]
            model.row_upper[row] = project_capacity(project, when, plan)
        for node, candidate in market.candidates.items():
            arrivals = state.committed.get(node, [])
            units = sum(ramp_fraction(when, start, 2.0) for start in arrivals)
            model.row_upper[rows[("capacity", period, node)]] = candidate.capacity_t * units

    def growth_factors(self, year: int) -> dict[str, float]:
        """Base-capacity factor of every existing node in ``year`` (capacity growth rules; the
        same in every run, so computed once per year)."""
        cached = self._capacity_factors.get(year)
        if cached is None:
            cached = self._capacity_factors[year] = self._growth_factors(year)
        return cached

    def _growth_factors(self, year: int) -> dict[str, float]:
        market = self.market
        world = market.world
        fixed = set(market.stages) - set(market.new_nodes) - set(market.candidates)
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
                if stage == rule.stage and world.matches(place, rule.places) and n in fixed
            ]
            for y in range(self.years[0] + 1, year + 1):
                if (rule.start is None or rule.start <= y) and (rule.end is None or y <= rule.end):
                    for n in nodes:
                        factors[n] *= 1 + rule.rate_pct / 100.0
        return factors

    def _demand(self, year: int, period: int, plan: RunPlan) -> float:
        """Scale the period's demand groups; returns the reference magnet demand (t)."""
        column_scale = self.market.clearing.model.column_scale
        return self.growth.apply(column_scale, year, period, plan.growth_scale)

    def _recycling(self, year: int, state: RunState) -> float:
        recycling = self.market.scenario.recycling
        if self.market.recycler is None:
            return 0.0
        start, end = self.years[0], self.years[-1]
        rate = recycling.collection_rate
        if recycling.collection_rate_end is not None and end > start:
            rate += (recycling.collection_rate_end - rate) * (year - start) / (end - start)
        scrap = 0.0
        for (end_use, region), cohorts in state.cohorts.items():
            life = recycling.lifetimes.get(end_use)
            if life is not None and region in self.collected:
                scrap += cohorts.get(year - life, 0.0)
        recycled = rate * scrap * MAGNET_REO_PER_T
        base = self.market.base_capacity.get(self.market.recycler, 0.0)
        self.market.clearing.set_capacity(self.market.recycler, base + recycled)
        return recycled

    def _levers(self, year: int, plan: RunPlan, state: RunState) -> None:
        """Levers known at ``year`` in force in each year of the horizon; stockpile and
        licence volumes."""
        market = self.market
        model = market.clearing.model
        live_now: set[str] = set()
        self.live_blocks = live_now
        for period in range(self.periods):
            when = year + period
            active = set(market.base_levers)
            shares: dict[str, float] = {}
            for block in market.scenario.levers:
                start = plan.lever_start.get(block.id)
                if start is None:
                    continue
                known = min(start, block.announced) if block.announced is not None else start
                ends = block.ends_for(year)
                in_force = start <= when and (ends is None or when <= ends)
                if known <= year and in_force:
                    active |= market.block_levers[block.id]
                    # the year being cleared is in force for its real months; a later year
                    # ends at end_month only where markets know the end
                    share = block.share_of_year(when, start, period == 0 or ends is not None)
                    if share < 1.0:
                        shares |= dict.fromkeys(market.block_levers[block.id], share)
                    if period == 0:
                        live_now.add(block.id)
            active |= self.piles.set_volumes(model, year, period, live_now, state.piles)
            model.levers.active[period] = active
            model.levers.shares[period] = shares
        for licence_id, licence in self.licences.items():
            for period in range(self.periods):
                if licence_id in model.levers.active[period]:
                    reference = state.unlicensed.get(licence_id, {})
                    model.set_licence_volumes(licence, period, reference)

    def _after(
        self, year: int, plan: RunPlan, state: RunState, values: np.ndarray, duals: np.ndarray
    ) -> None:
        """Cohorts, stocks, adjusting capacities, licence references and investment signals
        from the solved year."""
        model = self.market.clearing.model
        for use_region, columns in self.magnet_columns.items():
            cohort = state.cohorts.setdefault(use_region, {})
            cohort[year] = cohort.get(year, 0.0) + float(values[columns].sum())
        self.piles.update(values, state.piles)
        stocks: dict[tuple[str, str, str], float] = dict.fromkeys(state.stocks, 0.0)
        held = np.bincount(
            self.stock_owner, weights=values[self.stock_columns], minlength=len(self.stock_keys)
        )
        stocks.update(zip(self.stock_keys, held.tolist(), strict=True))
        state.stocks = stocks
        state.heavy = heavy_held(model, values)
        for name, record in model.adjustments.items():
            level = state.levels[name] + built(model, name, values)
            state.levels[name] = level * (1.0 - record["spec"].reversal)
        for licence_id, overlapping in self.overlapping.items():
            if not overlapping & model.levers.active[0]:  # a year without licences on its flows
                state.unlicensed[licence_id] = model.licence_flows(licence_id, 0, values)
        for node, candidate in self.market.candidates.items():
            rent = float(np.mean(duals[self.candidate_rows[node]] / self.discounts))
            annual = self.capital_charge[node]
            state.signal[node] = state.signal.get(node, 0) + 1 if rent >= annual else 0
            units = state.committed.setdefault(node, [])
            if state.signal[node] >= candidate.signal_years and len(units) < candidate.max_units:
                units.append(year + lead_time_of(candidate, plan.lead_draws[node][len(units)]))
