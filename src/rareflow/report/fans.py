"""Fan charts of an ensemble: the median and the 10-90 % band of a yearly metric across runs.

Results are the store's long table (``run, year, metric, key, value``). A band is taken year by
year over the runs that have the value, so a fan shows the spread of outcomes in each year, not
the path of any one run. Differences between two ensembles pair their runs by index (``diff``):
runs of different scenarios draw independently, so the band of a difference is that of two
independent outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from rareflow.metrics import independence_years
from rareflow.report.page import rgba

PALETTE = qualitative.Plotly
QUANTILES = (10, 50, 90)


@dataclass(frozen=True)
class Series:
    """One line of a fan chart: a metric and key of the results, with its legend label."""

    metric: str
    key: str
    label: str


def bands(results: pd.DataFrame, metric: str, key: str) -> pd.DataFrame:
    """Per year: the 10th, 50th and 90th percentile across runs (columns p10, median, p90)."""
    rows = results[(results["metric"] == metric) & (results["key"] == key)]
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return pd.DataFrame(columns=["year", "p10", "median", "p90", "runs"])
    grouped = rows.groupby("year")["value"]
    frame = pd.DataFrame(
        {
            "p10": grouped.quantile(0.10),
            "median": grouped.median(),
            "p90": grouped.quantile(0.90),
            "runs": grouped.count(),
        }
    )
    return frame.reset_index()


def diff(results: pd.DataFrame, base: pd.DataFrame) -> pd.DataFrame:
    """``results`` minus ``base``, run by run (runs paired by index, only those in both)."""
    keys = ["run", "year", "metric", "key"]
    merged = results[[*keys, "value"]].merge(
        base[[*keys, "value"]], on=keys, suffixes=("", "_base")
    )
    merged["value"] = merged["value"] - merged["value_base"]
    return merged[[*keys, "value"]]


def fan_figure(results: pd.DataFrame, series: Sequence[Series], title: str, unit: str) -> go.Figure:
    """Median lines with shaded 10-90 % bands, one colour per series; empty series are left out
    and named in the subtitle."""
    figure = go.Figure()
    missing = []
    for index, line in enumerate(series):
        frame = bands(results, line.metric, line.key)
        if frame.empty:
            missing.append(line.label)
            continue
        color = PALETTE[index % len(PALETTE)]
        years = frame["year"].tolist()
        figure.add_trace(
            go.Scatter(
                x=years + years[::-1],
                y=frame["p90"].tolist() + frame["p10"].tolist()[::-1],
                fill="toself",
                fillcolor=rgba(color, 0.18),
                line={"width": 0},
                hoverinfo="skip",
                legendgroup=line.label,
                showlegend=False,
                name=f"{line.label} 10-90 %",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=years,
                y=frame["median"],
                mode="lines+markers",
                line={"color": color, "width": 2},
                marker={"size": 4},
                name=line.label,
                legendgroup=line.label,
                customdata=np.stack([frame["p10"], frame["p90"], frame["runs"]], axis=1),
                hovertemplate=(
                    f"{line.label}<br>%{{x}}: %{{y:,.3~g}} {unit}"
                    "<br>10-90 %: %{customdata[0]:,.3~g} to %{customdata[1]:,.3~g}"
                    "<br>runs: %{customdata[2]}<extra></extra>"
                ),
            )
        )
    subtitle = f"<br><sup>no data: {', '.join(missing)}</sup>" if missing else ""
    figure.update_layout(
        title=f"{title}{subtitle}",
        template="plotly_white",
        xaxis_title="year",
        yaxis_title=unit,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        margin={"t": 70},
    )
    return figure


def independence_figure(
    results: pd.DataFrame, elements: Sequence[str], threshold_pct: float
) -> go.Figure:
    """Share of runs reaching ``threshold_pct`` self-sufficiency for good, by year and element;
    runs that never reach it are counted in a last bar."""
    figure = go.Figure()
    never = "not by the end"
    for index, e in enumerate(elements):
        years = [
            never if reached is None else str(reached)
            for reached in independence_years(results, e, threshold_pct)
        ]
        if not years:
            continue
        counts = pd.Series(years).value_counts()
        order = sorted((y for y in counts.index if y != never), key=int)
        order += [never] if never in counts.index else []
        figure.add_trace(
            go.Bar(
                x=order,
                y=[100.0 * counts[y] / len(years) for y in order],
                name=e,
                marker_color=PALETTE[index % len(PALETTE)],
                hovertemplate=f"{e}<br>%{{x}}: %{{y:.0f}} % of runs<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Year of independence: self-sufficiency ≥ {threshold_pct:g} % from then on",
        template="plotly_white",
        barmode="group",
        xaxis_title="year reached",
        yaxis_title="% of runs",
        xaxis={"type": "category"},
    )
    return figure
