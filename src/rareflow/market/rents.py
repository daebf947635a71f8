"""Who keeps a licence's scarcity rent, and so which price China's exporters get (FOB).

A licence on China's export step limits each product's exports; when it binds, its row's dual
λ (USD/kg) is the rent of the licensed volume: P_CNX = P_CN + tax + licence cost + λ. Whether
the export (FOB) price carries λ depends on who keeps it (``Licence.rent_holder``,
docs/market.md "Two tiers in China"): the exporter (as under a quota) or the licensed buyer, in
which case China's exporters sell at P_CNX - λ and the buyer keeps λ. The LP, its quantities
and every other price are the same either way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rareflow.market.network import CHINA_EXPORT
from rareflow.market.program import pool

if TYPE_CHECKING:
    from rareflow.market.model import MarketModel


def buyer_rent_rows(model: MarketModel, commodity: str, item: str, period: int = 0) -> list[int]:
    """Rows of the licences whose rent buyers keep and which cover China's export step of the
    product in ``period`` (a licence naming destinations acts on shipments from China's export
    market instead, beyond the FOB price)."""
    cached = model.cache.buyer_rents.get((commodity, item, period))
    if cached is not None:
        return cached
    program = model.program
    steps = {
        int(c)
        for c in program.select("export", period=period)
        if program.meta[c]["commodity"] == commodity and program.meta[c]["item"] == item
    }
    found = []
    for licence in model.world.levers.licences:
        if licence.rent_holder != "buyer":
            continue
        columns = model.licensed.get((licence.id, period), {}).get((commodity, item), [])
        if steps & set(columns):
            found.append(program.rows[("licence", period, licence.id, commodity, item)])
    model.cache.buyer_rents[(commodity, item, period)] = found
    return found


def buyer_rent(
    model: MarketModel, duals: np.ndarray, commodity: str, item: str, period: int = 0
) -> float:
    """Rent per kg (USD/kg) that buyers keep on China's exports of the product in ``period``:
    the sum of those licence rows' duals (0 where none binds)."""
    rows = buyer_rent_rows(model, commodity, item, period)
    return float(sum(duals[r] for r in rows)) / model.discount[period]


def exporter_price(
    model: MarketModel,
    duals: np.ndarray,
    commodity: str,
    item: str,
    period: int = 0,
    track: int = 0,
) -> float:
    """China's export (FOB) price of the product as its exporters get it, USD/kg: the price at
    China's export market less the rent licensed buyers keep."""
    row = model.program.rows[pool(commodity, item, CHINA_EXPORT, track, period)]
    price = float(duals[row]) / model.discount[period]
    return price - buyer_rent(model, duals, commodity, item, period)
