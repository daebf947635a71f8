"""The embedded results store (DuckDB): ensembles, runs, drawn parameters, yearly results.

One file per store. Finished runs are written in transactions (their parameters, yearly rows and
``done`` marks together; runs that finish together share one), so a process killed at any moment
leaves whole runs or none: ``--resume``
skips the runs marked done and no run is stored twice (primary keys). Exports: Parquet, CSV,
netCDF.

Sharing: DuckDB lets one process write a file, or several read it, at a time. A running ensemble
opens the store only to write the runs finished since its last write (at most every 2 s), so
readers (``results show``, ``results export``) open it read-only between writes, retrying while
a write is under way; it also leaves a claim beside the store (``STORE.running``: pid, host,
ensemble) so that a second ensemble on the same store is told which one is running instead of
failing on a lock. A claim whose process is gone (a run killed with -9) is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from rareflow.simulate.plan import DRAWS

SCHEMA = """
CREATE TABLE IF NOT EXISTS ensembles (
    id INTEGER PRIMARY KEY, scenario VARCHAR, scenario_json VARCHAR, seed BIGINT,
    runs INTEGER, created VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    ensemble INTEGER, run INTEGER, seconds DOUBLE, PRIMARY KEY (ensemble, run));
CREATE TABLE IF NOT EXISTS parameters (
    ensemble INTEGER, run INTEGER, name VARCHAR, value DOUBLE, PRIMARY KEY (ensemble, run, name));
CREATE TABLE IF NOT EXISTS results (
    ensemble INTEGER, run INTEGER, year INTEGER, metric VARCHAR, key VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS trajectories (
    ensemble INTEGER, run INTEGER, year INTEGER, measure VARCHAR, place VARCHAR, key VARCHAR,
    value DOUBLE);
ALTER TABLE ensembles ADD COLUMN IF NOT EXISTS draws VARCHAR;
"""
# ``results`` has no primary key: the runs' key already refuses a run written twice (in the same
# transaction as its rows), and keeping a five-column index on every row doubled the cost of a
# write, work an ensemble's driver takes from its workers (benchmarks/README.md). Stores made
# before keep theirs.
# ``draws``: how the ensemble's runs drew (``rareflow.simulate.plan.DRAWS``); NULL for ensembles
# stored before it was recorded, whose runs were seeded by the whole scenario's content.


TRAJECTORY_COLUMNS = ["ensemble", "run", "year", "measure", "place", "key", "value"]

WAIT_SECONDS = 30.0
"""How long to retry a store held by another process (a write takes milliseconds)."""


class StoreError(ValueError):
    """The store cannot be used as asked (not a store, busy, another scenario or seed...)."""


class Store:
    def __init__(
        self, path: str | Path, read_only: bool = False, threads: int | None = None
    ) -> None:
        """Open (or create) the store; ``threads`` caps DuckDB's threads on this connection."""
        self.path = Path(path)
        try:
            self.path.exists()
        except OSError as error:
            raise StoreError(f"--store {str(path)[:60]}...: {error.strerror}") from None
        if self.path.is_dir():
            raise StoreError(
                f"--store {self.path} is a directory; give a file, e.g. "
                f"{self.path / 'rareflow-results.duckdb'}"
            )
        if read_only and not self.path.exists():
            raise StoreError(f"no store at {self.path}: run an ensemble into it first")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = _connect(self.path, read_only)
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        if not read_only:
            self.connection.execute(SCHEMA)

    def close(self) -> None:
        self.connection.close()

    def check_free(self) -> None:
        """Raise StoreError naming the running ensemble if another live process writes here."""
        marker = running_marker(self.path)
        if marker.exists():
            holder = _holder(marker)
            if holder is None:
                marker.unlink(missing_ok=True)  # left by a run that was killed
            elif holder.get("pid") != os.getpid():
                raise StoreError(_busy(self.path, holder))

    def running(self) -> int | None:
        """The ensemble a live process is writing into this store, if any."""
        holder = _holder(running_marker(self.path))
        ensemble = holder.get("ensemble") if holder else None
        return ensemble if isinstance(ensemble, int) else None

    def claim(self, ensemble: int, scenario: str) -> Path:
        """Mark the store as written by this process (see the module's docstring); raises
        StoreError naming the running ensemble if another live process holds it."""
        marker = running_marker(self.path)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "ensemble": ensemble,
                  "scenario": scenario}  # fmt: skip
        for _ in range(2):
            try:
                with marker.open("x") as handle:
                    json.dump(record, handle)
                return marker
            except FileExistsError:
                holder = _holder(marker)
                if holder is not None:
                    raise StoreError(_busy(self.path, holder)) from None
                marker.unlink(missing_ok=True)  # its process is gone
        raise StoreError(f"could not claim {self.path}; remove {marker} if no run is going on")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def ensemble(
        self, scenario: str, scenario_json: str, seed: int, runs: int, resume: bool, created: str
    ) -> int:
        """The ensemble id to write to: a new one, or (``resume``) the matching unfinished one."""
        found = self.connection.execute(
            "SELECT id, scenario_json, seed, runs, draws FROM ensembles WHERE scenario = ? "
            "ORDER BY id DESC LIMIT 1",
            [scenario],
        ).fetchone()
        if resume:
            if found is None:
                raise StoreError(f"nothing to resume: no ensemble of {scenario!r} in {self.path}")
            ensemble, stored_json, stored_seed, stored_runs, stored_draws = found
            if stored_seed != seed or stored_json != scenario_json:
                raise StoreError(
                    f"the stored ensemble {ensemble} of {scenario!r} used seed {stored_seed} "
                    "and possibly another scenario text; resume with the same scenario and seed"
                )
            if stored_draws != DRAWS:
                raise StoreError(
                    f"the stored ensemble {ensemble} of {scenario!r} drew its runs another way "
                    "(before draws were common random numbers); its runs cannot be completed "
                    "with these: run a new ensemble without --resume"
                )
            if runs != stored_runs:
                self.connection.execute(
                    "UPDATE ensembles SET runs = ? WHERE id = ?", [runs, ensemble]
                )
            return int(ensemble)
        ensemble = self.connection.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM ensembles"
        ).fetchone()
        number = int(ensemble[0]) if ensemble else 1
        self.connection.execute(
            "INSERT INTO ensembles (id, scenario, scenario_json, seed, runs, created, draws) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [number, scenario, scenario_json, seed, runs, created, DRAWS],
        )
        return number

    def done(self, ensemble: int) -> set[int]:
        rows = self.connection.execute("SELECT run FROM runs WHERE ensemble = ?", [ensemble])
        return {int(r[0]) for r in rows.fetchall()}

    def write_run(
        self,
        ensemble: int,
        run: int,
        parameters: dict[str, float | int | None],
        results: pd.DataFrame,
        seconds: float,
    ) -> None:
        """One run, atomically."""
        self.write_runs(ensemble, [(run, parameters, results, seconds, None)])

    def write_runs(
        self,
        ensemble: int,
        runs: list[tuple[int, dict[str, Any], pd.DataFrame, float, pd.DataFrame | None]],
    ) -> None:
        """Several finished runs in one transaction: all of them or none (the fifth element,
        a run's trajectories, may be None)."""
        frame = pd.concat([r[2].assign(ensemble=ensemble) for r in runs])
        frame = frame[["ensemble", "run", "year", "metric", "key", "value"]]
        detailed = [r[4].assign(ensemble=ensemble) for r in runs if r[4] is not None]
        flows = pd.concat(detailed)[TRAJECTORY_COLUMNS] if detailed else None
        params = pd.DataFrame(
            [
                (ensemble, run, name, None if value is None else float(value))
                for run, parameters, *_ in runs
                for name, value in parameters.items()
            ],
            columns=["ensemble", "run", "name", "value"],
        )
        done = pd.DataFrame(
            [(ensemble, run, seconds) for run, _, _, seconds, _ in runs],
            columns=["ensemble", "run", "seconds"],
        )
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("frame_view", frame)
            con.register("params_view", params)
            con.register("done_view", done)
            con.execute("INSERT INTO results SELECT * FROM frame_view")
            con.execute("INSERT INTO parameters SELECT * FROM params_view")
            con.execute("INSERT INTO runs SELECT * FROM done_view")
            if flows is not None:
                con.register("flows_view", flows)
                con.execute("INSERT INTO trajectories SELECT * FROM flows_view")
                con.unregister("flows_view")
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        finally:
            for view in ("frame_view", "params_view", "done_view"):
                con.unregister(view)

    def trajectories(self, ensemble: int | None = None) -> pd.DataFrame:
        """The stored trajectories of an ensemble run with ``--detail`` (else empty)."""
        ensemble = self.latest() if ensemble is None else ensemble
        try:
            return self.connection.execute(
                "SELECT run, year, measure, place, key, value FROM trajectories "
                "WHERE ensemble = ? ORDER BY run, year, measure, place, key",
                [ensemble],
            ).df()
        except duckdb.CatalogException:  # a store written before trajectories were kept
            return pd.DataFrame(columns=TRAJECTORY_COLUMNS[1:])

    def results(self, ensemble: int | None = None) -> pd.DataFrame:
        ensemble = self.latest() if ensemble is None else ensemble
        return self.connection.execute(
            "SELECT run, year, metric, key, value FROM results WHERE ensemble = ? "
            "ORDER BY run, year, metric, key",
            [ensemble],
        ).df()

    def parameters(self, ensemble: int | None = None) -> pd.DataFrame:
        ensemble = self.latest() if ensemble is None else ensemble
        return self.connection.execute(
            "SELECT run, name, value FROM parameters WHERE ensemble = ? ORDER BY run, name",
            [ensemble],
        ).df()

    def ensembles(self) -> pd.DataFrame:
        return self.connection.execute(
            "SELECT e.id, e.scenario, e.seed, e.runs, count(r.run) AS done, e.created "
            "FROM ensembles e LEFT JOIN runs r ON r.ensemble = e.id GROUP BY ALL ORDER BY e.id"
        ).df()

    def draws(self, ensemble: int) -> str | None:
        """How an ensemble's runs drew (``plan.DRAWS``; None if stored before it was kept)."""
        try:
            row = self.connection.execute(
                "SELECT draws FROM ensembles WHERE id = ?", [ensemble]
            ).fetchone()
        except duckdb.BinderException:  # a store opened read-only from before the column
            return None
        return None if row is None or row[0] is None else str(row[0])

    def latest(self) -> int:
        row = self.connection.execute("SELECT max(id) FROM ensembles").fetchone()
        if row is None or row[0] is None:
            raise StoreError(f"{self.path} holds no ensemble")
        return int(row[0])

    def scenario_json(self, ensemble: int) -> dict[str, object]:
        row = self.connection.execute(
            "SELECT scenario_json FROM ensembles WHERE id = ?", [ensemble]
        ).fetchone()
        if row is None:
            raise StoreError(f"no ensemble {ensemble} in {self.path}")
        return dict(json.loads(row[0]))

    def export(self, directory: str | Path, fmt: str, ensemble: int | None = None) -> list[Path]:
        """Write results and parameters as Parquet, CSV or netCDF, with units and metadata
        (``rareflow.simulate.export``); returns the files."""
        from rareflow.simulate.export import metadata, write

        ensemble = self.latest() if ensemble is None else ensemble
        if fmt not in ("parquet", "csv", "netcdf"):
            raise StoreError(f"unknown export format {fmt!r}; expected parquet, csv or netcdf")
        table = self.ensembles().set_index("id")
        if ensemble not in table.index:
            raise StoreError(f"no ensemble {ensemble} in {self.path}")
        out = Path(directory)
        if out.exists() and not out.is_dir():
            raise StoreError(f"{out} is a file; give a directory to write the export to")
        out.mkdir(parents=True, exist_ok=True)
        results, parameters = self.results(ensemble), self.parameters(ensemble)
        info = {"id": ensemble, **table.loc[ensemble].to_dict(), "draws": self.draws(ensemble)}
        meta = metadata(info, self.scenario_json(ensemble), results)
        return write(out, fmt, meta, results, parameters, self.trajectories(ensemble))


def running_marker(path: Path) -> Path:
    return path.with_name(path.name + ".running")


def _holder(marker: Path) -> dict[str, object] | None:
    """The claim in ``marker`` if its process still runs on this host, else None."""
    try:
        holder = dict(json.loads(marker.read_text()))
    except (OSError, ValueError):
        return None
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int):
        return holder  # another host's claim cannot be checked: respect it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return holder
    return holder


def _busy(path: Path, holder: dict[str, object] | None) -> str:
    if holder is None:
        return f"store busy: {path} is open in another process; try again when it is done"
    return (
        f"store busy: ensemble {holder.get('ensemble')} ({holder.get('scenario')}) is running "
        f"into {path} (pid {holder.get('pid')} on {holder.get('host')}); wait for it, or give "
        "another --store"
    )


def _connect(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """A connection, retrying for ``WAIT_SECONDS`` while another process holds the file."""
    deadline = time.monotonic() + WAIT_SECONDS
    delay = 0.02
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            text = str(error)
            if "not a valid DuckDB database" in text or "Invalid Input" in text:
                raise StoreError(
                    f"{path} is not a rareflow store (not a DuckDB database); give another --store"
                ) from None
            if "lock" not in text.lower():
                raise StoreError(f"cannot open the store {path}: {text}") from None
            if time.monotonic() > deadline:
                raise StoreError(_busy(path, _holder(running_marker(path)))) from None
            time.sleep(delay)
            delay = min(0.5, delay * 2)
