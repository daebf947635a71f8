"""How the market world adjusts over time, from ``market.yaml`` (and, for a past year, the
historical layer): private stocks, substitution, design capacities, smuggling and undocumented
mining; and who owns each facility."""

from __future__ import annotations

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.market_parameters import AdjustingCapacity, MarketParameters
from rareflow.market import history
from rareflow.market.network import (
    CHINA,
    Adjustable,
    Inventories,
    Mine,
    Smuggling,
    Substitution,
    World,
)


def owners(dataset: Dataset) -> dict[str, str]:
    """Facility id -> owner country (where the dataset gives one)."""
    facilities = dataset.table("facilities")
    return {
        str(r.id): str(r.owner_country)
        for r in facilities.itertuples()
        if isinstance(r.owner_country, str) and r.owner_country
    }


def behaviour(world: World, market: MarketParameters, dataset: Dataset, past: bool) -> None:
    """Stocks, substitution, design capacities, smuggling and undocumented mining (a past
    year takes its starting levels and enforcement-era cost from the historical layer)."""
    if market.discount_rate is not None:
        world.discount_rate = market.discount_rate.value
    if market.inventories is not None:
        spec = market.inventories
        world.inventories = Inventories(
            tuple(spec.commodities),
            tuple((t.share.value, t.convenience_pct.value, t.threat_pct.value)
                  for t in spec.tranches),
            spec.carrying_pct.value,
        )  # fmt: skip
    world.substitution = {
        end_use: Substitution(
            spec.max_share.value,
            spec.rate.value,
            spec.cost_factor.value,
            spec.build_cost_factor.value,
            spec.reversal.value if spec.reversal is not None else 0.0,
        )
        for end_use, spec in market.substitution.items()
    }
    magnets = sum(s.reference_t for s in world.segments if s.commodity == "magnet")
    world.designs = {
        variant: Adjustable(
            spec.initial_share.value * magnets,
            spec.max_share.value * magnets,
            spec.rate_share.value * magnets,
            spec.build_cost_usd_per_kg.value,
        )
        for variant, spec in market.designs.items()
    }
    state = {
        measure: history.values(dataset, measure, world.year).get(CHINA)
        for measure in ("smuggling_t",)
    } if past else {}  # fmt: skip
    if market.smuggling is not None:
        world.smuggling = Smuggling(
            market.smuggling.cost_usd_per_kg.value,
            _adjusting(market.smuggling.capacity, state.get("smuggling_t")),
            market.smuggling.value_share.value,
        )


def undocumented_mine(
    market: MarketParameters, dataset: Dataset, year: int, past: bool
) -> list[Mine]:
    """China's mining outside the quota as a mine whose capacity adjusts (none if not given)."""
    hidden = market.undocumented_mining
    if hidden is None:
        return []
    state = {
        measure: history.values(dataset, measure, year).get(CHINA)
        for measure in ("undocumented_mining_t_reo", "undocumented_mining_cost_usd_per_kg_reo")
    } if past else {}  # fmt: skip
    ore = dataset.ore_distribution(hidden.ore_type)
    cost = state.get("undocumented_mining_cost_usd_per_kg_reo")
    return [
        Mine(
            "cn_undocumented",
            CHINA,
            hidden.ore_type,
            {e: float(v) for e, v in ore.items() if v > 0},
            0.0,
            hidden.cost_usd_per_kg_reo.value if cost is None else cost,
            routes=(CHINA,),
            adjustable=_adjusting(hidden.capacity, state.get("undocumented_mining_t_reo")),
        )
    ]


def _adjusting(spec: AdjustingCapacity, initial: float | None = None) -> Adjustable:
    start = spec.initial_t.value if initial is None else initial
    return Adjustable(
        start, max(start, spec.max_t.value), spec.rate_t.value, spec.build_cost_usd_per_kg.value
    )
