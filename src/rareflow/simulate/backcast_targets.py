"""Published values a back-cast is compared with, from the dataset (never model inputs).

An annual average where the dataset has one (``prices.csv``); otherwise the mean of the year's
dated quotes (``price_points.csv``), with the previous year's year-end quote as the start of the
year. China's domestic quotes are in yuan with VAT: converted with the year's exchange rate and
VAT rate of the historical layer. Nd and Pr fall back to PrNd oxide quotes where only those exist.
"""

from __future__ import annotations

import math

import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.market import history

ANNUAL_BASIS = {
    "export": "fob_china_annual_average",
    "china": "china_domestic_annual_mean_ex_vat",
}
POINT_MARKET = {"export": "fob_china", "china": "china_domestic", "europe": "europe"}

Target = tuple[float, str, str]


def published(dataset: Dataset, element: str, market: str, year: int) -> Target:
    """(USD/kg or NaN, source ids, how it was formed) for an oxide, market and year."""
    for product in _products(element):
        found = _annual(dataset, product, market, year) or _points(dataset, product, market, year)
        if found is not None:
            value, sources, how = found
            if product == "ndpr_oxide":
                how += "; PrNd oxide quotes"
            return value, sources, how
    return math.nan, "", "NOT FOUND"


def _products(element: str) -> list[str]:
    own = f"{element.lower()}_oxide"
    return [own, "ndpr_oxide"] if element in ("Nd", "Pr") else [own]


def _annual(dataset: Dataset, product: str, market: str, year: int) -> Target | None:
    basis = ANNUAL_BASIS.get(market)
    if basis is None:
        return None
    prices = dataset.tables["prices"]
    rows = prices[(prices["product"] == product) & (prices["year"] == year)
                  & (prices["basis"] == basis)]  # fmt: skip
    if rows.empty:
        return None
    pinned = rows[rows["edition"] == dataset.manifest.usgs_edition]
    row = (pinned if len(pinned) else rows).iloc[0]
    return float(row["price_usd_per_kg"]), _ids(row["source"]), "annual average"


def _points(dataset: Dataset, product: str, market: str, year: int) -> Target | None:
    points = dataset.tables["price_points"]
    dates = pd.to_datetime(points["date"])
    start = pd.Timestamp(year - 1, 12, 31)
    chosen = points[(points["product"] == product) & (points["market"] == POINT_MARKET[market])
                    & ((dates.dt.year == year) | (dates == start))]  # fmt: skip
    values, sources = [], set()
    for row in chosen.itertuples():
        high = row.high if isinstance(row.high, float) and not math.isnan(row.high) else row.low
        usd = _usd(dataset, 0.5 * (float(row.low) + float(high)), str(row.unit), year, market)
        if usd is not None:
            values.append(usd)
            sources.update(_ids(row.source).split(";"))
    if not values:
        return None
    how = f"mean of {len(values)} dated quotes"
    return sum(values) / len(values), ";".join(sorted(sources)), how


def _usd(dataset: Dataset, value: float, unit: str, year: int, market: str) -> float | None:
    if unit == "usd_per_kg":
        return value
    rate = history.values(dataset, "cny_per_usd", year).get("CN")
    vat = history.values(dataset, "china_vat_pct", year).get("CN", 0.0)
    if rate is None:
        return None
    per_kg = value / 1000.0 if unit == "cny_per_t" else value
    usd = per_kg / rate
    return usd / (1 + vat / 100.0) if market == "china" else usd


def _ids(value: object) -> str:
    return ";".join(value) if isinstance(value, list | tuple) else str(value)


def published_quantity(dataset: Dataset, quantity: str, year: int) -> Target:
    if quantity == "china_exports":
        found = history.exact(dataset, "china_exports_t", year).get("rare_earths")
        if found is not None:
            table = history.history_table(dataset)
            row = table[(table["measure"] == "china_exports_t") & (table["year"] == year)]
            return found, _ids(row["source"].iloc[0]), "customs (rare-earth compounds and metals)"
    return math.nan, "", "NOT FOUND"
