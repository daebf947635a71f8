"""Results of a market clearing as tidy tables, an xarray Dataset and JSON, with checks.

Every result carries two independent conservation checks, run on every solve:
``balance`` recomputes each commodity balance at each place from the activity levels
(production + imports + stock draw = use + exports + stock build + disposal), and ``ledger``
follows every element from the mines to its final uses in t of element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rareflow.market.accounting import (
    MassBalanceError,
    check_conservation,
    meta_frame,
    subsidy_payments,
)
from rareflow.market.network import CHINA, CHINA_EXPORT, RECYCLED, at_cap
from rareflow.market.rents import buyer_rent

if TYPE_CHECKING:
    import xarray as xr

    from rareflow.market.model import MarketModel

__all__ = ["MarketResult", "MassBalanceError", "summarise"]


@dataclass
class MarketResult:
    year: int
    welfare_musd: float
    flows: pd.DataFrame
    prices: pd.DataFrame
    demand: pd.DataFrame
    balance: pd.DataFrame
    ledger: pd.DataFrame
    subsidies: pd.DataFrame
    iterations: int
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    recyclers: frozenset[str] = frozenset()
    inventories: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Private stocks at the end of the year by product and place (t)."""

    # --- views -------------------------------------------------------------------------------

    def production(self) -> pd.DataFrame:
        """t by stage and location: mining and separation feed in t REO, metal t, magnets t."""
        flows = self.flows
        parts = []
        conc = flows[flows["kind"] == "concentrate"]
        recycled = conc["mine"].isin(self.recyclers)
        for stage, rows in (("mining", conc[~recycled]), ("recycling", conc[recycled])):
            parts.append(
                rows.groupby("origin")["t"]
                .sum()
                .rename_axis("location")
                .to_frame()
                .assign(stage=stage)
            )
        feed = flows[flows["kind"].isin(["concentrate", "heavy_concentrate"])]
        parts.append(
            feed.groupby("destination")["t"]
            .sum()
            .rename_axis("location")
            .to_frame()
            .assign(stage="separation")
        )
        for stage in ("metal", "magnet", "gallium"):
            rows = flows[flows["kind"] == stage]
            parts.append(rows.groupby("location")["t"].sum().to_frame().assign(stage=stage))
        table = pd.concat(parts).reset_index()
        return table[["stage", "location", "t"]].sort_values(
            ["stage", "t"], ascending=[True, False]
        )

    def oxide_output(self) -> pd.DataFrame:
        """Separated oxide by element and place (t oxide)."""
        rows = self.flows[self.flows["kind"] == "oxide_output"]
        return (
            rows.groupby(["item", "location"])["t"]
            .sum()
            .rename_axis(["element", "location"])
            .reset_index()
        )

    def shares(self, group: str = CHINA) -> pd.DataFrame:
        """Share of a place (or group) in each stage's world output, % (magnet REE oxide too)."""
        production = self.production()
        members = {loc for loc, ids in self.groups.items() if group in ids} or {group}
        rows = []
        for stage, frame in production.groupby("stage"):
            total = frame["t"].sum()
            inside = frame[frame["location"].isin(members)]["t"].sum()
            rows.append({"stage": stage, "share_pct": 100 * inside / total if total else np.nan})
        separated = self.flows[self.flows["kind"] == "oxide_output"]
        magnet_ree = separated[separated["item"].isin(["Nd", "Pr", "Dy", "Tb"])]
        total = magnet_ree["t"].sum()
        if total:
            inside = magnet_ree[magnet_ree["location"].isin(members)]["t"].sum()
            rows.append({"stage": "separation_magnet_ree", "share_pct": 100 * inside / total})
        return pd.DataFrame(rows)

    def trade(self, by: dict[str, str] | None = None) -> pd.DataFrame:
        """Cross-border flows (t product) by commodity, optionally aggregated by a place map
        (China's shipments from its export market count as from CN)."""
        flows = self.flows
        kinds = flows["kind"].isin(["trade", "concentrate", "heavy_concentrate"])
        moved = flows[kinds & (flows["origin"] != flows["destination"])].copy()
        moved["origin"] = moved["origin"].replace(CHINA_EXPORT, CHINA)
        moved["commodity"] = moved["commodity"].fillna("concentrate")
        if by is not None:
            moved["origin"] = moved["origin"].map(lambda c: by.get(c, c))
            moved["destination"] = moved["destination"].map(lambda c: by.get(c, c))
            moved = moved[moved["origin"] != moved["destination"]]
        return (
            moved.groupby(["commodity", "origin", "destination"])["t"]
            .sum()
            .reset_index()
            .sort_values("t", ascending=False)
        )

    def price(self, commodity: str, item: str, location: str) -> float:
        rows = self.prices
        match = rows[
            (rows["commodity"] == commodity)
            & (rows["item"] == item)
            & (rows["location"] == location)
            & (rows["track"] == 0)
        ]
        if match.empty:
            raise KeyError(f"no {commodity} {item} market at {location}")
        return float(match["usd_per_kg"].iloc[0])

    def exports(self) -> pd.DataFrame:
        """China's exports by product through its export step (``export``) and around it
        (``smuggle``), t product."""
        rows = self.flows[self.flows["kind"].isin(["export", "smuggle"])]
        return (
            rows.groupby(["kind", "commodity", "item"])["t"].sum().rename_axis(
                ["route", "commodity", "item"]).reset_index()
        )  # fmt: skip

    def to_xarray(self) -> xr.Dataset:
        """Prices (commodity x item x location), production (stage x location), separated
        oxide (element x location), demand (region x end use) and private stocks as an xarray
        Dataset with a ``year`` dimension and ``units`` attributes."""
        import xarray as xr

        prices = self.prices[self.prices["track"] == 0]
        price = prices.set_index(["commodity", "item", "location"])["usd_per_kg"]
        output = self.flows[self.flows["kind"] == "oxide_output"]
        separated = (
            output.groupby(["item", "location"])["t"].sum().rename_axis(["element", "location"])
        )
        production = self.production().set_index(["stage", "location"])["t"]
        demand = self.demand.groupby(["region", "end_use"])[["reference_t", "served_t",
                                                             "unmet_t"]].sum()  # fmt: skip
        variables = {
            "price": (price, "USD/kg"),
            "production": (production, "t (REO for mining and separation feed)"),
            "separated_oxide": (separated, "t oxide"),
            "demand_reference": (demand["reference_t"], "t product"),
            "demand_served": (demand["served_t"], "t product"),
            "demand_unmet": (demand["unmet_t"], "t product"),
        }
        if len(self.inventories):
            stocks = self.inventories.set_index(["commodity", "item", "location"])["t"]
            variables["inventory"] = (stocks, "t product at year end")
        arrays = {}
        for name, (series, unit) in variables.items():
            array = xr.DataArray.from_series(series)
            array.attrs["units"] = unit
            arrays[name] = array
        return xr.Dataset(arrays).expand_dims(year=[self.year])

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in frame.to_dict(orient="records")
            ]

        return {
            "year": self.year,
            "welfare_musd": self.welfare_musd,
            "production": records(self.production()),
            "china_shares": records(self.shares()),
            "prices": records(self.prices[self.prices["track"] == 0].drop(columns="track")),
            "trade": records(self.trade()),
            "demand": records(self.demand),
            "subsidies": records(self.subsidies),
            "china_exports": records(self.exports()),
            "inventories": records(self.inventories),
            "ledger": records(self.ledger),
            "max_imbalance_t": float(self.balance["residual_t"].abs().max()),
            "iterations": self.iterations,
        }


def summarise(
    model: MarketModel, values: np.ndarray, duals: np.ndarray, objective: float, iterations: int
) -> MarketResult:
    """Tables of period 0 of a solved model, after checking its balances and its element
    ledger."""
    world, program = model.world, model.program
    meta = meta_frame(model).copy()
    meta["t"] = values
    current = meta[meta["period"] == 0]
    flows = current[np.abs(current["t"]) > 1e-9].reset_index(drop=True)
    flows = pd.concat([flows, _oxide_output(model, values)], ignore_index=True)
    balance, ledger = check_conservation(model, values)
    # China's export market reports the price its exporters get (less any rent that licensed
    # buyers keep, rents.py); everywhere else the balance row's dual
    prices = pd.DataFrame(
        [
            {"commodity": key[2], "item": key[3], "location": key[4], "track": key[5],
             "usd_per_kg": float(duals[index]) - (
                 buyer_rent(model, duals, key[2], key[3]) if key[4] == CHINA_EXPORT else 0.0)}
            for key, index in program.rows.items()
            if key[0] == "pool" and key[1] == 0
        ]
    )  # fmt: skip
    demand = _demand(model, current, prices)
    subsidies = _subsidies(model, meta)
    stocks = current[current["kind"] == "inventory"]
    inventories = (
        stocks.groupby(["commodity", "item", "location"])["t"].sum().reset_index()
        if len(stocks)
        else pd.DataFrame(columns=["commodity", "item", "location", "t"])
    )
    # the objective counts subsidies as negative costs; welfare is net of what they cost
    welfare = (objective - float(subsidies["cost_kusd"].sum(skipna=True))) / 1000.0
    recyclers = frozenset(m.id for m in world.mines if m.ore_type == RECYCLED)
    return MarketResult(
        world.year, welfare, flows, prices, demand, balance, ledger, subsidies, iterations,
        world.places, recyclers, inventories,
    )  # fmt: skip


def _oxide_output(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    rows = []
    plants = {p.id: p for p in model.world.separators}
    for (period, plant_id, item), entries in model.outputs.items():
        if period == 0 and plant_id in plants:
            produced = sum(values[c] * k for c, k in entries)
            if produced > 1e-9:
                rows.append({"kind": "oxide_output", "plant": plant_id, "item": item,
                             "location": plants[plant_id].location, "t": produced})  # fmt: skip
    return pd.DataFrame(rows)


def _demand(model: MarketModel, meta: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    """Per segment: reference, served and unmet t, the price it faces and whether that price
    is its demand curve's top step (a cap: the curve says nothing above it)."""
    steps = meta[meta["kind"] == "demand"]
    served = steps.groupby("segment")["t"].sum()
    top = steps[steps["step"] == 0].groupby("segment")["t"].sum()
    substituted = meta[meta["kind"] == "substitute"].groupby("segment")["t"].sum()
    price = prices.set_index(["commodity", "item", "location", "track"])["usd_per_kg"]
    rows = []
    for segment in model.world.segments:
        track = model.segment_track(segment.region, segment.end_use)
        got = float(served.get(segment.id, 0.0))
        face = float(price.get((segment.commodity, segment.item, segment.location, track), np.nan))
        cap = segment.steps[0][1]
        rows.append(
            {
                "segment": segment.id,
                "region": segment.region,
                "end_use": segment.end_use,
                "commodity": segment.commodity,
                "item": segment.item,
                "reference_t": segment.reference_t,
                "served_t": got,
                "substituted_t": float(substituted.get(segment.id, 0.0)),
                "unmet_t": max(0.0, segment.reference_t - got),
                "price_usd_per_kg": face,
                "at_cap": at_cap(face, cap) and top.get(segment.id, 0.0)
                          < segment.steps[0][0] - 1e-9,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def _subsidies(model: MarketModel, meta: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (floor_id, period), column in model.floor_columns.items():
        if period != 0:
            continue
        volume = float(meta.loc[column, "t"])
        subsidy = model.floor_subsidy[floor_id]
        rows.append({"lever": floor_id, "kind": "price_floor", "usd_per_kg": subsidy,
                     "t": volume, "cost_kusd": subsidy * volume})  # fmt: skip
    for lever_id, (tonnes, kusd) in subsidy_payments(model, meta["t"].to_numpy()).items():
        rate = kusd / tonnes if tonnes else float("nan")
        rows.append({"lever": lever_id, "kind": "production_subsidy", "usd_per_kg": rate,
                     "t": tonnes, "cost_kusd": kusd})  # fmt: skip
    return pd.DataFrame(rows, columns=["lever", "kind", "usd_per_kg", "t", "cost_kusd"])
