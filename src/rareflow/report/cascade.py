"""Stage-profile figure of a solved cascade: composition of each phase, stage by stage."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from rareflow.process.cascade import CascadeSolution
from rareflow.report.page import rgba


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


def cascade_flow_figure(solution: CascadeSolution) -> go.Figure:
    """The cascade as a diagram: each component's feed split between the raffinate (aqueous
    leaving stage 1, the end of the extraction section) and the loaded organic (leaving stage
    N, the end of the scrubbing section), per unit of feed. Link widths are the solved outlet
    flows; the balance closure is in the report's table."""
    cascade = solution.cascade
    raffinate, product = cascade.outlet_flows
    feed_label = f"feed (stage {cascade.feed_stage + 1}, {cascade.feed_phase})"
    names = [
        feed_label,
        f"extraction section, stages 1-{cascade.n}",
        f"scrubbing section, stages {cascade.n + 1}-{cascade.stages}",
        "raffinate (aqueous, stage 1)",
        f"loaded organic (stage {cascade.stages})",
    ]
    source, target, value, label, color = [], [], [], [], []
    for index, component in enumerate(cascade.components):
        tint = qualitative.Plotly[index % len(qualitative.Plotly)]
        to_raffinate = raffinate * float(solution.raffinate[index])
        to_organic = product * float(solution.organic_product[index])
        for a, b, amount in ((0, 1, to_raffinate), (1, 3, to_raffinate), (0, 2, to_organic),
                             (2, 4, to_organic)):  # fmt: skip
            if amount > 0:
                source.append(a)
                target.append(b)
                value.append(amount)
                label.append(component)
                color.append(tint)
    figure = go.Figure(
        go.Sankey(
            node={"label": names, "pad": 18, "thickness": 16},
            link={
                "source": source,
                "target": target,
                "value": value,
                "label": label,
                "color": [rgba(c, 0.45) for c in color],
                "hovertemplate": "%{label}: %{value:.4~g} per unit feed<extra></extra>",
            },
        )
    )
    figure.update_layout(
        title=f"Where each component goes: raffinate {raffinate:.4g}, organic product "
        f"{product:.4g} per unit feed (S = {cascade.extractant:.4g}, W = {cascade.scrub:.4g})",
        template="plotly_white",
    )
    return figure
