"""Forward runs that draw their behavioural parameters (``market: {behaviour: drawn}``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rareflow.dataset.dataset import Dataset
from rareflow.metrics import CAPPED, headline
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Horizon, Scenario
from rareflow.simulate.ensemble import simulate_run
from rareflow.simulate.perturb import RANGES, behaviour_parameters, behaviour_set, factors
from rareflow.simulate.replay import solved_year


def _variant(behaviour: str, sets: int = 2) -> Scenario:
    base = load_scenario("china-heavy-ban")
    market = base.market.model_copy(update={"behaviour": behaviour, "behaviour_sets": sets})
    return base.model_copy(update={"market": market, "horizon": Horizon(start=2024, end=2027)})


def _frame(scenario: Scenario, run: int) -> tuple[pd.DataFrame, dict[str, object]]:
    _, parameters, frame, _, _ = simulate_run(scenario.model_dump_json(), None, 5, run)
    return frame.set_index(["year", "metric", "key"])["value"], parameters


def test_runs_cycle_through_the_parameter_sets() -> None:
    drawn, central = _variant("drawn", 3), _variant("central", 3)
    assert [behaviour_set(drawn, run) for run in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert {behaviour_set(central, run) for run in range(7)} == {0}
    assert behaviour_parameters(central, 5, 4) == {}
    four, one = behaviour_parameters(drawn, 5, 4), behaviour_parameters(drawn, 5, 1)
    assert four == one and four["behaviour_set"] == 1
    assert behaviour_parameters(drawn, 5, 3)["behaviour:demand_elasticity"] == 1.0  # set 0
    for name, (low, high) in RANGES.items():
        assert low <= factors(1, 5)[name] <= high
        assert factors(1, 5)[name] != factors(2, 5)[name]


def test_set_zero_is_central_and_other_sets_move_prices(dataset: Dataset) -> None:
    drawn, central = _variant("drawn"), _variant("central")
    first, parameters = _frame(drawn, 0)
    assert parameters["behaviour_set"] == 0
    pd.testing.assert_series_equal(first, _frame(central, 0)[0])
    second, parameters = _frame(drawn, 1)
    assert parameters["behaviour_set"] == 1
    assert parameters["behaviour:smuggling_cost"] == factors(1, 5)["smuggling_cost"]
    prices = [key for key in second.index if key[1].startswith("price_") and key[0] > 2024]
    moved = np.abs(second[prices].to_numpy() - _frame(central, 1)[0][prices].to_numpy())
    assert moved.max() > 1.0  # USD/kg: the ban's prices depend on the drawn behaviour
    # a replay of the run (provenance, reports) solves the same market again
    model, _, duals = solved_year(dataset, drawn, drawn.name, 5, 1, 2026)
    row = model.program.rows[("pool", 0, "oxide", "Dy", "DE", 0)]
    assert float(duals[row]) == pytest.approx(second[(2026, "price_DE_usd_per_kg", "Dy")], 1e-9)


def test_a_price_at_its_demand_curves_cap_is_flagged(dataset: Dataset) -> None:
    # Under the heavy ban Tb outside China is rationed: where its price sits at the top step of
    # the oxide's demand curve (30 x the 2024 FOB price of 812 USD/kg, USGS MCS 2026) the
    # record says so; every other price stays below that cap, and nothing is capped before.
    assert dataset.market is not None
    cap = max(dataset.market.price_steps) * 812.0
    frame, _ = _frame(_variant("central"), 1)
    price = frame.xs(("price_JP_usd_per_kg", "Tb"), level=("metric", "key"))
    capped = frame.xs(("price_JP_at_cap", "Tb"), level=("metric", "key"))
    assert set(capped.unique()) <= {0.0, 1.0} and capped.sum() >= 1
    assert np.allclose(price[capped == 1.0], cap, rtol=1e-6)
    assert (price[capped == 0.0] < cap * (1 - 1e-6)).all()
    assert capped.loc[[2024, 2025]].sum() == 0.0
    table = headline(frame.reset_index().assign(run=0), ["Tb"], [50.0], ((2026, 2027),))
    share = table.set_index("measure").loc[CAPPED, "median"]
    assert share == pytest.approx(100.0 * capped.loc[[2026, 2027]].mean())
