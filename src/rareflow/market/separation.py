"""Separation in the market LP: concentrate from mines (and recyclers) to separators, the heavy
fraction a light-only plant leaves, and integrated chains whose heavy concentrate is captive.
See docs/market.md (families ``concentrate``, ``heavy_concentrate``, ``heavy_disposal`` and the
``heavy`` rows)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rareflow.market.network import Plant, heavy_elements
from rareflow.market.program import RowKey, capacity, pool

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
    """Heavy concentrate left by a light-only plant: ship to a heavy plant or dispose of."""
    world = model.world
    total = sum(heavy.values())
    row = ("heavy", period, mine_id, source.id, track)
    index = {"mine": mine_id, "plant": source.id, "track": track, "period": period}
    model.add("heavy_disposal", index, -world.disposal_cost, [(row, 1.0)])
    for plant in world.separators:
        if not plant.heavy or not model.allowed(plant.location, track):
            continue
        entries: list[tuple[RowKey, float]] = [(row, 1.0), (capacity(plant.id, period), 1.0)]
        produced = []
        for e, share in heavy.items():
            coefficient = world.recovery * share / total
            entries.append((pool("oxide", e, plant.location, track, period), -coefficient))
            produced.append((e, coefficient))
        cost = plant.cost_usd_per_kg
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
