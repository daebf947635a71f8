"""One run of a scenario solved again up to a year, for what the lean records leave out (flows
by facility and lane: provenance, Sankeys). A run is reproducible from (scenario, seed, run)."""

from __future__ import annotations

import numpy as np

from rareflow.dataset.dataset import Dataset
from rareflow.market.model import MarketModel
from rareflow.scenario.schema import Scenario
from rareflow.simulate.perturb import run_dataset
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market


def solved_year(
    dataset: Dataset, scenario: Scenario, label: str, seed: int, run: int, year: int
) -> tuple[MarketModel, np.ndarray, np.ndarray]:
    """(model, column values, row duals) of ``year`` in run ``run`` of ``scenario``; raises
    ValueError if the year is outside the scenario's horizon."""
    if not scenario.horizon.start <= year <= scenario.horizon.end:
        span = f"{scenario.horizon.start}-{scenario.horizon.end}"
        raise ValueError(f"year {year} is outside {label}'s horizon {span}")
    runner = Runner(build_market(run_dataset(dataset, scenario, seed, run), scenario, label))
    last = None
    for solved in runner.years_of(draw(runner.market.scenario, seed, run), until=year):
        last = solved
    assert last is not None
    _, values, duals, _ = last
    return runner.market.clearing.model, values, duals
