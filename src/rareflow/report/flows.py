"""A Sankey of one element's flows through the chain in a solved year, by stage and country.

The flow graph of ``rareflow.compliance.provenance`` links mines, plants, commodity pools at
places, stocks and demand segments in t of element. Pools only mix: each is removed in turn and
its inflows are passed on to its outflows in proportion to them (the same flow-weighted mixing
``trace`` uses), so what remains links the stages directly: mining → separation → metal → magnet
→ use. Nodes are then gathered by stage and country.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rareflow.compliance.provenance import FlowGraph, flow_graph
from rareflow.market.model import MarketModel

STAGE_LABELS = {
    "mining": "mined",
    "recycling": "recycled",
    "separation": "separated",
    "metal": "metal",
    "magnet": "magnets",
    "segment": "used",
    "stock_in": "stock drawn",
    "stock_out": "stock held",
}
STAGE_ORDER = tuple(STAGE_LABELS)
SMALLEST = 1e-3
"""Links below this share of all flow shown are left out of a figure (and said so)."""


def stage_links(graph: FlowGraph) -> dict[tuple[str, str], float]:
    """Flows between stage nodes (pools removed), t of element."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    into: dict[str, dict[str, float]] = defaultdict(dict)
    for (source, target), flow in graph.edges.items():
        if flow > 0 and source != target:
            out[source][target] = out[source].get(target, 0.0) + flow
            into[target][source] = into[target].get(source, 0.0) + flow
    for node in [n for n, kind in graph.stage.items() if kind == "pool"]:
        outflows = {t: f for t, f in out.pop(node, {}).items() if t != node}
        inflows = {s: f for s, f in into.pop(node, {}).items() if s != node}
        for target in outflows:
            into[target].pop(node, None)
        for source in inflows:
            out[source].pop(node, None)
        total = sum(outflows.values())
        if total <= 0:
            continue
        for source, flow in inflows.items():
            for target, share in outflows.items():
                if source == target:
                    continue
                amount = flow * share / total
                out[source][target] = out[source].get(target, 0.0) + amount
                into[target][source] = into[target].get(source, 0.0) + amount
    return {(s, t): f for s, targets in out.items() for t, f in targets.items()}


def country_links(graphs: Sequence[FlowGraph]) -> dict[tuple[str, str], float]:
    """Stage links of one or more elements summed by (stage, country) nodes, e.g. ``"separated
    · CN"``; flows within one such node (a light plant's heavy concentrate separated at another
    plant of the same country) are left out."""
    links: dict[tuple[str, str], float] = defaultdict(float)
    for graph in graphs:
        for (source, target), flow in stage_links(graph).items():
            a, b = _label(graph, source), _label(graph, target)
            if a != b:
                links[(a, b)] += flow
    return dict(links)


def _label(graph: FlowGraph, node: str) -> str:
    stage = graph.stage[node]
    if stage == "stock":  # private stock held at the year end is a sink, all other stock a source
        stage = "stock_out" if node.startswith("stock:private:") else "stock_in"
    return f"{STAGE_LABELS.get(stage, stage)} · {graph.place[node]}"


def sankey_figure(
    model: MarketModel, values: np.ndarray, elements: Sequence[str], title: str
) -> go.Figure:
    """The Sankey of ``elements`` (summed, t of element) in a solved model."""
    every = country_links([flow_graph(model, values, e) for e in elements])
    total = sum(every.values())
    links = {k: v for k, v in every.items() if v >= SMALLEST * total}
    hidden = len(every) - len(links)
    if hidden:
        title += f"<br><sup>{hidden} links under {SMALLEST:.1%} of all flow left out</sup>"
    names = sorted(
        {n for pair in links for n in pair},
        key=lambda n: (STAGE_ORDER.index(_stage_of(n)), n),
    )
    index = {name: i for i, name in enumerate(names)}
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": names, "pad": 12, "thickness": 14},
            link={
                "source": [index[a] for a, _ in links],
                "target": [index[b] for _, b in links],
                "value": list(links.values()),
                "hovertemplate": (
                    "%{source.label} → %{target.label}: %{value:,.4~g} t<extra></extra>"
                ),
            },
        )
    )
    figure.update_layout(title=title, template="plotly_white", height=560)
    return figure


def _stage_of(label: str) -> str:
    word = label.split(" · ")[0]
    for stage, text in STAGE_LABELS.items():
        if text == word:
            return stage
    raise ValueError(f"not a stage label: {label!r}")
