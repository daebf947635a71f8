"""The game against hand-solved and enumerated cases: the welfare split adds up, a large
exporter's best export tax is the inverse of the foreign demand elasticity, coordinate search
finds the enumerated optimum, Gauss-Seidel finds the enumerated Nash equilibrium, and a best
response never does worse for its player than no policy.

Units: t and USD/kg; objectives in million USD.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

from rareflow.dataset import load_dataset
from rareflow.dataset.levers import Levers
from rareflow.game.ensemble import bands
from rareflow.game.equilibrium import deviations, nash, stackelberg
from rareflow.game.instruments import (
    ALLIANCE_PLAYER,
    CHINA_PLAYER,
    Instrument,
    china_instruments,
    china_licences,
    china_production,
    game_levers,
)
from rareflow.game.play import Game
from rareflow.game.rolling import without_china_exports
from rareflow.game.security import Weights
from rareflow.game.welfare import accounts
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA_EXPORT, Mine, Plant, Segment, World
from rareflow.scenario.loader import load_scenario

PLACES = {
    "CN": frozenset({"CN", "china"}),
    CHINA_EXPORT: frozenset({CHINA_EXPORT, "china"}),
    "JP": frozenset({"JP", "allies"}),
}
RATES = tuple(round(0.05 * k, 2) for k in range(19))
"""0, 0.05, ..., 0.9."""


def constant_elasticity(scale: float, elasticity: float, item: str = "Nd") -> Segment:
    """q(p) = scale * p^elasticity as steps from 80 USD/kg down by 0.25 % a step to about 2."""
    prices = [80.0 * 0.9975**k for k in range(1480)]
    steps, served = [], 0.0
    for price in prices:
        wanted = scale * price**elasticity
        steps.append((wanted - served, price))
        served = wanted
    return Segment(f"jp_{item}", "JP", "any", "oxide", item, "JP", served, 20.0, tuple(steps))


def world(segments: list[Segment], levers: Levers, allied_mine: bool = False) -> World:
    """China mines (an ore of each product) and separates at 10 USD/kg without limit; Japan may
    mine 50 t of the first product at 25 and separate its own ore."""
    mines = [Mine(f"cn_{s.item}", "CN", "a", {s.item: 1.0}, 1e6, 10.0) for s in segments]
    separators = [Plant("cn_sep", "separation", "CN", 1e6, 0.0, heavy=True)]
    if allied_mine:
        mines.append(Mine("jp_mine", "JP", "a", {segments[0].item: 1.0}, 50.0, 25.0))
        separators.append(Plant("jp_sep", "separation", "JP", 1e6, 0.0, heavy=True, feeds=("JP",)))
    return World(
        year=2024,
        places=PLACES,
        mines=mines,
        separators=separators,
        metal_plants=[],
        magnet_plants=[],
        gallium_plants=[],
        grades={},
        grade_other_cost={},
        segments=segments,
        freight=dict.fromkeys(("concentrate", "oxide", "metal", "magnet", "gallium"), 0.0),
        reference_prices={("oxide", s.item): 20.0 for s in segments},
        recovery=1.0,
        metal_yield=1.0,
        magnet_yield=1.0,
        disposal_cost=0.1,
        levers=levers,
        discount_rate=0.08,
    )


def exporter_game(elasticity: float, instruments: tuple[Instrument, ...]) -> Game:
    segments = [constant_elasticity(40_000.0, elasticity)]
    clearing = Clearing(MarketModel(world(segments, game_levers(instruments, []))))
    return Game.on(clearing, instruments, ["allies"], Weights())


@pytest.mark.parametrize("elasticity", [-2.0, -3.0])
def test_best_export_tax_is_the_inverse_of_the_foreign_demand_elasticity(
    elasticity: float,
) -> None:
    # China supplies at a constant 10 USD/kg and has no buyers at home: its welfare is the tax
    # revenue rate x FOB x q(FOB) with FOB = 10 / (1 - rate), highest at rate = 1/|elasticity|
    # (0.5 and 1/3), the textbook markup of a monopolist facing that elasticity. At 0.5 and
    # elasticity -2: FOB 20, q = 40,000 / 400 = 100 t, revenue 0.5 x 20 x 100 = 1,000 kUSD.
    optimum = -1.0 / elasticity
    instruments = china_instruments((0.0, optimum - 0.1, optimum, optimum + 0.1))[:1]
    game = exporter_game(elasticity, instruments)
    assert game.best_response(CHINA_PLAYER, game.zero())["game_tax_light"] == optimum
    # the whole revenue curve up to FOB = 50 (the steps start at 80):
    # 40,000 x 10^(e+1) x rate (1 - rate)^(-e-1)
    for rate in RATES[:17]:
        analytic = 40_000 * 10 ** (elasticity + 1) * rate * (1 - rate) ** (-elasticity - 1) / 1e3
        revenue = game.evaluate({"game_tax_light": rate}).tax_revenue_musd
        assert revenue == pytest.approx(analytic, rel=0.01, abs=1e-9)
    outcome = game.evaluate({"game_tax_light": 0.5})
    if elasticity == -2.0:
        assert outcome.tax_revenue_musd == pytest.approx(1.0, rel=0.03)
        assert outcome.prices["Nd:JP"] == pytest.approx(20.0, rel=0.02)
    assert outcome.objectives[CHINA_PLAYER] == pytest.approx(outcome.tax_revenue_musd, rel=1e-6)


def test_the_best_tax_falls_as_foreign_demand_gets_more_elastic() -> None:
    # monotone best responses where theory says so: 1/|e| = 0.67, 0.5, 0.25
    chosen = []
    for elasticity in (-1.5, -2.0, -4.0):
        game = exporter_game(elasticity, china_instruments(RATES)[:1])
        chosen.append(game.best_response(CHINA_PLAYER, game.zero())["game_tax_light"])
    assert chosen[0] > chosen[1] > chosen[2]
    assert chosen == pytest.approx([2 / 3, 0.5, 0.25], abs=0.051)


def test_a_licence_refusing_exports_reaches_the_same_optimum_as_the_tax() -> None:
    # Refusing a share r of the 400 t China exports at cost (q = 40,000 / 10^2) leaves
    # (1 - r) 400 t; the rent (p - 10) q with p = (q / 40,000)^(-1/2) is highest at p = 20,
    # q = 100 t: r = 0.75 and a rent of 1,000 kUSD, the optimal tax's revenue (a quota and a
    # tax are the same instrument in a deterministic market). The rent is the licence rows'.
    instruments = china_licences((0.0, 0.5, 0.75, 0.9))[:1]
    game = exporter_game(-2.0, instruments)
    best = game.best_response(CHINA_PLAYER, game.zero())
    assert best == {"game_licence_light": 0.75}
    outcome = game.evaluate(best)
    assert outcome.objectives[CHINA_PLAYER] == pytest.approx(1.0, rel=0.02)
    assert outcome.prices["Nd:JP"] == pytest.approx(20.0, rel=0.02)


def test_a_licence_whose_rent_the_buyers_keep_earns_china_nothing() -> None:
    # The same licence with its rent kept by the licensed buyers (as in 2025): China sells its
    # 100 t at cost whatever it refuses, so refusing earns it nothing and it refuses nothing.
    # Japan pays 20 instead of 10: its buyers lose the area under q = 40,000 p^-2 between 10
    # and 20, 40,000 (1/10 - 1/20) = 2,000 kUSD, and keep the rent (20 - 10) x 100 t = 1,000.
    instruments = china_licences((0.0, 0.5, 0.75, 0.9))[:1]
    losses = {}
    for holder in ("exporter", "buyer"):
        levers = game_levers(instruments, [], licence_rent=holder)
        clearing = Clearing(MarketModel(world([constant_elasticity(40_000.0, -2.0)], levers)))
        game = Game.on(clearing, instruments, ["allies"], Weights())
        free = game.evaluate({"game_licence_light": 0.0}).objectives
        refused = game.evaluate({"game_licence_light": 0.75}).objectives
        losses[holder] = free[ALLIANCE_PLAYER] - refused[ALLIANCE_PLAYER]
        if holder == "buyer":
            assert game.best_response(CHINA_PLAYER, game.zero()) == {"game_licence_light": 0.0}
            assert refused[CHINA_PLAYER] == pytest.approx(0.0, abs=1e-6)
    assert losses == pytest.approx({"exporter": 2.0, "buyer": 1.0}, rel=0.01)


def test_a_mining_cut_restricts_like_the_tax_when_china_only_exports() -> None:
    # China's mine can supply 400 t, what the foreign demand takes at cost (40,000 / 10^2):
    # cutting its capacity by 75 % leaves 100 t at 20 USD/kg and a scarcity rent of
    # (20 - 10) x 100 = 1,000 kUSD, the optimal tax's revenue; 90 % leaves 40 t and 552 kUSD.
    cut = china_production((0.0, 0.5, 0.75, 0.9))
    segments = [constant_elasticity(40_000.0, -2.0)]
    spec = world(segments, Levers())
    spec.mines[0] = Mine("cn_Nd", "CN", "a", {"Nd": 1.0}, 400.0, 10.0)
    game = Game.on(Clearing(MarketModel(spec)), (cut,), ["allies"], Weights())
    assert game.best_response(CHINA_PLAYER, game.zero()) == {"game_production_cut": 0.75}
    outcome = game.evaluate({"game_production_cut": 0.75})
    assert outcome.objectives[CHINA_PLAYER] == pytest.approx(1.0, rel=0.02)
    assert game.evaluate(game.zero()).objectives[CHINA_PLAYER] == pytest.approx(0.0, abs=1e-3)


def test_the_welfare_split_adds_up_to_the_lp_objective() -> None:
    instruments = china_instruments(RATES)[:1]
    game = exporter_game(-2.0, instruments)
    game.apply({"game_tax_light": 0.3})
    values, duals, objective, _ = game.clearing.solve_arrays()
    split = accounts(game.clearing.model, values, duals)
    assert sum(split.surplus.values()) == pytest.approx(objective, rel=1e-9)
    # the LP counts the tax as a cost: Japan's surplus plus China's revenue is the whole gain
    assert split.surplus.get("CN", 0.0) == pytest.approx(0.0, abs=1e-6)
    clearing = Clearing.from_dataset(load_dataset(), periods=2)
    values, duals, objective, _ = clearing.solve_arrays()
    split = accounts(clearing.model, values, duals)
    assert sum(split.surplus.values()) == pytest.approx(objective, rel=1e-9)
    # the accounts of each period (and of rows and columns of no period) make up the whole
    parts = [accounts(clearing.model, values, duals, period) for period in (-1, 0, 1)]
    for place, total in split.surplus.items():
        assert sum(p.surplus.get(place, 0.0) for p in parts) == pytest.approx(total, abs=1e-6)
    assert parts[1].surplus["CN"] > 0 and parts[2].surplus["CN"] > 0


def test_coordinate_search_finds_the_enumerated_optimum() -> None:
    # Two products with their own elasticities; China taxes each group on its own grid.
    grid = (0.0, 0.2, 0.35, 0.5, 0.65)
    instruments = china_instruments(grid)[:2]
    segments = [
        constant_elasticity(40_000.0, -2.0, "Nd"),
        constant_elasticity(200_000.0, -3.0, "Dy"),
    ]
    clearing = Clearing(MarketModel(world(segments, game_levers(instruments, []))))
    game = Game.on(clearing, instruments, ["allies"], Weights())
    found = game.best_response(CHINA_PLAYER, game.zero())
    scores = {
        (a, b): game.evaluate({"game_tax_light": a, "game_tax_heavy": b}).objectives[CHINA_PLAYER]
        for a, b in itertools.product(grid, grid)
    }
    best = max(scores, key=scores.__getitem__)
    assert (found["game_tax_light"], found["game_tax_heavy"]) == best == (0.5, 0.35)


def allied_game(security: float) -> Game:
    tax = Instrument("game_tax_light", CHINA_PLAYER, "export_tax", RATES[::2], "tax")
    floor = Instrument(
        "game_floor_ndpr", ALLIANCE_PLAYER, "floor", (0.0, 15.0, 20.0, 25.0, 30.0, 40.0), "floor"
    )
    instruments = (tax, floor)
    segments = [constant_elasticity(40_000.0, -2.0)]
    levers = game_levers(instruments, ["jp_sep"])
    clearing = Clearing(MarketModel(world(segments, levers, allied_mine=True)))
    return Game.on(clearing, instruments, ["allies"], Weights(security_usd_per_kg=security))


def test_gauss_seidel_finds_the_enumerated_nash_equilibrium() -> None:
    # Japan can mine 50 t at 25 USD/kg and values its own output at 12 USD/kg beyond the price;
    # its floor pays the gap to the floor on that output. The pure equilibria on the grids are
    # found by enumeration: profiles where each instrument is a best reply to the other.
    game = allied_game(security=12.0)
    taxes, floors = (i.grid for i in game.instruments)

    def score(player: str, tax: float, floor: float) -> float:
        return game.evaluate({"game_tax_light": tax, "game_floor_ndpr": floor}).objectives[player]

    equilibria = [
        (t, f)
        for t, f in itertools.product(taxes, floors)
        if score(CHINA_PLAYER, t, f) >= max(score(CHINA_PLAYER, x, f) for x in taxes) - 1e-3
        and score(ALLIANCE_PLAYER, t, f) >= max(score(ALLIANCE_PLAYER, t, y) for y in floors) - 1e-3
    ]
    result = nash(game)
    assert result.converged and not result.cycle
    found = (result.profile["game_tax_light"], result.profile["game_floor_ndpr"])
    assert found in equilibria
    assert max(result.deviations.values()) <= 1e-3
    assert found[1] > 0  # the floor is worth paying for at this security value


def test_a_best_response_never_does_worse_than_no_policy() -> None:
    game = allied_game(security=0.0)
    for tax, floor in itertools.product((0.0, 0.3, 0.6), (0.0, 25.0, 40.0)):
        profile = {"game_tax_light": tax, "game_floor_ndpr": floor}
        for player, own in ((CHINA_PLAYER, "game_tax_light"), (ALLIANCE_PLAYER, "game_floor_ndpr")):
            response = game.best_response(player, profile)
            idle = game.evaluate({**profile, own: 0.0}).objectives[player]
            # no worse than no policy, up to the noise of the welfare split (play.better)
            assert game.evaluate(response).objectives[player] >= idle - 1e-5 * abs(idle) - 1e-6


def test_without_a_security_value_the_floor_is_not_worth_its_cost() -> None:
    # A floor moves output to a dearer producer: with no value on own supply, the alliance's
    # best response is no floor, whatever China's tax.
    game = allied_game(security=0.0)
    for tax in (0.0, 0.5):
        response = game.best_response(
            ALLIANCE_PLAYER, {"game_tax_light": tax, "game_floor_ndpr": 0.0}
        )
        assert response["game_floor_ndpr"] == 0.0


def test_a_production_subsidy_is_paid_only_when_own_supply_is_worth_it() -> None:
    # China sells at 10 USD/kg; Japan's 50 t cost 25: a subsidy of 14 per kg leaves them out
    # (15 would leave them exactly indifferent, which the LP's tie-break settles, so it is not
    # offered), 20 brings them in for 1,000 kUSD, 250 of it kept by the producer. At a security
    # value of 12 they are worth 600 kUSD: no subsidy. At 20 they are worth 1,000: the subsidy
    # of 20 nets 1,000 + 250 - 1,000 = 250 kUSD.
    subsidy = Instrument(
        "game_subsidy_separation", ALLIANCE_PLAYER, "subsidy", (0.0, 5.0, 10.0, 14.0, 20.0), "s"
    )
    segments = [constant_elasticity(40_000.0, -2.0)]
    results = {}
    for security in (12.0, 20.0):
        levers = game_levers((subsidy,), ["jp_sep"])
        clearing = Clearing(MarketModel(world(segments, levers, allied_mine=True)))
        game = Game.on(clearing, (subsidy,), ["allies"], Weights(security_usd_per_kg=security))
        choice = game.best_response(ALLIANCE_PLAYER, game.zero())
        results[security] = (choice["game_subsidy_separation"], game.evaluate(choice), game)
    assert results[12.0][0] == 0.0
    chosen, outcome, game = results[20.0]
    assert chosen == 20.0
    assert outcome.allied_output_t["Nd"] == pytest.approx(50.0)
    assert outcome.subsidies_musd == pytest.approx(1.0)
    gain = (
        outcome.objectives[ALLIANCE_PLAYER] - game.evaluate(game.zero()).objectives[ALLIANCE_PLAYER]
    )
    assert gain == pytest.approx(0.25, rel=1e-3)


def test_the_leader_does_at_least_as_well_as_in_the_nash_equilibrium() -> None:
    game = allied_game(security=12.0)
    simultaneous = nash(game)
    leading = stackelberg(game)
    china = game.evaluate(leading.profile).objectives[CHINA_PLAYER]
    assert china >= game.evaluate(simultaneous.profile).objectives[CHINA_PLAYER] - 1e-6
    assert deviations(game, leading.profile)[ALLIANCE_PLAYER] <= 1e-3  # the follower replies best


def test_the_history_check_frees_only_chinese_export_levers() -> None:
    scenario = load_scenario("history-2009")
    freed = without_china_exports(scenario)
    kept = [lever.id for block in freed.levers for lever in block.levers.stock_purchases]
    assert kept and kept == [
        lever.id for block in scenario.levers for lever in block.levers.stock_purchases
    ]
    assert not any(block.levers.quotas or block.levers.export_taxes for block in freed.levers)
    assert any(block.levers.export_taxes for block in scenario.levers)


@pytest.mark.e2e
def test_game_cli_json_shape_and_errors() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rareflow", "game", "baseline", "--years", "2026", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert {"rounds", "converged", "equilibrium", "price_taking", "instruments"} <= set(payload)
    found = payload["equilibrium"]["2026"]
    assert set(found["instruments"]) == {i["id"] for i in payload["instruments"]}
    assert max(found["largest_deviation_gain_musd"].values()) <= 1e-3 or not found["converged"]
    # neither player does worse than price-taking at its own best response
    taking = payload["price_taking"]["2026"]["objectives_musd"]
    assert found["objectives_musd"]["china"] >= taking["china"] - 1e-6
    for years in ("2020-2026", "26", "2030-2027"):
        bad = subprocess.run(
            [sys.executable, "-m", "rareflow", "game", "baseline", "--years", years],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert bad.returncode == 1 and "--years" in bad.stderr and "Traceback" not in bad.stderr
    # the rent holder of China's licences means nothing while China plays taxes
    bad = subprocess.run(
        [sys.executable, "-m", "rareflow", "game", "baseline", "--licence-rent", "buyer"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "--china licences" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_ensemble_bands_by_year() -> None:
    def run(tax: float, gain: float, converged: bool) -> dict[str, object]:
        found = {"instruments": {"game_tax_light": tax}, "converged": converged,
                 "welfare_musd": {"china": 100.0 + gain}}  # fmt: skip
        return {"equilibrium": {"2026": found},
                "price_taking": {"2026": {"welfare_musd": {"china": 100.0}}}}  # fmt: skip

    found = bands([run(0.1, 10.0, True), run(0.2, 20.0, True), run(0.6, 30.0, False)])["2026"]
    assert found["converged_share"] == pytest.approx(2 / 3)
    assert found["game_tax_light"]["median"] == pytest.approx(0.2)
    # numpy's linear percentiles: 0.1 + 0.2 x (0.2 - 0.1) and 0.2 + 0.8 x (0.6 - 0.2)
    assert found["game_tax_light"]["p10"] == pytest.approx(0.12)
    assert found["game_tax_light"]["p90"] == pytest.approx(0.52)
    assert found["china_gain_musd"]["median"] == pytest.approx(20.0)


@pytest.mark.e2e
def test_game_ensemble_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rareflow", "game", "baseline", "--years", "2026", "--runs", "2",
         "--players", "china", "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["runs"] == 2 and [r["run"] for r in payload["per_run"]] == [0, 1]
    band = payload["bands"]["2026"]["game_tax_magnet"]
    assert band["p10"] <= band["median"] <= band["p90"]


def stockpile_game(probability: float) -> Game:
    """Japan buys 1,000 t of Nd a year whatever the price (up to 200 USD/kg), all from China at
    10 USD/kg; the alliance may hold 0-180 days of it."""
    stock = Instrument(
        "game_stock_ndpr", ALLIANCE_PLAYER, "stockpile", (0.0, 30.0, 60.0, 90.0, 180.0), "days"
    )
    segment = Segment("jp_Nd", "JP", "any", "oxide", "Nd", "JP", 1000.0, 20.0, ((1000.0, 200.0),))
    clearing = Clearing(MarketModel(world([segment], game_levers((stock,), []))))
    weights = Weights(disruption_probability=probability, disruption_years=0.15)
    return Game.on(clearing, (stock,), ["allies"], weights)


def test_a_stockpile_covers_the_expected_disruption_when_cover_is_worth_its_cost() -> None:
    # A cut stops 0.15 x 1,000 = 150 t of Japan's imports (54.75 days of use). Each t not
    # covered is lost at 10 x the reference price of 20 USD/kg, with probability 0.125: 25 kUSD
    # a t. Holding a t costs 8 % interest on its price of 10 USD/kg: 0.8 kUSD. So 60 days
    # (164.4 t) is best: expected loss 0, holding 131.5 kUSD, against 3,750 kUSD of expected
    # loss with no stock (30 days: 25 x 67.8 + 65.8 = 1,761).
    game = stockpile_game(0.125)
    chosen = game.best_response(ALLIANCE_PLAYER, game.zero())
    assert chosen["game_stock_ndpr"] == 60.0
    held = game.evaluate(chosen)
    assert held.stock_t["Nd"] == pytest.approx(60 / 365 * 1000)
    assert held.exposure_t["Nd"] == pytest.approx(1000.0)
    assert held.disruption_cost_musd == pytest.approx(0.0, abs=1e-9)
    assert held.stock_cost_musd == pytest.approx(0.08 * 10 * 60 / 365, rel=1e-6)
    idle = game.evaluate(game.zero())
    assert idle.disruption_cost_musd == pytest.approx(3.75, rel=1e-6)
    gain = held.objectives[ALLIANCE_PLAYER] - idle.objectives[ALLIANCE_PLAYER]
    assert gain == pytest.approx(3.75 - 0.08 * 10 * 60 / 365, rel=1e-4)
    # buying at a price the purchase does not move changes nobody's welfare but the holder's
    assert held.welfare[CHINA_PLAYER] == pytest.approx(idle.welfare[CHINA_PLAYER], rel=1e-9)


def test_without_a_disruption_risk_no_stock_is_held() -> None:
    game = stockpile_game(0.0)
    assert game.best_response(ALLIANCE_PLAYER, game.zero())["game_stock_ndpr"] == 0.0


def test_a_stock_carries_into_the_next_year_and_is_sold_when_the_target_falls() -> None:
    game = stockpile_game(0.125)
    game.apply({"game_stock_ndpr": 60.0})
    values, _, _, _ = game.clearing.solve_arrays()
    game.carry(values)
    assert game.supply.held["Nd"] == pytest.approx(60 / 365 * 1000)
    game.new_year()
    kept = game.evaluate({"game_stock_ndpr": 60.0})  # nothing more to buy
    assert kept.stock_t["Nd"] == pytest.approx(60 / 365 * 1000)
    sold = game.evaluate({"game_stock_ndpr": 0.0})  # the whole stock goes back to the market
    assert sold.stock_t["Nd"] == pytest.approx(0.0, abs=1e-6)
    # the stock sold serves this year's use, so Japan imports 164.4 t less from China
    assert sold.exposure_t["Nd"] == pytest.approx(1000 - 60 / 365 * 1000)
    assert sold.disruption_cost_musd == pytest.approx(25 * 0.15 * sold.exposure_t["Nd"] / 1e3)
