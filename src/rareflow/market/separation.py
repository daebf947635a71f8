"""Separation in the market LP: concentrate from mines (and recyclers) to separators, the heavy
fraction a light-only plant leaves, and integrated chains whose heavy concentrate is captive.
See docs/market.md (families ``concentrate``, ``heavy_concentrate``, ``heavy_disposal``,
``heavy_stock`` and the ``heavy`` rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rareflow.market.network import Plant, heavy_elements
from rareflow.market.program import RowKey, capacity, pool
from rareflow.market.ties import TIE_BOUND_T

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel


def add_separation(model: MarketModel, track: int, period: int) -> None:
    """Concentrate columns: each mine's ore (or a recycler's scrap) separated at each plant
    that may take it; a light-only plant's heavy fraction goes on to ``_heavy``."""
    world = model.world
    recovery = world.recovery
    for mine in world.mines:
        if not model.allowed(mine.location, track):
            continue
        for plant in world.separators:
            if not _takes(model, plant, mine.location, track):
                continue
            if mine.dedicated and plant.id not in mine.dedicated:
                continue
            if mine.routes and not world.matches(plant.location, mine.routes):
                continue
            heavy = heavy_elements(mine.ore, plant)
            entries: list[tuple[RowKey, float]] = [(capacity(plant.id, period), 1.0)]
            if mine.adjustable is None:
                entries.append((capacity(mine.id, period), 1.0))
            produced = []
            for e, share in mine.ore.items():
                if e not in heavy:
                    key = pool("oxide", e, plant.location, track, period)
                    entries.append((key, -recovery * share))
                    produced.append((e, recovery * share))
            if heavy:
                key = ("heavy", period, mine.id, plant.id, track)
                entries.append((key, -sum(heavy.values())))
            cost = mine.cost_usd_per_kg + plant.cost_usd_per_kg
            cost += model.freight("concentrate", mine.location, plant.location)
            index = {"mine": mine.id, "plant": plant.id, "track": track, "period": period,
                     "origin": mine.location, "destination": plant.location}  # fmt: skip
            column = model.add("concentrate", index, -cost, entries)
            model.border(column, "concentrate", mine.id, mine.location, plant.location, period)
            model.subsidise(column, mine.id, "mine", mine.location, period)
            model.subsidise(column, plant.id, plant.stage, plant.location, period)
            for e, coefficient in produced:
                model.outputs[(period, plant.id, e)].append((column, coefficient))
            if heavy:
                _heavy(model, mine.id, heavy, plant, track, period)


def _takes(model: MarketModel, plant: Plant, location: str, track: int) -> bool:
    if plant.heavy_concentrate_only or not model.allowed(plant.location, track):
        return False
    return not plant.feeds or model.world.matches(location, list(plant.feeds))


def _heavy(
    model: MarketModel,
    mine_id: str,
    heavy: dict[str, float],
    source: Plant,
    track: int,
    period: int,
) -> None:
    """Heavy concentrate left by a light-only plant: ship to a heavy plant, hold for a later
    period of the horizon (at the storage cost a year) or dispose of (store for good). A heavy
    circuit that separates only some elements stores the rest of its feed as residue."""
    world = model.world
    total = sum(heavy.values())
    row = ("heavy", period, mine_id, source.id, track)
    index = {"mine": mine_id, "plant": source.id, "track": track, "period": period}
    model.add("heavy_disposal", index, -world.disposal_cost, [(row, 1.0)])
    if period + 1 < model.periods:
        later = ("heavy", period + 1, mine_id, source.id, track)
        model.add("heavy_stock", index, -world.disposal_cost, [(row, 1.0), (later, -1.0)])
    for plant in world.separators:
        if not plant.heavy or not model.allowed(plant.location, track):
            continue
        entries: list[tuple[RowKey, float]] = [(row, 1.0), (capacity(plant.id, period), 1.0)]
        produced = []
        for e, share in heavy.items():
            if e not in plant.separable:
                continue
            coefficient = world.recovery * share / total
            entries.append((pool("oxide", e, plant.location, track, period), -coefficient))
            produced.append((e, coefficient))
        if not produced:
            continue
        # what a heavy circuit does not separate stays with it as residue, stored at a cost
        residue = sum(share for e, share in heavy.items() if e not in plant.separable) / total
        cost = plant.cost_usd_per_kg + residue * world.disposal_cost
        cost += model.freight("concentrate", source.location, plant.location)
        index = {"mine": mine_id, "plant": plant.id, "track": track, "period": period,
                 "source": source.id, "origin": source.location,
                 "destination": plant.location}  # fmt: skip
        column = model.add("heavy_concentrate", index, -cost, entries)
        model.border(column, "concentrate", mine_id, source.location, plant.location, period)
        model.subsidise(column, plant.id, plant.stage, plant.location, period)
        for e, coefficient in produced:
            model.outputs[(period, plant.id, e)].append((column, coefficient))


def add_captive_routes(model: MarketModel, period: int) -> None:
    """Integrated chains: a light plant's heavy concentrate goes only to the heavy plants
    that take it (``Plant.takes_heavy_of``) in the periods those have capacity."""
    program = model.program
    for owner in model.world.separators:
        for source in owner.takes_heavy_of:
            captors = {p.id for p in model.world.separators if source in p.takes_heavy_of}
            others = [
                column
                for column in program.select("heavy_concentrate", period=period)
                if program.meta[column]["source"] == source
                and program.meta[column]["plant"] not in captors
            ]
            model.captive.append((program.rows[capacity(owner.id, period)], others))


HeavyKey = tuple[str, str, int]
"""(mine, light-only plant that left the heavy fraction, track)."""


def set_heavy_stocks(model: MarketModel, stocks: dict[HeavyKey, float]) -> None:
    """Heavy concentrate carried into period 0 (t REO): the right-hand side of its ``heavy``
    rows, as private stocks are of the pools'."""
    rows = model.program.rows
    for key in model.heavy_initial:
        row = rows[("heavy", 0, *key)]
        model.row_lower[row] = model.row_upper[row] = 0.0
    model.heavy_initial = {key: level for key, level in stocks.items() if level > 0}
    for key, level in model.heavy_initial.items():
        row = rows[("heavy", 0, *key)]
        model.row_lower[row] = model.row_upper[row] = level


def heavy_content(model: MarketModel, mine_id: str, plant_id: str) -> dict[str, float]:
    """t of each element (oxide) per t REO of the heavy concentrate ``plant_id`` leaves of
    ``mine_id``'s ore."""
    mine = next(m for m in model.world.mines if m.id == mine_id)
    plant = next(p for p in model.world.separators if p.id == plant_id)
    heavy = heavy_elements(mine.ore, plant)
    total = sum(heavy.values())
    return {e: share / total for e, share in heavy.items()}


def heavy_held(model: MarketModel, values: np.ndarray) -> dict[HeavyKey, float]:
    """Heavy concentrate held at the end of period 0 of a solved model (t REO): what the next
    year starts with (amounts within the tie-break's bound move of zero are none)."""
    held: dict[HeavyKey, float] = {}
    program = model.program
    for column in program.select("heavy_stock", period=0):
        if values[column] > TIE_BOUND_T:
            meta = program.meta[column]
            held[(meta["mine"], meta["plant"], meta["track"])] = float(values[column])
    return held
