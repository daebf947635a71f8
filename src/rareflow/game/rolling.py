"""The game over the years of a scenario: each year of a run, once the year's capacities, demand,
stocks and known policies are set, China and the alliance settle their instruments (Nash or
China-led Stackelberg) on that year's rolling-horizon model; the year then clears under the
equilibrium, and its stocks, capacities and investment signals carry into the next (so
investments react to the policies the players choose, which they expect to last over the
horizon). Years outside the played range clear price-taking (every instrument at zero). The run
plays the scenario's own draws whatever the instruments, so its price-taking path is the
scenario's run of ``rareflow run`` and instrument sets are compared on the same world.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rareflow.dataset.dataset import Dataset
from rareflow.game.equilibrium import Equilibrium, nash, stackelberg
from rareflow.game.instruments import (
    ALLIANCE_PLAYER,
    CHINA_PLAYER,
    STOCKPILE_GRID,
    SUBSIDY_GRID,
    Instrument,
    alliance_instruments,
    china_instruments,
    china_licences,
    china_production,
    game_levers,
)
from rareflow.game.play import Game, Outcome
from rareflow.game.security import Weights
from rareflow.market.network import World
from rareflow.market.world_data import build_world
from rareflow.scenario.schema import DatedLevers, Scenario
from rareflow.simulate.costing import costed_scenario
from rareflow.simulate.plan import RunPlan, draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market

Mode = Literal["nash", "stackelberg"]
GAME = "game"
"""Id of the lever block that holds the players' instruments."""


@dataclass(frozen=True)
class Settings:
    mode: Mode = "nash"
    years: tuple[int, int] | None = None
    """First and last year played (default: the scenario's horizon)."""
    weights: Weights = field(default_factory=Weights)
    alliance: tuple[str, ...] = ("us_japan_australia",)
    players: tuple[str, ...] = (CHINA_PLAYER, ALLIANCE_PLAYER)
    """Who chooses; the others keep the scenario's own policy (e.g. China against the alliance's
    2025 package as written in ``alliance-buildout``)."""
    china: Literal["taxes", "licences"] = "taxes"
    """China's instruments: export taxes, or (WTO-constrained, as after 2015) licences refusing a
    share of each group's exports."""
    production: bool = False
    """Whether China may also cut its mining quota (its legal mines' capacity)."""
    subsidy: bool = False
    """Whether the alliance may also subsidise its separators (per kg REO)."""
    stockpile: bool = False
    """Whether the alliance may also hold state stocks of the security elements (worth
    something only with a disruption probability in the weights)."""
    free_china: bool = False
    """Drop the scenario's Chinese export quotas and taxes so that China chooses its own (the
    2010-2014 check)."""
    seed: int = 0
    run: int = 0
    """Which run's draws the game plays on (run 0: the central run of ``rareflow game``)."""
    licence_rent: Literal["exporter", "buyer"] = "exporter"
    """Who keeps the rent of China's licences (``Licence.rent_holder``): China's exporters, or
    the licensed buyers abroad, as under China's 2025 licences (docs/market.md)."""


@dataclass
class YearResult:
    year: int
    equilibrium: Equilibrium
    outcome: Outcome
    price_taking: Outcome
    self_sufficiency: dict[str, float]
    """Security element -> the group's separated output over its reference use, equilibrium."""
    self_sufficiency_price_taking: dict[str, float]
    seconds: float
    allied_candidates_t: dict[str, float] = field(default_factory=dict)
    """Candidate project in the group -> its capacity online this year, t/yr."""


@dataclass
class GameResult:
    scenario: str
    settings: Settings
    instruments: tuple[Instrument, ...]
    years: list[YearResult] = field(default_factory=list)


def weights_of(dataset: Dataset) -> tuple[Weights, tuple[str, ...]]:
    """The players' weights and the alliance's places from ``market.yaml`` (``game``)."""
    spec = dataset.market.game if dataset.market is not None else None
    if spec is None:
        return Weights(), ("us_japan_australia",)
    alliance = spec.alliance
    weights = Weights(
        spec.china.separation_share_floor_pct.value,
        spec.china.share_weight_musd_per_point.value,
        tuple(alliance.security_elements),
        alliance.security_usd_per_kg.value,
        alliance.disruption_probability.value,
        alliance.disruption_years.value,
        alliance.lost_use_factor.value,
        alliance.stockpile_location,
    )
    return weights, tuple(alliance.places)


def allied_separators(world: World, scenario: Scenario, alliance: tuple[str, ...]) -> list[str]:
    """Separation plants in the group: the base world's and the scenario's new ones."""
    found = [p.id for p in world.separators if world.matches(p.location, alliance)]
    builds = [p for p in scenario.projects if p.expands is None] + list(scenario.candidates)
    found += [
        b.id for b in builds if b.stage == "separation" and world.matches(b.location, alliance)
    ]
    return found


def with_game(
    scenario: Scenario,
    instruments: tuple[Instrument, ...],
    plants: list[str],
    stock_location: str = "JP",
    stock_caps: dict[str, float] | None = None,
    licence_rent: Literal["exporter", "buyer"] = "exporter",
) -> Scenario:
    """The scenario with the players' levers (at zero) in force over its whole horizon."""
    block = DatedLevers(
        id=GAME,
        start=scenario.horizon.start,
        levers=game_levers(instruments, plants, stock_location, stock_caps, licence_rent),
        note="The instruments of the game (set by the players each year).",
    )
    return scenario.model_copy(update={"levers": [*scenario.levers, block]})


def without_china_exports(scenario: Scenario) -> Scenario:
    """The scenario without its levers on Chinese exports (quotas, taxes, licences, bans)."""
    blocks = []
    for block in scenario.levers:
        levers = block.levers
        kept = levers.model_copy(
            update={
                name: [r for r in getattr(levers, name) if not {"CN", "china"} & set(r.origin)]
                for name in ("quotas", "export_taxes", "licences", "bans")
            }
        )
        blocks.append(block.model_copy(update={"levers": kept}))
    return scenario.model_copy(update={"levers": blocks})


class Prepared(NamedTuple):
    scenario: Scenario
    """The scenario the game runs: the players' levers in force, China's freed if asked."""
    plan: RunPlan
    """The run's draws: those of the scenario without the players' levers, so that every set of
    instruments (and ``rareflow run``) plays the same draws."""
    instruments: tuple[Instrument, ...]
    world: World
    """The base year's world."""


def prepare(dataset: Dataset, scenario: Scenario, settings: Settings) -> Prepared:
    """What :func:`play` runs."""
    chinese = china_instruments() if settings.china == "taxes" else china_licences()
    if settings.production:
        chinese = (*chinese, china_production())
    allied = alliance_instruments(
        subsidy=SUBSIDY_GRID if settings.subsidy else None,
        stockpile=STOCKPILE_GRID if settings.stockpile else None,
    )
    instruments = tuple(i for i in chinese + allied if i.player in settings.players)
    scenario = costed_scenario(scenario, dataset)
    if settings.free_china:
        scenario = without_china_exports(scenario)
    world = build_world(dataset, scenario.horizon.start)
    plants = allied_separators(world, scenario, settings.alliance)
    caps = {  # a state pays at most what a kg is worth in a disruption
        e: settings.weights.lost_use_factor * world.reference_prices[("oxide", e)]
        for e in settings.weights.security_elements
        if ("oxide", e) in world.reference_prices
    }
    plan = draw(scenario, settings.seed, settings.run)
    plan = dataclasses.replace(plan, lever_start={**plan.lever_start, GAME: scenario.horizon.start})
    scenario = with_game(
        scenario, instruments, plants, settings.weights.stock_location, caps, settings.licence_rent
    )
    return Prepared(scenario, plan, instruments, world)


def play(
    dataset: Dataset,
    scenario: Scenario,
    name: str,
    settings: Settings,
    plan: RunPlan | None = None,
) -> GameResult:
    """Run one path of the scenario (``settings.run`` of ``settings.seed``, or the draws of
    ``plan``) with the game played in the chosen years."""
    scenario, drawn, instruments, world = prepare(dataset, scenario, settings)
    market = build_market(dataset, scenario, name)
    runner = Runner(market)
    game = Game.on(market.clearing, instruments, list(settings.alliance), settings.weights)
    first, last = settings.years or (scenario.horizon.start, scenario.horizon.end)
    result = GameResult(name, settings, game.instruments)
    state: dict[str, Any] = {"start": None}

    def decide(year: int) -> None:
        game.new_year()
        if not first <= year <= last:
            game.apply(game.zero())
            return
        began = time.perf_counter()
        rows, model = market.clearing.model.program.rows, market.clearing.model
        online = {
            node: float(model.row_upper[rows[("capacity", 0, node)]])
            for node, candidate in market.candidates.items()
            if world.matches(candidate.location, settings.alliance)
            and ("capacity", 0, node) in rows
        }
        price_taking = game.evaluate(game.zero())
        use = game.allied_use()
        found = nash(game, state["start"]) if settings.mode == "nash" else stackelberg(game)
        state["start"] = found.profile
        outcome = game.evaluate(found.profile)
        game.apply(found.profile)
        result.years.append(
            YearResult(
                year,
                found,
                outcome,
                price_taking,
                _ratios(outcome.allied_output_t, use),
                _ratios(price_taking.allied_output_t, use),
                time.perf_counter() - began,
                online,
            )
        )

    for year, values, _, _ in runner.years_of(plan or drawn, last, decide):
        game.carry(values)
        if year >= last:
            break
    return result


def _ratios(made: dict[str, float], use: dict[str, float]) -> dict[str, float]:
    return {e: made[e] / use[e] if use.get(e) else 0.0 for e in made}


def to_dict(result: GameResult) -> dict[str, Any]:
    """The JSON shape of ``rareflow game`` (docs/game.md)."""
    rounds, equilibrium, taking = [], {}, {}
    for year in result.years:
        found = year.equilibrium
        for number, played in enumerate(found.rounds, start=1):
            rounds.append(
                {
                    "year": year.year,
                    "round": number,
                    "player": played.player,
                    "instruments": played.profile,
                    "objectives_musd": played.objectives,
                }
            )
        equilibrium[str(year.year)] = {
            "instruments": found.profile,
            "at_grid_edge": [
                i.id for i in result.instruments if found.profile.get(i.id) == max(i.grid) > 0
            ],
            "converged": found.converged,
            "cycle": found.cycle,
            "largest_deviation_gain_musd": found.deviations,
            "evaluations": found.evaluations,
            "seconds": year.seconds,
            **_outcome(year.outcome, year.self_sufficiency),
        }
        taking[str(year.year)] = _outcome(year.price_taking, year.self_sufficiency_price_taking)
    weights = result.settings.weights
    return {
        "scenario": result.scenario,
        "mode": result.settings.mode,
        "china_instruments": result.settings.china,
        "players": list(result.settings.players),
        "weights": {
            "china_share_floor_pct": weights.share_floor_pct,
            "china_share_weight_musd_per_point": weights.share_weight_musd_per_point,
            "alliance_security_usd_per_kg": weights.security_usd_per_kg,
            "alliance_disruption_probability": weights.disruption_probability,
            "alliance_disruption_years": weights.disruption_years,
            "alliance_lost_use_factor": weights.lost_use_factor,
            "alliance_stock_location": weights.stock_location,
        },
        "instruments": [
            {"id": i.id, "player": i.player, "label": i.label, "grid": i.grid}
            for i in result.instruments
        ],
        "rounds": rounds,
        "converged": all(y.equilibrium.converged for y in result.years),
        "equilibrium": equilibrium,
        "price_taking": taking,
    }


def _outcome(outcome: Outcome, self_sufficiency: dict[str, float]) -> dict[str, Any]:
    return {
        "objectives_musd": outcome.objectives,
        "welfare_musd": outcome.welfare,
        "china_tax_revenue_musd": outcome.tax_revenue_musd,
        "alliance_subsidies_musd": outcome.subsidies_musd,
        "prices_usd_per_kg": outcome.prices,
        "china_separation_share_pct": outcome.china_share_pct,
        "alliance_self_sufficiency": self_sufficiency,
        "alliance_unmet_magnets_t": outcome.unmet_magnets_t,
        "alliance_stock_t": outcome.stock_t,
        "alliance_imports_from_china_t": outcome.exposure_t,
        "alliance_disruption_cost_musd": outcome.disruption_cost_musd,
        "alliance_stock_cost_musd": outcome.stock_cost_musd,
    }
