"""Demand of the market world: magnet segments by region and end use, non-magnet oxide and
gallium segments, the calibration of magnet tonnage to the base year's Nd + Pr supply, and the
grades' reference prices from their costs (see docs/market.md, "Data")."""

from __future__ import annotations

from collections import defaultdict

from rareflow.dataset.market_parameters import MarketParameters
from rareflow.elements import element
from rareflow.market.network import Segment, World, demand_steps


def segment_of(
    market: MarketParameters,
    region: str,
    end_use: str,
    commodity: str,
    item: str,
    q0: float,
    p0: float,
) -> list[Segment]:
    """The region's demand; magnets split into open and domestic-contract parts."""
    spec = market.regions[region]
    shares = [(False, 1.0)]
    if commodity == "magnet" and spec.contract_share is not None:
        tied = spec.contract_share.value
        shares = [(False, 1.0 - tied), (True, tied)]
    segments = []
    for domestic, share in shares:
        if q0 * share <= 0:
            continue
        steps = demand_steps(
            q0 * share, p0, market.demand_elasticity.value, market.price_steps, market.step_price
        )
        name = f"{region}:{end_use}:{item}" + (":contract" if domestic else "")
        segments.append(
            Segment(
                name,
                region,
                end_use,
                commodity,
                item,
                spec.location,
                q0 * share,
                p0,
                steps,
                domestic,
            )
        )
    return segments


def magnet_segments(market: MarketParameters, demand: dict[str, float]) -> list[Segment]:
    """Magnet demand by region and end use (``demand``: t by region for a past year); defence
    only where a region gives it."""
    segments = []
    magnet_p0 = market.magnet_reference_price_usd_per_kg.value
    for region, spec in market.regions.items():
        defence = spec.defence_magnet_t.value if spec.defence_magnet_t else 0.0
        total = demand.get(region, spec.magnet_demand_t.value)
        civil = total - defence
        for use, end_use in market.end_uses.items():
            q0 = defence if use == "defence" else civil * end_use.share.value
            p0 = magnet_p0 * end_use.price_factor.value
            segments += segment_of(market, region, use, "magnet", end_use.grade, q0, p0)
    return segments


NDPR = ("Nd", "Pr")


def magnet_scale(world: World, market: MarketParameters) -> float:
    """Factor on the magnet tonnages of the data so that the reference magnet demand uses the
    base year's Nd + Pr supply net of the non-magnet share (the calibration of magnet demand)."""
    supply, need = element_supply(world), magnet_need(world)
    default = market.non_magnet_share["default"]
    available = sum(supply[e] * (1 - market.non_magnet_share.get(e, default).value) for e in NDPR)
    wanted = sum(need.get(e, 0.0) for e in NDPR)
    return available / wanted if wanted else 1.0


def average_cost(world: World, oxide: dict[str, float]) -> float:
    """Demand-weighted average cost of the magnet grades at these oxide prices (USD/kg)."""
    cost = grade_costs(world, oxide)
    weights: dict[str, float] = defaultdict(float)
    for segment in world.segments:
        if segment.commodity == "magnet":
            weights[segment.item] += segment.reference_t
    return sum(cost[g] * w for g, w in weights.items()) / sum(weights.values())


def grade_price_factors(
    world: World, market: MarketParameters, oxide: dict[str, float]
) -> dict[str, float]:
    """Each grade's cost at reference prices (RE metals + conversion + other materials) over the
    demand-weighted average: the magnets' average p0 is the data's, grades differ by content."""
    cost = grade_costs(world, oxide)
    average = average_cost(world, oxide)
    return {g: c / average for g, c in cost.items()}


def grade_costs(world: World, oxide: dict[str, float]) -> dict[str, float]:
    conversion = min((p.cost_usd_per_kg for p in world.magnet_plants), default=0.0)
    metal_conversion = min((p.cost_usd_per_kg for p in world.metal_plants), default=0.0)
    cost = {}
    for grade, recipe in world.grades.items():
        metals = sum(
            f
            * (
                oxide.get(e, 0.0) * element(e).oxide_per_metal / world.metal_yield
                + metal_conversion
            )
            for e, f in recipe.items()
        )
        cost[grade] = (
            conversion + world.grade_other_cost.get(grade, 0.0) + metals / world.magnet_yield
        )
    return cost


def scaled_segment(
    segment: Segment, factor: float, price_factors: dict[str, float], market: MarketParameters
) -> Segment:
    if segment.commodity != "magnet":
        return segment
    q0 = segment.reference_t * factor
    p0 = segment.reference_price * price_factors[segment.item]
    steps = demand_steps(
        q0, p0, market.demand_elasticity.value, market.price_steps, market.step_price
    )
    return Segment(
        segment.id,
        segment.region,
        segment.end_use,
        segment.commodity,
        segment.item,
        segment.location,
        q0,
        p0,
        steps,
        segment.domestic,
    )


def magnet_need(world: World) -> dict[str, float]:
    """t oxide of each element the reference magnet demand needs (recipes, yields)."""
    need: dict[str, float] = defaultdict(float)
    for segment in world.segments:
        if segment.commodity == "magnet":
            for e, fraction in world.grades[segment.item].items():
                metal = segment.reference_t * fraction / world.magnet_yield / world.metal_yield
                need[e] += metal * element(e).oxide_per_metal
    return need


def other_segments(
    world: World, market: MarketParameters, oxide: dict[str, float], shares: dict[str, float]
) -> list[Segment]:
    """Non-magnet oxide demand and gallium demand.

    An element's world reference quantity is its share of supply (market.yaml) or, for magnet
    elements, at least what supply leaves after the reference magnet demand, so that the base
    year's magnet elements are not in artificial surplus.
    """
    segments = []
    supply, need = element_supply(world), magnet_need(world)
    default = market.non_magnet_share["default"]
    for e in world.elements:
        share = market.non_magnet_share.get(e, default).value
        world_q0 = max(share * supply[e], supply[e] - need.get(e, 0.0))
        for region, spec in market.regions.items():
            q0 = world_q0 * shares.get(region, spec.oxide_demand_share.value)
            segments += segment_of(market, region, "non_magnet", "oxide", e, q0, oxide[e])
    gallium_t = sum(p.capacity_t for p in world.gallium_plants)
    ga_p0 = market.gallium_reference_price_usd_per_kg.value
    for region, spec in market.regions.items():
        q0 = gallium_t * spec.gallium_demand_share.value
        segments += segment_of(market, region, "gallium", "gallium", "Ga", q0, ga_p0)
    return segments


def element_supply(world: World) -> dict[str, float]:
    """t oxide of each element separated if every mine ran at capacity."""
    totals = dict.fromkeys(world.elements, 0.0)
    for mine in world.mines:
        level = mine.adjustable.initial_t if mine.adjustable is not None else mine.capacity_t
        for e, share in mine.ore.items():
            totals[e] += world.recovery * share * level
    return totals
