"""Ensembles of games on Dask: the game played on N runs of a scenario (each run its own draws of
project starts, delays, ramp-ups, lever timing and demand growth), on the same workers as the
other ensembles, and what the equilibria look like across runs: each instrument's median and
10-90 % band by year, each side's gain, and how many runs converged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from rareflow.dataset import load_dataset
from rareflow.game.rolling import Settings, play, to_dict
from rareflow.scenario.schema import Scenario
from rareflow.simulate.ensemble import dask_client


def game_run(
    scenario_json: str, label: str, settings: Settings, data_dir: str | None, run: int
) -> dict[str, Any]:
    """One run's game (executed on a worker): the JSON shape of ``rareflow game``, or the error
    that stopped it (a run that fails does not take the others' results with it)."""
    scenario = Scenario.model_validate_json(scenario_json)
    try:
        result = play(
            load_dataset(data_dir), scenario, label, dataclasses.replace(settings, run=run)
        )
    except RuntimeError as error:
        return {"run": run, "error": str(error)}
    return {"run": run, **to_dict(result)}


def play_ensemble(
    scenario: Scenario,
    label: str,
    settings: Settings,
    runs: int,
    workers: int = 2,
    scheduler: str | None = None,
    data_dir: str | None = None,
) -> dict[str, Any]:
    """The game on ``runs`` runs; the per-run results, their bands by year, and the runs that
    failed with their errors."""
    payload = scenario.model_dump_json()
    with dask_client(workers, scheduler) as client:
        futures = [
            client.submit(game_run, payload, label, settings, data_dir, run, pure=False)
            for run in range(runs)
        ]
        results: list[dict[str, Any]] = [future.result() for future in futures]
    done = [r for r in results if "error" not in r]
    failed = [{"run": r["run"], "error": r["error"]} for r in results if "error" in r]
    return {"runs": runs, "failed": failed, "bands": bands(done), "per_run": done}


def bands(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Year -> each instrument's and each side's gain's 10 %, median and 90 % over the runs,
    and the share of runs whose equilibrium converged."""
    found: dict[str, Any] = {}
    years = sorted({y for r in results for y in r["equilibrium"]})
    for year in years:
        here = [r for r in results if year in r["equilibrium"]]
        series: dict[str, list[float]] = {}
        for r in here:
            found_year, taking = r["equilibrium"][year], r["price_taking"][year]
            for instrument, value in found_year["instruments"].items():
                series.setdefault(instrument, []).append(value)
            for player, welfare in found_year["welfare_musd"].items():
                gain = welfare - taking["welfare_musd"][player]
                series.setdefault(f"{player}_gain_musd", []).append(gain)
        found[year] = {
            "converged_share": float(np.mean([r["equilibrium"][year]["converged"] for r in here])),
            **{key: _band(values) for key, values in series.items()},
        }
    return found


def _band(values: list[float]) -> dict[str, float]:
    p10, median, p90 = np.percentile(values, [10, 50, 90])
    return {"p10": float(p10), "median": float(median), "p90": float(p90)}
