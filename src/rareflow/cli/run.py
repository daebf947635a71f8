"""``rareflow run``: ensembles of a scenario; ``rareflow results``: headline tables and exports;
``rareflow scenario``: list, show and check scenarios."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import (
    console,
    counted,
    errors,
    fail,
    frame_records,
    print_frame,
    print_json,
)
from rareflow.dataset.errors import DataValidationError
from rareflow.metrics import headline, independence
from rareflow.report.ensemble import compact_headline, paired, read_ensemble
from rareflow.report.page import readable
from rareflow.scenario.loader import load_scenario
from rareflow.simulate.ensemble import EnsembleSpec, run_ensemble
from rareflow.simulate.store import Store, StoreError
from rareflow.simulate.world import ScenarioError, build_market

results_app = typer.Typer(
    help="Results of ensembles in a store: headline tables, exports.", no_args_is_help=True
)

StoreOption = Annotated[Path, typer.Option("--store", help="DuckDB results file.")]
DEFAULT_STORE = Path("rareflow-results.duckdb")


def scenario_or_fail(name: str, data: Path | None) -> Any:
    """The scenario as runs see it (costed candidates priced), checked against the dataset;
    exit 1 with every problem."""
    try:
        scenario = build_market(load(data), load_scenario(name), name).scenario
    except DataValidationError as error:
        for issue in error.issues:
            errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        fail(f"{counted(len(error.issues), 'problem')} in scenario {name!r}; nothing was run")
    except ScenarioError as error:
        errors.print(str(error), markup=False, highlight=False, soft_wrap=True)
        count = len(str(error).splitlines())
        fail(
            f"{counted(count, 'problem')} in scenario {name!r} against the dataset; nothing was run"
        )
    return scenario


def run_command(
    scenario: Annotated[str, typer.Argument(help="Built-in name (baseline, ...) or YAML file.")],
    runs: Annotated[int, typer.Option(min=1, help="Number of runs.")] = 20,
    seed: Annotated[int, typer.Option(help="Seed of the ensemble.")] = 0,
    workers: Annotated[int, typer.Option(min=1, help="Local Dask worker processes.")] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler (tcp://host:port).")
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    resume: Annotated[bool, typer.Option(help="Continue the store's unfinished ensemble.")] = False,
    detail: Annotated[
        bool,
        typer.Option(help="Also store output by country and facility and trade by lane."),
    ] = False,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Run an ensemble of SCENARIO on Dask into the results store, then print the headline."""
    parsed = scenario_or_fail(scenario, data)
    spec = EnsembleSpec(
        scenario, runs, seed, store, workers, scheduler, resume, str(data) if data else None,
        detail,
    )  # fmt: skip
    try:
        if sys.stderr.isatty() and not as_json:
            columns = (
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )
            with Progress(*columns, console=errors) as progress:
                task = progress.add_task(f"{scenario}", total=runs)
                ensemble = run_ensemble(spec, lambda done, _: progress.update(task, completed=done))
        else:
            ensemble = run_ensemble(
                spec, lambda done, total: errors.print(f"stored run {done}/{total}")
            )
    except (StoreError, RuntimeError) as error:
        fail(str(error))
    _headline(store, ensemble, parsed.measure.elements, parsed.measure.thresholds_pct, as_json)


def _headline(
    store: Path, ensemble: int | None, elements: list[str], thresholds: list[float], as_json: bool
) -> None:
    try:
        with Store(store, read_only=True) as db:
            ensemble = db.latest() if ensemble is None else ensemble
            ensembles = db.ensembles().set_index("id")
            if ensemble not in ensembles.index:
                held = ", ".join(str(i) for i in ensembles.index) or "none"
                fail(f"no ensemble {ensemble} in {store}; it holds {held}")
            results = db.results(ensemble)
    except StoreError as error:
        fail(str(error))
    info = ensembles.loc[ensemble]
    table = headline(results, elements, thresholds)
    years = independence(results, elements, thresholds)
    if as_json:
        print_json(
            {
                "ensemble": int(ensemble),
                "scenario": info["scenario"],
                "runs": int(info["done"]),
                "store": str(store),
                "headline": frame_records(table),
                "independence": frame_records(years),
            }
        )
        return
    console.print(
        f"[bold]{info['scenario']}[/]: {int(info['done'])} runs, ensemble {ensemble} in {store}"
    )
    compact = compact_headline(results, elements, thresholds)
    for key, part in compact.groupby("element", sort=False):
        print_frame(
            part.drop(columns="element"),
            title=f"{key}: median [10-90 % band] across runs, by year band",
        )
    shown = years.copy()
    for column in ("median_year", "p10_year", "p90_year"):  # whole years; "never" if no run
        shown[column] = [str(round(v)) if v == v else "never" for v in shown[column]]
    shown["probability_%"] = [readable(v) for v in shown["probability_%"]]
    print_frame(shown, title="Year of independence (self-sufficiency from then on)")


@results_app.command("show")
def show_command(
    store: StoreOption = DEFAULT_STORE,
    ensemble: Annotated[int | None, typer.Option(help="Ensemble id (default: latest).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The headline table of an ensemble in the store."""
    try:
        with Store(store, read_only=True) as db:
            ensemble = db.latest() if ensemble is None else ensemble
            measure = db.scenario_json(ensemble).get("measure", {})
    except StoreError as error:
        fail(str(error))
    assert isinstance(measure, dict)
    _headline(
        store,
        ensemble,
        list(measure.get("elements", ["NdPr", "Dy", "Tb"])),
        list(measure.get("thresholds_pct", [50.0, 100.0])),
        as_json,
    )


@results_app.command(
    "compare", short_help="What an ensemble changes against a base, run by run: median and band."
)
def compare_command(
    ensemble: Annotated[int, typer.Argument(help="Ensemble id (the variant).")],
    base: Annotated[int, typer.Argument(help="Ensemble id to subtract (e.g. the baseline).")],
    store: StoreOption = DEFAULT_STORE,
    as_json: JsonFlag = False,
) -> None:
    """What ENSEMBLE changes against BASE, run by run: median and 10-90 % band of the runs'
    differences (each run's mean over a year band), runs paired by index."""
    try:
        stored, other = read_ensemble(store, ensemble), read_ensemble(store, base)
        delta, common = paired(stored, other)
    except ValueError as error:  # StoreError included: a missing ensemble, another seed
        fail(str(error))
    paired_runs = int(delta["run"].nunique())
    if paired_runs == 0:
        fail(f"ensembles {ensemble} and {base} have no run index in common")
    elements, thresholds = stored.elements, stored.thresholds
    label = f"{stored.scenario} (#{ensemble}) minus {other.scenario} (#{base})"
    note = (
        "runs share their draws (common random numbers): each difference is the variant's effect"
        if common else "WARNING: an ensemble was stored before draws were common random numbers; "
        "its runs are not paired with the other's, so the bands mix the effect with draw noise"
    )  # fmt: skip
    if as_json:
        table = headline(delta, elements, thresholds)
        print_json({"ensemble": ensemble, "base": base, "label": label,
                    "runs_paired": paired_runs, "common_random_numbers": common,
                    "difference": frame_records(table)})  # fmt: skip
        return
    console.print(f"[bold]{label}[/]: {paired_runs} runs paired by index")
    (console if common else errors).print(note, markup=False, highlight=False)
    compact = compact_headline(delta, elements, thresholds)
    for key, part in compact.groupby("element", sort=False):
        print_frame(
            part.drop(columns="element"),
            title=f"{key}: difference, median [10-90 % band] of the runs' differences",
        )


@results_app.command("list")
def results_list_command(store: StoreOption = DEFAULT_STORE, as_json: JsonFlag = False) -> None:
    """The ensembles in a store: scenario, seed, runs asked and stored, status."""
    try:
        with Store(store, read_only=True) as db:
            table = db.ensembles()
            writing = db.running()
    except StoreError as error:
        fail(str(error))
    table["status"] = [
        "running" if ensemble == writing else "complete" if done >= runs
        else "incomplete (rareflow run SCENARIO --resume)"
        for ensemble, done, runs in zip(table["id"], table["done"], table["runs"], strict=True)
    ]  # fmt: skip
    table = table.rename(columns={"id": "ensemble", "runs": "runs asked", "done": "runs stored"})
    if as_json:
        print_json(frame_records(table))
        return
    print_frame(table, title=f"Ensembles in {store}")


@results_app.command(
    "export", short_help="Write an ensemble's yearly results and drawn parameters to files."
)
def export_command(
    out: Annotated[Path, typer.Argument(help="Directory to write to.")],
    fmt: Annotated[str, typer.Option("--format", help="parquet, csv or netcdf")] = "parquet",
    store: StoreOption = DEFAULT_STORE,
    ensemble: Annotated[int | None, typer.Option(help="Ensemble id (default: latest).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write an ensemble's yearly results and drawn parameters to files, with units and
    metadata."""
    try:
        with Store(store, read_only=True) as db:
            files = db.export(out, fmt, ensemble)
    except StoreError as error:
        fail(str(error))
    if as_json:
        print_json({"files": [str(path) for path in files]})
        return
    for path in files:
        console.print(str(path))
