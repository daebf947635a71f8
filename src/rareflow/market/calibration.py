"""Base-year calibration of the world market against published figures of the dataset.

Targets (all read from the dataset, none typed here): mine production of the major producers
(pinned USGS edition, within +-10 %), China's shares by stage (stage_shares.csv, within +-5
percentage points; separation compared on magnet rare earths, the IEA's basis) and annual
average FOB China prices of NdPr, Dy, Tb, La and Ce oxide (prices.csv, within a factor 1.5).
"""

from __future__ import annotations

import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.market.results import MarketResult

MAJOR_PRODUCERS = ("CN", "US", "AU", "MM")
PRODUCTION_TOLERANCE = 0.10
SHARE_TOLERANCE_POINTS = 5.0
PRICE_FACTOR = 1.5
SHARE_TARGETS = {
    "mining": "mining",
    "separation_magnet_ree": "separation_refining",
    "magnet": "sintered_ndfeb_magnets",
}
PRICE_TARGETS = {
    "NdPr": "ndpr_oxide",
    "Dy": "dy_oxide",
    "Tb": "tb_oxide",
    "La": "la_oxide",
    "Ce": "ce_oxide",
}


def calibration_table(dataset: Dataset, result: MarketResult) -> pd.DataFrame:
    """One row per check: model value, target, its source, the bound and whether it holds."""
    year = result.year
    rows = []
    production = result.production()
    mined = production[production["stage"] == "mining"].set_index("location")["t"]
    usgs = dataset.mine_production(year).set_index("country")
    for country in MAJOR_PRODUCERS:
        target = float(usgs.loc[country, "mine_production_t_reo"])
        model = float(mined.get(country, 0.0))
        rows.append(
            _row(
                f"mine production {country}, t REO",
                model,
                target,
                _sources(usgs.loc[country, "source"]),
                abs(model / target - 1) <= PRODUCTION_TOLERANCE,
                "+-10 %",
            )
        )
    shares = result.shares().set_index("stage")["share_pct"]
    published = dataset.table("stage_shares")
    for stage, published_stage in SHARE_TARGETS.items():
        match = published[
            (published["stage"] == published_stage)
            & (published["year"] == year)
            & (published["region"].map(lambda r: list(r) == ["CN"]))
        ]
        if match.empty:
            continue
        target = float(match["share_pct"].iloc[0])
        model = float(shares.get(stage, float("nan")))
        rows.append(
            _row(
                f"China share, {stage}, %",
                model,
                target,
                _sources(match["source"].iloc[0]),
                abs(model - target) <= SHARE_TOLERANCE_POINTS,
                "+-5 points",
            )
        )
    prices = dataset.edition_rows("prices", year).set_index("product")
    for label, product in PRICE_TARGETS.items():
        target = float(prices.loc[product, "price_usd_per_kg"])
        model = _model_price(result, label)
        ratio = model / target if target else float("nan")
        rows.append(
            _row(
                f"price {label} oxide, USD/kg",
                model,
                target,
                _sources(prices.loc[product, "source"]),
                1 / PRICE_FACTOR <= ratio <= PRICE_FACTOR,
                "factor 1.5",
            )
        )
    return pd.DataFrame(rows)


def _model_price(result: MarketResult, label: str) -> float:
    """Oxide price in China (FOB China basis); NdPr is the 75:25 Nd:Pr blend."""
    if label == "NdPr":
        nd, pr = result.price("oxide", "Nd", "CN"), result.price("oxide", "Pr", "CN")
        return 0.75 * nd + 0.25 * pr
    return result.price("oxide", label, "CN")


def _row(
    check: str, model: float, target: float, source: str, ok: bool, bound: str
) -> dict[str, object]:
    return {
        "check": check,
        "model": model,
        "target": target,
        "bound": bound,
        "ok": bool(ok),
        "source": source,
    }


def _sources(value: object) -> str:
    return ";".join(value) if isinstance(value, list | tuple) else str(value)
