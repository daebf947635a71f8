"""Where each tonne came from: origin shares through the flows of a solved market year.

Mixing assumption: every node (a plant, or a commodity pool at a place) mixes its inputs in
proportion to their flows, so the origin mix of what leaves it is the flow-weighted mix of what
entered. Per element, in t of element, that is one sparse linear system
``inflow_n x_n - sum_u f_un x_u = 0`` for the nodes and ``x_s = label`` for the sources, solved
directly (not iterated). Sources depend on the question: mines (country of mining; recycled
scrap and stock releases are their own origins), or the plants of one processing stage (country
of separation, metal making or magnet making), or any node in an excluded place (the share of
material that a place touched at any stage, for sourcing-rule checks).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.linalg import spsolve

from rareflow.elements import element
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA, CHINA_EXPORT, RECYCLED
from rareflow.market.separation import heavy_content

STAGES = ("mining", "separation", "metal", "magnet")


@dataclass
class FlowGraph:
    """Element flows between nodes of one solved year (t of element, metal basis)."""

    element: str
    edges: dict[tuple[str, str], float]
    place: dict[str, str]
    stage: dict[str, str]
    """Node -> mining | separation | metal | magnet | pool | segment | stock."""

    def nodes(self) -> list[str]:
        return sorted(self.place)


def flow_graph(model: MarketModel, values: np.ndarray, e: str) -> FlowGraph:
    """The flows of element ``e`` in a solved model (column values ``values``)."""
    world = model.world
    metal = element(e).metal_per_oxide
    mines = {m.id: m for m in world.mines}
    plants = {p.id: p for p in world.plants()}
    segments = {s.id: s for s in world.segments}
    edges: dict[tuple[str, str], float] = defaultdict(float)
    place: dict[str, str] = {}
    stage: dict[str, str] = {}

    def node(name: str, where: str, kind: str) -> str:
        place[name], stage[name] = where, kind
        return name

    def pool(commodity: str, item: str, where: str, track: int) -> str:
        return node(f"pool:{commodity}:{item}:{where}:{track}", where, "pool")

    def separation(meta: dict[str, Any], t: float) -> None:
        mine, plant = mines[meta["mine"]], plants[meta["plant"]]
        ore = mine.ore.get(e, 0.0)
        if ore <= 0:
            return
        if meta["kind"] == "concentrate":
            kind_of = "recycling" if mine.ore_type == RECYCLED else "mining"
            source = node(f"mine:{mine.id}", mine.location, kind_of)
            flow = ore * t * metal
        else:
            light = plants[meta["source"]]
            share = heavy_content(model, mine.id, light.id).get(e, 0.0)
            if share <= 0:
                return  # separated at the light plant, not in its heavy concentrate
            source = node(f"plant:{light.id}", light.location, "separation")
            flow = share * t * metal
        target = node(f"plant:{plant.id}", plant.location, "separation")
        edges[(source, target)] += flow
        if e in plant.separable:
            edges[(target, pool("oxide", e, plant.location, meta["track"]))] += (
                flow * world.recovery
            )

    def shipment(meta: dict[str, Any], t: float) -> None:
        commodity, item, track = meta["commodity"], meta["item"], meta["track"]
        if not _carries(world, commodity, item, e):
            return
        origin, destination = meta.get("origin", CHINA), meta.get("destination", CHINA_EXPORT)
        amount = t * _content(world, commodity, item, e)
        edges[
            (pool(commodity, item, origin, track), pool(commodity, item, destination, track))
        ] += amount

    def conversion(meta: dict[str, Any], t: float) -> None:
        plant = plants[meta["plant"]]
        if meta["kind"] == "metal":
            if meta["item"] != e:
                return
            target = node(f"plant:{plant.id}", plant.location, "metal")
            edges[(pool("oxide", e, plant.location, meta["track"]), target)] += (
                t / world.metal_yield
            )
            edges[(target, pool("metal", e, plant.location, meta["track"]))] += t
            return
        recipe = world.recipes(meta["item"])[meta["variant"]]
        if e not in recipe:
            return
        target = node(f"plant:{plant.id}", plant.location, "magnet")
        edges[(pool("metal", e, plant.location, meta["track"]), target)] += (
            t * recipe[e] / world.magnet_yield
        )
        edges[(target, pool("magnet", meta["item"], plant.location, meta["track"]))] += (
            t * recipe[e]
        )

    def downgrade(meta: dict[str, Any], t: float) -> None:
        commodity, item, location = meta["commodity"], meta["item"], meta["location"]
        if _carries(world, commodity, item, e):
            amount = t * _content(world, commodity, item, e)
            edges[
                (pool(commodity, item, location, meta["track"]), pool(commodity, item, location, 0))
            ] += amount

    def use(meta: dict[str, Any], t: float) -> None:
        segment = segments[meta["segment"]]
        if meta["kind"] == "demand" and world.substitution_of(segment) is not None:
            return  # its material arrives through the segment's purchases
        if not _carries(world, segment.commodity, segment.item, e):
            return
        amount = t * _content(world, segment.commodity, segment.item, e)
        target = node(f"segment:{segment.id}", segment.location, "segment")
        where = pool(segment.commodity, segment.item, segment.location, meta["track"])
        if segment.domestic:  # served by the makers at its place, not by the mixed pool
            amount -= _from_local_makers(edges, stage, where, target, amount)
        edges[(where, target)] += amount

    def stock(meta: dict[str, Any], t: float) -> None:
        if not _carries(world, meta["commodity"], meta["item"], e):
            return
        amount = t * _content(world, meta["commodity"], meta["item"], e)
        where = pool(meta["commodity"], meta["item"], meta["location"], meta.get("track", 0))
        if meta["kind"] == "stock_release":
            edges[(node(f"stock:{meta['lever']}", meta["location"], "stock"), where)] += amount
        else:
            held = node(f"stock:private:{meta['location']}", meta["location"], "stock")
            edges[(where, held)] += amount

    def heavy_stock(meta: dict[str, Any], t: float) -> None:
        """Heavy concentrate a light-only plant holds for a later year."""
        share = heavy_content(model, meta["mine"], meta["plant"]).get(e, 0.0)
        if share > 0:
            light = plants[meta["plant"]]
            held = node(f"stock:private:heavy:{light.id}", light.location, "stock")
            edges[(node(f"plant:{light.id}", light.location, "separation"), held)] += (
                share * t * metal
            )

    def gallium(meta: dict[str, Any], t: float) -> None:
        """Primary gallium (from alumina or zinc refining): its country of production is its
        origin, as a mine's is for the rare earths."""
        if e != "Ga":
            return
        plant = plants[meta["plant"]]
        source = node(f"plant:{plant.id}", plant.location, "mining")
        edges[(source, pool("gallium", "Ga", plant.location, meta["track"]))] += t

    handlers: dict[str, Callable[[dict[str, Any], float], None]] = {
        "gallium": gallium,
        "concentrate": separation,
        "heavy_concentrate": separation,
        "trade": shipment,
        "export": shipment,
        "smuggle": shipment,
        "metal": conversion,
        "magnet": conversion,
        "downgrade": downgrade,
        "demand": use,
        "purchase": use,
        "stock_release": stock,
        "inventory": stock,
        "heavy_stock": heavy_stock,
    }
    program = model.program
    for family, handler in handlers.items():
        for column in program.select(family, period=0):
            t = float(values[column])
            if t > 1e-12:
                meta = program.meta[column]
                handler({"track": 0, **meta}, t)
    for (commodity, item, location), level in model.inventory_initial.items():
        if level > 0 and _carries(world, commodity, item, e):
            source = node(f"stock:carried:{location}", location, "stock")
            edges[(source, pool(commodity, item, location, 0))] += level * _content(
                world, commodity, item, e
            )
    for (mine_id, plant_id, _), level in model.heavy_initial.items():
        share = heavy_content(model, mine_id, plant_id).get(e, 0.0)
        if share > 0:
            # heavy concentrate carried in: its mine and the light plant that held it are
            # known (unlike a private oxide stock's), so it enters from that mine
            mine, light = mines[mine_id], plants[plant_id]
            kind_of = "recycling" if mine.ore_type == RECYCLED else "mining"
            source = node(f"mine:{mine.id}", mine.location, kind_of)
            target = node(f"plant:{light.id}", light.location, "separation")
            edges[(source, target)] += level * share * metal
    return FlowGraph(e, dict(edges), place, stage)


def _from_local_makers(
    edges: dict[tuple[str, str], float], stage: dict[str, str], where: str, target: str,
    amount: float,
) -> float:  # fmt: skip
    """Route ``amount`` of a domestic-contract segment's supply from the magnet plants that feed
    its pool ``where`` (pro rata to their output) instead of from the pool; returns how much
    was routed (all, unless the contract asks more than they make)."""
    makers = [(source, t) for (source, sink), t in edges.items()
              if sink == where and stage.get(source) == "magnet" and t > 0]  # fmt: skip
    made = sum(t for _, t in makers)
    routed = min(amount, made)
    for source, t in makers:
        moved = routed * t / made
        edges[(source, where)] -= moved
        edges[(source, target)] += moved
    return routed


def _carries(world: object, commodity: str, item: str, e: str) -> bool:
    if commodity == "magnet":
        return e in world.grades[item]  # type: ignore[attr-defined]
    return commodity in ("oxide", "metal", "gallium") and item == e


def _content(world: object, commodity: str, item: str, e: str) -> float:
    """t of element per t of product (metal basis)."""
    if commodity == "magnet":
        return float(world.grades[item][e])  # type: ignore[attr-defined]
    return element(e).metal_per_oxide if commodity == "oxide" else 1.0


def propagate(graph: FlowGraph, labels: dict[str, str]) -> pd.DataFrame:
    """Origin shares of every node: sources carry their label, others mix their inputs.

    Returns a DataFrame indexed by node with one column per label (rows sum to 1 for nodes that
    receive material from labelled sources, 0 for nodes fed by none).
    """
    nodes = graph.nodes()
    index = {n: i for i, n in enumerate(nodes)}
    names = sorted(set(labels.values()))
    column = {label: j for j, label in enumerate(names)}
    inflow = np.zeros(len(nodes))
    for (_, target), flow in graph.edges.items():
        inflow[index[target]] += flow
    rows, cols, vals = [], [], []
    rhs = np.zeros((len(nodes), len(names)))
    for n, i in index.items():
        rows.append(i)
        cols.append(i)
        vals.append(1.0)
        if n in labels:
            rhs[i, column[labels[n]]] = 1.0
    for (source, target), flow in graph.edges.items():
        t = index[target]
        if target in labels or inflow[t] <= 0:
            continue
        rows.append(t)
        cols.append(index[source])
        vals.append(-flow / inflow[t])
    matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(len(nodes), len(nodes)))
    solution = spsolve(matrix, rhs) if names else np.zeros((len(nodes), 0))
    solution = np.asarray(solution).reshape(len(nodes), len(names))
    return pd.DataFrame(solution, index=nodes, columns=names)


def origin_shares(graph: FlowGraph, by: str = "mining") -> pd.DataFrame:
    """Shares by country of mining (``mining``) or of one processing stage."""
    if by == "mining":
        labels = {}
        for n, kind in graph.stage.items():
            if kind == "mining":
                labels[n] = graph.place[n]
            elif kind == "recycling":
                labels[n] = f"recycled:{graph.place[n]}"
            elif kind == "stock":
                labels[n] = "stockpile"
    elif by in STAGES:
        sources = {n for n, kind in graph.stage.items() if kind == by}
        # nodes upstream of the stage carry no label: a node only gets a label through a stage node
        labels = {n: graph.place[n] for n in sources}
        labels.update({n: "stockpile" for n, kind in graph.stage.items() if kind == "stock"})
    else:
        raise ValueError(f"unknown origin basis {by!r}; expected one of {', '.join(STAGES)}")
    return propagate(_downstream_only(graph, labels), labels)


def _downstream_only(graph: FlowGraph, labels: dict[str, str]) -> FlowGraph:
    """Drop edges into labelled nodes (their own inputs do not matter for their label)."""
    edges = {k: v for k, v in graph.edges.items() if k[1] not in labels}
    return FlowGraph(graph.element, edges, graph.place, graph.stage)


def touched_share(graph: FlowGraph, excluded_places: set[str]) -> pd.Series:
    """Share of each node's material that a node in ``excluded_places`` handled at any stage."""
    return touched_shares(graph, excluded_places)["touched"]


def touched_shares(graph: FlowGraph, excluded_places: set[str]) -> pd.DataFrame:
    """Each node's material split three ways: ``touched`` (a node in ``excluded_places``
    handled it at some stage), ``unknown`` (drawn from a stock carried into the year and not
    handled there since: a one-year trace cannot say where the stock came from) and ``clean``."""
    labels = {
        n: "touched"
        for n, p in graph.place.items()
        if p in excluded_places and graph.stage[n] != "segment"
    }
    for n, kind in graph.stage.items():
        if n not in labels and kind in ("mining", "recycling"):
            labels[n] = "clean"
        elif n not in labels and kind == "stock":
            labels[n] = "unknown"
    shares = propagate(_downstream_only(graph, labels), labels)
    return shares.reindex(columns=["touched", "unknown", "clean"], fill_value=0.0)


def trace(
    model: MarketModel,
    values: np.ndarray,
    duals: np.ndarray,
    e: str,
    node: str | None = None,
    china: str = "CN",
    free_of: set[str] | None = None,
) -> dict[str, object]:
    """Origins of element ``e`` in one solved year: for ``node`` (``plant:ID``, ``mine:ID``,
    ``segment:ID`` or a bare id) the shares by country of mining and of every processing stage,
    and for every demand segment the Chinese-origin share by mass (mined in China) and the
    share of its material that China handled at any stage, beside the share drawn from stocks
    of unknown origin (never counted as free of anyone). With ``free_of`` (places), each segment
    also gets the share of its material some of those places handled at any stage and the
    shortfall in t of element if it had to be served only by chains shown free of them (stock of
    unknown origin included in the shortfall)."""
    graph = flow_graph(model, values, e)
    # the processing-stage bases are only reported for a chosen node
    bases = STAGES if node is not None else ("mining",)
    by = {basis: origin_shares(graph, basis) for basis in bases}
    split = touched_shares(graph, {china})
    touched, unknown = split["touched"], split["unknown"]
    chosen = _resolve(graph, node) if node is not None else None
    result: dict[str, object] = {"element": e}
    if chosen is not None:
        inflow = sum(f for (_, t), f in graph.edges.items() if t == chosen)
        outflow = sum(f for (s, _), f in graph.edges.items() if s == chosen)
        result["node"] = chosen
        result["throughput_t"] = max(inflow, outflow)
        if graph.stage[chosen] == "separation":
            # a light-only plant passes the heavy elements on in a concentrate, unseparated
            onward = {t: f for (s, t), f in graph.edges.items() if s == chosen and f > 1e-9
                      and t.startswith("plant:")}  # fmt: skip
            result["passed_on_unseparated_t"] = float(sum(onward.values()))
            result["passed_on_to"] = sorted(onward)
        result["shares"] = {
            basis: {k: float(v) for k, v in frame.loc[chosen].items() if v > 1e-9}
            for basis, frame in by.items()
            if chosen in frame.index
        }
        result["touched_by_china"] = float(touched.get(chosen, 0.0))
        result["unknown_origin"] = float(unknown.get(chosen, 0.0))
    segments = []
    same = free_of == {china}
    excluded = (split if same else touched_shares(graph, free_of)) if free_of else None
    for name in graph.nodes():
        if graph.stage[name] != "segment":
            continue
        served = sum(f for (_, t), f in graph.edges.items() if t == name)
        mined = by["mining"].loc[name]
        row: dict[str, object] = {
            "segment": name.removeprefix("segment:"),
            "t": served,
            "china_mined_share": float(mined.get(china, 0.0)),
            "china_touched_share": float(touched.get(name, 0.0)),
            "unknown_origin_share": float(unknown.get(name, 0.0)),
        }
        if excluded is not None:
            share = float(excluded["touched"].get(name, 0.0))
            unknown_here = float(excluded["unknown"].get(name, 0.0))
            row["excluded_touched_share"] = share
            row["excluded_unknown_share"] = unknown_here
            row["shortfall_t"] = served * (share + unknown_here)
        segments.append(row)
    result["segments"] = segments
    return result


def _resolve(graph: FlowGraph, node: str) -> str:
    if node in graph.place:
        return node
    for prefix in ("plant:", "mine:", "segment:", "stock:"):
        if prefix + node in graph.place:
            return prefix + node
    raise KeyError(
        f"{node!r} carries no {graph.element} this year; nodes with flows: "
        + ", ".join(n for n in graph.nodes() if not n.startswith("pool:"))[:400]
    )
