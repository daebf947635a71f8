"""Columns and rows of the market LP beyond production: trade lanes, demand, disposal and stocks,
offtakes and floors, quotas (called once by ``MarketModel`` while building)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from rareflow.dataset.levers import StockRelease
from rareflow.market.program import INF, pool

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel


def places_of(
    model: MarketModel,
) -> tuple[dict[tuple[str, str], set[str]], dict[tuple[str, str], set[str]]]:
    """Where each (commodity, item) is made and where it is used."""
    world = model.world
    made: dict[tuple[str, str], set[str]] = defaultdict(set)
    used: dict[tuple[str, str], set[str]] = defaultdict(set)
    for plant in world.separators:
        for e in world.elements:
            made[("oxide", e)].add(plant.location)
    for plant in world.metal_plants:
        for e in world.metal_elements:
            made[("metal", e)].add(plant.location)
            used[("oxide", e)].add(plant.location)
    for plant in world.magnet_plants:
        for grade, recipe in world.grades.items():
            made[("magnet", grade)].add(plant.location)
            for e in recipe:
                used[("metal", e)].add(plant.location)
    for plant in world.gallium_plants:
        made[("gallium", "Ga")].add(plant.location)
    for segment in world.segments:
        used[(segment.commodity, segment.item)].add(segment.location)
    for release in world.levers.stock_releases:
        made[(release.commodity, release.item)].add(release.location)
    for purchase in world.levers.stock_purchases:
        used[(purchase.commodity, purchase.item)].add(purchase.location)
    return made, used


def add_trade(model: MarketModel) -> None:
    made, used = places_of(model)
    for (commodity, item), origins in made.items():
        for origin in sorted(origins):
            for destination in sorted(used.get((commodity, item), set()) - {origin}):
                for track in range(len(model.tracks)):
                    if not (model.allowed(origin, track) and model.allowed(destination, track)):
                        continue
                    column = model.program.column(
                        {
                            "kind": "trade",
                            "commodity": commodity,
                            "item": item,
                            "origin": origin,
                            "destination": destination,
                            "track": track,
                        },
                        -model.freight(commodity, origin, destination),
                        [
                            (pool(commodity, item, origin, track), 1.0),
                            (pool(commodity, item, destination, track), -1.0),
                        ],
                    )
                    model.border(column, commodity, item, origin, destination)


def add_demand(model: MarketModel) -> None:
    """Demand steps; a segment under a sourcing rule gets a copy on the rule's track, and the
    rule switches between the two copies."""
    for segment in model.world.segments:
        rule = model.rule_of(segment.region, segment.end_use)
        tracks = [0] if rule is None else [0, model.rule_track(rule)]
        for track in tracks:
            entries = [(pool(segment.commodity, segment.item, segment.location, track), 1.0)]
            if segment.domestic:
                entries.append((_domestic_row(model, segment.item, segment.location), 1.0))
            for step, (quantity, price) in enumerate(segment.steps):
                column = model.program.column(
                    {
                        "kind": "demand",
                        "segment": segment.id,
                        "step": step,
                        "track": track,
                        "commodity": segment.commodity,
                        "item": segment.item,
                        "location": segment.location,
                    },
                    price,
                    entries,
                    quantity,
                )
                if rule is not None:
                    on, off = (0.0, 1.0) if track == 0 else (1.0, 0.0)
                    model.effects.append((rule, "switch", column, on, off))


def _domestic_row(model: MarketModel, item: str, location: str) -> tuple[str, str, str]:
    """Contract demand <= output of the makers at its place (created once per grade and place)."""
    key = ("domestic", item, location)
    if key not in model.program.rows:
        row = model.program.row(key, -INF, 0.0)
        plants = {p.id: p for p in model.world.magnet_plants}
        for (plant_id, made), outputs in model.outputs.items():
            plant = plants.get(plant_id)
            if plant is not None and made == item and plant.location == location:
                for column, coefficient in outputs:
                    model.entry(row, column, -coefficient)
    return key


def add_stocks_and_disposal(model: MarketModel) -> None:
    program = model.program
    for key in list(program.rows):
        if key[0] != "pool":
            continue
        _, commodity, item, location, track = key
        if commodity == "oxide":
            program.column(
                {
                    "kind": "disposal",
                    "commodity": commodity,
                    "item": item,
                    "location": location,
                    "track": track,
                },
                -model.world.disposal_cost,
                [(key, 1.0)],
            )
        if track > 0:
            program.column(
                {
                    "kind": "downgrade",
                    "commodity": commodity,
                    "item": item,
                    "location": location,
                    "track": track,
                },
                0.0,
                [(key, 1.0), (pool(commodity, item, location, 0), -1.0)],
            )
    levers = model.world.levers
    stocks: list[tuple[str, StockRelease, float, float]] = [
        *(("stock_release", r, 0.0, -1.0) for r in levers.stock_releases),
        *(("stock_purchase", p, p.max_price_usd_per_kg, 1.0) for p in levers.stock_purchases),
    ]
    for kind, lever, value, sign in stocks:
        column = program.column(
            {
                "kind": kind,
                "lever": lever.id,
                "commodity": lever.commodity,
                "item": lever.item,
                "location": lever.location,
                "track": 0,
            },
            value,
            [(pool(lever.commodity, lever.item, lever.location, 0), sign)],
        )
        model.effects.append((lever.id, "upper", column, lever.volume_t, 0.0))


def add_contracts(model: MarketModel) -> None:
    """Offtakes (a buyer takes plant output at a fixed price) and price floors."""
    program, plants = model.program, {p.id: p for p in model.world.plants()}
    for offtake in model.world.levers.offtakes:
        limit = program.row(("offtake", offtake.id), -INF, offtake.volume_t)
        model.effects.append((offtake.id, "row", limit, offtake.volume_t, 0.0))
        for plant_id in offtake.plants:
            plant = plants[plant_id]
            for item in offtake.items:
                eligible = program.row(("eligible", offtake.id, plant_id, item), -INF, 0.0)
                for column, coefficient in model.outputs.get((plant_id, item), []):
                    model.entry(eligible, column, -coefficient)
                program.column(
                    {
                        "kind": "offtake",
                        "lever": offtake.id,
                        "plant": plant_id,
                        "commodity": offtake.commodity,
                        "item": item,
                        "location": plant.location,
                        "track": 0,
                    },
                    offtake.price_usd_per_kg
                    - model.freight(offtake.commodity, plant.location, offtake.location),
                    [
                        (("offtake", offtake.id), 1.0),
                        (("eligible", offtake.id, plant_id, item), 1.0),
                        (pool(offtake.commodity, item, plant.location, 0), 1.0),
                    ],
                )
    for floor in model.world.levers.floors:
        row = program.row(("floor", floor.id), -INF, 0.0)
        for plant_id in floor.plants:
            for e in floor.elements:
                for column, coefficient in model.outputs.get((plant_id, e), []):
                    model.entry(row, column, -coefficient)
        column = program.column(
            {"kind": "floor", "lever": floor.id, "track": 0}, 0.0, [(("floor", floor.id), 1.0)]
        )
        model.floor_columns[floor.id] = column
        model.effects.append((floor.id, "upper", column, floor.volume_t, 0.0))
        model.floor_subsidy[floor.id] = 0.0


def add_quotas(model: MarketModel) -> None:
    program = model.program
    for quota in model.world.levers.quotas:
        row = program.row(("quota", quota.id), -INF, quota.limit_t)
        model.effects.append((quota.id, "row", row, quota.limit_t, INF))
        for index, meta in enumerate(program.meta):
            commodity = str(meta.get("commodity"))
            if (
                meta["kind"] == "trade"
                and model.matches(
                    quota, commodity, meta["item"], meta["origin"], meta["destination"]
                )
            ) or (
                meta["kind"] in ("concentrate", "heavy_concentrate")
                and model.matches(
                    quota, "concentrate", meta["mine"], meta["origin"], meta["destination"]
                )
            ):
                model.entry(row, index, 1.0)
