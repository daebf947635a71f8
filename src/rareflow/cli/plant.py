"""``rareflow plant``: capex of new plants, its calibration on real projects, lead times, and
the two claims about new plants (cost and time; China's cost advantage)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

import pandas as pd
import typer

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, fail, print_frame, print_json
from rareflow.dataset.dataset import DataQueryError
from rareflow.dataset.documents import PlantScope, Site
from rareflow.process.calibration import calibrate_capex, flowsheet_of
from rareflow.process.capex import plant_capex, process_costs
from rareflow.process.claims import CLAIMED_CAPEX_USD, cost_ratio_claim, new_plant_claim
from rareflow.process.cost import opex_checks
from rareflow.process.leadtime import lead_time
from rareflow.process.theory import SpecError

plant_app = typer.Typer(
    help="Capex and lead times of new plants, calibrated on published projects.",
    no_args_is_help=True,
)
OreOption = Annotated[str, typer.Option(help="Ore type id of the dataset (the plant's feed).")]
YearOption = Annotated[int, typer.Option(help="Year of the dollars (CEPCI).")]
RegionsOption = Annotated[
    str, typer.Option(help="Comma-separated region codes of process_costs.yaml.")
]


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        fail(f"{option} {value!r} is not one of {', '.join(allowed)}")
    return value


def _regions(text: str) -> tuple[str, ...]:
    regions = tuple(r.strip() for r in text.split(",") if r.strip())
    if not regions:
        fail("--regions needs at least one region code, e.g. US,AU")
    return regions


def _musd(value: float) -> str:
    return f"{value / 1e6:,.0f}"


@plant_app.command("calibrate")
def calibrate(data: DataDir = None, as_json: JsonFlag = False) -> None:
    """Fit the capex model on the calibration projects; show every project's fit."""
    dataset = load(data)
    try:
        result = calibrate_capex(dataset)
        opex = opex_checks(dataset)
    except (SpecError, DataQueryError) as exc:
        fail(str(exc))
    if as_json:
        print_json({**result.to_dict(), "opex_checks": opex})
        return
    rows = [
        {"project": r["project"], "role": r["role"], "where": r["location"],
         "year": r["cost_year"], "scope": r["scope"] + ("+" if not r["in_scope"] else ""),
         "t REO/yr": f"{r['capacity_t_reo_per_yr']:,.0f}", "published US$M":
         _musd(r["published_usd"]), "model US$M": _musd(r["model_usd"]),
         "model/published": f"{r['ratio']:.2f}", "boxes": r["mixer_settler_boxes"]}
        for r in result.rows
    ]  # fmt: skip
    print_frame(pd.DataFrame(rows), title="Capex of published projects (USD of their year)")
    scores = result.scores()
    for role in ("calibration", "check"):
        score = scores[role]
        value = score["rms_log_error"]
        shown = "-" if value is None else f"{value:.2f}"
        console.print(f"  RMS log error, {role}: {shown} (n = {score['n']})", highlight=False)
    console.print(
        f"  fitted: box_cost_factor {result.box_cost_factor:.3g}, cracking_reference_usd "
        f"{result.cracking_reference_usd:,.3g} (in the dataset: "
        f"{result.stored['box_cost_factor']:.3g}, {result.stored['cracking_reference_usd']:,.3g})",
        highlight=False,
    )
    console.print("  scope+: the published figure covers more (a mine, an acid plant); "
                  "not in the check score", highlight=False)  # fmt: skip
    if opex:
        table = [{"project": r["project"], "where": r["location"], "year": r["cost_year"],
                  "published": r["published_usd_per_kg_reo"],
                  "published reagents": r["published_reagents"],
                  "model": r["model_cash_usd_per_kg_reo"], "model reagents": r["model_reagents"]}
                 for r in opex]  # fmt: skip
        print_frame(
            pd.DataFrame(table).round(2),
            title="Operating cost of published projects, USD/kg REO (model: without the "
            "capital charge)",
        )
        console.print("  the model prices today's reagents, labour and power in the project's "
                      "region, not the study's", highlight=False)  # fmt: skip


@plant_app.command("capex")
def capex(
    ore: OreOption,
    capacity: Annotated[float, typer.Option(help="Plant feed, t REO per year.")] = 10000.0,
    region: Annotated[str, typer.Option(help="Region code of process_costs.yaml.")] = "US",
    scope: Annotated[str, typer.Option(help="separation, cracking or integrated.")] = "separation",
    site: Annotated[str, typer.Option(help="greenfield or brownfield (lead time).")] = "greenfield",
    new_mine: Annotated[bool, typer.Option(help="Count a new mine's permitting.")] = False,
    flows: Annotated[bool, typer.Option(help="Print every split's flows, O/A and boxes.")] = False,
    year: YearOption = 2024,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Capex by item and lead time of one new plant."""
    chosen_scope: PlantScope = _choice(scope, get_args(PlantScope), "--scope")  # type: ignore[assignment]
    chosen_site: Site = _choice(site, get_args(Site), "--site")  # type: ignore[assignment]
    dataset = load(data)
    try:
        sheet = flowsheet_of(dataset, ore)
        result = plant_capex(sheet, dataset, region, capacity, chosen_scope, year)
        lead = lead_time(process_costs(dataset), chosen_scope, chosen_site, region, new_mine)
    except (SpecError, DataQueryError) as exc:
        fail(str(exc))
    if as_json:
        print_json({"capex": result.to_dict(), "lead_time": lead.to_dict()})
        return
    console.print(
        f"[bold]{ore}[/], {capacity:,.0f} t REO/yr, {scope} in {region}: "
        f"US${_musd(result.total_usd)} M of {year} ({result.usd_per_t_year:,.0f} USD per t/yr), "
        f"{result.boxes} mixer-settler boxes", highlight=False,
    )  # fmt: skip
    items = [(k, _musd(v)) for k, v in result.items.items()]
    print_frame(pd.DataFrame(items, columns=["item", "US$M"]))
    if flows and result.splits:
        print_frame(pd.DataFrame(list(result.splits)).round(3), title="SX circuit by split")
    for warning in result.warnings:
        console.print(f"  warning: {warning}", highlight=False)
    low, high = lead.years
    console.print(f"  lead time {low:.1f}-{high:.1f} years (permitting + construction, from "
                  f"{', '.join(lead.permitting_ids + lead.construction_ids) or 'nothing'})",
                  highlight=False)  # fmt: skip
    for gap in lead.gaps:
        console.print(f"  note: {gap}", highlight=False)
    console.print(f"  {len(result.assumptions)} inputs are assumptions (see --json)",
                  highlight=False)  # fmt: skip


def _print_new_plant(claim: dict[str, Any]) -> None:
    rows = [
        {"region": c["region"], "plant": f"{c['scope']}, {c['site']}"
         + (", a new mine's permits" if c["new_mine"] else ""),
         "t REO/yr": f"{c['capacity_t_reo_per_yr']:,.0f}",
         "capex US$M [band]": f"{_musd(c['capex_usd'])} [{_musd(c['capex_low_usd'])}-"
         f"{_musd(c['capex_high_usd'])}]",
         "years": "{:.1f}-{:.1f}".format(*c["lead_time_years"])}
        for c in claim["cases"]
    ]  # fmt: skip
    print_frame(pd.DataFrame(rows), title=f"Claim: {claim['claim']} ({claim['ore']}, USD of "
                f"{claim['usd_year']})")  # fmt: skip
    console.print(
        "  capex is the plant's (separation, or cracking + separation): a new mine "
        "enters the lead time (its permitting), not the capex",
        highlight=False,
    )
    gaps = dict.fromkeys(f"{c['region']}: {g}" for c in claim["cases"] for g in c["lead_time_gaps"])
    for gap in gaps:
        console.print(f"  note: {gap}", highlight=False)
    for region, capacity in claim["integrated_capacity_at_2bn_t_reo_per_yr"].items():
        reach = "not below 1 Mt/yr" if capacity is None else f"{capacity:,.0f} t REO/yr"
        console.print(f"  {region}: cracking + separation reach US${CLAIMED_CAPEX_USD / 1e9:.0f} "
                      f"bn at {reach}", highlight=False)  # fmt: skip
    whole = ", ".join(f"{k} {v[0]:g}-{v[1]:g}" for k, v in
                      claim["whole_path_published_years"].items())  # fmt: skip
    console.print(f"  published whole-path durations (years): {whole}", highlight=False)


def _print_cost_ratio(claim: dict[str, Any]) -> None:
    china = claim["china"]
    rows = [
        {"region": r["region"], "USD/kg REO": f"{r['usd_per_kg_reo']:.2f}",
         "x China": f"{r['ratio_to_china']:.2f}",
         "x China at its scale": f"{r['ratio_to_china_at_its_scale']:.2f}",
         "operating x China": f"{r['operating_ratio_to_china']:.2f}"}
        for r in claim["regions"]
    ]  # fmt: skip
    print_frame(pd.DataFrame(rows), title=f"Claim: {claim['claim']} ({claim['ore']}; China "
                f"{china['usd_per_kg_reo']:.2f} USD/kg at {china['capacity_t_reo_per_yr']:,.0f} t"
                f"/yr, {claim['china_at_scale']['usd_per_kg_reo']:.2f} at "
                f"{claim['china_at_scale']['capacity_t_reo_per_yr']:,.0f})")  # fmt: skip
    for r in claim["regions"]:
        shares = sorted(
            (d for d in r["by_driver"] if d["driver"] != "total"),
            key=lambda d: -abs(d["share_of_gap"]),
        )[:3]
        text = ", ".join(f"{d['driver']} {100 * d['share_of_gap']:.0f} %" for d in shares)
        console.print(f"  {r['region']}: the gap is {text}", highlight=False)
        effects = r["china_input_one_at_a_time"][:3]
        shown = ", ".join(f"{e['input']} -> {e['ratio_to_china']:.2f} x" for e in effects)
        console.print(f"  {r['region']} with one input at China's value: {shown}",
                      highlight=False)  # fmt: skip


@plant_app.command(
    "claims",
    short_help='Check "a new plant costs ~US$2 bn and takes 10 years" and "a tenth of the cost".',
)
def claims(
    ore: OreOption = "bayan_obo",
    capacities: Annotated[str, typer.Option(help="Plant sizes, t REO/yr, comma-separated.")] = (
        "5000,10000,20000"
    ),
    regions: RegionsOption = "US,AU,CN",
    china_capacity: Annotated[
        float, typer.Option(help="China's plant size for the scale comparison, t REO/yr.")
    ] = 100000.0,
    year: YearOption = 2024,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Check "a new plant costs ~US$2 bn and takes 10 years" and "China separates at a tenth
    of Western cost" against the calibrated model."""
    try:
        sizes = tuple(float(c) for c in capacities.split(",") if c.strip())
    except ValueError:
        fail(f"--capacities {capacities!r} must be numbers separated by commas, e.g. 5000,10000")
    if not sizes or min(sizes) <= 0:
        fail("--capacities needs at least one capacity > 0 t REO/yr")
    chosen = _regions(regions)
    dataset = load(data)
    western = tuple(r for r in chosen if r != "CN") or ("US",)
    try:
        plants = new_plant_claim(dataset, ore, sizes, chosen, year)
        costs = cost_ratio_claim(dataset, ore, sizes[len(sizes) // 2], china_capacity, western,
                                 year)  # fmt: skip
    except (SpecError, DataQueryError) as exc:
        fail(str(exc))
    if as_json:
        print_json({"new_plant": plants, "cost_ratio": costs})
        return
    _print_new_plant(plants)
    _print_cost_ratio(costs)
