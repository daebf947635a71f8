"""Who gains what in a solved market: the LP's welfare split by place, plus the transfers it
does not count (export-tax and tariff revenue, subsidies paid).

The split uses LP duality. For any row prices y, with reduced costs z = c - A'y,

    c'x = sum_r y_r (Ax)_r + sum_j z_j x_j

and at an optimum y_r is non-zero only on binding rows and z_j only on columns at a bound, so
every term is the rent of one scarce thing: a capacity row's dual times the capacity (the
producer's rent), a balance row's price times the stock carried in (the holders' stock value),
a quota or licence row's dual times its limit (the quota rent), a demand step's reduced cost
times its size (the buyers' surplus on that step), and so on. Each term is given to the place
of its row or column (a plant's or mine's location, a segment's, a stock's; quota and licence
rents to the exporting country), so the places' shares add up to the LP objective exactly
(tested). The LP counts an export tax or a tariff as a cost and a subsidy as a gain; the
government that collects or pays them is credited or charged here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rareflow.market.effects import EffectKind
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA, CHINA_EXPORT
from rareflow.market.program import RowKey

UNATTRIBUTED = "-"
"""Rents of what belongs to no place: the global design capacities of magnet variants."""
BUYERS = "buyers"
"""Marks the rows of licences whose rent the licensed buyers keep (``Licence.rent_holder``):
their rent goes to the places the licensed product is shipped to, by tonnage."""
STOCKPILE_BOOKS = "stockpiles"
"""The LP's value of state stockpile purchases (up to their price cap) and releases (at no
cost): a state buys or sells an asset at its market price, so these terms are nobody's welfare
and are kept apart from every place (the holding cost and the cover a stock gives are counted by
the player that holds it, ``play.py``)."""


@dataclass
class Accounts:
    """Welfare by place of one solved model (thousand USD, present value over its periods)."""

    surplus: dict[str, float] = field(default_factory=dict)
    """Place -> the LP's welfare terms given to it."""
    tax_revenue: dict[str, float] = field(default_factory=dict)
    """Place -> export-tax and tariff revenue its government collects."""
    subsidies_paid: dict[str, float] = field(default_factory=dict)
    """Place -> floor and production subsidies its government pays."""

    def total(self, places: set[str]) -> float:
        """Surplus + revenue - subsidies of a set of places (thousand USD)."""
        return sum(
            self.surplus.get(p, 0.0)
            + self.tax_revenue.get(p, 0.0)
            - self.subsidies_paid.get(p, 0.0)
            for p in places
        )


def accounts(
    model: MarketModel, values: np.ndarray, duals: np.ndarray, period: int | None = None
) -> Accounts:
    """Split the welfare of a solution (column values, row duals) by place; with ``period``,
    only the terms of that period's rows and columns (its part of the present value)."""
    matrix = model.matrix()
    row_terms = duals * (matrix @ values)
    column_terms = (model.cost - matrix.T @ duals) * values
    if period is not None:
        row_periods, column_periods = _periods(model)
        row_terms = np.where(row_periods == period, row_terms, 0.0)
        column_terms = np.where(column_periods == period, column_terms, 0.0)
    surplus: dict[str, float] = defaultdict(float)
    row_places, column_places = _places(model)
    for index, (place, row_term) in enumerate(zip(row_places, row_terms, strict=True)):
        if row_term and place == BUYERS:
            for buyer, share in _buyers(model, values, index).items():
                surplus[buyer] += float(row_term) * share
        elif row_term:
            surplus[place] += float(row_term)
    for place, column_term in zip(column_places, column_terms, strict=True):
        if column_term:
            surplus[place] += float(column_term)
    revenue, paid = _transfers(model, values, period)
    return Accounts(dict(surplus), revenue, paid)


def _periods(model: MarketModel) -> tuple[np.ndarray, np.ndarray]:
    if model.cache.periods is None:
        rows = np.full(len(model.program.rows), -1, dtype=int)
        for key, index in model.program.rows.items():
            if len(key) > 1 and isinstance(key[1], int):
                rows[index] = key[1]
        columns = np.array([meta.get("period", -1) for meta in model.program.meta], dtype=int)
        model.cache.periods = (rows, columns)
    return model.cache.periods


def _transfers(
    model: MarketModel, values: np.ndarray, period: int | None = None
) -> tuple[dict[str, float], dict[str, float]]:
    """Tax and tariff revenue and subsidies paid, by the place of the government (in
    ``period`` only, if given)."""
    program, levers = model.program, model.levers
    columns = _places(model)[1]
    tariffs = {t.id for t in model.world.levers.tariffs}
    export_taxes = {t.id for t in model.world.levers.export_taxes}  # on concentrate: per kg
    subsidies = {s.id for s in model.world.levers.subsidies}
    revenue: dict[str, float] = defaultdict(float)
    paid: dict[str, float] = defaultdict(float)
    for position, effect in enumerate(levers.effects):
        level = float(values[effect.target]) if effect.kind is not EffectKind.ROW_UPPER else 0.0
        if level <= 0 or effect.lever not in levers.active[effect.period]:
            continue
        if period is not None and effect.period != period:
            continue
        meta = program.meta[effect.target]
        rate = effect.on * levers.part_of_year(effect.lever, effect.period)  # active: above
        if effect.kind is EffectKind.AD_VALOREM:
            base = levers.tax_base.get(position, 0.0)
            revenue[_home(meta.get("origin", CHINA))] += effect.weight * rate * base * level
        elif effect.kind is EffectKind.COST and effect.lever in tariffs:
            revenue[_home(meta["destination"])] -= effect.weight * rate * level
        elif effect.kind is EffectKind.COST and effect.lever in export_taxes:
            revenue[_home(meta.get("origin", CHINA))] -= effect.weight * rate * level
        elif effect.kind is EffectKind.COST and effect.lever in subsidies:
            paid[columns[effect.target]] += effect.weight * rate * level
    for (floor_id, floor_period), column in model.floor_columns.items():
        if period is not None and floor_period != period:
            continue
        if floor_id in levers.active[floor_period] and values[column] > 0:
            paid[columns[column]] += float(model.cost[column] * values[column])
    return dict(revenue), dict(paid)


def _buyers(model: MarketModel, values: np.ndarray, row: int) -> dict[str, float]:
    """Shares of a licence row's rent by buyer place: the tonnage of the licensed product
    shipped to each place, from China's export market where the licence covers China's export
    step, else on the lanes it covers (everything unattributed if nothing moves)."""
    program = model.program
    key = next(k for k, i in program.rows.items() if i == row)
    _, period, licence_id, commodity, item = key
    covered = model.licensed.get((licence_id, period), {}).get((commodity, item), [])
    lanes = [c for c in covered if "destination" in program.meta[c]]
    if len(lanes) < len(covered):  # the export step: what leaves China's export market
        lanes += [
            int(c)
            for c in program.select("trade", period=period)
            if program.meta[c]["origin"] == CHINA_EXPORT
            and program.meta[c]["commodity"] == commodity
            and program.meta[c]["item"] == item
        ]
    shipped: dict[str, float] = defaultdict(float)
    for column in lanes:
        if values[column] > 0:
            shipped[_home(program.meta[column]["destination"])] += float(values[column])
    total = sum(shipped.values())
    return {p: t / total for p, t in shipped.items()} if total > 0 else {UNATTRIBUTED: 1.0}


def _home(place: str) -> str:
    return CHINA if place == CHINA_EXPORT else place


def _places(model: MarketModel) -> tuple[list[str], list[str]]:
    """(place of each row, place of each column), made once per model."""
    if model.cache.places is None:
        keys: list[RowKey] = [()] * len(model.program.rows)
        for key, index in model.program.rows.items():
            keys[index] = key
        lookup = _Lookup(model)
        model.cache.places = (
            [lookup.row(key) for key in keys],
            [lookup.column(meta) for meta in model.program.meta],
        )
    return model.cache.places


class _Lookup:
    """Places of nodes, segments, floors, adjusting states and rules of one model."""

    def __init__(self, model: MarketModel) -> None:
        world = model.world
        self.world = world
        self.nodes = {m.id: _home(m.location) for m in world.mines}
        self.nodes.update({p.id: _home(p.location) for p in world.plants()})
        self.segments = {s.id: _home(s.location) for s in world.segments}
        levers = world.levers
        self.floors = {f.id: self.nodes[f.plants[0]] for f in levers.floors}
        self.offtakes = {o.id: self.nodes[o.plants[0]] for o in levers.offtakes}
        self.rules = {
            r.id: CHINA if world.matches(CHINA, r.origin) else UNATTRIBUTED
            for r in [*levers.quotas, *levers.licences]
        }
        self.rules.update({r.id: BUYERS for r in levers.licences if r.rent_holder == "buyer"})
        """Quota and licence rents go to the exporters (China's when the rule covers it), or to
        the licensed buyers where a licence says so."""

    def adjustment(self, name: str) -> str:
        kind, _, what = name.partition(":")
        if kind == "mine":
            return self.nodes[what]
        if kind == "substitution":
            return self.segments[what]
        return CHINA if kind == "smuggling" else UNATTRIBUTED

    def row(self, key: RowKey) -> str:
        family = key[0]
        if family == "pool":
            return _home(key[4])
        if family == "capacity":
            return self.nodes[key[2]]
        if family in ("eligible", "heavy"):
            return self.nodes[key[3] if family == "eligible" else key[2]]
        if family == "domestic":
            return _home(key[3])
        if family == "segment":
            return self.segments[key[2]]
        if family in ("adjustment", "headroom"):
            return self.adjustment(key[2])
        if family == "floor":
            return self.floors[key[2]]
        if family == "offtake":
            return self.offtakes[key[2]]
        if family in ("quota", "licence"):
            return self.rules[key[2]]
        return CHINA if family == "crackdown" else UNATTRIBUTED

    def column(self, meta: dict[str, Any]) -> str:
        family = meta["kind"]
        if family == "build":
            return self.adjustment(meta["adjustment"])
        if family == "floor":
            return self.floors[meta["lever"]]
        if family in ("purchase", "substitute"):
            return self.segments[meta["segment"]]
        if family in ("stock_purchase", "stock_release"):
            return STOCKPILE_BOOKS
        if "location" in meta:
            return _home(meta["location"])
        for key in ("plant", "mine"):
            if key in meta:
                return self.nodes[meta[key]]
        return _home(meta["destination"]) if "destination" in meta else UNATTRIBUTED
