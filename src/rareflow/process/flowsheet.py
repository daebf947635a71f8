"""Flowsheets: the sequence of splits that takes an ore's mixed REO to saleable products.

Products are contiguous groups of the extraction order (e.g. La | Ce | Pr+Nd | Sm+Eu+Gd | heavy).
The sequence is decided first: each node splits its group of products at the cut with the largest
key separation factor (the easiest split first, the classic sequencing heuristic). Each product's
allowed impurity (1 - purity) is then shared equally among the splits on its path, and every split
is designed with ``design_split`` on the stream it actually receives (the solved outlet of its
parent, impurities from other branches included); stripped products feed the next split as
aqueous. Final purities are those of the simulated streams; a product that misses its target has
its allowance tightened and the flowsheet is redesigned (at most ``MAX_TIGHTENING`` rounds), so a
reported miss is real.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.process.design import SplitDesign, SplitSpec, design_split
from rareflow.process.factors import FactorSeries, factor_series
from rareflow.process.reagents import reagents_kg_per_kg_reo
from rareflow.process.theory import SpecError

MAX_TIGHTENING = 8
"""Redesign rounds allowed to tighten the allowances of products that missed their purity."""
MIN_FRACTION = 1e-9
"""Components below this share of the ore's REO are left out of the flowsheet."""


@dataclass(frozen=True)
class Product:
    """A saleable stream: one element or a contiguous group, with its target purity."""

    name: str
    elements: tuple[str, ...]
    purity: float


LIGHT_PRODUCTS = (
    Product("La", ("La",), 0.995),
    Product("Ce", ("Ce",), 0.995),
    Product("NdPr", ("Pr", "Nd"), 0.999),
    Product("SEG", ("Sm", "Eu", "Gd"), 0.99),
    Product("heavy", ("Tb", "Dy", "Ho", "Y", "Er", "Tm", "Yb", "Lu"), 0.99),
)
HEAVY_PRODUCTS = (
    Product("La", ("La",), 0.995),
    Product("Ce", ("Ce",), 0.995),
    Product("NdPr", ("Pr", "Nd"), 0.999),
    Product("SEG", ("Sm", "Eu", "Gd"), 0.99),
    Product("Tb", ("Tb",), 0.9999),
    Product("Dy", ("Dy",), 0.9999),
    Product("heavy", ("Ho", "Y", "Er", "Tm", "Yb", "Lu"), 0.99),
)


def default_products(distribution: pd.Series) -> tuple[Product, ...]:
    """Light-ore products, or separate Tb and Dy when the ore has >= 1 % of Tb + Dy."""
    return (
        HEAVY_PRODUCTS
        if distribution.get("Tb", 0) + distribution.get("Dy", 0) >= 0.01
        else LIGHT_PRODUCTS
    )


@dataclass
class Node:
    """One split of the flowsheet and the products on each side."""

    raffinate: list[Product]
    extract: list[Product]
    depth: int
    design: SplitDesign | None = None
    feed_flow: float = 0.0
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        left = "+".join(p.name for p in self.raffinate)
        right = "+".join(p.name for p in self.extract)
        return f"{left} | {right}"


@dataclass
class Flowsheet:
    """A designed flowsheet: its splits, the product streams and the totals."""

    ore: str
    series: FactorSeries
    feed: dict[str, float]
    splits: list[Node]
    products: pd.DataFrame

    def splits_table(self) -> pd.DataFrame:
        rows = []
        for node in self.splits:
            design = node.design
            assert design is not None
            cascade, spec = design.cascade, design.spec
            light, heavy = spec.components[spec.cut - 1], spec.components[spec.cut]
            rows.append(
                {
                    "split": node.name,
                    "feed_share": node.feed_flow,
                    "n": cascade.n,
                    "m": cascade.m,
                    "stages": cascade.stages,
                    "S": cascade.extractant,
                    "W": cascade.scrub,
                    "S_over_lumped_S_min": design.ratio_to_min,
                    "key_beta": spec.key_beta,
                    "estimated_factors": self.series.is_estimated(light, heavy),
                    "purity_extract": design.purity_extract,
                    "purity_raffinate": design.purity_raffinate,
                }
            )
        return pd.DataFrame(rows)

    def totals(self) -> dict[str, float]:
        """Stages, RE flows and reagents per unit (and per kg) of plant feed REO."""
        table = self.splits_table()
        # Every split takes an aqueous feed, so the RE loaded (S) equals the RE scrubbed and
        # stripped (W + f'_A = S): base and acid equivalents are the same, 3 per mol moved.
        base = acid = float((3.0 * table["S"] * table["feed_share"]).sum())
        reagents = reagents_kg_per_kg_reo(base, acid, self.feed)
        return {
            "splits": len(table),
            "stages": int(table["stages"].sum()),
            "organic_re_flow_per_feed": float((table["S"] * table["feed_share"]).sum()),
            "aqueous_re_flow_per_feed": float(((table["W"] + 1) * table["feed_share"]).sum()),
            "base_eq_per_mol_feed": base,
            "acid_eq_per_mol_feed": acid,
            **reagents,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "ore": self.ore,
            "separation_factor_source": self.series.label,
            "feed": self.feed,
            "splits": self.splits_table().to_dict(orient="records"),
            "edges": [
                {"from": node.name, "to": child.name}
                for node in self.splits
                for child in node.children
            ],
            "products": self.products.to_dict(orient="records"),
            "totals": self.totals(),
        }


def _plan(products: list[Product], betas: dict[str, float], depth: int) -> Node | None:
    if len(products) < 2:
        return None
    cuts = range(1, len(products))
    best = max(
        cuts, key=lambda k: betas[products[k].elements[0]] / betas[products[k - 1].elements[-1]]
    )
    node = Node(products[:best], products[best:], depth)
    for side in (node.raffinate, node.extract):
        child = _plan(side, betas, depth + 1)
        if child is not None:
            node.children.append(child)
    return node


def _depths(node: Node, depths: dict[str, int]) -> None:
    for product in node.raffinate + node.extract:
        depths[product.name] = max(depths.get(product.name, 0), node.depth)
    for child in node.children:
        _depths(child, depths)


def build_flowsheet(
    dataset: Dataset,
    ore: str,
    products: tuple[Product, ...] | None = None,
    extractant: str = "p507",
    medium: str = "hcl",
    ratio_to_min: float = 1.5,
    overrides: dict[str, float] | None = None,
) -> Flowsheet:
    """Design the whole flowsheet for an ore type of the dataset."""
    distribution = dataset.ore_distribution(ore)
    series = factor_series(dataset, extractant, medium, overrides)
    present = {s: float(f) for s, f in distribution.items() if f > MIN_FRACTION}
    missing = sorted(s for s in present if s not in series.relative)
    if missing:
        raise SpecError(f"{', '.join(missing)} of {ore} have no factor in {series.label}")
    chosen = products or default_products(distribution)
    order = [s for s in series.order if s in present]
    kept: list[Product] = []
    for product in chosen:
        elements = tuple(s for s in order if s in product.elements and s in present)
        if elements:
            kept.append(Product(product.name, elements, product.purity))
    covered = [s for p in kept for s in p.elements]
    if covered != order:
        raise SpecError(
            f"products must cover the ore's elements {'-'.join(order)} in extraction order, "
            f"each once; they give {'-'.join(covered)}"
        )
    composition = np.array([present[s] for s in order])
    composition = composition / composition.sum()
    scale = {p.name: 1.0 for p in kept}
    for _ in range(MAX_TIGHTENING + 1):
        root = _plan(kept, series.relative, 1)
        if root is None:
            raise SpecError("a flowsheet needs at least two products")
        depths: dict[str, int] = {}
        _depths(root, depths)
        allowances = {p.name: (1.0 - p.purity) * scale[p.name] / depths[p.name] for p in kept}
        splits: list[Node] = []
        streams: list[dict[str, Any]] = []
        _design(root, order, composition, 1.0, series, allowances, ratio_to_min, splits, streams)
        products_table = pd.DataFrame(streams)
        missed = products_table[~products_table["met"]]
        if missed.empty:
            break
        # Impurities carried in from other branches use up part of a product's allowance:
        # tighten the allowance of every product that missed in proportion, and redesign.
        for row in missed.itertuples():
            target = 1.0 - float(row.target_purity)
            scale[str(row.product)] *= 0.8 * target / max(1.0 - float(row.purity), 1e-300)
    return Flowsheet(ore, series, dict(zip(order, composition, strict=True)), splits,
                     products_table)  # fmt: skip


def _allowance(products: list[Product], allowances: dict[str, float]) -> float:
    return min(allowances[p.name] for p in products)


def _design(
    node: Node,
    order: list[str],
    composition: np.ndarray,
    flow: float,
    series: FactorSeries,
    allowances: dict[str, float],
    ratio: float,
    splits: list[Node],
    streams: list[dict[str, Any]],
) -> None:
    # Every element in the stream takes part, impurities from other branches included, so
    # nothing is dropped; the cut falls after the raffinate side's last element.
    index = [i for i in range(len(order)) if composition[i] > 0]
    elements = [order[i] for i in index]
    local = composition[index] / composition[index].sum()
    last = order.index(node.raffinate[-1].elements[-1])
    cut = sum(1 for i in index if i <= last)
    spec = SplitSpec(
        tuple(elements), series.betas(elements), local, cut,
        1.0 - _allowance(node.extract, allowances), 1.0 - _allowance(node.raffinate, allowances),
    )  # fmt: skip
    node.design = design_split(spec, ratio)
    node.feed_flow = flow
    splits.append(node)
    raffinate_flow, product_flow = node.design.cascade.outlet_flows
    outlets = (
        (node.raffinate, node.design.solution.raffinate, raffinate_flow),
        (node.extract, node.design.solution.organic_product, product_flow),
    )
    children = iter(node.children)
    for side, stream, share in outlets:
        full = np.zeros(len(order))
        full[index] = stream
        if len(side) == 1:
            product = side[0]
            purity = float(sum(full[order.index(s)] for s in product.elements))
            streams.append(
                {
                    "product": product.name,
                    "elements": "+".join(product.elements),
                    "target_purity": product.purity,
                    "purity": purity,
                    "share_of_feed": flow * share,
                    "met": purity >= product.purity,
                    "amounts": {e: float(flow * share * full[i]) for i, e in enumerate(order)},
                }
            )
        else:
            _design(
                next(children),
                order,
                full,
                flow * share,
                series,
                allowances,
                ratio,
                splits,
                streams,
            )
