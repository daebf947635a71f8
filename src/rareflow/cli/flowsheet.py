"""``rareflow cascade flowsheet`` and ``cascade cost``: the sequence of splits from an ore's
mixed REO to products, and what such a plant costs in a region."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer
from rich.tree import Tree

from rareflow.cli.cascade import Extractant, Medium, Overrides, cascade_app, factor_overrides
from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, fail, print_frame, print_json
from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.elements import UnknownElementError, parse_symbol
from rareflow.process.cost import FIXED_DRIVERS, compare, plant_cost
from rareflow.process.flowsheet import Flowsheet, Node, Product, build_flowsheet
from rareflow.process.theory import SpecError


def _products(text: str | None) -> tuple[Product, ...] | None:
    """Parse ``La:0.995;Ce:0.995;Pr+Nd:0.999`` (groups joined with +, purity after :)."""
    if text is None:
        return None
    products = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        group, _, purity = item.partition(":")
        try:
            elements = tuple(parse_symbol(s) for s in group.split("+"))
        except UnknownElementError as exc:
            fail(f"--products: {item!r}: {exc}")
        try:
            value = float(purity) if purity else 0.99
        except ValueError:
            fail(f"--products: purity {purity!r} of {group} is not a number")
        products.append(Product("".join(elements), elements, value))
    return tuple(products)


ProductsOption = Annotated[
    str | None,
    typer.Option(help="Products in extraction order, e.g. 'La:0.995;Ce:0.995;Pr+Nd:0.999;...'."),
]
SplitRatio = Annotated[float, typer.Option(help="S / lumped S_min of every split.")]


def _sheet(
    dataset: Dataset,
    ore: str,
    products: str | None,
    extractant: str,
    medium: str,
    ratio: float,
    factor: list[str] | None,
) -> Flowsheet:
    try:
        return build_flowsheet(dataset, ore, _products(products), extractant, medium, ratio,
                               factor_overrides(factor))  # fmt: skip
    except (SpecError, DataQueryError) as exc:
        fail(str(exc))


@cascade_app.command("flowsheet")
def flowsheet(
    ore: Annotated[str, typer.Option(help="Ore type id of the dataset, e.g. mountain_pass.")],
    products: ProductsOption = None,
    ratio_to_min: SplitRatio = 1.5,
    extractant: Extractant = "p507",
    medium: Medium = "hcl",
    factor: Overrides = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Design the sequence of splits from an ore's mixed REO to products, with totals."""
    dataset = load(data)
    sheet = _sheet(dataset, ore, products, extractant, medium, ratio_to_min, factor)
    if as_json:
        print_json(sheet.to_dict())
        return
    tree = Tree(f"[bold]{ore}[/] ({extractant}/{medium})")
    _add_nodes(tree, sheet.splits[0], sheet)
    console.print(tree)
    print_frame(sheet.splits_table(), title="splits")
    print_frame(sheet.products, title="products (simulated streams)")
    totals = sheet.totals()
    console.print(
        f"  totals: {totals['splits']} splits, {totals['stages']} stages; per kg feed REO "
        f"{totals['naoh_kg_per_kg_reo']:.2f} kg NaOH and {totals['hcl_kg_per_kg_reo']:.2f} kg HCl",
        highlight=False,
    )
    console.print(f"  factors: {sheet.series.label}", highlight=False, markup=False)


def _add_nodes(tree: Tree, node: Node, sheet: Flowsheet) -> None:
    design = node.design
    label = node.name
    if design is not None:
        label += f"  [dim]N = {design.cascade.stages}, S = {design.cascade.extractant:.3g}[/]"
    branch = tree.add(label)
    for child in node.children:
        _add_nodes(branch, child, sheet)


@cascade_app.command("cost")
def cost(
    ore: Annotated[str, typer.Option(help="Ore type id of the dataset, e.g. mountain_pass.")],
    capacity: Annotated[float, typer.Option(help="Plant feed, t REO per year.")] = 10000.0,
    region: Annotated[str, typer.Option(help="Region code of process_costs.yaml, e.g. CN.")] = "CN",
    compare_with: Annotated[
        str | None, typer.Option("--compare", help="Second region: decompose the difference.")
    ] = None,
    products: ProductsOption = None,
    ratio_to_min: SplitRatio = 1.5,
    extractant: Extractant = "p507",
    medium: Medium = "hcl",
    factor: Overrides = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Capex and cost per kg REO of the ore's flowsheet in a region (and against another)."""
    dataset = load(data)
    sheet = _sheet(dataset, ore, products, extractant, medium, ratio_to_min, factor)
    try:
        first = plant_cost(sheet, dataset, region, capacity)
        second = plant_cost(sheet, dataset, compare_with, capacity) if compare_with else None
    except (SpecError, DataQueryError) as exc:
        fail(str(exc))
    comparison = compare(first, second) if second is not None else None
    if as_json:
        payload: dict[str, Any] = {"flowsheet_totals": sheet.totals(), "cost": first.to_dict(),
                                   "separation_factor_source": sheet.series.label}  # fmt: skip
        if second is not None and comparison is not None:
            ratio = second.usd_per_kg_reo / first.usd_per_kg_reo
            payload["compare"] = {"cost": second.to_dict(), "ratio": ratio,
                                  "by_driver": comparison.to_dict(orient="records")}  # fmt: skip
        print_json(payload)
        return
    console.print(f"[bold]{ore}[/], {capacity:,.0f} t REO/yr, {first.stages} stages: capex "
                  f"US${first.capex_usd / 1e6:,.1f} M in {region}; {first.usd_per_kg_reo:.2f} "
                  "USD/kg REO (mass allocation)", highlight=False)  # fmt: skip
    if comparison is not None and second is not None:
        print_frame(comparison.round(3), title=f"USD per kg REO: {region} vs {compare_with}")
        console.print(
            f"  ratio {compare_with}/{region}: {second.usd_per_kg_reo / first.usd_per_kg_reo:.2f}",
            highlight=False,
        )
    else:
        rows = [(k, v / (capacity * 1000.0)) for k, v in first.drivers.items()]
        print_frame(pd.DataFrame(rows, columns=["driver", "USD per kg REO"]).round(3))
    running = [p for p in (first, second) if p is not None]
    console.print("  operating (varies with output; fixed: " + ", ".join(FIXED_DRIVERS) + "): "
                  + ", ".join(f"{p.region} {p.operating_usd_per_kg_reo:.2f}" for p in running)
                  + " USD/kg REO", highlight=False)  # fmt: skip
    console.print(f"  {len(first.assumptions)} inputs are assumptions (see --json)",
                  highlight=False)  # fmt: skip
