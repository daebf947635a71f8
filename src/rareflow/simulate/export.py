"""An ensemble as files that explain themselves: every file carries the scenario, seed, runs,
creation time, rareflow's version and the unit of every metric.

- Parquet: ``results`` (with a ``unit`` column) and ``parameters``, the metadata as JSON in each
  file's schema metadata (key ``rareflow``) and beside them;
- CSV: the same tables, the metadata in ``ensemble{N}_metadata.json``;
- netCDF: one variable per metric over (run, year) and the dimension its keys span
  (``element``, ``stage``, ``stockpile``), with ``units`` and ``long_name``; the drawn
  parameters over (run, parameter); the metadata as global attributes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from rareflow import __version__
from rareflow.elements import ELEMENTS
from rareflow.scenario.schema import cited_sources
from rareflow.simulate.trajectories import MEASURES
from rareflow.simulate.units import METRICS, unit_of

ELEMENT_KEYS = {"NdPr", *ELEMENTS}


def metadata(
    info: dict[str, Any], scenario: dict[str, Any], results: pd.DataFrame
) -> dict[str, Any]:
    """What a reader of an exported ensemble needs to know about it."""
    present = sorted(results["metric"].unique()) if not results.empty else []
    return {
        "ensemble": info["id"],
        "scenario": info["scenario"],
        "seed": info["seed"],
        "runs_asked": info["runs"],
        "runs_stored": info["done"],
        "created": info["created"],
        "draws": info.get("draws") or "unrecorded (stored before common random numbers)",
        "rareflow_version": __version__,
        "units": {m: METRICS.get(m, ("", ""))[0] for m in present},
        "descriptions": {m: METRICS.get(m, ("", ""))[1] for m in present},
        "sources": cited_sources(scenario),
        "scenario_document": scenario,
    }


def write(
    out: Path,
    fmt: str,
    meta: dict[str, Any],
    results: pd.DataFrame,
    parameters: pd.DataFrame,
    trajectories: pd.DataFrame,
) -> list[Path]:
    """Write the ensemble in ``fmt`` to ``out``; returns the files. Trajectories (stored with
    ``rareflow run --detail``) go to their own file, or their own variables in netCDF."""
    ensemble = meta["ensemble"]
    results = results.assign(unit=results["metric"].map(unit_of))
    tables = [("results", results), ("parameters", parameters)]
    if not trajectories.empty:
        unit = trajectories["measure"].map(_trajectory_unit)
        tables.append(("trajectories", trajectories.assign(unit=unit)))
    text = json.dumps(meta, indent=1, default=str)
    side = out / f"ensemble{ensemble}_metadata.json"
    if fmt in ("parquet", "csv"):
        files = []
        for name, frame in tables:
            path = out / f"ensemble{ensemble}_{name}.{fmt}"
            if fmt == "parquet":
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                schema = (table.schema.metadata or {}) | {b"rareflow": text.encode()}
                pq.write_table(table.replace_schema_metadata(schema), path)
            else:
                frame.to_csv(path, index=False)
            files.append(path)
        side.write_text(text, encoding="utf-8")
        return [*files, side]
    if fmt == "netcdf":
        path = out / f"ensemble{ensemble}.nc"
        _netcdf(path, meta, results, parameters, trajectories)
        return [path]
    raise ValueError(f"unknown export format {fmt!r}; expected parquet, csv or netcdf")


STAGE_KEYS = {"mining", "separation", "metal", "magnet", "gallium"}


def _dimension(metric: str, keys: set[str]) -> str | None:
    """The dimension a metric's keys span: shared by metrics of the same kind (``element``:
    element groups, ``group:element`` for extra groups; ``stage``; ``stockpile``), none for a
    single world or all-chain value."""
    if len(keys) == 1 and keys <= {"all", "world"}:
        return None
    if keys <= STAGE_KEYS:
        return "stage"
    if metric in ("stock_t", "stockpile_days"):
        return "stockpile"
    if all(key.split(":")[-1] in ELEMENT_KEYS for key in keys):
        return "element"
    return f"{metric}_key"


def _trajectory_unit(measure: str) -> str:
    for stage, unit in MEASURES.items():
        if measure.startswith(stage + "_"):
            return unit
    return ""


def _netcdf(
    path: Path,
    meta: dict[str, Any],
    results: pd.DataFrame,
    parameters: pd.DataFrame,
    trajectories: pd.DataFrame,
) -> None:
    import xarray as xr

    variables = {}
    for metric, rows in results.groupby("metric"):
        dimension = _dimension(str(metric), set(rows["key"]))
        if dimension is None:  # one value a run and year
            series = rows.set_index(["run", "year"])["value"]
            array = xr.DataArray.from_series(series)
        else:
            series = rows.set_index(["run", "year", "key"])["value"]
            array = xr.DataArray.from_series(series).rename({"key": dimension})
        unit, description = METRICS.get(str(metric), ("", ""))
        array.attrs = {"units": unit, "long_name": description}
        variables[str(metric)] = array
    for measure, rows in trajectories.groupby("measure"):
        place = f"{measure}_place"
        if set(rows["key"]) == {"magnets"}:
            series = rows.set_index(["run", "year", "place"])["value"]
            array = xr.DataArray.from_series(series).rename({"place": place})
        else:
            series = rows.set_index(["run", "year", "place", "key"])["value"]
            array = xr.DataArray.from_series(series).rename({"place": place, "key": "element"})
        array.attrs = {"units": _trajectory_unit(str(measure)), "long_name": str(measure)}
        variables[str(measure)] = array.fillna(0.0)  # a lane or place without flow that year
    if not parameters.empty:
        drawn = parameters.set_index(["run", "name"])["value"]
        variables["parameters"] = xr.DataArray.from_series(drawn).rename({"name": "parameter"})
        variables["parameters"].attrs = {"long_name": "parameters drawn for each run"}
    dataset = xr.Dataset(variables)
    dataset.attrs = {
        key: json.dumps(value) if isinstance(value, dict | list) else str(value)
        for key, value in meta.items()
        if key not in ("units", "descriptions")
    }
    dataset.to_netcdf(path, engine="h5netcdf")
