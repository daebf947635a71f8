"""The market world of a past year, from the historical layer (``market_history.csv``).

Rules (docs/validation.md lists what they assume):

- **Mines**: legal mine production by country (``mine_production_t_reo``); a key
  ``CC:ore_type`` gives one ore type's part, the rest of the country goes to its other ore types
  by their ``market.yaml`` shares. China's output outside the quota is the undocumented-mining
  state, which starts at ``undocumented_mining_t_reo`` and moves with prices.
- **Plants**: ``plant_capacity_t`` rows (nameplate) or ``plant_output_t`` rows (recorded output
  taken as capacity where no capacity was found), linear between stated years and held after
  the last; a plant with no row is absent (capacity 0) in a past year.
- **Foresight**: nameplate capacities are known ahead (plants take years to build); recorded
  outputs (mines, ``plant_output_t`` plants) only in their year (``foresight`` of a scenario's
  market options, docs/market.md).
- **Demand**: magnet demand by region and oxide-demand shares from the latest row at or before
  the year; reference prices p0 from the year's FOB China annual averages (elements without one
  keep the base year's).
- Levers: the base year's levers of ``market.yaml`` are not carried back; an episode's scenario
  states its own. Gallium and recycling are not part of past worlds' questions: gallium keeps the
  base year's plants, recycling is absent unless a capacity is stated for the year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.elements import RARE_EARTHS


def history_table(dataset: Dataset) -> pd.DataFrame:
    if "market_history" not in dataset.tables:
        return pd.DataFrame(columns=["year", "measure", "key", "value"])
    return dataset.tables["market_history"]


def covers(dataset: Dataset, year: int) -> bool:
    """Whether the historical layer states mine production for ``year``."""
    table = history_table(dataset)
    rows = table[(table["measure"] == "mine_production_t_reo") & (table["year"] == year)]
    return not rows.empty


def values(dataset: Dataset, measure: str, year: int) -> dict[str, float]:
    """key -> value of ``measure`` for ``year``: the year's row, else the latest before it."""
    table = history_table(dataset)
    rows = table[(table["measure"] == measure) & (table["year"] <= year)].dropna(subset=["value"])
    latest = rows.sort_values("year").groupby("key").tail(1)
    return {str(k): float(v) for k, v in zip(latest["key"], latest["value"], strict=True)}


def exact(dataset: Dataset, measure: str, year: int) -> dict[str, float]:
    table = history_table(dataset)
    rows = table[(table["measure"] == measure) & (table["year"] == year)].dropna(subset=["value"])
    return {str(k): float(v) for k, v in zip(rows["key"], rows["value"], strict=True)}


PLANT_MEASURES = ("plant_capacity_t", "plant_output_t")


def output_plants(dataset: Dataset) -> set[str]:
    """Plants whose past capacity is their recorded output (``plant_output_t``)."""
    table = history_table(dataset)
    return {str(k) for k in table.loc[table["measure"] == "plant_output_t", "key"]}


def capacity(dataset: Dataset, node: str, year: int) -> float | None:
    """A plant's capacity in ``year``: linear between stated years, held after the last, 0
    before the first; None when the layer says nothing of the plant."""
    table = history_table(dataset)
    rows = table[table["measure"].isin(PLANT_MEASURES) & (table["key"] == node)]
    rows = rows.dropna(subset=["value"]).sort_values("year")
    if rows.empty:
        return None
    years, levels = rows["year"].to_numpy(float), rows["value"].to_numpy(float)
    if year < years[0]:
        return 0.0
    return float(np.interp(year, years, levels))


def mine_capacities(
    dataset: Dataset, year: int, groups: list[tuple[str, str, float]]
) -> dict[str, float]:
    """Mine node id -> legal output (t REO) in ``year`` from (country, ore type, share) groups."""
    stated = exact(dataset, "mine_production_t_reo", year)
    found: dict[str, float] = {}
    for country in {c for c, _, _ in groups}:
        if country not in stated:
            continue
        total = stated[country]
        mine = [(ore, share) for c, ore, share in groups if c == country]
        fixed = {ore: stated[f"{country}:{ore}"] for ore, _ in mine if f"{country}:{ore}" in stated}
        rest = total - sum(fixed.values())
        free = sum(share for ore, share in mine if ore not in fixed)
        for ore, share in mine:
            level = fixed.get(ore, rest * share / free if free else 0.0)
            found[f"{country.lower()}_{ore}"] = max(0.0, level)
    return found


def reference_prices(dataset: Dataset, year: int) -> dict[str, float]:
    """Element -> FOB China annual average oxide price of ``year`` (where the dataset has one)."""
    prices = dataset.tables["prices"]
    rows = prices[(prices["year"] == year) & (prices["basis"] == "fob_china_annual_average")]
    found = {}
    for row in rows.itertuples():
        product = str(row.product)
        symbol = product.removesuffix("_oxide").capitalize()
        if product.endswith("_oxide") and symbol in RARE_EARTHS:
            found[symbol] = float(row.price_usd_per_kg)
    return found


def anchor_note(dataset: Dataset, year: int, base_year: int, elements: list[str]) -> str | None:
    """What a one-year clearing of a past ``year`` anchors its demand curves at, or None for
    the base year and later: the year's own published FOB prices where the dataset has them
    (so those prices are inputs, not predictions), else the base year's (so the year's supply
    meets the base year's willingness to pay)."""
    if year >= base_year or not covers(dataset, year):
        return None
    own = reference_prices(dataset, year)
    anchored = sorted(e for e in elements if e in own)
    missing = sorted(e for e in elements if e not in own)
    parts = []
    if anchored:
        parts.append(
            f"the demand curves of {', '.join(anchored)} are anchored at {year}'s published FOB "
            "China prices, so those prices are inputs here, not predictions"
        )
    if missing:
        parts.append(
            f"the dataset has no {year} FOB China price for {', '.join(missing)}: their demand "
            f"curves keep the base year's ({base_year}) prices, so their prices are {year}'s "
            f"supply against {base_year}'s willingness to pay, not {year}'s market"
        )
    return (
        f"{year} is a past year: " + "; ".join(parts) + ". The historical path, with prices "
        "never taken as inputs, is `rareflow backcast` (docs/validation.md)."
    )
