"""Columns and rows of the market LP beyond production: trade lanes and China's export step,
demand with substitutes, disposal and state stocks, offtakes and floors, quotas and licences
(called for every period by ``MarketModel`` while building)."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from rareflow.dataset.levers import StockRelease, TradeRule
from rareflow.elements import element
from rareflow.market.effects import EffectKind
from rareflow.market.network import CHINA, CHINA_EXPORT
from rareflow.market.program import INF, RowKey, capacity, pool

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel

SMUGGLED = ("oxide", "metal")
"""Products that move around China's export controls (oxides, compounds, metals)."""


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


def add_trade(model: MarketModel, period: int) -> None:
    """Lanes between places; China ships abroad only from its export market (CNX), which its
    domestic market feeds through the export step (and around it, by smuggling)."""
    made, used = places_of(model)
    two_tier = model.world.two_tier and CHINA_EXPORT in model.world.places
    for (commodity, item), origins in made.items():
        destinations = used.get((commodity, item), set())
        for track in range(len(model.tracks)):
            for origin in sorted(origins):
                shipped_from = origin
                if two_tier and origin == CHINA:
                    if not model.allowed(CHINA, track) or not destinations - {CHINA}:
                        continue
                    _export_step(model, commodity, item, track, period)
                    shipped_from = CHINA_EXPORT
                for destination in sorted(destinations - {origin}):
                    if not (model.allowed(origin, track) and model.allowed(destination, track)):
                        continue
                    _lane(model, commodity, item, shipped_from, destination, track, period)


def _export_step(model: MarketModel, commodity: str, item: str, track: int, period: int) -> None:
    index = {"commodity": commodity, "item": item, "track": track, "period": period}
    column = model.add("export", index, 0.0, [
        (pool(commodity, item, CHINA, track, period), 1.0),
        (pool(commodity, item, CHINA_EXPORT, track, period), -1.0),
    ])  # fmt: skip
    model.border(column, commodity, item, CHINA, CHINA_EXPORT, period)
    smuggling = model.world.smuggling
    if smuggling is not None and track == 0 and commodity in SMUGGLED:
        value = model.world.reference_prices.get((commodity, item), 0.0)
        cost = smuggling.cost_usd_per_kg + smuggling.value_share * value
        smuggle = model.add(
            "smuggle",
            {"commodity": commodity, "item": item, "period": period},
            -cost,
            [
                (pool(commodity, item, CHINA, 0, period), 1.0),
                (pool(commodity, item, CHINA_EXPORT, 0, period), -1.0),
            ],
        )
        enforced = [
            *model.world.levers.bans,  # a ban is enforced at the border: no way around
            *(lic for lic in model.world.levers.licences if lic.closes_smuggling),
        ]
        for rule in enforced:
            if model.levers.matches(rule, commodity, item, CHINA, CHINA_EXPORT):
                model.effect(rule.id, EffectKind.SWITCH, smuggle, period, 0.0, 1.0)


def _lane(
    model: MarketModel,
    commodity: str,
    item: str,
    origin: str,
    destination: str,
    track: int,
    period: int,
) -> None:
    index = {"commodity": commodity, "item": item, "origin": origin,
             "destination": destination, "track": track, "period": period}  # fmt: skip
    column = model.add("trade", index, -model.freight(commodity, origin, destination), [
        (pool(commodity, item, origin, track, period), 1.0),
        (pool(commodity, item, destination, track, period), -1.0),
    ])  # fmt: skip
    model.border(column, commodity, item, origin, destination, period)


def add_conversion(model: MarketModel, track: int, period: int) -> None:
    """Metal, magnet (by grade and design variant) and gallium making at every plant."""
    world = model.world
    for plant in world.metal_plants:
        if not model.allowed(plant.location, track):
            continue
        for e in world.metal_elements:
            use = element(e).oxide_per_metal / world.metal_yield
            index = {"plant": plant.id, "item": e, "track": track, "period": period,
                     "location": plant.location}  # fmt: skip
            column = model.add("metal", index, -plant.cost_usd_per_kg, [
                (capacity(plant.id, period), 1.0),
                (pool("oxide", e, plant.location, track, period), use),
                (pool("metal", e, plant.location, track, period), -1.0),
            ])  # fmt: skip
            model.subsidise(column, plant.id, plant.stage, plant.location, period)
            model.outputs[(period, plant.id, e)].append((column, 1.0))
    for plant in world.magnet_plants:
        if not model.allowed(plant.location, track):
            continue
        for grade in world.grades:
            for variant, recipe in world.recipes(grade).items():
                entries: list[tuple[RowKey, float]] = [
                    (capacity(plant.id, period), 1.0),
                    (pool("magnet", grade, plant.location, track, period), -1.0),
                ]
                for e, fraction in recipe.items():
                    key = pool("metal", e, plant.location, track, period)
                    entries.append((key, fraction / world.magnet_yield))
                cost = plant.cost_usd_per_kg + world.grade_other_cost.get(grade, 0.0)
                cost += world.variant_cost(variant)
                index = {"plant": plant.id, "item": grade, "variant": variant, "track": track,
                         "period": period, "location": plant.location}  # fmt: skip
                column = model.add("magnet", index, -cost, entries)
                model.subsidise(column, plant.id, plant.stage, plant.location, period)
                model.outputs[(period, plant.id, grade)].append((column, 1.0))
    for plant in world.gallium_plants:
        if not model.allowed(plant.location, track):
            continue
        index = {"plant": plant.id, "item": "Ga", "track": track, "period": period,
                 "location": plant.location}  # fmt: skip
        column = model.add("gallium", index, -plant.cost_usd_per_kg, [
            (capacity(plant.id, period), 1.0),
            (pool("gallium", "Ga", plant.location, track, period), -1.0),
        ])  # fmt: skip
        model.subsidise(column, plant.id, plant.stage, plant.location, period)
        model.outputs[(period, plant.id, "Ga")].append((column, 1.0))


def add_demand(model: MarketModel, period: int) -> None:
    """Demand steps; a segment under a sourcing rule gets a copy on the rule's track, and the
    rule switches between the two copies. A segment with a substitute meets its need from a
    segment balance fed by purchases at its place and by the substitute."""
    for segment in model.world.segments:
        rule = model.rule_of(segment.region, segment.end_use)
        tracks = [0] if rule is None else [0, model.rule_track(rule)]
        substitution = model.world.substitution_of(segment)
        for track in tracks:
            market = pool(segment.commodity, segment.item, segment.location, track, period)
            buying: list[tuple[RowKey, float]] = [(market, 1.0)]
            if segment.domestic:
                buying.append((_domestic_row(model, segment.item, segment.location, period), 1.0))
            entries = buying
            if substitution is not None:
                need = ("segment", period, segment.id, track)
                entries = [(need, 1.0)]
                model.add("purchase", {"segment": segment.id, "track": track, "period": period},
                          0.0, [*buying, (need, -1.0)])  # fmt: skip
                cost = substitution.cost_factor * segment.reference_price
                model.add("substitute", {"segment": segment.id, "track": track, "period": period},
                          -cost, [(need, -1.0)])  # fmt: skip
            for step, (quantity, price) in enumerate(segment.steps):
                index = {"segment": segment.id, "step": step, "track": track, "period": period,
                         "commodity": segment.commodity, "item": segment.item,
                         "location": segment.location}  # fmt: skip
                column = model.add("demand", index, price, entries, quantity)
                if rule is not None:
                    on, off = (0.0, 1.0) if track == 0 else (1.0, 0.0)
                    model.effect(rule, EffectKind.SWITCH, column, period, on, off)


def _domestic_row(model: MarketModel, item: str, location: str, period: int) -> RowKey:
    """Contract demand <= output of the makers at its place (created once per grade and place)."""
    key = ("domestic", period, item, location)
    if key not in model.program.rows:
        row = model.program.row(key, -INF, 0.0)
        plants = {p.id: p for p in model.world.magnet_plants}
        for (p, plant_id, made), outputs in model.outputs.items():
            plant = plants.get(plant_id)
            if p == period and plant is not None and made == item and plant.location == location:
                for column, coefficient in outputs:
                    model.program.entry(row, column, -coefficient)
    return key


def add_stocks_and_disposal(model: MarketModel, period: int) -> None:
    program = model.program
    for key in program.row_keys("pool", period):
        _, _, commodity, item, location, track = key
        index = {"commodity": commodity, "item": item, "location": location, "track": track,
                 "period": period}  # fmt: skip
        if commodity == "oxide" and location != CHINA_EXPORT:
            model.add("disposal", index, -model.world.disposal_cost, [(key, 1.0)])
        if track > 0:
            model.add("downgrade", index, 0.0,
                      [(key, 1.0), (pool(commodity, item, location, 0, period), -1.0)])  # fmt: skip
    levers = model.world.levers
    stocks: list[tuple[str, StockRelease, float, float]] = [
        *(("stock_release", r, 0.0, -1.0) for r in levers.stock_releases),
        *(("stock_purchase", p, p.max_price_usd_per_kg, 1.0) for p in levers.stock_purchases),
    ]
    for family, lever, value, sign in stocks:
        index = {"lever": lever.id, "commodity": lever.commodity, "item": lever.item,
                 "location": lever.location, "track": 0, "period": period}  # fmt: skip
        key = pool(lever.commodity, lever.item, lever.location, 0, period)
        column = model.add(family, index, value, [(key, sign)])
        model.effect(lever.id, EffectKind.UPPER, column, period, lever.volume_t, 0.0)


def add_contracts(model: MarketModel, period: int) -> None:
    """Offtakes (a buyer takes plant output at a fixed price) and price floors."""
    program, plants = model.program, {p.id: p for p in model.world.plants()}
    for offtake in model.world.levers.offtakes:
        limit = program.row(("offtake", period, offtake.id), -INF, offtake.volume_t)
        model.effect(offtake.id, EffectKind.ROW_UPPER, limit, period, offtake.volume_t, 0.0)
        for plant_id in offtake.plants:
            plant = plants[plant_id]
            for item in offtake.items:
                key = ("eligible", period, offtake.id, plant_id, item)
                eligible = program.row(key, -INF, 0.0)
                for column, coefficient in model.outputs.get((period, plant_id, item), []):
                    program.entry(eligible, column, -coefficient)
                price = offtake.price_usd_per_kg - model.freight(
                    offtake.commodity, plant.location, offtake.location
                )
                index = {"lever": offtake.id, "plant": plant_id, "commodity": offtake.commodity,
                         "item": item, "location": plant.location, "track": 0,
                         "period": period}  # fmt: skip
                model.add("offtake", index, price, [
                    (("offtake", period, offtake.id), 1.0),
                    (key, 1.0),
                    (pool(offtake.commodity, item, plant.location, 0, period), 1.0),
                ])  # fmt: skip
    for floor in model.world.levers.floors:
        row = program.row(("floor", period, floor.id), -INF, 0.0)
        for plant_id in floor.plants:
            for e in floor.elements:
                for column, coefficient in model.outputs.get((period, plant_id, e), []):
                    program.entry(row, column, -coefficient)
        column = model.add("floor", {"lever": floor.id, "track": 0, "period": period}, 0.0,
                           [(("floor", period, floor.id), 1.0)])  # fmt: skip
        model.floor_columns[(floor.id, period)] = column
        model.effect(floor.id, EffectKind.UPPER, column, period, floor.volume_t, 0.0)


def add_quotas(model: MarketModel, period: int) -> None:
    """Quotas: the matched flows together below a fixed limit (firms choose what to ship under
    it). Licences: one row per product (commodity, item) they cover, below a volume the runner
    sets from the product's flows in the last year without the licence (none until then), since
    a licence is granted shipment by shipment and cannot move volume from one product to
    another."""
    program = model.program
    for quota in model.world.levers.quotas:
        row = program.row(("quota", period, quota.id), -INF, quota.limit_t)
        model.effect(quota.id, EffectKind.ROW_UPPER, row, period, quota.limit_t, INF)
        for column in matched_flows(model, quota, period):
            program.entry(row, column, 1.0)
    for licence in model.world.levers.licences:
        products: dict[tuple[str, str], list[int]] = {}
        for column in matched_flows(model, licence, period):
            meta = program.meta[column]
            commodity = str(meta.get("commodity", "concentrate"))
            product = (commodity, str(meta["item"] if "item" in meta else meta["mine"]))
            products.setdefault(product, []).append(column)
        model.licensed[(licence.id, period)] = products
        for (commodity, item), columns in sorted(products.items()):
            row = program.row(("licence", period, licence.id, commodity, item), -INF, INF)
            key = licence_key(licence.id, commodity, item)
            model.effect(licence.id, EffectKind.ROW_UPPER, row, period, INF, INF, key)
            for column in columns:
                program.entry(row, column, 1.0)


def licence_key(licence: str, commodity: str, item: str) -> str:
    """Volume key of one product's row of a licence."""
    return f"{licence}:{commodity}:{item}"


def matched_flows(model: MarketModel, rule: TradeRule, period: int) -> list[int]:
    """Columns of one period whose flows a trade rule covers."""
    program, matches = model.program, model.levers.matches
    found = [
        int(c)
        for c in program.select("export", period=period)
        if matches(rule, program.meta[c]["commodity"], program.meta[c]["item"], CHINA,
                   CHINA_EXPORT)
    ]  # fmt: skip
    for column in program.select("trade", period=period):
        meta = program.meta[column]
        if matches(rule, meta["commodity"], meta["item"], meta["origin"], meta["destination"]):
            found.append(int(column))
    for column in program.select("concentrate", "heavy_concentrate", period=period):
        meta = program.meta[column]
        if matches(rule, "concentrate", meta["mine"], meta["origin"], meta["destination"]):
            found.append(int(column))
    return found
