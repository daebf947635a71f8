"""Paths of the game: its price-taking path is the scenario's own central run, whatever the
instruments; the alliance's finance programme: which projects its cap carries, the capital
charge in closed form, a lower rate committing the group's plants earlier, and a clear refusal
when a scenario has nothing to finance.

Units: t/yr, USD per t/yr of capacity, million USD.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from rareflow.dataset import load_dataset
from rareflow.game.finance import (
    FinanceTerms,
    allied_candidates,
    annual_charge_musd,
    financed,
    principal_musd,
)
from rareflow.game.instruments import CHINA_PLAYER
from rareflow.game.rolling import Settings, play, weights_of
from rareflow.market.program import pool
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Scenario
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market

ALLIANCE = ("us_japan_australia",)


def alliance_buildout(capex: float = 60000.0) -> Scenario:
    """alliance-buildout with its heavy refinery's capex (USD per t/yr) and 5-8 years written
    out (values a scenario writes win over the plant model's), so the sums below are by hand."""
    scenario = load_scenario("alliance-buildout")
    fixed = {"capex_usd_per_t_year": capex, "lead_time_years": (5, 8)}
    candidates = [
        c.model_copy(update=fixed) if c.id == "alliance_heavy_separation" else c
        for c in scenario.candidates
    ]
    return scenario.model_copy(update={"candidates": candidates})


def test_the_price_taking_path_of_any_game_is_the_scenarios_central_run() -> None:
    # The players' levers (at zero) must not change the run's draws or its clearing: the game's
    # price-taking 2026 is `rareflow run baseline`'s run 0, with China alone or both playing.
    dataset = load_dataset()
    scenario = load_scenario("baseline")
    market = build_market(dataset, scenario, "baseline")
    rows = market.clearing.model.program.rows
    central = {}
    for year, _, duals, _ in Runner(market).years_of(draw(scenario, 0, 0), 2026):
        if year == 2026:
            central = {f"{e}:{p}": float(duals[rows[pool("oxide", e, p, 0, 0)]])
                       for e in ("Nd", "Dy") for p in ("CN", "JP")}  # fmt: skip
    weights, alliance = weights_of(dataset)
    for players in ((CHINA_PLAYER,), ("china", "alliance")):
        settings = Settings("nash", (2026, 2026), weights, alliance, players)
        taking = play(dataset, scenario, "baseline", settings).years[0].price_taking.prices
        for key, price in central.items():
            assert taking[key] == pytest.approx(price, rel=1e-6)


def test_the_cap_carries_whole_projects_in_the_scenario_order() -> None:
    # alliance-buildout's group candidates: heavy separation 3 x 10,000 t/yr at 60,000 USD per
    # t/yr = 1,800 million USD; magnets 4 x 5,000 at 40,000 = 800. Under a 2,200 cap the first
    # fits, the second (2,600 in all) does not.
    scenario = alliance_buildout()
    eligible = allied_candidates(load_dataset(), scenario, ALLIANCE)
    assert eligible == ["alliance_heavy_separation", "alliance_magnets"]
    by_id = {c.id: c for c in scenario.candidates}
    assert principal_musd(by_id["alliance_heavy_separation"]) == pytest.approx(1800.0)
    assert principal_musd(by_id["alliance_magnets"]) == pytest.approx(800.0)
    variant, chosen = financed(scenario, eligible, 2.0, FinanceTerms(10.0, 2200.0))
    assert chosen == ["alliance_heavy_separation"]
    rates = {c.id: c.wacc_pct for c in variant.candidates}
    assert rates["alliance_heavy_separation"] == 8.0
    assert rates["alliance_magnets"] == 10.0  # at the market rate, not the scenario's 6 %
    assert rates["china_separation_expansion"] == by_id["china_separation_expansion"].wacc_pct
    _, all_of_them = financed(scenario, eligible, 2.0, FinanceTerms(10.0, 2600.0))
    assert all_of_them == eligible
    _, none = financed(scenario, eligible, 0.0, FinanceTerms(10.0, 2600.0))
    assert none == []


def test_the_capital_charge_is_the_annuity_of_the_capital() -> None:
    # 1,000 t/yr at 60,000 USD per t/yr over 20 years at 10 %: annuity factor
    # 0.1 x 1.1^20 / (1.1^20 - 1) = 0.117460, so 60 million USD x 0.117460 = 7.0476 a year.
    candidate = alliance_buildout().candidates[-2]
    assert candidate.id == "alliance_heavy_separation" and candidate.life_years == 20
    assert annual_charge_musd(candidate, 1000.0, 10.0) == pytest.approx(7.0476, rel=1e-4)
    assert annual_charge_musd(candidate, 1000.0, 6.0) == pytest.approx(60 * 0.087185, rel=1e-4)


def test_cheaper_capital_brings_the_groups_plants_forward() -> None:
    # Price-taking paths with the same draws: at 6 % instead of 10 % the heavy separation plant
    # commits earlier and builds more by 2040. At 60,000 USD per t/yr the plant is marginal on
    # this path (at 10 % it is built from 2038, a third of its 2040 size; at 6 % from 2033, in
    # full; up to 55,000 both rates build it in full from 2033; at 80,000 both build a little
    # from 2040), so the rate decides. Every capex draws the same slips and lead times (common
    # random numbers).
    dataset = load_dataset()
    scenario = alliance_buildout(60000.0)
    eligible = allied_candidates(dataset, scenario, ALLIANCE)
    plan = draw(scenario, 0, 0)
    online: dict[float, dict[int, float]] = {}
    for points in (0.0, 4.0):
        variant, _ = financed(scenario, eligible, points, FinanceTerms(10.0, 2200.0))
        market = build_market(dataset, variant, "financed")
        model = market.clearing.model
        row = model.program.rows[("capacity", 0, "alliance_heavy_separation")]
        online[points] = {
            year: float(model.row_upper[row]) for year, *_ in Runner(market).years_of(plan)
        }
    first = {p: min((y for y, t in years.items() if t > 0), default=9999)
             for p, years in online.items()}  # fmt: skip
    assert first[4.0] < first[0.0]
    assert online[4.0][2040] > online[0.0][2040]
    assert all(online[4.0][y] >= online[0.0][y] for y in online[0.0])


def test_finance_needs_candidates_in_the_alliance() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rareflow", "game", "baseline", "--finance", "--years", "2026"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "nothing to finance" in done.stderr and "Traceback" not in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "rareflow", "game", "alliance-buildout", "--finance", "--runs", "2"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "--runs 1" in done.stderr
