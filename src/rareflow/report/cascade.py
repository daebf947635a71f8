"""Stage-profile figure of a solved cascade: composition of each phase, stage by stage."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rareflow.process.cascade import CascadeSolution


def stage_profile_figure(solution: CascadeSolution, log_scale: bool = True) -> go.Figure:
    """Aqueous and organic mole fractions by stage, one line per component.

    A dotted line marks the feed stage; the extraction section is stages 1..n, the scrubbing
    section n+1..n+m. A log scale shows trace impurities, which carry the purity story.
    """
    cascade = solution.cascade
    stages = list(range(1, cascade.stages + 1))
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True,
                           subplot_titles=("aqueous (x)", "organic (y)"))  # fmt: skip
    for column, values in enumerate((solution.aqueous, solution.organic), start=1):
        for index, component in enumerate(cascade.components):
            figure.add_trace(
                go.Scatter(x=stages, y=values[index], name=component, legendgroup=component,
                           showlegend=column == 1, mode="lines"),
                row=1, col=column,
            )  # fmt: skip
        figure.add_vline(x=cascade.feed_stage + 1, line_dash="dot", row=1, col=column)
    figure.update_yaxes(type="log" if log_scale else "linear", exponentformat="power")
    figure.update_xaxes(title_text="stage (1 = raffinate end)")
    figure.update_layout(
        title=f"{cascade.stages} stages (n = {cascade.n}, m = {cascade.m}), "
        f"S = {cascade.extractant:.4g}, W = {cascade.scrub:.4g}, {cascade.feed_phase} feed",
        template="plotly_white",
    )
    return figure
