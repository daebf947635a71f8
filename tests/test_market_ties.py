"""The market's optimum and prices do not depend on the path the simplex took (ties.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rareflow.dataset.dataset import Dataset
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.ties import TIE_COST_USD_PER_KG, TieBreak, _uniform
from rareflow.market.world_data import build_world


def _solve(dataset: Dataset, perturb: float, cold: bool) -> tuple[np.ndarray, np.ndarray]:
    model = MarketModel(build_world(dataset), 2)
    highs = model.highs
    highs.setOptionValue("dual_simplex_cost_perturbation_multiplier", perturb)
    if not cold:
        # a warm start from another year's optimum: every mine at 80 % first
        rows = model.program.rows
        keys = [("capacity", 0, m.id) for m in model.world.mines if ("capacity", 0, m.id) in rows]
        saved = {key: float(model.current_row_upper[rows[key]]) for key in keys}
        for key, upper in saved.items():
            model.set_row_upper(key, 0.8 * upper)
        model.solve_once()
        for key, upper in saved.items():
            model.set_row_upper(key, upper)
    values, duals, _ = model.solve_once()
    return values, duals


def test_the_same_year_solved_by_other_paths_gives_the_same_flows_and_prices(
    dataset: Dataset,
) -> None:
    # Without the tie-break these differed: prices of pools nothing flows through by up to
    # 18 times, magnet grades between plants by thousands of t.
    reference_values, reference_duals = _solve(dataset, 0.0, cold=True)
    for perturb, cold in ((1.0, True), (0.0, False), (1.0, False)):
        values, duals = _solve(dataset, perturb, cold)
        assert np.abs(duals - reference_duals).max() <= 1e-6 * (1 + np.abs(reference_duals).max())
        assert np.abs(values - reference_values).max() <= 1e-6 * (1 + reference_values.max())


def test_tie_breaks_are_fixed_by_names_not_positions() -> None:
    first = _uniform(["a", "b", "c"], b"cost")
    again = _uniform(["c", "a"], b"cost")
    assert again[1] == first[0] and again[0] == first[2]
    assert len(set(first)) == 3 and all(0 <= u < 1 for u in first)
    assert _uniform(["a"], b"bound")[0] != first[0]


def test_prices_are_those_of_the_model_s_costs(dataset: Dataset) -> None:
    # The tie costs move HiGHS's duals by up to a few thousandths of a USD/kg along a chain;
    # the reported prices take them out: every basic flow's reduced cost at the model's own
    # costs is zero.
    clearing = Clearing(MarketModel(build_world(dataset), 1))
    model = clearing.model
    values, duals, objective = model.solve_once()
    _, basic = model.highs.getBasicVariables()  # type: ignore[attr-defined]
    basic = np.asarray(basic)
    columns = basic[basic >= 0]
    reduced = model.cost[columns] - model.matrix()[:, columns].T @ duals
    assert np.abs(reduced).max() <= 1e-7 * max(1.0, np.abs(model.cost).max())
    assert objective == pytest.approx(float(model.cost @ values), rel=1e-12)
    assert isinstance(model.tie, TieBreak)
    assert np.abs(model.tie.cost).max() <= 1.5 * TIE_COST_USD_PER_KG
