"""``rareflow data``: check, show and query the dataset (bundled or with a user's overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from rareflow.cli.output import (
    console,
    errors,
    fail,
    frame_records,
    print_frame,
    print_json,
)
from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.loader import bundled_data_dir, check_dataset, load_dataset
from rareflow.dataset.shares import STAGE_NAMES, StageShares, stage_shares

data_app = typer.Typer(help="Check, show and query the dataset.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Directory of your own CSV/YAML files that override or extend the bundled tables.",
        file_okay=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (shape in docs/cli.md).")]
HEADLINE_STAGES = ("mining", "separation", "magnet")
SHOWN_COLUMNS = 7
DISPLAY_COLUMNS = {
    "facilities": ("id", "country", "stages", "status", "start_year", "heavy_ree", "kind"),
    "facility_capacities": ("facility", "stage", "product", "capacity", "basis", "year"),
    "mine_production": ("country", "year", "edition", "mine_production_t_reo", "estimated"),
    "ore_types": ("id", "country", "La_pct", "Ce_pct", "Pr_pct", "Nd_pct", "Dy_pct", "Y_pct"),
    "prices": ("product", "year", "price_usd_per_kg", "purity_pct", "edition"),
    "separation_factors": ("extractant", "medium", "more_extracted", "less_extracted", "beta",
                           "kind", "default"),
    "sources": ("id", "publisher", "year", "quality"),
    "policies": ("id", "date", "jurisdiction", "kind", "title"),
}  # fmt: skip
"""Columns printed by default for wide tables (all columns with --json or --columns)."""


def load(data_dir: Path | None, as_json: bool = False) -> Dataset:
    """Load the dataset or exit with every problem listed (exit code 1); with a user's data,
    warn (on stderr) when it moves the base year's calibrated magnet demand."""
    dataset, issues = check_dataset(data_dir)
    if dataset is not None:
        if data_dir is not None and dataset.market is not None:
            _warn_demand_shift(dataset)
        return dataset
    if as_json:
        print_json({"valid": False, "problems": [i.to_dict() for i in issues]})
        raise SystemExit(1)
    for issue in issues:
        errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
    fail(
        f"{len(issues)} problem{'s' if len(issues) != 1 else ''} in the dataset; nothing was loaded"
    )


def _warn_demand_shift(dataset: Dataset) -> None:
    from rareflow.market.world_data import magnet_demand_shift

    try:
        shift = magnet_demand_shift(dataset, load_dataset())
    except (ValueError, KeyError, ArithmeticError):
        return  # a world the market cannot build says so where it is built
    if abs(shift - 1) > 0.005:
        errors.print(
            f"warning: your data change the base year's magnet demand by {100 * (shift - 1):+.1f}"
            " %: it is calibrated on the base year's Nd + Pr supply (docs/market.md), so a change "
            "in mine output or recycling moves demand with it. To model a supply cut against the "
            "same demand, keep the base year's data and use a scenario lever (a quota, a ban, a "
            "crackdown).",
            markup=False, highlight=False, soft_wrap=True,
        )  # fmt: skip


@data_app.command("check")
def check(data: DataDir = None, as_json: JsonFlag = False) -> None:
    """Validate the dataset and print a summary, or every problem found (exit code 1)."""
    dataset = load(data, as_json)
    summary = dataset.summary()
    if as_json:
        print_json(
            {
                "valid": True,
                "usgs_edition": dataset.manifest.usgs_edition,
                "data_dirs": [str(bundled_data_dir()), *([str(data)] if data else [])],
                "tables": frame_records(summary),
            }
        )
        return
    console.print(
        f"[bold green]dataset valid[/]: {len(summary)} tables, "
        f"{len(dataset.sources)} sources, USGS edition pinned: "
        f"{dataset.manifest.usgs_edition.upper()}"
    )
    print_frame(summary[["table", "rows", "description"]], title="Tables")


@data_app.command("show")
def show(
    table: Annotated[str, typer.Argument(help="Table name, e.g. facilities, ore_types, elements.")],
    data: DataDir = None,
    as_json: JsonFlag = False,
    limit: Annotated[
        int | None,
        typer.Option(min=0, help="Rows to print (0 = all; default 40, with --json all)."),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to print (default: the first few).")
    ] = None,
) -> None:
    """Print one table (tables: see 'rareflow data check'; also 'elements')."""
    dataset = load(data)
    frame = _table_frame(dataset, table)
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in wanted if c not in frame.columns]
        if unknown:
            fail(f"unknown column(s) {', '.join(unknown)}; {table} has {', '.join(frame.columns)}")
        frame = frame[wanted]
    if as_json:
        rows = frame_records(frame.head(limit) if limit else frame)  # None or 0: all
        print_json({"table": table, "rows": rows, "total_rows": len(frame)})
        return
    shown = (
        list(frame.columns)
        if columns
        else [c for c in DISPLAY_COLUMNS.get(table, frame.columns[:SHOWN_COLUMNS]) if c in frame]
    )
    hidden = [c for c in frame.columns if c not in shown]
    print_frame(frame[shown], title=table, limit=(40 if limit is None else limit) or None)
    if hidden:
        console.print(f"{len(hidden)} more columns: {', '.join(hidden)} (use --columns or --json)")


def _table_frame(dataset: Dataset, table: str) -> pd.DataFrame:
    if table == "elements":
        return dataset.elements_table()
    if table == "sources":
        return pd.DataFrame([{"id": k, **v.model_dump()} for k, v in dataset.sources.items()])
    if table == "policies":
        return pd.DataFrame([e.model_dump() for e in dataset.policies])
    if table == "country_groups":
        return pd.DataFrame(
            [
                {"id": k, **g.model_dump(), "members": dataset.countries_in_group(k)}
                for k, g in dataset.country_groups.items()
            ]
        )
    try:
        return dataset.table(table)
    except DataQueryError as exc:
        fail(f"{exc}, elements")


@data_app.command("source")
def source(
    source_id: Annotated[str, typer.Argument(help="A source id, as in a table's source column.")],
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Print one citation and the tables that use it."""
    dataset = load(data)
    try:
        citation = dataset.source(source_id)
    except DataQueryError as exc:
        fail(f"{exc}; list them with 'rareflow data show sources'")
    used_by = _uses(dataset, source_id)
    if as_json:
        print_json({"id": source_id, **citation.model_dump(), "used_by": used_by})
        return
    console.print(f"[bold]{source_id}[/]")
    for key, value in citation.model_dump().items():
        if value is not None:
            console.print(f"  {key}: {value}", highlight=False, markup=False)
    console.print("  used by: " + (", ".join(f"{t} ({n} rows)" for t, n in used_by.items()) or "-"))


def _uses(dataset: Dataset, source_id: str) -> dict[str, int]:
    counts = {
        name: int(frame["source"].map(lambda ids: source_id in ids).sum())
        for name, frame in dataset.tables.items()
    }
    counts["policies"] = sum(source_id in e.source for e in dataset.policies)
    return {name: n for name, n in counts.items() if n}


@data_app.command("shares")
def shares(
    stage: Annotated[
        str | None,
        typer.Option(help=f"Stage: {', '.join(STAGE_NAMES)}. Default: mining, separation, magnet."),
    ] = None,
    year: Annotated[int, typer.Option(min=1900, max=2100, help="Year of the shares.")] = 2024,
    edition: Annotated[
        str | None, typer.Option(help="USGS edition for country tables (default: the pinned one).")
    ] = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
    details: Annotated[bool, typer.Option(help="Also print each facility's contribution.")] = False,
) -> None:
    """Shares by country of a stage of the chain, computed from the dataset."""
    dataset = load(data)
    stages = [stage] if stage else list(HEADLINE_STAGES)
    results = []
    for name in stages:
        try:
            results.append(stage_shares(dataset, name, year, edition))
        except DataQueryError as exc:
            fail(str(exc))
    if as_json:
        payload: Any = [r.to_dict() for r in results]
        print_json(payload[0] if stage else {"year": year, "stages": payload})
        return
    for result in results:
        _print_shares(result, details)


def _print_shares(result: StageShares, details: bool) -> None:
    frame = result.table.head(8).copy()
    rest = result.table.iloc[8:]
    if not rest.empty:
        frame.loc[len(frame)] = [
            "...",
            f"{len(rest)} others",
            rest["amount"].sum(),
            rest["share_pct"].sum(),
        ]
    frame["amount"] = frame["amount"].astype(float).round(0)
    frame["share_pct"] = frame["share_pct"].astype(float).round(1)
    frame = frame.rename(columns={"amount": result.unit, "share_pct": "share %"})
    print_frame(frame, title=f"{result.stage} {result.year}: shares by country")
    console.print(f"  basis: {result.basis}", highlight=False, markup=False)
    if result.world_total:
        china = result.table.loc[result.table["country"] == "CN", "amount"].sum()
        console.print(
            f"  USGS world total {result.world_total:,.0f}; China = "
            f"{100 * china / result.world_total:.1f} % of it",
            highlight=False,
        )
    if not result.references.empty:
        refs = result.references
        cn = refs[refs["region"] == "CN"]
        text = "; ".join(
            f"{r.share_pct:g} % ({r.year}, {r.kind}, {r.source})" for r in cn.itertuples()
        )
        if text:
            console.print(f"  published China shares: {text}", highlight=False, markup=False)
    if result.excluded:
        console.print(f"  not counted: {len(result.excluded)} facilities (see --details)")
    if details:
        if not result.contributions.empty:
            print_frame(result.contributions, title="contributions")
        for line in result.excluded:
            console.print(f"  excluded {line}", highlight=False, markup=False)
    console.print()
