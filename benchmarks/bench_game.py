"""Speed of the game, with a baseline timed in the same run.

1. One best response of China (three export-tax instruments on their grids) for one year of the
   baseline scenario (2026, its rolling-horizon model as the run sets it up). Each policy tried
   is a warm re-solve of the built model (taxes settled by secant steps, floors by fixed-point
   steps). Baseline: the same number of clearings, each a cold solve of the year's model (the
   solver's basis dropped). Target: one best response <= 2 s.
2. The Nash equilibrium over 10 years (2026-2035) of the baseline scenario, both players, with
   the run's dynamics between years. Target: <= 5 min.

    python benchmarks/bench_game.py [--years N]
"""

from __future__ import annotations

import argparse
import time

from rareflow.dataset import load_dataset
from rareflow.game.instruments import CHINA_PLAYER
from rareflow.game.play import Game
from rareflow.game.rolling import Settings, play, prepare, weights_of
from rareflow.scenario.loader import load_scenario
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market


def best_response_timing() -> None:
    dataset = load_dataset()
    weights, alliance = weights_of(dataset)
    settings = Settings("nash", (2026, 2026), weights, alliance)
    scenario, plan, instruments, _ = prepare(dataset, load_scenario("baseline"), settings)
    market = build_market(dataset, scenario, "baseline")
    game = Game.on(market.clearing, instruments, list(alliance), weights)
    runner = Runner(market)
    found: dict[str, float] = {}

    def decide(year: int) -> None:
        game.apply(game.zero())
        if year != 2026:
            return
        game.new_year()
        began = time.perf_counter()
        before = game.evaluations
        game.best_response(CHINA_PLAYER, game.zero())
        found["seconds"] = time.perf_counter() - began
        found["evaluations"] = game.evaluations - before
        model = market.clearing.model
        began = time.perf_counter()
        for _ in range(3):
            model.highs.clearSolver()  # drop the basis: a cold solve of the same model
            market.clearing.solve_arrays()
        found["cold"] = (time.perf_counter() - began) / 3

    for year, _, _, _ in runner.years_of(plan, 2026, decide):
        if year >= 2026:
            break
    baseline = found["cold"] * found["evaluations"]
    ratio = baseline / found["seconds"]
    print(
        f"(1) China's best response, 2026: {found['seconds']:.2f} s for "
        f"{found['evaluations']:.0f} policies; cold clearings of the same count "
        f"{baseline:.2f} s ({found['cold'] * 1e3:.0f} ms each): ratio {ratio:.1f}x; target <= 2 s"
    )


def equilibrium_timing(years: int) -> None:
    dataset = load_dataset()
    weights, alliance = weights_of(dataset)
    settings = Settings("nash", (2026, 2025 + years), weights, alliance)
    began = time.perf_counter()
    result = play(dataset, load_scenario("baseline"), "baseline", settings)
    seconds = time.perf_counter() - began
    evaluations = sum(y.equilibrium.evaluations for y in result.years)
    converged = sum(y.equilibrium.converged for y in result.years)
    print(
        f"(2) Nash over {years} years: {seconds:.0f} s ({evaluations} policies cleared, "
        f"{converged}/{len(result.years)} years converged); target <= 300 s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--years", type=int, default=10)
    args = parser.parse_args()
    best_response_timing()
    equilibrium_timing(args.years)


if __name__ == "__main__":
    main()
