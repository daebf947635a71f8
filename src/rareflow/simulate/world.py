"""The market of a scenario, built once: the base year's world plus every project, candidate and
recycler of the scenario as nodes (capacity 0 until a run gives them some), and every lever of
every dated block. Runs then only change capacities, demand scales and which levers are on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.documents import nested_models
from rareflow.dataset.errors import DataIssue
from rareflow.dataset.levers import Levers, StockPurchase, StockRelease
from rareflow.market import history
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.network import RECYCLED, Mine, Plant, World
from rareflow.market.world_data import build_world
from rareflow.scenario.loader import check_scenario
from rareflow.scenario.schema import Build, Candidate, Project, Scenario
from rareflow.simulate.costing import CostingError, costed_scenario


class ScenarioError(ValueError):
    """A scenario names things the dataset does not have, or dates or ids that cannot work
    (with every problem, one a line)."""


@dataclass
class ScenarioMarket:
    """A built market and what the runs need to know about its nodes."""

    scenario: Scenario
    base_capacity: dict[str, float]
    expansions: dict[str, list[Project]] = field(default_factory=dict)
    new_nodes: dict[str, Project] = field(default_factory=dict)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    recycler: str | None = None
    block_levers: dict[str, set[str]] = field(default_factory=dict)
    base_levers: set[str] = field(default_factory=set)
    stages: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Node id -> (stage, location), for capacity growth rules."""
    dataset: Dataset | None = None
    clearing: Clearing = field(init=False)

    @property
    def world(self) -> World:
        return self.clearing.world


@dataclass
class PastCapacities:
    """Capacities of existing nodes from the historical layer, year by year."""

    levels: dict[int, dict[str, float]]
    """Year -> node -> capacity, for the nodes the layer states."""
    recorded: set[str]
    """Nodes whose past capacity is a recorded output (mines, ``plant_output_t`` plants):
    realised in its year, not a capacity known ahead."""


def past_capacities(market: ScenarioMarket) -> PastCapacities:
    """The historical layer's capacities of the market's existing nodes."""
    dataset, world = market.dataset, market.world
    assert dataset is not None and dataset.market is not None
    groups = [(g.country, g.ore_type, g.share.value) for g in dataset.market.mines]
    found: dict[int, dict[str, float]] = {}
    recorded = history.output_plants(dataset)
    horizon = market.scenario.horizon
    for year in range(horizon.start, horizon.end + 1):
        levels = history.mine_capacities(dataset, year, groups) if history.covers(
            dataset, year) else {}  # fmt: skip
        recorded |= set(levels)
        for plant in world.plants():
            level = history.capacity(dataset, plant.id, year)
            if level is not None:
                levels[plant.id] = level
        found[year] = levels
    return PastCapacities(found, recorded)


def build_market(dataset: Dataset, scenario: Scenario, label: str = "scenario") -> ScenarioMarket:
    """The scenario's market: its world, levers, new nodes and candidates (costed ones priced
    by the plant model; ``market.scenario`` is the scenario the runs must draw from)."""
    try:
        scenario = costed_scenario(scenario, dataset)
    except CostingError as exc:
        raise ScenarioError(f"{label}: {exc}") from None
    world = build_world(dataset, scenario.horizon.start)
    base_levers = {
        lever.id for name in Levers.model_fields for lever in getattr(world.levers, name)
    }
    blocks: dict[str, set[str]] = {}
    levers = world.levers
    for block in scenario.levers:
        levers = levers.merged(block.levers)
        blocks[block.id] = {
            lever.id for name in Levers.model_fields for lever in getattr(block.levers, name)
        }
    buys, releases = _stock_levers(world, scenario)
    world.levers = levers.merged(Levers(stock_purchases=buys, stock_releases=releases))
    base = {m.id: m.capacity_t for m in world.mines} | {p.id: p.capacity_t for p in world.plants()}
    market = ScenarioMarket(scenario, base, block_levers=blocks, base_levers=base_levers)
    market.dataset = dataset
    _add_nodes(world, scenario, market, dataset)
    problems = check_scenario(scenario, world, label) + _unknown_sources(scenario, dataset, label)
    if problems:
        raise ScenarioError("\n".join(str(p) for p in problems))
    market.clearing = Clearing(MarketModel(world, 1 + scenario.market.lookahead_years))
    return market


def _add_nodes(world: World, scenario: Scenario, market: ScenarioMarket, dataset: Dataset) -> None:
    for project in scenario.projects:
        if project.expands is not None:
            market.expansions.setdefault(project.expands, []).append(project)
            continue
        market.new_nodes[project.id] = project
        _new_node(world, project, dataset)
    for candidate in scenario.candidates:
        market.candidates[candidate.id] = candidate
        _new_node(world, candidate, dataset)
    recycling = scenario.recycling
    scrap = next((m for m in world.mines if m.ore_type == RECYCLED), None)
    if recycling.collection_rate > 0 or (recycling.collection_rate_end or 0) > 0:
        existing = {m.id for m in world.mines}
        if recycling.recycler not in existing and scrap is not None:
            location = recycling.location or scrap.location
            world.mines.append(
                Mine(
                    recycling.recycler,
                    location,
                    RECYCLED,
                    scrap.ore,
                    0.0,
                    recycling.cost_usd_per_kg,
                )
            )
        market.recycler = recycling.recycler
    for node in world.mines:
        if node.adjustable is not None:
            continue  # its capacity adjusts inside the market (adjusting.py), not by rules
        market.base_capacity.setdefault(node.id, node.capacity_t)
        if node.ore_type != RECYCLED:
            market.stages[node.id] = ("mine", node.location)
    for plant in world.plants():
        market.base_capacity.setdefault(plant.id, plant.capacity_t)
        market.stages[plant.id] = (plant.stage, plant.location)


def country_routes(world: World, country: str, ore_type: str) -> tuple[str, ...]:
    """Where a new mine's ore may be separated: the routes of its country's existing mines of
    the same ore type (else of any of its mines), since routes follow a country's trade regime
    (Kachin ore crosses only into China; China's ore stays in China), not a deposit."""
    known = [m for m in world.mines if m.location == country and m.routes]
    same = [m.routes for m in known if m.ore_type == ore_type]
    return same[0] if same else (known[0].routes if known else ())


def _new_node(world: World, spec: Build, dataset: Dataset) -> None:
    if spec.stage == "mine":
        assert spec.ore_type is not None
        ore = dataset.ore_distribution(spec.ore_type)
        world.mines.append(
            Mine(
                spec.id,
                spec.location,
                spec.ore_type,
                {e: float(v) for e, v in ore.items() if v > 0},
                0.0,
                spec.cost_usd_per_kg,
                tuple(spec.dedicated),
                routes=country_routes(world, spec.location, spec.ore_type),
                owner=spec.owner,
            )
        )
        return
    plant = Plant(
        spec.id,
        "separation" if spec.stage == "separation" else spec.stage,
        spec.location,
        0.0,
        spec.cost_usd_per_kg,
        spec.heavy,
        None,
        tuple(spec.feeds),
        owner=spec.owner,
        takes_heavy_of=tuple(spec.takes_heavy_of),
        heavy_concentrate_only=spec.heavy_concentrate_only,
        separates=frozenset(spec.separates) or None,
    )
    {
        "separation": world.separators,
        "metal": world.metal_plants,
        "magnet": world.magnet_plants,
        "gallium": world.gallium_plants,
    }[spec.stage].append(plant)


def stock_lever_id(pile: str, element: str, kind: str) -> str:
    """Id of a stockpile's purchase (``buy``) or release lever for one element."""
    return f"{pile}_{element.lower()}_{kind}"


def _stock_levers(
    world: World, scenario: Scenario
) -> tuple[list[StockPurchase], list[StockRelease]]:
    """Purchase and release levers for every stockpile and element (volumes set each year)."""
    buys, releases = [], []
    for pile in scenario.stockpiles:
        for e in pile.elements:
            cap = world.reference_prices[("oxide", e)] * pile.max_price_factor
            buys.append(
                StockPurchase(
                    id=stock_lever_id(pile.id, e, "buy"),
                    location=pile.location,
                    commodity="oxide",
                    item=e,
                    volume_t=0.0,
                    max_price_usd_per_kg=cap,
                )
            )
            releases.append(
                StockRelease(
                    id=stock_lever_id(pile.id, e, "release"),
                    location=pile.location,
                    commodity="oxide",
                    item=e,
                    volume_t=0.0,
                )
            )
    return buys, releases


def _unknown_sources(scenario: Scenario, dataset: Dataset, label: str) -> list[DataIssue]:
    """Source ids cited anywhere in the scenario that sources.yaml does not define."""
    cited = {
        source
        for model in nested_models(scenario)
        for source in getattr(model, "source", None) or []
    }
    return [
        DataIssue(
            label, "unknown source id", None, "source", s, "an id of sources.yaml", "unknown_source"
        )
        for s in sorted(cited - set(dataset.sources))
    ]
