"""The back-cast as Markdown tables (``rareflow backcast --markdown``): the tables of
docs/validation.md, so that a report or the documentation shows what one command printed."""

from __future__ import annotations

import math

import pandas as pd

from rareflow.simulate.backcast import Backcast

ORDER = ("La", "Ce", "Pr", "Nd", "Sm", "Eu", "Tb", "Dy")
"""Rows of the 2009-2016 price tables: light to heavy as published series run."""
RECENT = ("Dy", "Tb", "Nd", "Pr")
"""Rows of the 2024-2026 table: the controlled heavies first, then the magnet lights."""


def number(value: float | None) -> str:
    """Three significant figures (two decimals below 10), thousands separated; '–' if none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if size >= 10 else f"{value:.2f}"


def _cell(row: pd.Series) -> str:
    return (
        f"{number(row['median'])} [{number(row['p10'])}–{number(row['p90'])}] / "
        f"{number(row['published'])}"
    )


def _rows(series: pd.DataFrame, quantity: str) -> dict[tuple[str, str, int], pd.Series]:
    picked = series[series["quantity"] == quantity].set_index(["element", "market", "year"])
    return {(element, market, int(year)): row
            for (element, market, year), row in picked.iterrows()}  # fmt: skip


def _tonnes(value: float | None) -> str:
    return number(value) if value is None or math.isnan(value) else f"{value:,.0f}"


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    rule = "|" + "---|" * len(header)
    return ["| " + " | ".join(header) + " |", rule, *("| " + " | ".join(c) + " |" for c in lines)]


def markdown(result: Backcast) -> str:
    """Export and China-domestic prices 2009-2016, China's exports and smuggling, and the
    2024-2026 prices, each cell 'median [10-90 %] / published'."""
    series = result.series
    history = series[series["episode"] == "2009-2016"]
    recent = series[series["episode"] == "2024-2026"]
    prices = _rows(history, "price")
    years = sorted({year for (_, _, year) in prices})
    out: list[str] = []
    titles = {
        "export": "Export price (FOB China; model: delivered Japan less freight)",
        "china": "China domestic price (ex-VAT)",
    }
    for market, title in titles.items():
        lines = [
            [element, *(_cell(prices[(element, market, y)]) for y in years)]
            for element in ORDER
            if all((element, market, y) in prices for y in years)
        ]
        out += [f"**{title}, USD/kg: model median [10–90 %] / published**", ""]
        out += [*_table(["oxide", *map(str, years)], lines), ""]
    exports, smuggled = _rows(history, "china_exports"), _rows(history, "china_smuggled")
    legal = ["legal exports"] + [
        f"{_tonnes(exports[('all', 'export', y)]['median'])} / "
        f"{_tonnes(exports[('all', 'export', y)]['published'])}"
        for y in years
    ]
    around = ["smuggled", *(_tonnes(smuggled[("all", "export", y)]["median"]) for y in years)]
    out += [
        "**China's exports of rare-earth compounds and metals, t: model median / customs; "
        "smuggled (model)**",
        "",
    ]
    out += [*_table(["", *map(str, years)], [legal, around]), ""]
    later = _rows(recent, "price")
    recent_years = sorted({year for (_, _, year) in later})
    lines = [
        [element, market, *(_cell(later[(element, market, y)]) for y in recent_years)]
        for element in RECENT
        for market in ("china", "europe", "export")
        if all((element, market, y) in later for y in recent_years)
    ]
    first, last = recent_years[0], recent_years[-1]
    out += [f"**{first}–{last}, USD/kg: model median [10–90 %] / published**", ""]
    out += _table(["oxide", "market", *map(str, recent_years)], lines)
    return "\n".join(out) + "\n"
