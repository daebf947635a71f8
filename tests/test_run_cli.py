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
    # Enough runs that the kill, after the first write of 5 or more, lands mid-ensemble: the
    # driver writes every few seconds, and 24 runs on one worker could all finish before the
    # first write was read.
    total = 48
    path = tmp_path / "k.duckdb"
    args = [
        "run",
        "baseline",
        "--runs",
        str(total),
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
    assert partial is not None and 5 <= partial[0] < total
    resumed = rareflow(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        runs = con.execute("SELECT run FROM runs ORDER BY run").df()["run"].tolist()
        rows = con.execute("SELECT count(*) FROM results").fetchone()
    assert runs == list(range(total))
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


def test_compare_pairs_runs_by_their_common_draws(tmp_path: Path) -> None:
    """`results compare`: an ensemble minus itself is zero in every run (the hand reference);
    a variant is paired run by run with its base; another seed, a missing ensemble and an
    ensemble drawn before common random numbers are refused or flagged; such an ensemble is
    not resumed."""
    path = tmp_path / "c.duckdb"
    short = "horizon: {start: 2024, end: 2027}\n"
    base, variant = tmp_path / "base.yaml", tmp_path / "variant.yaml"
    base.write_text("name: base\nextends: baseline\n" + short)
    variant.write_text("name: variant\nextends: alliance-buildout\n" + short)
    for scenario, seed in ((base, "0"), (variant, "0"), (base, "1")):
        done = rareflow("run", str(scenario), "--runs", "3", "--seed", seed, "--workers", "1",
                        "--store", str(path))  # fmt: skip
        assert done.returncode == 0, done.stderr
    itself = rareflow("results", "compare", "1", "1", "--store", str(path), "--json")
    assert itself.returncode == 0, itself.stderr
    payload = json.loads(itself.stdout)
    assert payload["runs_paired"] == 3 and payload["common_random_numbers"]
    assert all(row["median"] == row["p10"] == row["p90"] == 0 for row in payload["difference"]
               if row["median"] == row["median"])  # fmt: skip
    paired = json.loads(rareflow("results", "compare", "2", "1", "--store", str(path),
                                 "--json").stdout)  # fmt: skip
    rows = {(r["years"], r["element"], r["measure"]): r for r in paired["difference"]}
    gain = rows[("2025-2029", "NdPr", "self-sufficiency % (of reference demand)")]
    assert gain["p10"] > 0  # the build-out's NdPr gain shows in every run, not only the median
    for args, message in ((("3", "1"), "seeds"), (("9", "1"), "no ensemble 9")):
        bad = rareflow("results", "compare", *args, "--store", str(path))
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE ensembles SET draws = NULL WHERE id IN (1, 3)")
    old = rareflow("results", "compare", "2", "1", "--store", str(path))
    assert old.returncode == 0 and "not paired" in old.stderr
    resumed = rareflow("run", str(base), "--runs", "4", "--seed", "1", "--workers", "1",
                       "--store", str(path), "--resume")  # fmt: skip
    assert resumed.returncode == 1 and "another way" in resumed.stderr
