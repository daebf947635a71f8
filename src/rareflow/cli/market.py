"""``rareflow market``: clear one year of the world market; compare it with published figures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, errors, fail, frame_records, print_frame, print_json
from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataIssue, DataValidationError
from rareflow.dataset.levers import Levers
from rareflow.market import history
from rareflow.market.calibration import calibration_table
from rareflow.market.clearing import Clearing
from rareflow.market.intervals import price_intervals
from rareflow.market.network import MarketDataError
from rareflow.market.results import MarketResult
from rareflow.market.scenario import check_levers, read_scenario
from rareflow.plain import jsonable

market_app = typer.Typer(
    help="Clear the world market of one year (LP on HiGHS).", no_args_is_help=True
)

Year = Annotated[
    int | None,
    typer.Option(min=1900, max=2100, help="Year to clear (default: market.yaml base year)."),
]
Scenario = Annotated[
    Path | None, typer.Option("--scenario", help="YAML file of levers (see docs/market.md).")
]
GROUPS = {"china": "China", "us_japan_australia": "US-Japan-Australia", "eu": "EU"}


def _problems(issues: list[DataIssue], as_json: bool) -> None:
    if as_json:
        print_json({"valid": False, "problems": [i.to_dict() for i in issues]})
        raise SystemExit(1)
    for issue in issues:
        errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    fail(f"{len(issues)} problem{'s' if len(issues) != 1 else ''} in the scenario; nothing was run")


def _clear(
    dataset: Dataset, year: int | None, scenario: Path | None, as_json: bool
) -> tuple[Clearing, MarketResult]:
    levers, label = Levers(), "levers"
    lines: dict[str, int | None] = {}
    if scenario is not None:
        try:
            parsed, label, lines = read_scenario(scenario)
        except DataValidationError as error:
            _problems(error.issues, as_json)
        levers = parsed.levers
        year = year if year is not None else parsed.year
    try:
        clearing = Clearing.from_dataset(dataset, year, levers)
    except MarketDataError as error:
        fail(str(error))
    issues = check_levers(clearing.world, levers, label, lines)
    if issues:
        _problems(issues, as_json)
    return clearing, clearing.solve()


def _group_of(result: MarketResult) -> dict[str, str]:
    mapping = {}
    for code, ids in result.groups.items():
        mapping[code] = next(
            (name for group, name in GROUPS.items() if group in ids), "Rest of world"
        )
    return mapping


@market_app.command("clear")
def clear_command(
    year: Year = None,
    scenario: Scenario = None,
    data: DataDir = None,
    intervals: Annotated[
        bool,
        typer.Option(
            "--price-intervals",
            help="Also give each price's interval where the LP leaves it undetermined "
            "(two re-solves per price; docs/market.md).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Production, trade between country groups, prices, unmet demand and China's shares."""
    dataset = load(data, as_json)
    clearing, result = _clear(dataset, year, scenario, as_json)
    groups = _group_of(result)
    trade = result.trade(by=groups)
    ranges = price_intervals(clearing.model) if intervals else None
    base_year = dataset.market.base_year if dataset.market is not None else result.year
    note = history.anchor_note(dataset, result.year, base_year, clearing.world.elements)
    if as_json:
        payload: dict[str, Any] = result.to_dict()
        payload["notes"] = [note] if note else []
        payload["trade_between_groups"] = frame_records(trade)
        if ranges is not None:
            # an unbounded end (no t can be used or brought in) is null
            payload["price_intervals"] = [
                jsonable(row, finite=True) for row in ranges.to_dict(orient="records")
            ]
        print_json(payload)
        return
    console.print(
        f"[bold]World market {result.year}[/]  welfare {result.welfare_musd:,.0f} MUSD, "
        f"max imbalance {result.balance['residual_t'].abs().max():.1e} t"
    )
    if note:
        console.print(f"[yellow]note:[/] {note}")
    production = result.production()
    production["group"] = production["location"].map(groups)
    summary = production.pivot_table(index="stage", columns="group", values="t", aggfunc="sum")
    print_frame(summary.fillna(0.0).reset_index(), title="Production by stage and group, t")
    print_frame(result.shares(), title="China's share of each stage, %")
    print_frame(_price_table(result), title="Prices in China and outside, USD/kg")
    if ranges is not None:
        _print_intervals(ranges)
    print_frame(trade, title="Trade between country groups, t", limit=15)
    unmet = result.demand.groupby(["region", "end_use"])[
        ["reference_t", "served_t", "unmet_t"]
    ].sum()
    print_frame(unmet.reset_index(), title="Demand by region and end use, t")
    if len(result.subsidies):
        print_frame(result.subsidies, title="Subsidies")


def _print_intervals(ranges: pd.DataFrame) -> None:
    """The prices the LP leaves open, widest (relative to the price) first."""
    open_ = ranges[~ranges["determined"]].copy()
    console.print(
        f"{len(ranges) - len(open_)} of {len(ranges)} prices determined; the others lie anywhere "
        "in [low, high] (the reported one is the tie-break's choice; high is inf where no t can "
        "be brought in)",
        markup=False,
    )
    if open_.empty:
        return
    width = (open_["high"] - open_["low"]) / open_["usd_per_kg"].abs().clip(lower=1e-9)
    open_ = open_.assign(width=width).sort_values("width", ascending=False)
    columns = ["commodity", "item", "location", "track", "usd_per_kg", "low", "high"]
    print_frame(open_[columns], title="Prices the LP leaves undetermined, USD/kg", limit=25)


def _price_table(result: MarketResult) -> pd.DataFrame:
    prices = result.prices[result.prices["track"] == 0]
    rows = []
    for (commodity, item), frame in prices.groupby(["commodity", "item"], sort=False):
        by_place = frame.set_index("location")["usd_per_kg"]
        rows.append(
            {
                "commodity": commodity,
                "item": item,
                "China": by_place.get("CN", float("nan")),
                "US": by_place.get("US", float("nan")),
                "Japan": by_place.get("JP", float("nan")),
                "EU (DE)": by_place.get("DE", float("nan")),
            }
        )
    return pd.DataFrame(rows)


@market_app.command("calibrate")
def calibrate_command(
    data: DataDir = None,
    as_json: JsonFlag = False,
    markdown: Annotated[bool, typer.Option(help="Print the table as Markdown.")] = False,
) -> None:
    """Base-year model against published production, China's shares and prices."""
    dataset = load(data, as_json)
    _, result = _clear(dataset, None, None, as_json)
    table = calibration_table(dataset, result)
    if as_json:
        print_json({"year": result.year, "checks": frame_records(table)})
        return
    if markdown:
        sys.stdout.write(_markdown(table) + "\n")
        return
    print_frame(table, title=f"Calibration {result.year}")
    failed = int((~table["ok"]).sum())
    console.print(f"{len(table) - failed} of {len(table)} checks within bounds")
    if failed:
        raise SystemExit(1)


def _markdown(table: pd.DataFrame) -> str:
    lines = ["| check | model | target | bound | within | source |", "|---|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(
            f"| {row.check} | {row.model:,.6g} | {row.target:,.6g} | {row.bound} | "
            f"{'yes' if row.ok else 'NO'} | {row.source} |"
        )
    return "\n".join(lines)
