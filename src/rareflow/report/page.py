"""A self-contained HTML page of figures and tables (plotly.js inlined once, no network).

Numbers in tables are rounded for reading (``readable``): three significant figures, solver
noise below 1e-9 shown as 0, years without decimals. The figures keep full precision in their
hover text.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

NOISE = 1e-6
"""Below this a figure is the LP's tolerances and tie-break (1e-8 t), not a result: the units
tables use (t, %, USD/kg, MUSD) have nothing real that small, so it is shown as 0."""
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#1f2933;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;
border-bottom:1px solid #d9e2ec;padding-bottom:.2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#52606d;font-size:.9rem}.figure{margin:1rem 0}nav a{margin-right:.8rem}
details{margin:.5rem 0}code{background:#f0f4f8;padding:0 .2rem}
"""


def rgba(color: str, alpha: float) -> str:
    """A "#rrggbb" colour with transparency, for bands and links."""
    red, green, blue = (int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def readable(value: Any) -> str:
    """A table cell for people: 3 significant figures, thousands separators, noise as 0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if abs(value) < NOISE:
            return "0"
        if value.is_integer() and abs(value) < 1e15:
            return readable(int(value))
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(0, 2 - magnitude)
        separator = "," if abs(value) >= 10_000 else ""
        return f"{round(value, decimals):{separator}.{decimals}f}"
    return str(value)


@dataclass
class Page:
    """Sections of headings, text, figures and tables, rendered to one HTML string."""

    title: str
    subtitle: str = ""
    parts: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)
    _figures: int = 0

    def section(self, title: str) -> None:
        anchor = f"s{len(self.sections) + 1}"
        self.sections.append((anchor, title))
        self.parts.append(f'<h2 id="{anchor}">{html.escape(title)}</h2>')

    def heading(self, text: str) -> None:
        self.parts.append(f"<h3>{html.escape(text)}</h3>")

    def text(self, text: str) -> None:
        self.parts.append(f"<p>{html.escape(text)}</p>")

    def raw(self, markup: str) -> None:
        """Markup the caller has escaped."""
        self.parts.append(markup)

    def figure(self, figure: go.Figure) -> None:
        self._figures += 1
        markup = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=self._figures == 1,
            config={"displaylogo": False, "responsive": True},
            div_id=f"figure-{self._figures}",
        )
        self.parts.append(f'<div class="figure">{markup}</div>')

    def table(self, frame: pd.DataFrame, caption: str = "", links: str | None = None) -> None:
        """A table of ``frame``; ``links`` names a column whose values are URLs."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        body = []
        for row in frame.itertuples(index=False):
            cells = []
            for column, value in zip(frame.columns, row, strict=True):
                if column == links and isinstance(value, str) and value.startswith("http"):
                    url = html.escape(value, quote=True)
                    cells.append(f'<td><a href="{url}">{html.escape(value)}</a></td>')
                    continue
                number = isinstance(value, int | float) and not isinstance(value, bool)
                cls = ' class="num"' if number else ""
                cells.append(f"<td{cls}>{html.escape(readable(value))}</td>")
            body.append(f"<tr>{''.join(cells)}</tr>")
        title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self.parts.append(
            f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def render(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in self.sections)
        subtitle = f'<p class="meta">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{subtitle}"
            f'<p class="meta">rareflow report, written {stamp}</p><nav>{nav}</nav>'
            f"{''.join(self.parts)}</body></html>"
        )
