"""Ensembles of runs on Dask: a LocalCluster by default or an existing cluster by address.

Workers build the scenario's market once per process and reuse it for every run they get
(runs reset the solver to the base year's basis, so results do not depend on the assignment).
Runs go to the workers a few at a time (``task_runs``); the driver writes finished runs to the
DuckDB store in batches, at most every ``FLUSH_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from rareflow.dataset import load_dataset
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Scenario
from rareflow.simulate.perturb import behaviour_parameters, behaviour_set, run_dataset
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.store import Store
from rareflow.simulate.world import build_market

_RUNNERS: dict[tuple[str, str | None, int, int], Runner] = {}
"""A worker's runners of one scenario, data and seed: one per behavioural parameter set."""
TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
WORKER_TRIM_BYTES = 128 * 2**20
"""glibc's trim threshold for local workers (Dask sets 64 KiB, which slows a run by ~25 %)."""


def _runner(
    scenario_json: str, data_dir: str | None, seed: int, run: int
) -> tuple[Runner, Scenario]:
    scenario = Scenario.model_validate_json(scenario_json)
    key = (scenario_json, data_dir, seed, behaviour_set(scenario, run))
    if key not in _RUNNERS:
        if any(other[:3] != key[:3] for other in _RUNNERS):
            _RUNNERS.clear()
        dataset = run_dataset(load_dataset(data_dir), scenario, seed, run)
        _RUNNERS[key] = Runner(build_market(dataset, scenario, scenario.name))
    runner = _RUNNERS[key]
    return runner, runner.market.scenario


def simulate_run(
    scenario_json: str, data_dir: str | None, seed: int, run: int, detail: bool = False
) -> Finished:
    """One run (executed on a worker): (run, drawn parameters, yearly results, seconds,
    trajectories or None)."""
    start = time.perf_counter()
    runner, scenario = _runner(scenario_json, data_dir, seed, run)
    plan = draw(scenario, seed, run)
    frame, trajectories = runner.run_detailed(plan, detail)
    parameters = {**plan.parameters(), **behaviour_parameters(scenario, seed, run)}
    return run, parameters, frame, time.perf_counter() - start, trajectories


Finished = tuple[int, dict[str, Any], pd.DataFrame, float, "pd.DataFrame | None"]
"""A finished run: index, drawn parameters, yearly results, seconds, trajectories (or None)."""


def simulate_runs(
    scenario_json: str, data_dir: str | None, seed: int, runs: list[int], detail: bool = False
) -> tuple[list[Finished], Exception | None]:
    """Several runs in one task (executed on a worker): the finished ones and, if a run
    failed, its error (the runs after it are not started)."""
    finished: list[Finished] = []
    for run in runs:
        try:
            finished.append(simulate_run(scenario_json, data_dir, seed, run, detail))
        except Exception as error:  # handed to the driver, which keeps what finished
            return finished, error
    return finished, None


def task_runs(todo: list[int], workers: int) -> list[list[int]]:
    """The runs of each task: up to RUNS_PER_TASK consecutive runs, fewer for small ensembles
    so that every worker still gets several tasks."""
    size = max(1, min(RUNS_PER_TASK, len(todo) // (4 * max(workers, 1))))
    return [todo[i : i + size] for i in range(0, len(todo), size)]


RUNS_PER_TASK = 4
"""Runs per Dask task: the driver's scheduling and transfer work per task (about 10 ms of
a core each) is shared by the task's runs."""
FLUSH_SECONDS = 5.0
"""Finished runs are written to the store at most this often (and at the end); each write
opens the store and checkpoints it on closing, work taken from the workers' cores."""
WRITER_THREADS = 1
"""DuckDB threads of the driver's writes (DuckDB's default, one per core, would compete with
the workers)."""


@dataclass
class EnsembleSpec:
    scenario: str
    runs: int
    seed: int = 0
    store: Path = Path("rareflow-results.duckdb")
    workers: int = 2
    scheduler: str | None = None
    resume: bool = False
    data_dir: str | None = None
    detail: bool = False
    """Also store trajectories by country, facility and trade lane (``trajectories.py``)."""


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: a LocalCluster of ``workers`` single-threaded processes, or the cluster at
    ``scheduler``; closed on exit."""
    import dask
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        # Dask's workers trim freed memory back to the system above 64 KiB, which makes the
        # many small array allocations of a year loop about a quarter slower; local workers
        # keep glibc's freed memory up to 128 MiB instead (thread limits stay at one)
        with dask.config.set({TRIM: WORKER_TRIM_BYTES}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_ensemble(
    spec: EnsembleSpec,
    on_run: Callable[[int, int], None] | None = None,
) -> int:
    """Run (or resume) an ensemble into the store; returns the ensemble id.

    ``on_run(done, total)`` is called after every stored run (progress reporting).
    """
    # fail early, clearly; the stored (and shipped) scenario has its costed candidates priced
    scenario = build_market(load_dataset(spec.data_dir), load_scenario(spec.scenario),
                            spec.scenario).scenario  # fmt: skip
    scenario_json = scenario.model_dump_json()
    with Store(spec.store) as store:
        store.check_free()  # before an ensemble is created for nothing
        created = datetime.now(UTC).isoformat(timespec="seconds")
        ensemble = store.ensemble(
            scenario.name, scenario_json, spec.seed, spec.runs, spec.resume, created
        )
        todo = [r for r in range(spec.runs) if r not in store.done(ensemble)]
        marker = store.claim(ensemble, scenario.name) if todo else None
    try:
        done = spec.runs - len(todo)
        if on_run is not None:
            on_run(done, spec.runs)
        if not todo:
            return ensemble
        from dask.distributed import as_completed

        with dask_client(spec.workers, spec.scheduler) as client:
            # a cluster given by address has its own number of workers
            workers = len(client.scheduler_info().get("workers", {})) or spec.workers
            futures = [
                client.submit(
                    simulate_runs,
                    scenario_json,
                    spec.data_dir,
                    spec.seed,
                    runs,
                    spec.detail,
                    key=f"runs-{ensemble}-{runs[0]}-{runs[-1]}",
                    pure=False,
                )
                for runs in task_runs(todo, workers)
            ]
            # finished runs are stored together, at most every FLUSH_SECONDS (fewer opens and
            # transactions for the driver, which shares the machine's cores with the workers);
            # the store is open only while they are written, so others may read it between
            finished: list[Finished] = []
            flushed = time.monotonic()
            try:
                for batch in as_completed(futures).batches():
                    for future in batch:
                        runs, error = future.result()
                        finished += runs
                        if error is not None:
                            raise error
                    waited = time.monotonic() - flushed
                    if len(finished) + done < spec.runs and waited < FLUSH_SECONDS:
                        continue
                    with Store(spec.store, threads=WRITER_THREADS) as store:
                        store.write_runs(ensemble, finished)
                    done += len(finished)
                    finished, flushed = [], time.monotonic()
                    if on_run is not None:
                        on_run(done, spec.runs)
            finally:
                if finished:  # a run failed: keep what finished before it
                    with Store(spec.store, threads=WRITER_THREADS) as store:
                        store.write_runs(ensemble, finished)
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return ensemble
