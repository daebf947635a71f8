"""Compliance and provenance speed.

1. A 100,000-node BOM (one assembly of 1,000 sub-assemblies of 99 parts each, Part I leaves of
   mixed origin, US-origin parts with licence needs) rolled up under China's content limb and the
   EAR de minimis rule for one shipment edge each. Baseline: building the document (validation).
2. Provenance of one year of the world model: the flow graph of every magnet element and its
   origin shares by country of mining and of each processing stage.

    python benchmarks/bench_compliance.py
"""

from __future__ import annotations

import time

from rareflow.compliance.china import ChinaOptions, evaluate
from rareflow.compliance.documents import BomDocument, bundled_regimes
from rareflow.compliance.ear import evaluate as ear_evaluate
from rareflow.compliance.provenance import STAGES, flow_graph, origin_shares
from rareflow.dataset import load_dataset
from rareflow.market.clearing import Clearing


def big_bom(groups: int = 1000, parts: int = 99) -> dict[str, object]:
    items: list[dict[str, object]] = []
    top_children = []
    for g in range(groups):
        children = []
        for p in range(parts):
            part = f"p{g}_{p}"
            kind = p % 3
            item: dict[str, object] = {
                "id": part,
                "made_in": "CN" if kind == 0 else "US",
                "value": {"amount": "1.5"},
                "origin_cn": kind == 0,
                "cn_list": {"a61_part": "I" if kind == 0 else "none"},
            }
            if kind == 1:
                item["us"] = {"origin_us": True, "licence_needed_to": {"DE": True, "US": True}}
            items.append(item)
            children.append({"item": part, "qty": 2})
        items.append(
            {
                "id": f"g{g}",
                "made_in": "JP",
                "value": {"amount": "400"},
                "origin_cn": False,
                "cn_list": {"a61_part": "II"},
                "children": children,
            }
        )
        top_children.append({"item": f"g{g}", "qty": 1})
    items.append(
        {
            "id": "top",
            "made_in": "DE",
            "value": {"amount": "500000"},
            "origin_cn": False,
            "cn_list": {"a61_part": "II"},
            "children": top_children,
        }
    )
    shipments = [
        {
            "id": "s",
            "item": "top",
            "exporter_country": "DE",
            "destination": "US",
            "ship_date": "2026-03-01",
        }
    ]
    return {"items": items, "shipments": shipments}


def main() -> None:
    data = big_bom()
    start = time.perf_counter()
    document = BomDocument.model_validate(data)
    built = time.perf_counter() - start
    table = bundled_regimes()
    start = time.perf_counter()
    china = evaluate(document, document.shipments[0], table, ChinaOptions())
    us = ear_evaluate(document, document.shipments[0])
    rolled = time.perf_counter() - start
    print(
        f"BOM of {len(document.items):,} nodes: validated in {built:.2f} s; "
        f"both roll-ups {rolled:.3f} s "
        f"(target 1 s); China {china.verdict} ratio {china.limbs[0].ratio:.4f}, EAR {us.verdict} "
        f"ratio {us.ratio:.4f}"
    )

    clearing = Clearing.from_dataset(load_dataset())
    values, _, _, _ = clearing.solve_arrays()
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        for e in ("Nd", "Pr", "Dy", "Tb"):
            graph = flow_graph(clearing.model, values, e)
            for basis in STAGES:
                origin_shares(graph, basis)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(
        f"provenance of one world-model year (4 elements x 4 bases): {1000 * best:.0f} ms, "
        f"{1000 * best / 4:.0f} ms per element (target 50 ms)"
    )


if __name__ == "__main__":
    main()
