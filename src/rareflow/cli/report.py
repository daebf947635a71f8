"""``rareflow report``: HTML reports of an ensemble, a cascade, a compliance check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from rareflow.cli.cascade import solved_cascade
from rareflow.cli.comply import (
    DateOption,
    DestinationOption,
    LinkRun,
    LinkScenario,
    LinkSeed,
    ReadingOption,
    RegimesOption,
    assess,
)
from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, fail, print_json
from rareflow.cli.run import DEFAULT_STORE, StoreOption
from rareflow.report.cascade import cascade_flow_figure, stage_profile_figure
from rareflow.report.comply import comply_page
from rareflow.report.ensemble import FLOW_ELEMENTS, ensemble_page, read_ensemble
from rareflow.report.page import Page
from rareflow.simulate.store import StoreError

report_app = typer.Typer(
    help="Self-contained HTML reports: an ensemble (default), a cascade, a compliance check.",
    invoke_without_command=True,
    no_args_is_help=False,
)
Output = Annotated[Path, typer.Option("--output", "-o", help="HTML file to write.")]


def _write(page: Page, output: Path, as_json: bool) -> None:
    try:
        output.write_text(page.render(), encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}")
    size = output.stat().st_size
    if as_json:
        print_json({"file": str(output), "bytes": size, "sections": [t for _, t in page.sections]})
        return
    console.print(f"wrote {output} ({size / 1e6:.1f} MB)", highlight=False)


@report_app.callback()
def ensemble_report(
    ctx: typer.Context,
    ensemble: Annotated[int | None, typer.Option(help="Ensemble id (default: latest).")] = None,
    compare: Annotated[
        int | None, typer.Option(help="Another ensemble id: differences, paired by run.")
    ] = None,
    store: StoreOption = DEFAULT_STORE,
    year: Annotated[
        int | None,
        typer.Option(min=1900, max=2100, help="Year of the flow Sankeys (default: horizon end)."),
    ] = None,
    flows: Annotated[
        str, typer.Option(help="Elements of the Sankeys, comma-separated: NdPr, Dy, Tb.")
    ] = "NdPr,Dy",
    output: Output = Path("report.html"),
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Fan charts, independence years, flows, levers and sources of a stored ensemble."""
    if ctx.invoked_subcommand is not None:
        return
    elements = [e.strip() for e in flows.split(",") if e.strip()]
    unknown = [e for e in elements if e not in FLOW_ELEMENTS]
    if unknown or not elements:
        fail(f"--flows {flows!r}: expected a comma-separated list of {', '.join(FLOW_ELEMENTS)}")
    if not store.is_file():
        fail(f"no results store at {store}; run an ensemble first (rareflow run SCENARIO)")
    try:
        stored = read_ensemble(store, ensemble)
        other = read_ensemble(store, compare) if compare is not None else None
    except StoreError as error:
        fail(str(error))
    dataset = load(data)
    try:
        page = ensemble_page(stored, dataset, other, year, elements)
    except ValueError as error:
        fail(str(error))
    _write(page, output, as_json)


@report_app.command("cascade")
def cascade_report(
    file: Annotated[Path, typer.Argument(help="Cascade YAML (format in docs/process.md).")],
    output: Output = Path("cascade.html"),
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Products, solver report, stage profiles and the flow diagram of a cascade."""
    cascade, label, solution = solved_cascade(file, data)
    solver = solution.report
    page = Page(
        f"Cascade {file.name}",
        f"{cascade.stages} stages (n = {cascade.n}, m = {cascade.m}), S = {cascade.extractant:g}, "
        f"W = {cascade.scrub:g}, {cascade.feed_phase} feed; separation factors: {label}",
    )
    page.section("Products")
    summary = solution.summary()
    for column in summary.columns[1:]:  # trace impurities matter: full precision, no rounding
        summary[column] = [f"{value:.6g}" for value in summary[column]]
    page.table(summary, "Per component: feed, product compositions, recoveries, closure")
    page.table(
        pd.DataFrame(
            [
                {
                    "method": solver.method,
                    "iterations": solver.iterations,
                    "residual": f"{solver.residual:.2g}",
                    "largest closure": f"{float(solution.closure.max()):.2g}",
                }
            ]
        ),
        "Solver",
    )
    for warning in solver.warnings:  # as the command line and the dashboard show them
        page.text(f"Warning: {warning}")
    page.section("Flow diagram")
    page.figure(cascade_flow_figure(solution))
    page.section("Stage profiles")
    page.figure(stage_profile_figure(solution))
    _write(page, output, as_json)


@report_app.command("comply")
def comply_report(
    bom: Annotated[Path, typer.Argument(help="YAML bill of materials with shipments.")],
    output: Output = Path("comply.html"),
    on: DateOption = None,
    destination: DestinationOption = None,
    option: ReadingOption = None,
    regimes: RegimesOption = None,
    scenario: LinkScenario = "baseline",
    run: LinkRun = 0,
    seed: LinkSeed = 0,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """The verdict of each shipment with every limb, the item tree and the audit hashes."""
    document, record = assess(bom, on, destination, option, regimes, scenario, run, seed, data)
    _write(comply_page(document, record, bom.name), output, as_json)
