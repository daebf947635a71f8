"""Columns and rows of the market LP beyond production: trade lanes, demand, disposal and stocks,
offtakes and floors, quotas (called once by ``MarketModel`` while building)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

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
                    banned = model.banned(commodity, item, origin, destination)
                    model.program.column(
                        {
                            "kind": "trade",
                            "commodity": commodity,
                            "item": item,
                            "origin": origin,
                            "destination": destination,
                            "track": track,
                        },
                        -model.cross(commodity, item, origin, destination),
                        [
                            (pool(commodity, item, origin, track), 1.0),
                            (pool(commodity, item, destination, track), -1.0),
                        ],
                        0.0 if banned else INF,
                    )


def add_demand(model: MarketModel) -> None:
    plants = {p.id: p for p in model.world.magnet_plants}
    for segment in model.world.segments:
        track = model.segment_track(segment.region, segment.end_use)
        entries = [(pool(segment.commodity, segment.item, segment.location, track), 1.0)]
        if segment.domestic:
            key = ("domestic", segment.item, segment.location)
            if key not in model.program.rows:
                row = model.program.row(key, -INF, 0.0)
                for (plant_id, item), outputs in model.outputs.items():
                    plant = plants.get(plant_id)
                    if (
                        plant is not None
                        and item == segment.item
                        and plant.location == segment.location
                    ):
                        for column, coefficient in outputs:
                            model.entry(row, column, -coefficient)
            entries.append((key, 1.0))
        for step, (quantity, price) in enumerate(segment.steps):
            model.program.column(
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
    for release in model.world.levers.stock_releases:
        program.column(
            {
                "kind": "stock_release",
                "lever": release.id,
                "commodity": release.commodity,
                "item": release.item,
                "location": release.location,
                "track": 0,
            },
            0.0,
            [(pool(release.commodity, release.item, release.location, 0), -1.0)],
            release.volume_t,
        )
    for purchase in model.world.levers.stock_purchases:
        program.column(
            {
                "kind": "stock_purchase",
                "lever": purchase.id,
                "commodity": purchase.commodity,
                "item": purchase.item,
                "location": purchase.location,
                "track": 0,
            },
            purchase.max_price_usd_per_kg,
            [(pool(purchase.commodity, purchase.item, purchase.location, 0), 1.0)],
            purchase.volume_t,
        )


def add_contracts(model: MarketModel) -> None:
    """Offtakes (a buyer takes plant output at a fixed price) and price floors."""
    program, plants = model.program, {p.id: p for p in model.world.plants()}
    for offtake in model.world.levers.offtakes:
        limit = program.row(("offtake", offtake.id), -INF, offtake.volume_t)
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
                    - model.cross(offtake.commodity, item, plant.location, offtake.location),
                    [
                        (("offtake", offtake.id), 1.0),
                        (("eligible", offtake.id, plant_id, item), 1.0),
                        (pool(offtake.commodity, item, plant.location, 0), 1.0),
                    ],
                )
        assert limit >= 0
    for floor in model.world.levers.floors:
        row = program.row(("floor", floor.id), -INF, 0.0)
        for plant_id in floor.plants:
            for e in floor.elements:
                for column, coefficient in model.outputs.get((plant_id, e), []):
                    model.entry(row, column, -coefficient)
        model.floor_columns[floor.id] = program.column(
            {"kind": "floor", "lever": floor.id, "track": 0},
            0.0,
            [(("floor", floor.id), 1.0)],
            floor.volume_t,
        )
        model.floor_subsidy[floor.id] = 0.0


def add_quotas(model: MarketModel) -> None:
    program = model.program
    for quota in model.world.levers.quotas:
        row = program.row(("quota", quota.id), -INF, quota.limit_t)
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
