"""``rareflow run`` end to end: Dask workers, the results store, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd


def rareflow(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stored(path: Path) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM results ORDER BY run, year, metric, key").df()


def test_two_workers_give_the_numbers_of_one(tmp_path: Path) -> None:
    two, one = tmp_path / "two.duckdb", tmp_path / "one.duckdb"
    done = rareflow(
        "run",
        "baseline",
        "--runs",
        "2",
        "--seed",
        "3",
        "--workers",
        "2",
        "--store",
        str(two),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["runs"] == 2 and payload["scenario"] == "baseline"
    measures = {row["measure"] for row in payload["headline"]}
    assert "self-sufficiency % (of reference demand)" in measures
    assert "price FOB China (export), USD/kg" in measures
    assert "China share of separation %" in measures
    assert {row["element"] for row in payload["independence"]} == {"NdPr", "Dy", "Tb"}
    assert (
        rareflow(
            "run", "baseline", "--runs", "2", "--seed", "3", "--workers", "1", "--store", str(one)
        ).returncode
        == 0
    )
    pd.testing.assert_frame_equal(stored(two), stored(one))
    export = rareflow(
        "results", "export", str(tmp_path / "out"), "--format", "parquet", "--store", str(two)
    )
    assert export.returncode == 0, export.stderr
    assert len(pd.read_parquet(tmp_path / "out" / "ensemble1_results.parquet")) == len(stored(two))


def test_killed_ensemble_resumes_without_losing_or_duplicating_runs(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    args = [
        "run",
        "baseline",
        "--runs",
        "24",
        "--seed",
        "9",
        "--workers",
        "1",
        "--store",
        str(path),
    ]
    command = [sys.executable, "-m", "rareflow", *args]
    process = subprocess.Popen(
        command,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    deadline = time.time() + 300
    for line in process.stderr:
        stored_runs = int(line.split()[2].split("/")[0]) if line.startswith("stored run ") else 0
        if stored_runs >= 5 or time.time() > deadline:
            break
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its Dask workers, mid-ensemble
    process.wait()
    with duckdb.connect(str(path), read_only=True) as con:
        partial = con.execute("SELECT count(*) FROM runs").fetchone()
    assert partial is not None and 5 <= partial[0] < 24
    resumed = rareflow(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        runs = con.execute("SELECT run FROM runs ORDER BY run").df()["run"].tolist()
        rows = con.execute("SELECT count(*) FROM results").fetchone()
    assert runs == list(range(24))
    per_run = stored(path).groupby("run").size()
    assert rows is not None and rows[0] == per_run.sum() and per_run.nunique() == 1


def test_resume_refuses_another_seed_and_bad_scenarios_are_named(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    assert (
        rareflow(
            "run", "baseline", "--runs", "1", "--workers", "1", "--store", str(path)
        ).returncode
        == 0
    )
    other = rareflow(
        "run",
        "baseline",
        "--runs",
        "2",
        "--seed",
        "5",
        "--workers",
        "1",
        "--store",
        str(path),
        "--resume",
    )
    assert other.returncode == 1 and "seed" in other.stderr and "Traceback" not in other.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nextends: baseline\nhorizon: {start: 2024, end: 2030}\nprojects:\n"
        "  - {id: p, stage: magnet, location: XX, capacity_t: 1, start: 2026, status: planned,"
        " cost_usd_per_kg: 1}\n"
    )
    done = rareflow("run", str(bad), "--runs", "1", "--store", str(tmp_path / "b.duckdb"))
    assert done.returncode == 1 and "XX" in done.stderr and "Traceback" not in done.stderr


def test_existing_dask_cluster_by_address(tmp_path: Path) -> None:
    """A scheduler and two workers started apart from rareflow, reached by --scheduler."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen(
        [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nworkers",
            "2",
            "--nthreads",
            "1",
            "--dashboard-address",
            ":0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        time.sleep(3)
        done = rareflow(
            "run",
            "baseline",
            "--runs",
            "2",
            "--scheduler",
            address,
            "--store",
            str(tmp_path / "c.duckdb"),
            "--json",
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["runs"] == 2
    finally:
        for process in (worker, scheduler):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
