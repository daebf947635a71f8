"""How an ensemble's runs are grouped into Dask tasks, and what a failing task hands back."""

from __future__ import annotations

from typing import Any

import pytest

from rareflow.simulate import ensemble
from rareflow.simulate.ensemble import RUNS_PER_TASK, simulate_runs, task_runs


@pytest.mark.parametrize("count", [1, 3, 7, 20, 333, 1000])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_tasks_cover_every_run_once_in_order(count: int, workers: int) -> None:
    todo = [run for run in range(2 * count) if run % 2 == 0]  # resumed: not contiguous
    tasks = task_runs(todo, workers)
    assert [run for task in tasks for run in task] == todo
    assert all(1 <= len(task) <= RUNS_PER_TASK for task in tasks)
    # every worker gets several tasks whenever there are enough runs for it
    assert len(tasks) >= min(count, 4 * workers)


def test_a_failing_run_hands_back_the_runs_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []

    def fake_run(scenario_json: str, data_dir: Any, seed: int, run: int, detail: bool) -> Any:
        started.append(run)
        if run == 12:
            raise RuntimeError("the market LP did not solve: Infeasible")
        return run, {}, None, 0.0, None

    monkeypatch.setattr(ensemble, "simulate_run", fake_run)
    finished, error = simulate_runs("{}", None, 0, [10, 11, 12, 13])
    assert [f[0] for f in finished] == [10, 11]
    assert isinstance(error, RuntimeError) and "Infeasible" in str(error)
    assert started == [10, 11, 12]  # the run after the failure is not started
    assert simulate_runs("{}", None, 0, [1, 2]) == ([(1, {}, None, 0.0, None),
                                                    (2, {}, None, 0.0, None)], None)  # fmt: skip
