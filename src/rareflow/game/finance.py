"""Cheaper capital for the alliance's new plants: a finance programme chosen once for the path.

Export-credit loans (the EXIM letters of interest and EFA finance of October 2025) lower the cost
of capital of the group's candidate projects. A candidate commits once the market has paid its
annual capital charge for a few years running (``simulate/run.py``), so a lower rate makes the
group's plants commit earlier, or at all. The alliance chooses how many percentage points it
takes off the market rate (``FINANCE_GRID``), for its candidates taken in the scenario's order as
long as their whole principal fits under the programme's cap.

Plants committed this year produce years later, beyond any year's horizon, so the choice cannot
be made year by year: each level is played through the years (with the per-year game of the
other instruments), and the alliance takes the level whose path is worth most to it: the present
value of its objective in each year alone, less the capital charge of its candidates' capacity
online at the market rate. The interest rebate is a transfer from the group's governments to
its own plants' owners, so it is reported, not counted, in the group's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rareflow.dataset.dataset import Dataset
from rareflow.game.instruments import ALLIANCE_PLAYER
from rareflow.game.play import better
from rareflow.game.rolling import GameResult, Settings, play, prepare
from rareflow.market.world_data import build_world
from rareflow.process.cost import capital_recovery_factor
from rareflow.scenario.schema import Candidate, Scenario
from rareflow.simulate.costing import costed_scenario

FINANCE_GRID = (0.0, 2.0, 4.0)
"""Percentage points off the market rate searched (10 % to 8 % and 6 %: 6 % is the rate the
alliance-buildout scenario assumes for its EXIM- and EFA-financed plants)."""


@dataclass(frozen=True)
class FinanceTerms:
    market_wacc_pct: float = 10.0
    """Cost of capital of the group's candidates without the programme, %."""
    cap_musd: float = 2200.0
    """Principal the programme may lend, million USD."""


@dataclass
class FinanceLevel:
    """One level of the programme played through the path."""

    points: float
    financed: list[str]
    """Candidates whose loans the programme carries."""
    value_musd: float
    """Present value over the played years of the group's yearly objective less the capital
    charge of its candidates online."""
    capital_charge_musd: float
    """Present value of the capital charge of the group's candidates online, market rate."""
    rebate_musd: float
    """Present value of the interest rebate the group's governments pay."""
    online_t: dict[int, float] = field(default_factory=dict)
    """Year -> the group's candidate capacity online, t/yr."""
    result: GameResult | None = None


def terms_of(dataset: Dataset) -> FinanceTerms:
    """The programme's terms from ``market.yaml`` (``game.alliance.finance``)."""
    spec = dataset.market.game if dataset.market is not None else None
    if spec is None or spec.alliance.finance is None:
        return FinanceTerms()
    finance = spec.alliance.finance
    return FinanceTerms(finance.market_wacc_pct.value, finance.cap_musd.value)


def allied_candidates(dataset: Dataset, scenario: Scenario, alliance: tuple[str, ...]) -> list[str]:
    """The scenario's candidate projects located in the group."""
    world = build_world(dataset, scenario.horizon.start)
    return [c.id for c in scenario.candidates if world.matches(c.location, alliance)]


def financed(
    scenario: Scenario, eligible: list[str], points: float, terms: FinanceTerms
) -> tuple[Scenario, list[str]]:
    """The scenario with the group's candidates at the market rate less ``points`` for those
    the cap can carry (in the scenario's order, whole projects: every unit they may build), and
    at the market rate for the others; and the ids of those financed."""
    room, chosen, updated = terms.cap_musd, [], []
    for candidate in scenario.candidates:
        if candidate.id not in eligible:
            updated.append(candidate)
            continue
        rate = terms.market_wacc_pct
        if points > 0 and principal_musd(candidate) <= room:
            room -= principal_musd(candidate)
            rate -= points
            chosen.append(candidate.id)
        updated.append(candidate.model_copy(update={"wacc_pct": rate}))
    return scenario.model_copy(update={"candidates": updated}), chosen


def principal_musd(candidate: Candidate) -> float:
    """Capital of every unit a candidate may build, million USD."""
    return candidate.capacity_t * candidate.capex * candidate.max_units / 1e6


def annual_charge_musd(candidate: Candidate, online_t: float, rate_pct: float) -> float:
    """Yearly capital charge of ``online_t`` t/yr of a candidate's capacity at ``rate_pct``."""
    recovery = capital_recovery_factor(rate_pct / 100.0, candidate.life_years)
    return online_t * candidate.capex * recovery / 1e6


def level_value(
    result: GameResult,
    scenario: Scenario,
    chosen: list[str],
    points: float,
    terms: FinanceTerms,
    discount_rate: float,
) -> FinanceLevel:
    """What one level's path is worth to the alliance (see the module's docstring)."""
    candidates = {c.id: c for c in scenario.candidates}
    value = charge = rebate = 0.0
    online: dict[int, float] = {}
    first = result.years[0].year if result.years else 0
    for year in result.years:
        discount = (1.0 + discount_rate) ** -(year.year - first)
        online_now = year.allied_candidates_t
        at_market = {
            node: annual_charge_musd(candidates[node], tonnes, terms.market_wacc_pct)
            for node, tonnes in online_now.items()
        }
        rebate += discount * sum(
            at_market[node]
            - annual_charge_musd(candidates[node], online_now[node], terms.market_wacc_pct - points)
            for node in chosen
            if node in online_now
        )
        charge += discount * sum(at_market.values())
        value += discount * (year.outcome.objectives_now[ALLIANCE_PLAYER] - sum(at_market.values()))
        online[year.year] = sum(online_now.values())
    return FinanceLevel(points, chosen, value, charge, rebate, online, result)


def play_financed(
    dataset: Dataset,
    scenario: Scenario,
    name: str,
    settings: Settings,
    terms: FinanceTerms,
    grid: tuple[float, ...] = FINANCE_GRID,
) -> tuple[FinanceLevel, list[FinanceLevel]]:
    """Every level of the programme played through the path; the alliance's choice first.
    Raises ValueError when the scenario has no candidate project in the group."""
    scenario = costed_scenario(scenario, dataset)
    eligible = allied_candidates(dataset, scenario, settings.alliance)
    if not eligible:
        raise ValueError(
            f"scenario {name!r} has no candidate project in the alliance "
            f"({', '.join(settings.alliance)}): there is nothing to finance; add candidates "
            "(e.g. alliance-buildout) or drop --finance"
        )
    discount_rate = build_world(dataset, scenario.horizon.start).discount_rate
    # every level plays the draws of the scenario as written (common random numbers): a
    # scenario's draws are seeded by its content, which the rates change
    plan = prepare(dataset, scenario, settings).plan
    levels = []
    for points in grid:
        variant, chosen = financed(scenario, eligible, points, terms)
        result = play(dataset, variant, name, settings, plan)
        levels.append(level_value(result, variant, chosen, points, terms, discount_rate))
    best = levels[0]
    for level in levels[1:]:
        if better(level.value_musd, best.value_musd):
            best = level
    return best, levels
