"""Summaries of provenance results: bands of segments' Chinese shares across runs, and each
segment's Chinese-mined share by mass and by value (elements weighted by their prices)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from rareflow.compliance.provenance import flow_graph, origin_shares
from rareflow.elements import element
from rareflow.market.model import MarketModel


def bands(results: list[dict[str, object]]) -> pd.DataFrame:
    """Median and 10-90 % band across runs of each segment's Chinese shares (``trace`` results
    of the same element and year in several runs)."""
    rows = []
    for result in results:
        segments = result["segments"]
        assert isinstance(segments, list)
        rows += segments
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    grouped = frame.groupby("segment")
    table = pd.DataFrame(
        {
            "t_median": grouped["t"].median(),
            "china_mined_median": grouped["china_mined_share"].median(),
            "china_mined_p10": grouped["china_mined_share"].quantile(0.1),
            "china_mined_p90": grouped["china_mined_share"].quantile(0.9),
            "china_touched_median": grouped["china_touched_share"].median(),
            "runs": grouped["t"].size(),
        }
    )
    return table.reset_index()


def segment_value_shares(
    model: MarketModel, values: np.ndarray, duals: np.ndarray, china: str = "CN"
) -> pd.DataFrame:
    """Per demand segment, the Chinese-mined share of its rare-earth content by mass and by
    value (element masses weighted by their oxide prices in China, per t of element)."""
    world = model.world
    rows_of = model.program.rows
    parts = []
    for e in world.elements:
        row = rows_of.get(("pool", "oxide", e, china, 0))
        price = float(duals[row]) * element(e).oxide_per_metal if row is not None else 0.0
        graph = flow_graph(model, values, e)
        if not any(kind == "segment" for kind in graph.stage.values()):
            continue
        mined = origin_shares(graph, "mining")
        for name, kind in graph.stage.items():
            if kind != "segment":
                continue
            t = sum(f for (_, target), f in graph.edges.items() if target == name)
            share = float(mined.loc[name].get(china, 0.0)) if name in mined.index else 0.0
            parts.append((name.removeprefix("segment:"), e, t, max(price, 0.0), share))
    frame = pd.DataFrame(parts, columns=["segment", "element", "t", "price", "share"])
    if frame.empty:
        return frame
    frame["value"] = frame["t"] * frame["price"]
    grouped = frame.groupby("segment")
    table = pd.DataFrame(
        {
            "elements": grouped["element"].agg(lambda s: ";".join(s)),
            "t": grouped["t"].sum(),
            "china_share_by_mass": grouped.apply(
                lambda g: (g["t"] * g["share"]).sum() / g["t"].sum()
            ),
            "china_share_by_value": grouped.apply(
                lambda g: (
                    (g["value"] * g["share"]).sum() / g["value"].sum()
                    if g["value"].sum()
                    else np.nan
                )
            ),
        }
    )
    return table.reset_index()
