"""Building the market ``World`` of a year from the dataset (``market.yaml`` plus the production,
ore, capacity, price and recipe tables). See docs/market.md for every rule applied here."""

from __future__ import annotations

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.levers import Levers
from rareflow.dataset.market_parameters import MarketParameters
from rareflow.elements import RARE_EARTHS, element
from rareflow.market import history
from rareflow.market.network import (
    CHINA_EXPORT,
    CHINA_GROUP,
    RECYCLED,
    MarketDataError,
    Mine,
    Plant,
    World,
)
from rareflow.market.world_behaviour import behaviour, owners, undocumented_mine
from rareflow.market.world_demand import (
    average_cost,
    grade_price_factors,
    magnet_need,
    magnet_scale,
    magnet_segments,
    other_segments,
    scaled_segment,
)

METAL_MARKUP = 1.1
"""Metal reference value over its oxide content (the ~9-10% oxide-to-metal margin derived from
FOB China prices, source argus_2014_rare_earth_prices); used only to value metal for tariffs."""


def build_world(dataset: Dataset, year: int | None = None) -> World:
    """The world market of ``year`` (default: the base year of ``market.yaml``)."""
    market = dataset.market
    if market is None:
        raise MarketDataError("the dataset has no market.yaml; the market model needs one")
    year = market.base_year if year is None else year
    past = year < market.base_year and history.covers(dataset, year)
    places = _places(dataset, market)
    mines = _past_mines(dataset, market, year) if past else _mines(dataset, market, year)
    mines += undocumented_mine(market, dataset, year, past)
    facility_owners = owners(dataset)
    stage_plants = {
        stage: [
            Plant(
                p.id,
                stage,
                p.location,
                (history.capacity(dataset, p.id, year) or 0.0) if past else p.capacity.value,
                p.cost_usd_per_kg.value,
                p.heavy,
                p.facility,
                tuple(p.feeds),
                facility_owners.get(p.facility or "", None),
                separates=frozenset(p.separates) or None,
            )
            for p in getattr(market, f"{stage}_plants" if stage != "separation" else "separators")
            if past or p.available_from is None or p.available_from <= year
        ]
        for stage in ("separation", "metal", "magnet")
    }
    gallium = _gallium(dataset, market, market.base_year if past else year)
    grades = _grades(dataset, market)
    prices = _oxide_prices(dataset, market)
    if past:
        prices.update(history.reference_prices(dataset, year))
    world = World(
        year=year,
        places=places,
        mines=mines,
        separators=stage_plants["separation"],
        metal_plants=stage_plants["metal"],
        magnet_plants=stage_plants["magnet"],
        gallium_plants=gallium,
        grades=grades,
        grade_other_cost={g: v.non_ree_cost_usd_per_kg.value for g, v in market.grades.items()},
        segments=[],
        freight={k: getattr(market.freight_usd_per_kg, k).value for k in _FREIGHT},
        reference_prices={},
        recovery=market.separation_recovery.value,
        metal_yield=market.metal_yield.value,
        magnet_yield=market.magnet_yield.value,
        disposal_cost=market.disposal_cost_usd_per_kg.value,
        levers=Levers() if past else market.levers,
    )
    if market.heavy_thrifting is not None:
        world.thrift_reduction = market.heavy_thrifting.reduction.value
        world.thrift_cost = market.heavy_thrifting.extra_cost_usd_per_kg.value
        free = market.heavy_thrifting.heavy_free_extra_cost_usd_per_kg
        world.heavy_free_cost = free.value if free is not None else None
    demand = history.values(dataset, "magnet_demand_t", year) if past else {}
    world.segments = magnet_segments(market, demand)
    world.mines += _recyclers(dataset, market, world, year, required=not past)
    base = world if past or year == market.base_year else _base_world(dataset, market, world)
    world.magnet_scale = magnet_scale(base, market)
    factors = grade_price_factors(world, market, prices)
    if past:  # magnets of a past year: p0 moves with the cost of their rare earths
        index = average_cost(world, prices) / average_cost(world, _oxide_prices(dataset, market))
        factors = {grade: factor * index for grade, factor in factors.items()}
    world.segments = [
        scaled_segment(s, world.magnet_scale, factors, market) for s in world.segments
    ]
    world.reference_prices = _reference_prices(world, market, prices)
    shares = history.values(dataset, "oxide_demand_share", year) if past else {}
    world.segments += other_segments(world, market, prices, shares)
    behaviour(world, market, dataset, past)
    return world


def _past_mines(dataset: Dataset, market: MarketParameters, year: int) -> list[Mine]:
    """Mines of a past year: the historical layer's legal output by country and ore type."""
    groups = [(g.country, g.ore_type, g.share.value) for g in market.mines]
    levels = history.mine_capacities(dataset, year, groups)
    mines = []
    for group in market.mines:
        node = f"{group.country.lower()}_{group.ore_type}"
        if node not in levels:
            continue
        ore = dataset.ore_distribution(group.ore_type)
        mines.append(
            Mine(
                id=node,
                location=group.country,
                ore_type=group.ore_type,
                ore={e: float(v) for e, v in ore.items() if v > 0},
                capacity_t=levels[node],
                cost_usd_per_kg=group.cost_usd_per_kg_reo.value,
                dedicated=tuple(group.dedicated),
                routes=tuple(group.routes),
            )
        )
    return mines


_FREIGHT = ("concentrate", "oxide", "metal", "magnet", "gallium")


def _places(dataset: Dataset, market: MarketParameters) -> dict[str, frozenset[str]]:
    countries = dataset.table("countries").set_index("code")
    places = {}
    for code, row in countries.iterrows():
        groups = row["groups"] if isinstance(row["groups"], list) else []
        places[str(code)] = frozenset({str(code), *groups})
    places[CHINA_EXPORT] = frozenset({CHINA_EXPORT, CHINA_GROUP})
    return places


def _mines(dataset: Dataset, market: MarketParameters, year: int) -> list[Mine]:
    try:
        production = dataset.mine_production(year).set_index("country")
    except DataQueryError as error:
        table = history.history_table(dataset)
        covered = sorted(set(table[table["measure"] == "mine_production_t_reo"]["year"]))
        layer = f"; the historical layer covers {covered[0]}-{covered[-1]}" if covered else ""
        raise MarketDataError(f"no mine production for {year}: {error}{layer}") from None
    mines = []
    for group in market.mines:
        if group.country not in production.index:
            continue
        capacity = float(production.loc[group.country, "mine_production_t_reo"])
        ore = dataset.ore_distribution(group.ore_type)
        mines.append(
            Mine(
                id=f"{group.country.lower()}_{group.ore_type}",
                location=group.country,
                ore_type=group.ore_type,
                ore={e: float(v) for e, v in ore.items() if v > 0},
                capacity_t=capacity * group.share.value,
                cost_usd_per_kg=group.cost_usd_per_kg_reo.value,
                dedicated=tuple(group.dedicated),
                routes=tuple(group.routes),
            )
        )
    return mines


def _gallium(dataset: Dataset, market: MarketParameters, year: int) -> list[Plant]:
    try:
        rows = dataset.gallium_production(year)
    except DataQueryError as error:
        raise MarketDataError(f"no gallium production for {year}: {error}") from None
    rows = rows[(rows["measure"] == "primary_production") & ~rows["country"].isin(["WORLD"])]
    cost = market.gallium_cost_usd_per_kg.value
    return [
        Plant(
            f"{str(r.country).lower()}_gallium",
            "gallium",
            str(r.country),
            float(r.value_t_ga),
            cost,
        )
        for r in rows.itertuples()
        if r.value_t_ga > 0
    ]


def _grades(dataset: Dataset, market: MarketParameters) -> dict[str, dict[str, float]]:
    recipes = dataset.table("magnet_recipes")
    grades = {}
    for grade in market.grades:
        rows = recipes[(recipes["grade"] == grade) & recipes["component"].isin(RARE_EARTHS)]
        grades[grade] = {str(r.component): float(r.wt_pct) / 100.0 for r in rows.itertuples()}
    return grades


def _oxide_prices(dataset: Dataset, market: MarketParameters) -> dict[str, float]:
    """p0 of each oxide: the pinned edition's base-year FOB price, else market.yaml's."""
    prices = dataset.edition_rows("prices", market.base_year)
    found = {}
    for row in prices.itertuples():
        product = str(row.product)
        if product.endswith("_oxide") and product != "ndpr_oxide":
            symbol = product.removesuffix("_oxide").capitalize()
            if symbol in RARE_EARTHS:
                found[symbol] = float(row.price_usd_per_kg)
    found.update({e: p.value for e, p in market.oxide_reference_prices.items()})
    return found


def _reference_prices(
    world: World, market: MarketParameters, oxide: dict[str, float]
) -> dict[tuple[str, str], float]:
    prices: dict[tuple[str, str], float] = {}
    for e in world.elements:
        if e not in oxide:
            raise MarketDataError(
                f"no reference price for {e} oxide: add it to prices.csv or to "
                "market.yaml oxide_reference_prices"
            )
        prices[("oxide", e)] = oxide[e]
        # metal ~10% above its oxide content (market_parameters notes, Argus 2014)
        prices[("metal", e)] = oxide[e] * element(e).oxide_per_metal * METAL_MARKUP
    for grade in world.grades:
        prices[("magnet", grade)] = market.magnet_reference_price_usd_per_kg.value
    prices[("gallium", "Ga")] = market.gallium_reference_price_usd_per_kg.value
    ratio = market.concentrate_value_ratio.value
    for mine in world.mines:
        value = sum(share * oxide.get(e, 0.0) for e, share in mine.ore.items())
        prices[("concentrate", mine.id)] = ratio * value
    return prices


def _recyclers(
    dataset: Dataset, market: MarketParameters, world: World, year: int, required: bool = True
) -> list[Mine]:
    """Scrap recovery as a source whose vector is the reference magnets' average composition
    (absent in a past year that states no capacity)."""
    need = magnet_need(world)
    total = sum(need.values())
    vector = {e: v / total for e, v in need.items() if v > 0} if total else {}
    capacities = dataset.table("facility_capacities")
    recyclers = []
    for recycler in market.recycling:
        rows = capacities[
            (capacities["facility"] == recycler.facility)
            & (capacities["year"] <= year)
            & capacities["capacity"].notna()
        ]
        if rows.empty and not required:
            continue
        if rows.empty:
            raise MarketDataError(
                f"recycling {recycler.id}: facility_capacities.csv has no capacity of "
                f"{recycler.facility} for {year} or before"
            )
        capacity = float(rows.sort_values("year")["capacity"].iloc[-1])
        recyclers.append(
            Mine(
                recycler.id,
                recycler.location,
                RECYCLED,
                vector,
                capacity,
                recycler.cost_usd_per_kg_reo.value,
                tuple(recycler.dedicated),
            )
        )
    return recyclers


def magnet_demand_shift(dataset: Dataset, reference: Dataset) -> float:
    """Ratio of the base year's reference magnet demand in ``dataset`` to that in ``reference``:
    magnet demand is calibrated on the base year's Nd + Pr supply, so data that change mine
    output or recycling change demand with it (a cut in production is not a shortage)."""
    return build_world(dataset).magnet_scale / build_world(reference).magnet_scale


def _base_world(dataset: Dataset, market: MarketParameters, world: World) -> World:
    """The base year's mines and recyclers with this world's demand, for ``magnet_scale``."""
    base = World(**{**world.__dict__, "mines": _mines(dataset, market, market.base_year)})
    base.mines += _recyclers(dataset, market, base, market.base_year)
    return base
