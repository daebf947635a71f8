"""Readable terminal output and the small commands around scenarios and stores: version,
scenario new/show, results list, tables that never break a word."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

from rareflow.cli import output
from rareflow.simulate.store import Store

pytestmark = pytest.mark.e2e


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", *args],
        capture_output=True, text=True, timeout=300, check=False, cwd=cwd,
    )  # fmt: skip


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0 and done.stdout.strip() == "rareflow 0.1.0"


def test_a_new_scenario_template_is_valid_and_show_resolves_extends(tmp_path: Path) -> None:
    template = tmp_path / "mine.yaml"
    assert run("scenario", "new", "mine", "--extends", "china-heavy-ban", "-o",
               str(template)).returncode == 0  # fmt: skip
    text = template.read_text()
    assert text.count("#") > 5 and "extends: china-heavy-ban" in text  # annotated
    checked = run("scenario", "check", str(template), "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["valid"] is True
    again = run("scenario", "new", "mine", "-o", str(template))
    assert again.returncode == 1 and "exists" in again.stderr
    shown = yaml.safe_load(run("scenario", "show", str(template)).stdout)
    blocks = {block["id"] for block in shown["levers"]}
    assert {"my_export_tax", "cn_ann18_ban"} <= blocks  # its own block and the parent's
    assert shown["horizon"] == {"start": 2024, "end": 2040}
    as_json = json.loads(run("scenario", "show", "baseline", "--json").stdout)
    assert as_json["name"] == "baseline"


def test_results_list_names_complete_and_incomplete_ensembles(tmp_path: Path) -> None:
    store = tmp_path / "r.duckdb"
    with Store(store) as db:
        first = db.ensemble("a", "{}", 0, 2, False, "2026-01-01")
        rows = pd.DataFrame({"run": [0], "year": [2024], "metric": ["m"], "key": ["k"],
                             "value": [1.0]})  # fmt: skip
        db.write_runs(first, [(r, {}, rows.assign(run=r), 0.1, None) for r in (0, 1)])
        db.ensemble("b", "{}", 3, 5, False, "2026-01-02")
    listed = json.loads(run("results", "list", "--store", str(store), "--json").stdout)
    assert [(e["scenario"], e["runs stored"], e["status"]) for e in listed] == [
        ("a", 2, "complete"),
        ("b", 0, "incomplete (rareflow run SCENARIO --resume)"),
    ]


def test_tables_never_break_a_word(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame(
        {"scenario": ["alliance-buildout"], "created": ["2026-11-30T19:03:19+00:00"],
         "value": [-1.75e-15], "share": [66.789123]}
    )  # fmt: skip
    for width, vertical in ((120, False), (50, True)):
        console = Console(width=width, record=True)
        monkeypatch.setattr(output, "console", console)
        output.print_frame(frame, title="t")
        text = console.export_text()
        assert "alliance-buildout" in text and "2026-11-30T19:03:19+00:00" in text
        assert ("scenario: alliance-buildout" in text) is vertical


def test_exports_carry_units_scenario_and_seed(tmp_path: Path) -> None:
    short = tmp_path / "short.yaml"
    short.write_text("name: short\nextends: baseline\nhorizon: {start: 2024, end: 2025}\n")
    store = str(tmp_path / "r.duckdb")
    assert run("run", str(short), "--runs", "2", "--seed", "7", "--workers", "1", "--store",
               store, "--detail").returncode == 0  # fmt: skip
    for fmt in ("parquet", "csv", "netcdf"):
        done = run("results", "export", str(tmp_path / fmt), "--format", fmt, "--store", store)
        assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq
    import xarray as xr

    table = pq.read_table(tmp_path / "parquet" / "ensemble1_results.parquet")
    meta = json.loads(table.schema.metadata[b"rareflow"])
    assert (meta["scenario"], meta["seed"], meta["runs_stored"]) == ("short", 7, 2)
    assert meta["draws"] == "common-random-numbers-1"  # runs pair with other ensembles' runs
    assert meta["units"]["price_CN_usd_per_kg"] == "USD/kg"
    assert meta["scenario_document"]["horizon"] == {"start": 2024, "end": 2025}
    csv = pd.read_csv(tmp_path / "csv" / "ensemble1_results.csv")
    assert set(csv.loc[csv["metric"] == "subsidy_musd", "unit"]) == {"million USD/yr"}
    assert (tmp_path / "csv" / "ensemble1_metadata.json").is_file()
    with xr.open_dataset(tmp_path / "netcdf" / "ensemble1.nc", engine="h5netcdf") as data:
        price = data["price_JP_usd_per_kg"]
        assert price.attrs["units"] == "USD/kg" and price.dims == ("run", "year", "element")
        assert {"NdPr", "Dy", "Tb"} <= set(price["element"].values)
        assert data["china_share_pct"].dims == ("run", "year", "stage")
        assert data["subsidy_musd"].dims == ("run", "year")
        wedge = data["price_JP_usd_per_kg"] / data["price_CN_usd_per_kg"]  # aligned by element
        assert wedge.dims == ("run", "year", "element")
        assert data.attrs["scenario"] == "short" and data.attrs["seed"] == "7"
        assert data["parameters"].sizes["run"] == 2
        separated = data["separation_country_t"]
        assert separated.dims == ("run", "year", "separation_country_t_place", "element")
        assert separated.attrs["units"] == "t oxide separated"
    flows = pd.read_csv(tmp_path / "csv" / "ensemble1_trajectories.csv")
    assert {"trade_oxide_t", "magnet_facility_t"} <= set(flows["measure"])
    assert set(flows.loc[flows["measure"] == "metal_country_t", "unit"]) == {"t metal"}
