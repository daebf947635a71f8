"""Supply-risk metrics: shares, concentration, N-1 coverage, self-sufficiency, independence.

Functions on plain numbers and on the tidy yearly results of runs (``run, year, metric, key,
value``; see ``rareflow.simulate.record``), so they serve one market year and whole ensembles.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from rareflow.market.clearing import Clearing

BANDS = ((2025, 2029), (2030, 2034), (2035, 2040))


def shares_pct(amounts: Mapping[str, float]) -> dict[str, float]:
    """Each holder's share of the total, in %."""
    total = sum(amounts.values())
    return {k: 100.0 * v / total for k, v in amounts.items()} if total else {}


def hhi(amounts: Mapping[str, float]) -> float:
    """Herfindahl-Hirschman index on % shares (0 to 10,000)."""
    return sum(s * s for s in shares_pct(amounts).values())


def top_share_pct(amounts: Mapping[str, float], n: int = 3) -> float:
    """Combined share of the ``n`` largest holders, in %."""
    return sum(sorted(shares_pct(amounts).values(), reverse=True)[:n])


def self_sufficiency_pct(made: float, used: float) -> float:
    """Own supply over own use, in % (NaN without use)."""
    return 100.0 * made / used if used > 0 else math.nan


def stockpile_days(stock_t: float, annual_use_t: float) -> float:
    return 365.0 * stock_t / annual_use_t if annual_use_t > 0 else math.nan


def year_of_independence(series: pd.Series, threshold_pct: float) -> int | None:
    """First year from which the value stays at or above the threshold to the end."""
    years = sorted(series.index)
    reached = None
    for year in years:
        value = series[year]
        if value >= threshold_pct and not math.isnan(value):
            reached = year if reached is None else reached
        else:
            reached = None
    return int(reached) if reached is not None else None


def n_minus_one_pct(clearing: Clearing, stage: str) -> tuple[str, float]:
    """(largest country, % of magnet demand still served without it) at one stage.

    The country's plants (or mines) of that stage get zero capacity for one solve; the
    capacities are restored afterwards.
    """
    world = clearing.world
    nodes = (
        [(m.id, m.location, m.capacity_t) for m in world.mines]
        if stage == "mine"
        else [(p.id, p.location, p.capacity_t) for p in world.plants() if p.stage == stage]
    )
    rows = clearing.model.program.rows
    upper = clearing.model.row_upper
    current = {n: float(upper[rows[("capacity", 0, n)]]) for n, _, _ in nodes}
    by_country: dict[str, float] = {}
    for node, place, _ in nodes:
        by_country[place] = by_country.get(place, 0.0) + current[node]
    largest = max(by_country, key=lambda k: by_country[k])
    base = clearing.solve().demand
    reference = base[base["commodity"] == "magnet"]["reference_t"].sum()
    try:
        for node, place, _ in nodes:
            if place == largest:
                clearing.set_capacity(node, 0.0)
        served = clearing.solve().demand
        met = served[served["commodity"] == "magnet"]["served_t"].sum()
    finally:
        for node, value in current.items():
            clearing.set_capacity(node, value)
    return largest, 100.0 * met / reference if reference else math.nan


CAPPED = "price outside China (Japan) at its demand curve's cap, % of years"
"""A headline measure: at the cap the price is a bound set by the curve's top step."""


def headline(
    results: pd.DataFrame,
    elements: list[str],
    thresholds: list[float],
    bands: tuple[tuple[int, int], ...] = BANDS,
) -> pd.DataFrame:
    """Per element and year band: median and 10-90 % band of self-sufficiency, China's shares,
    prices, unmet magnet demand and subsidy cost across runs."""
    rows = []
    for first, last in bands:
        window = results[(results["year"] >= first) & (results["year"] <= last)]
        if window.empty:
            continue
        label = f"{first}-{last}"
        per_run = window.groupby(["run", "metric", "key"])["value"].mean().reset_index()

        def band(metric: str, key: str, per_run: pd.DataFrame = per_run) -> tuple[float, ...]:
            values = per_run[(per_run["metric"] == metric) & (per_run["key"] == key)]["value"]
            values = values.dropna()
            if values.empty:
                return (math.nan, math.nan, math.nan)
            return tuple(float(np.percentile(values, q)) for q in (50, 10, 90))

        measures = (
            ("self_sufficiency_pct", "self-sufficiency % (of reference demand)"),
            ("self_sufficiency_owned_pct", "self-sufficiency by ownership %"),
            ("group_supply_t", "group supply (mined or recycled and separated in it), t oxide/yr"),
            ("group_unmet_t", "group demand unmet, t oxide/yr"),
            ("china_separated_pct", "separated in China, % of world"),
            ("price_JP_usd_per_kg", "price outside China (Japan), USD/kg"),
            ("price_CNX_usd_per_kg", "price FOB China (export), USD/kg"),
            ("price_CN_usd_per_kg", "price in China (domestic), USD/kg"),
            ("private_stock_abroad_t", "private stocks outside China, t"),
        )
        for e in elements:
            for metric, measure in measures:
                rows.append(
                    {"years": label, "element": e, "measure": measure, **_band(band(metric, e))}
                )
            capped = band("price_JP_at_cap", e)
            rows.append({"years": label, "element": e, "measure": CAPPED,
                         **_band(tuple(100.0 * v for v in capped))})  # fmt: skip
        rows.append({"years": label, "element": "Ga", "measure": measures[0][1],
                     **_band(band("self_sufficiency_pct", "Ga"))})  # fmt: skip
        for key in extra_group_keys(per_run):  # "group:element" of the scenario's extra groups
            for metric, measure in measures[: 1 if key.endswith(":Ga") else 2]:
                rows.append(
                    {"years": label, "element": key, "measure": measure, **_band(band(metric, key))}
                )
        for stage in ("mining", "separation", "magnet", "gallium"):
            rows.append(
                {
                    "years": label,
                    "element": "all",
                    "measure": f"China share of {stage} %",
                    **_band(band("china_share_pct", stage)),
                }
            )
            rows.append(
                {
                    "years": label,
                    "element": "all",
                    "measure": f"HHI of {stage} by country (0-10,000)",
                    **_band(band("hhi", stage)),
                }
            )
        rows.append(
            {
                "years": label,
                "element": "magnets",
                "measure": "unmet demand, t/yr",
                **_band(band("magnets_unmet_t", "world")),
            }
        )
        rows.append(
            {
                "years": label,
                "element": "all",
                "measure": "subsidy cost, MUSD/yr",
                **_band(band("subsidy_musd", "all")),
            }
        )
    return pd.DataFrame(rows)


def extra_group_keys(results: pd.DataFrame) -> list[str]:
    """Keys ("group:element") of the extra measured groups present in yearly results."""
    keys = results.loc[results["metric"] == "self_sufficiency_pct", "key"].unique()
    return sorted(str(k) for k in keys if ":" in str(k))


def independence(
    results: pd.DataFrame, elements: list[str], thresholds: list[float]
) -> pd.DataFrame:
    """Distribution of the year of independence per element and threshold across runs."""
    rows = []
    for e in elements:
        for threshold in thresholds:
            years = independence_years(results, e, threshold)
            reached = [y for y in years if y is not None]
            share = 100.0 * len(reached) / len(years) if years else math.nan
            rows.append(
                {
                    "element": e,
                    "threshold_%": threshold,
                    "probability_%": share,
                    "median_year": float(np.median(reached)) if reached else math.nan,
                    "p10_year": float(np.percentile(reached, 10)) if reached else math.nan,
                    "p90_year": float(np.percentile(reached, 90)) if reached else math.nan,
                }
            )
    return pd.DataFrame(rows)


def independence_years(results: pd.DataFrame, key: str, threshold: float) -> list[int | None]:
    """Per run (that records ``key``), its year of independence at ``threshold`` or None."""
    frame = results[(results["metric"] == "self_sufficiency_pct") & (results["key"] == key)]
    return [
        year_of_independence(path.set_index("year")["value"], threshold)
        for _, path in frame.groupby("run", sort=True)
    ]


def _band(values: tuple[float, ...]) -> dict[str, float]:
    return {"median": values[0], "p10": values[1], "p90": values[2]}
