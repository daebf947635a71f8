"""The market LP, built once with scipy.sparse over declared families, solved with HiGHS.

Columns are activities (mine-to-separator concentrate, heavy-concentrate shipments, metal and
magnet making, gallium, trade lanes, China's export step, demand steps, substitutes, disposal,
stocks, offtakes, floors, capacity builds); rows are balances of each commodity at each place
(and track) and capacities (``families.py``). The objective maximises welfare: value of demand
served minus production, freight, tariff and disposal costs (units: t x USD/kg = thousand USD,
so balance duals are prices in USD/kg). See docs/market.md.

A model may hold several periods (a rolling horizon): period 0 is the year cleared, the others
the years ahead as expected, linked by private stocks and by capacities that adjust over time;
costs are discounted, so a period's duals are prices times its discount factor.

Tracks carry sourcing rules: track 0 holds all material; track k holds material that no plant in
rule k's excluded places touched. Clean material may be used as ordinary material (``downgrade``)
but not the reverse, so a rule's segments can draw only on chains free of the excluded origin.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import highspy
import numpy as np
from scipy import sparse

from rareflow.dataset.levers import Levers, Licence
from rareflow.market.accounting import ModelCache
from rareflow.market.adjusting import add_adjustments, add_inventories, set_initial_stocks
from rareflow.market.diagnosis import explain_infeasible
from rareflow.market.effects import Effect, EffectKind, LeverEffects
from rareflow.market.model_parts import (
    add_contracts,
    add_conversion,
    add_demand,
    add_quotas,
    add_stocks_and_disposal,
    add_trade,
    licence_key,
)
from rareflow.market.network import CHINA, CHINA_EXPORT, World
from rareflow.market.program import INF, Program, RowKey, capacity, quiet_highs
from rareflow.market.separation import add_captive_routes, add_separation
from rareflow.market.ties import TieBreak


class MarketModel:
    """The LP of one world over ``periods`` years; levers switch on a built model, re-solves
    are warm."""

    def __init__(self, world: World, periods: int = 1) -> None:
        if periods < 1:
            raise ValueError("a market model needs at least one period")
        self.world = world
        self.periods = periods
        self.discount = [(1 + world.discount_rate) ** -p for p in range(periods)]
        self.tracks = _tracks(world.levers)
        self.program = Program()
        self.outputs: dict[tuple[int, str, str], list[tuple[int, float]]] = defaultdict(list)
        """(period, plant, item) -> (column, t of item per unit of the column)."""
        self.levers = LeverEffects(world, periods)
        self.levers.active = [set(lever_ids(world.levers)) for _ in range(periods)]
        self.levers.shares = [{} for _ in range(periods)]
        self.floor_columns: dict[tuple[str, int], int] = {}
        self.floor_subsidy: dict[str, float] = {f.id: 0.0 for f in world.levers.floors}
        self.licensed: dict[tuple[str, int], dict[tuple[str, str], list[int]]] = {}
        """(licence, period) -> (commodity, item) -> the flow columns its row of that product
        covers (``model_parts.add_quotas``)."""
        self.referenced: set[tuple[str, int]] = set()
        """(licence, period) whose product volumes are set (``set_licence_volumes``)."""
        self.adjustments: dict[str, dict[str, Any]] = {}
        """Adjusting state id -> its rows, build columns and initial level (``adjusting.py``)."""
        self.inventory_base: dict[tuple[str, str, str], float] = {}
        """(commodity, item, place) -> private stock carried into the base year (t): working
        stock (the first tranche) full."""
        self.inventory_initial: dict[tuple[str, str, str], float] = {}
        """(commodity, item, place) -> private stock carried into period 0 now (t)."""
        self.heavy_initial: dict[tuple[str, str, int], float] = {}
        """(mine, light-only plant, track) -> heavy concentrate carried into period 0 (t REO)."""
        self.captive: list[tuple[int, list[int]]] = []
        """(capacity row of a heavy plant with ``takes_heavy_of``, the heavy-concentrate columns
        of those light plants to any other heavy plant in that period): closed while the row has
        capacity (``_applied``)."""
        self.cache = ModelCache()
        self._matrix: sparse.csc_matrix | None = None
        self._balance: tuple[list[RowKey], sparse.csr_matrix] | None = None
        for period in range(periods):
            self._build(period)
        add_inventories(self)
        add_adjustments(self)
        self.base_cost = np.asarray(self.program.cost, dtype=float)
        self.base_upper = np.asarray(self.program.upper, dtype=float)
        self.row_lower = np.asarray(self.program.row_lower, dtype=float)
        self.row_upper = np.asarray(self.program.row_upper, dtype=float)
        self.column_scale = np.ones(len(self.base_cost))
        self.tie = TieBreak(self.program)
        set_initial_stocks(self, self.inventory_base)
        self.cost, self.upper, self.current_row_upper = self._applied()
        self._held: dict[str, np.ndarray] = {}
        """What HiGHS holds now (costs, column uppers, row bounds), so refreshes send changes."""
        self.highs = self._pass()

    # --- building ----------------------------------------------------------------------------

    def allowed(self, location: str, track: int) -> bool:
        return not (self.world.places[location] & self.tracks[track])

    def _build(self, period: int) -> None:
        world, program = self.world, self.program
        for plant in world.plants():
            program.row(capacity(plant.id, period), -INF, plant.capacity_t)
        for mine in world.mines:
            if mine.adjustable is None:
                program.row(capacity(mine.id, period), -INF, mine.capacity_t)
        for track in range(len(self.tracks)):
            add_separation(self, track, period)
            add_conversion(self, track, period)
        add_trade(self, period)
        add_demand(self, period)
        add_stocks_and_disposal(self, period)
        add_contracts(self, period)
        add_quotas(self, period)
        add_captive_routes(self, period)

    def freight(self, commodity: str, origin: str, destination: str) -> float:
        """Freight of moving one t across a border (thousand USD per t = USD/kg)."""
        same = origin == destination or {origin, destination} == {CHINA, CHINA_EXPORT}
        return 0.0 if same else self.world.freight[commodity]

    def add(
        self,
        family: str,
        index: dict[str, Any],
        cost: float,
        entries: list[tuple[RowKey, float]],
        upper: float = INF,
    ) -> int:
        """A column whose objective coefficient is ``cost`` discounted to its period."""
        weight = self.discount[index["period"]]
        return self.program.column(family, index, weight * cost, entries, upper)

    def effect(
        self,
        lever: str,
        kind: EffectKind,
        target: int,
        period: int,
        on: float,
        off: float = 0.0,
        volume_key: str = "",
    ) -> None:
        self.levers.add(
            Effect(lever, kind, target, period, on, off, self.discount[period], volume_key)
        )

    def border(
        self, column: int, commodity: str, item: str, origin: str, destination: str, period: int
    ) -> None:
        """Register the tariffs, export taxes, bans and licence costs on a crossing column."""
        if origin == destination:
            return
        value = self.world.reference_prices.get((commodity, item), 0.0)
        levers, effects = self.world.levers, self.levers
        for tariff in levers.tariffs:
            if effects.matches(tariff, commodity, item, origin, destination, importer=True):
                rate = tariff.rate_pct / 100
                self.effect(tariff.id, EffectKind.COST, column, period, -rate * value)
        for tax in levers.export_taxes:
            if effects.matches(tax, commodity, item, origin, destination):
                rate = tax.rate_pct / 100
                if commodity == "concentrate":  # no market price of its own: reference value
                    self.effect(tax.id, EffectKind.COST, column, period, -rate * value)
                else:
                    self.effect(tax.id, EffectKind.AD_VALOREM, column, period, rate)
        for licence in levers.licences:
            if licence.cost_usd_per_kg and effects.matches(
                licence, commodity, item, origin, destination
            ):
                self.effect(licence.id, EffectKind.COST, column, period, -licence.cost_usd_per_kg)
        for ban in levers.bans:
            if effects.matches(ban, commodity, item, origin, destination):
                self.effect(ban.id, EffectKind.SWITCH, column, period, 0.0, 1.0)

    def subsidise(self, column: int, node_id: str, stage: str, location: str, period: int) -> None:
        """Register the production subsidies that lower a column's unit cost."""
        for subsidy in self.levers.subsidies_of(node_id, stage, location):
            self.effect(subsidy.id, EffectKind.COST, column, period, subsidy.usd_per_kg)

    def rule_of(self, region: str, end_use: str) -> str | None:
        """The first sourcing rule (active or not) covering a region and end use."""
        for rule in self.world.levers.sourcing_rules:
            if region in rule.regions and (not rule.end_uses or end_use in rule.end_uses):
                return rule.id
        return None

    def rule_track(self, rule_id: str) -> int:
        rule = next(r for r in self.world.levers.sourcing_rules if r.id == rule_id)
        return self.tracks.index(frozenset(rule.excluded))

    def segment_track(self, region: str, end_use: str, period: int = 0) -> int:
        """The track a segment draws on now (its rule's if the rule is active, else 0)."""
        rule = self.rule_of(region, end_use)
        active = self.levers.active[period]
        return self.rule_track(rule) if rule is not None and rule in active else 0

    def matrix(self) -> sparse.csc_matrix:
        """The constraint matrix (fixed once built, so assembled once)."""
        if self._matrix is None:
            rows, columns, values = self.program.entries
            shape = (len(self.program.row_upper), len(self.program.cost))
            self._matrix = sparse.csc_matrix((values, (rows, columns)), shape=shape)
        return self._matrix

    def balance_rows(self) -> tuple[list[RowKey], sparse.csr_matrix]:
        """Keys and matrix rows of every balance (pools and heavy concentrates) of period 0."""
        if self._balance is None:
            keys = self.program.row_keys("pool", 0) + self.program.row_keys("heavy", 0)
            indices = [self.program.rows[k] for k in keys]
            self._balance = (keys, sparse.csr_matrix(self.matrix().tocsr()[indices]))
        return self._balance

    def _pass(self) -> highspy.Highs:
        matrix = self.matrix()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
        every = np.arange(lp.num_col_)
        lp.col_cost_ = self.cost + self.tie.cost
        lp.col_lower_, lp.col_upper_ = self.tie.columns(every, self.upper)
        lp.row_lower_, lp.row_upper_ = self.tie.rows(
            np.arange(lp.num_row_), self.row_lower, self.current_row_upper
        )
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        highs = quiet_highs()
        highs.passModel(lp)
        self._held = {
            "cost": self.cost.copy(),
            "upper": self.upper.copy(),
            "row_lower": self.row_lower.copy(),
            "row_upper": self.current_row_upper.copy(),
        }
        return highs

    # --- solving -----------------------------------------------------------------------------

    def solve_once(self, explain: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
        """(column values, row duals, objective) of one HiGHS run (warm if solved before);
        ``explain=False`` skips naming the contradicting constraints of an infeasible LP."""
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            # a warm start can end in numerical trouble ("Unknown") where a cold one does not
            self.highs.clearSolver()
            self.highs.run()
            status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            reason = self.highs.modelStatusToString(status)
            if status == highspy.HighsModelStatus.kInfeasible and explain:
                subset = explain_infeasible(self)
                reason += f" ({subset})" if subset else ""
            raise RuntimeError(f"the market LP did not solve: {reason}")
        solution = self.highs.getSolution()
        # flows within the model's bounds: the tie-break's bounds let them pass by up to
        # TIE_BOUND_T (ties.py), which the mass-balance check allows for
        values = np.clip(np.asarray(solution.col_value), 0.0, self.upper)
        # the optimum HiGHS found, valued at the model's own costs
        objective = float(self.cost @ values)
        duals = self.tie.model_duals(self.highs, np.asarray(solution.row_dual))
        return values, duals, float(objective)

    # --- cheap changes -------------------------------------------------------------------------

    def set_column_cost(self, column: int, cost: float) -> None:
        """Objective coefficient of one column (already discounted)."""
        self.cost[column] = self._held["cost"][column] = cost
        self.highs.changeColCost(column, cost + self.tie.cost[column])

    def set_row_bounds(self, key: RowKey, lower: float, upper: float) -> None:
        index = self.program.rows[key]
        self.row_lower[index], self.row_upper[index] = lower, upper
        self.current_row_upper[index] = upper
        self._held["row_lower"][index], self._held["row_upper"][index] = lower, upper
        at = np.array([index])
        tied_lower, tied_upper = self.tie.rows(at, self.row_lower, self.current_row_upper)
        self.highs.changeRowBounds(index, float(tied_lower[0]), float(tied_upper[0]))

    def set_row_upper(self, key: RowKey, upper: float) -> None:
        self.set_row_bounds(key, self.row_lower[self.program.rows[key]], upper)

    def set_column_scale(self, columns: np.ndarray, scale: float) -> None:
        """Scale the upper bounds of these columns (demand steps) from their base values."""
        self.column_scale[columns] = scale
        self.refresh()

    def activate(self, lever_ids: set[str], period: int | None = None) -> None:
        """Make exactly these levers (of those the model was built with) active, in one period
        or in all; applied at once."""
        periods = range(self.periods) if period is None else [period]
        for p in periods:
            self.levers.active[p] = set(lever_ids)
        self.refresh()

    def set_lever_volume(self, lever_id: str, volume: float, period: int | None = None) -> None:
        """New volume of a stock, floor, offtake, quota or licence lever (at the next
        ``refresh``)."""
        for p in range(self.periods) if period is None else [period]:
            self.levers.volumes[(lever_id, p)] = volume

    def licence_flows(
        self, licence_id: str, period: int, values: np.ndarray
    ) -> dict[tuple[str, str], float]:
        """Flows of each product a licence covers in a solution, t."""
        products = self.licensed.get((licence_id, period), {})
        return {product: float(values[columns].sum()) for product, columns in products.items()}

    def set_licence_volumes(
        self, licence: Licence, period: int, reference: dict[tuple[str, str], float]
    ) -> None:
        """Each product of a licence lets through (1 - refused share) of its ``reference``
        flows (those of a year without the licence; none if it had none), at the next
        ``refresh``."""
        for commodity, item in self.licensed.get((licence.id, period), {}):
            flows = reference.get((commodity, item), 0.0)
            key = licence_key(licence.id, commodity, item)
            refused = licence.refused_share * self.levers.part_of_year(licence.id, period)
            self.levers.volumes[(key, period)] = (1 - refused) * flows
        self.referenced.add((licence.id, period))

    def _applied(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cost, upper, row_upper = self.levers.apply(
            self.base_cost, self.base_upper, self.column_scale, self.row_upper
        )
        for (floor_id, period), column in self.floor_columns.items():
            active = floor_id in self.levers.active[period]
            subsidy = self.floor_subsidy[floor_id] if active else 0.0
            cost[column] = self.discount[period] * subsidy
        for row, others in self.captive:
            if row_upper[row] > 0:
                upper[others] = 0.0
        return cost, upper, row_upper

    def refresh(self) -> None:
        """Push costs and bounds to HiGHS after lever or scale changes (keeps the basis); only
        the entries that differ from what HiGHS holds are sent."""
        self.cost, self.upper, self.current_row_upper = self._applied()
        held, highs = self._held, self.highs
        columns = _changed(self.cost, held["cost"])
        if columns.size:
            highs.changeColsCost(columns.size, columns, self.cost[columns] + self.tie.cost[columns])
        columns = _changed(self.upper, held["upper"])
        if columns.size:
            lower, upper = self.tie.columns(columns, self.upper)
            highs.changeColsBounds(columns.size, columns, lower, upper)
        rows = np.union1d(
            _changed(self.row_lower, held["row_lower"]),
            _changed(self.current_row_upper, held["row_upper"]),
        )
        if rows.size:
            rows = rows.astype(np.int32)
            lower, upper = self.tie.rows(rows, self.row_lower, self.current_row_upper)
            highs.changeRowsBounds(rows.size, rows, lower, upper)  # type: ignore[attr-defined]
        held["cost"][:] = self.cost
        held["upper"][:] = self.upper
        held["row_lower"][:] = self.row_lower
        held["row_upper"][:] = self.current_row_upper


def _changed(new: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Indices (int32, as HiGHS takes them) where ``new`` differs from ``held``."""
    return np.flatnonzero(new != held).astype(np.int32)


def lever_ids(levers: Levers) -> list[str]:
    return [lever.id for name in type(levers).model_fields for lever in getattr(levers, name)]


def _tracks(levers: Levers) -> list[frozenset[str]]:
    tracks: list[frozenset[str]] = [frozenset()]
    for rule in levers.sourcing_rules:
        excluded = frozenset(rule.excluded)
        if excluded not in tracks:
            tracks.append(excluded)
    return tracks
