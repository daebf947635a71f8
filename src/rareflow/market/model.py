"""The one-year market as a linear programme, built once with scipy.sparse, solved with HiGHS.

Columns are activities (mine-to-separator concentrate, heavy-concentrate shipments, metal and
magnet making, gallium, trade lanes, demand steps, disposal, stock, offtakes, floors); rows are
balances of each commodity at each place (and track) and capacities. The objective maximises
welfare: value of demand served minus production, freight, tariff and disposal costs (units:
t x USD/kg = thousand USD, so balance duals are prices in USD/kg). See docs/market.md.

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

from rareflow.dataset.levers import Levers
from rareflow.elements import element
from rareflow.market.effects import LeverEffects
from rareflow.market.model_parts import (
    add_contracts,
    add_demand,
    add_quotas,
    add_stocks_and_disposal,
    add_trade,
)
from rareflow.market.network import Plant, World, heavy_elements
from rareflow.market.program import INF, Program, pool, quiet_highs


class MarketModel(LeverEffects):
    """The LP of one world; levers switch on a built model (``LeverEffects``), re-solves warm."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.tracks = _tracks(world.levers)
        self.program = Program()
        self.outputs: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        self.floor_columns: dict[str, int] = {}
        self.floor_subsidy: dict[str, float] = {}
        self.effects: list[tuple[str, str, int, float, float]] = []
        """(lever id, kind, column or row, value when active, value when not): see ``refresh``."""
        self.active: set[str] = set(_lever_ids(world.levers))
        self._matrix: sparse.csc_matrix | None = None
        self._balance: tuple[list[tuple[Any, ...]], sparse.csr_matrix] | None = None
        self._build()
        self.base_cost = np.asarray(self.program.cost, dtype=float)
        self.base_upper = np.asarray(self.program.upper, dtype=float)
        self.column_scale = np.ones(len(self.base_cost))
        self._apply_effects()
        self.highs = self._pass()

    # --- building ----------------------------------------------------------------------------

    def allowed(self, location: str, track: int) -> bool:
        return not (self.world.places[location] & self.tracks[track])

    def _build(self) -> None:
        world, program = self.world, self.program
        for plant in world.plants():
            program.row(("capacity", plant.id), -INF, plant.capacity_t)
        for mine in world.mines:
            program.row(("capacity", mine.id), -INF, mine.capacity_t)
        for track in range(len(self.tracks)):
            self._separation(track)
            self._conversion(track)
        add_trade(self)
        add_demand(self)
        add_stocks_and_disposal(self)
        add_contracts(self)
        add_quotas(self)

    def freight(self, commodity: str, origin: str, destination: str) -> float:
        """Freight of moving one t across a border (thousand USD per t = USD/kg)."""
        return 0.0 if origin == destination else self.world.freight[commodity]

    def _separation(self, track: int) -> None:
        world, program = self.world, self.program
        recovery = world.recovery
        for mine in world.mines:
            if not self.allowed(mine.location, track):
                continue
            for plant in world.separators:
                if not self.allowed(plant.location, track):
                    continue
                if mine.dedicated and plant.id not in mine.dedicated:
                    continue
                if plant.feeds and not world.matches(mine.location, list(plant.feeds)):
                    continue
                heavy = heavy_elements(mine.ore, plant)
                entries: list[tuple[tuple[Any, ...], float]] = [
                    (("capacity", mine.id), 1.0),
                    (("capacity", plant.id), 1.0),
                ]
                produced = []
                for e, share in mine.ore.items():
                    if e not in heavy:
                        entries.append((pool("oxide", e, plant.location, track), -recovery * share))
                        produced.append((e, recovery * share))
                if heavy:
                    entries.append((("heavy", mine.id, plant.id, track), -sum(heavy.values())))
                cost = mine.cost_usd_per_kg + plant.cost_usd_per_kg
                cost += self.freight("concentrate", mine.location, plant.location)
                column = program.column(
                    {
                        "kind": "concentrate",
                        "mine": mine.id,
                        "plant": plant.id,
                        "track": track,
                        "origin": mine.location,
                        "destination": plant.location,
                    },
                    -cost,
                    entries,
                )
                self.border(column, "concentrate", mine.id, mine.location, plant.location)
                self.subsidise(column, mine.id, "mine", mine.location)
                self.subsidise(column, plant.id, plant.stage, plant.location)
                for e, coefficient in produced:
                    self.outputs[(plant.id, e)].append((column, coefficient))
                if heavy:
                    self._heavy(mine.id, heavy, plant, track)

    def _heavy(self, mine_id: str, heavy: dict[str, float], source: Plant, track: int) -> None:
        """Heavy concentrate left by a light-only plant: ship to a heavy plant or dispose of."""
        world, program = self.world, self.program
        total = sum(heavy.values())
        row = ("heavy", mine_id, source.id, track)
        program.column(
            {"kind": "heavy_disposal", "mine": mine_id, "plant": source.id, "track": track},
            -world.disposal_cost,
            [(row, 1.0)],
        )
        for plant in world.separators:
            if not plant.heavy or not self.allowed(plant.location, track):
                continue
            entries: list[tuple[tuple[Any, ...], float]] = [
                (row, 1.0),
                (("capacity", plant.id), 1.0),
            ]
            produced = []
            for e, share in heavy.items():
                coefficient = world.recovery * share / total
                entries.append((pool("oxide", e, plant.location, track), -coefficient))
                produced.append((e, coefficient))
            cost = plant.cost_usd_per_kg
            cost += self.freight("concentrate", source.location, plant.location)
            column = program.column(
                {
                    "kind": "heavy_concentrate",
                    "mine": mine_id,
                    "plant": plant.id,
                    "track": track,
                    "source": source.id,
                    "origin": source.location,
                    "destination": plant.location,
                },
                -cost,
                entries,
            )
            self.border(column, "concentrate", mine_id, source.location, plant.location)
            self.subsidise(column, plant.id, plant.stage, plant.location)
            for e, coefficient in produced:
                self.outputs[(plant.id, e)].append((column, coefficient))

    def _conversion(self, track: int) -> None:
        world, program = self.world, self.program
        for plant in world.metal_plants:
            if not self.allowed(plant.location, track):
                continue
            for e in world.metal_elements:
                use = element(e).oxide_per_metal / world.metal_yield
                column = program.column(
                    {
                        "kind": "metal",
                        "plant": plant.id,
                        "item": e,
                        "track": track,
                        "location": plant.location,
                    },
                    -plant.cost_usd_per_kg,
                    [
                        (("capacity", plant.id), 1.0),
                        (pool("oxide", e, plant.location, track), use),
                        (pool("metal", e, plant.location, track), -1.0),
                    ],
                )
                self.subsidise(column, plant.id, plant.stage, plant.location)
                self.outputs[(plant.id, e)].append((column, 1.0))
        for plant in world.magnet_plants:
            if not self.allowed(plant.location, track):
                continue
            for grade in world.grades:
                for variant, recipe in world.recipes(grade).items():
                    entries: list[tuple[tuple[Any, ...], float]] = [
                        (("capacity", plant.id), 1.0),
                        (pool("magnet", grade, plant.location, track), -1.0),
                    ]
                    for e, fraction in recipe.items():
                        entries.append(
                            (pool("metal", e, plant.location, track), fraction / world.magnet_yield)
                        )
                    cost = plant.cost_usd_per_kg + world.grade_other_cost.get(grade, 0.0)
                    cost += world.variant_cost(variant)
                    column = program.column(
                        {
                            "kind": "magnet",
                            "plant": plant.id,
                            "item": grade,
                            "variant": variant,
                            "track": track,
                            "location": plant.location,
                        },
                        -cost,
                        entries,
                    )
                    self.subsidise(column, plant.id, plant.stage, plant.location)
                    self.outputs[(plant.id, grade)].append((column, 1.0))
        for plant in world.gallium_plants:
            if not self.allowed(plant.location, track):
                continue
            column = program.column(
                {
                    "kind": "gallium",
                    "plant": plant.id,
                    "item": "Ga",
                    "track": track,
                    "location": plant.location,
                },
                -plant.cost_usd_per_kg,
                [
                    (("capacity", plant.id), 1.0),
                    (pool("gallium", "Ga", plant.location, track), -1.0),
                ],
            )
            self.subsidise(column, plant.id, plant.stage, plant.location)
            self.outputs[(plant.id, "Ga")].append((column, 1.0))

    def rule_of(self, region: str, end_use: str) -> str | None:
        """The first sourcing rule (active or not) covering a region and end use."""
        for rule in self.world.levers.sourcing_rules:
            if region in rule.regions and (not rule.end_uses or end_use in rule.end_uses):
                return rule.id
        return None

    def rule_track(self, rule_id: str) -> int:
        rule = next(r for r in self.world.levers.sourcing_rules if r.id == rule_id)
        return self.tracks.index(frozenset(rule.excluded))

    def segment_track(self, region: str, end_use: str) -> int:
        """The track a segment draws on now (its rule's if the rule is active, else 0)."""
        rule = self.rule_of(region, end_use)
        return self.rule_track(rule) if rule is not None and rule in self.active else 0

    def entry(self, row: int, column: int, value: float) -> None:
        rows, columns, values = self.program.entries
        rows.append(row)
        columns.append(column)
        values.append(value)

    def matrix(self) -> sparse.csc_matrix:
        """The constraint matrix (fixed once built, so assembled once)."""
        if self._matrix is None:
            rows, columns, values = self.program.entries
            shape = (len(self.program.row_upper), len(self.program.cost))
            self._matrix = sparse.csc_matrix((values, (rows, columns)), shape=shape)
        return self._matrix

    def balance_rows(self) -> tuple[list[tuple[Any, ...]], sparse.csr_matrix]:
        """Keys and matrix rows of every balance (pools and heavy concentrates), for checks."""
        if self._balance is None:
            keys = [k for k in self.program.rows if k[0] in ("pool", "heavy")]
            indices = [self.program.rows[k] for k in keys]
            self._balance = (keys, sparse.csr_matrix(self.matrix().tocsr()[indices]))
        return self._balance

    def _pass(self) -> highspy.Highs:
        program, matrix = self.program, self.matrix()
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
        lp.col_cost_ = np.asarray(program.cost, dtype=float)
        lp.col_lower_ = np.zeros(lp.num_col_)
        lp.col_upper_ = np.asarray(program.upper, dtype=float)
        lp.row_lower_ = np.asarray(program.row_lower, dtype=float)
        lp.row_upper_ = np.asarray(program.row_upper, dtype=float)
        lp.sense_ = highspy.ObjSense.kMaximize
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        highs = quiet_highs()
        highs.passModel(lp)
        return highs

    # --- solving -----------------------------------------------------------------------------

    def solve_once(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(column values, row duals, objective) of one HiGHS run (warm if solved before)."""
        self.highs.run()
        status = self.highs.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(
                f"the market LP did not solve: {self.highs.modelStatusToString(status)}"
            )
        solution = self.highs.getSolution()
        objective = self.highs.getInfo().objective_function_value
        return np.asarray(solution.col_value), np.asarray(solution.row_dual), float(objective)

    def set_column_cost(self, column: int, cost: float) -> None:
        self.program.cost[column] = cost
        self.highs.changeColCost(column, cost)

    def set_row_upper(self, key: tuple[Any, ...], upper: float) -> None:
        index = self.program.rows[key]
        self.program.row_upper[index] = upper
        self.highs.changeRowBounds(index, self.program.row_lower[index], upper)

    def set_column_scale(self, columns: np.ndarray, scale: float) -> None:
        """Scale the upper bounds of these columns (demand steps) from their base values."""
        self.column_scale[columns] = scale
        self.refresh()


def _lever_ids(levers: Levers) -> list[str]:
    return [lever.id for name in type(levers).model_fields for lever in getattr(levers, name)]


def _tracks(levers: Levers) -> list[frozenset[str]]:
    tracks: list[frozenset[str]] = [frozenset()]
    for rule in levers.sourcing_rules:
        excluded = frozenset(rule.excluded)
        if excluded not in tracks:
            tracks.append(excluded)
    return tracks
