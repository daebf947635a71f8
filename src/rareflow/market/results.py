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

from rareflow.elements import element
from rareflow.market.network import RECYCLED

if TYPE_CHECKING:
    import xarray as xr

    from rareflow.market.model import MarketModel

BALANCE_TOLERANCE = 1e-9
"""Largest allowed imbalance, relative to the largest flow of the world (t/t)."""
CHINA = "CN"


class MassBalanceError(RuntimeError):
    """A solved market does not conserve mass (a bug, never an input error)."""


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
        """Cross-border flows (t product) by commodity, optionally aggregated by a place map."""
        flows = self.flows
        kinds = flows["kind"].isin(["trade", "concentrate", "heavy_concentrate"])
        moved = flows[kinds & (flows["origin"] != flows["destination"])].copy()
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

    def to_xarray(self) -> xr.Dataset:
        """Prices, production and unmet demand as an xarray Dataset (dims year, element,
        location, stage, region, end use)."""
        import xarray as xr

        prices = self.prices[(self.prices["track"] == 0) & (self.prices["commodity"] == "oxide")]
        price = prices.set_index(["item", "location"])["usd_per_kg"].rename_axis(
            ["element", "location"]
        )
        output = self.flows[self.flows["kind"] == "oxide_output"]
        separated = (
            output.groupby(["item", "location"])["t"].sum().rename_axis(["element", "location"])
        )
        production = self.production().set_index(["stage", "location"])["t"]
        unmet = self.demand.groupby(["region", "end_use"])["unmet_t"].sum()
        dataset = xr.Dataset(
            {
                "oxide_price_usd_per_kg": xr.DataArray.from_series(price),
                "separated_oxide_t": xr.DataArray.from_series(separated),
                "production_t": xr.DataArray.from_series(production),
                "unmet_demand_t": xr.DataArray.from_series(unmet),
            }
        )
        return dataset.expand_dims(year=[self.year])

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
            "ledger": records(self.ledger),
            "max_imbalance_t": float(self.balance["residual_t"].abs().max()),
            "iterations": self.iterations,
        }


def summarise(
    model: MarketModel, values: np.ndarray, duals: np.ndarray, objective: float, iterations: int
) -> MarketResult:
    """Tables of a solved model, after checking its balances and its element ledger."""
    world, program = model.world, model.program
    meta = _meta(model).copy()
    meta["t"] = values
    flows = meta[np.abs(values) > 1e-9].reset_index(drop=True)
    flows = pd.concat([flows, _oxide_output(model, values)], ignore_index=True)
    balance = _balance(model, values)
    ledger = _ledger(model, values)
    scale = max(1.0, float(np.abs(values).max()))
    worst = max(float(balance["residual_t"].abs().max()), float(ledger["residual_t"].abs().max()))
    if worst > BALANCE_TOLERANCE * scale:
        raise MassBalanceError(
            f"market solution leaks {worst:.3g} t (tolerance {BALANCE_TOLERANCE * scale:.3g})"
        )
    prices = pd.DataFrame(
        [
            {
                "commodity": key[1],
                "item": key[2],
                "location": key[3],
                "track": key[4],
                "usd_per_kg": float(duals[index]),
            }
            for key, index in program.rows.items()
            if key[0] == "pool"
        ]
    )
    demand = _demand(model, meta, prices)
    subsidies = _subsidies(model, meta)
    # the objective counts subsidies as negative costs; welfare is net of what they cost
    welfare = (objective - float(subsidies["cost_kusd"].sum(skipna=True))) / 1000.0
    recyclers = frozenset(m.id for m in world.mines if m.ore_type == RECYCLED)
    return MarketResult(
        world.year,
        welfare,
        flows,
        prices,
        demand,
        balance,
        ledger,
        subsidies,
        iterations,
        world.places,
        recyclers,
    )


def _meta(model: MarketModel) -> pd.DataFrame:
    cached = getattr(model, "_meta", None)
    if cached is None:
        cached = pd.DataFrame(model.program.meta)
        for column in ("item", "commodity", "variant", "location", "origin", "destination"):
            if column not in cached:
                cached[column] = None
        model._meta = cached  # type: ignore[attr-defined]
    return cached


def _oxide_output(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    rows = []
    plants = {p.id: p for p in model.world.separators}
    for (plant_id, item), entries in model.outputs.items():
        if plant_id in plants:
            produced = sum(values[c] * k for c, k in entries)
            if produced > 1e-9:
                rows.append(
                    {
                        "kind": "oxide_output",
                        "plant": plant_id,
                        "item": item,
                        "location": plants[plant_id].location,
                        "t": produced,
                    }
                )
    return pd.DataFrame(rows)


def _balance(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    """Each pool: uses - supplies from the activity levels (should be 0)."""
    keys, matrix = model.balance_rows()
    activity = matrix @ values
    rows = [
        {"row": ":".join(map(str, key)), "residual_t": float(value)}
        for key, value in zip(keys, activity, strict=True)
    ]
    return pd.DataFrame(rows) if rows else pd.DataFrame({"residual_t": [0.0]})


LEDGER_COLUMNS = (
    "sourced",
    "lost_in_separation",
    "heavy_disposed",
    "oxide_final",
    "to_metal",
    "metal_made",
    "in_magnets",
    "magnet_lost",
    "metal_final",
)


def ledger_matrices(model: MarketModel) -> dict[str, np.ndarray]:
    """Per ledger column, the t of each element (metal basis) per unit of each LP column."""
    cached = getattr(model, "_ledger", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    world = model.world
    elements = world.elements
    index = {e: i for i, e in enumerate(elements)}
    metal = np.array([element(e).metal_per_oxide for e in elements])
    mines = {m.id: m for m in world.mines}
    plants = {p.id: p for p in world.separators}
    size = (len(elements), len(model.program.cost))
    out = {name: np.zeros(size) for name in LEDGER_COLUMNS}
    lost = 1 - world.recovery
    for column, meta in enumerate(model.program.meta):
        kind, item, commodity = meta["kind"], str(meta.get("item")), meta.get("commodity")
        if kind in ("concentrate", "heavy_concentrate", "heavy_disposal"):
            ore = mines[meta["mine"]].ore
            source = plants[meta["plant"] if kind != "heavy_concentrate" else meta["source"]]
            heavy = sum(v for e, v in ore.items() if e not in source.separable)
            for e, share in ore.items():
                i, mass = index[e], share * metal[index[e]]
                inside = e in source.separable
                if kind == "concentrate":
                    out["sourced"][i, column] += mass
                    out["lost_in_separation"][i, column] += lost * mass if inside else 0.0
                elif not inside:
                    target = "heavy_disposed" if kind == "heavy_disposal" else "lost_in_separation"
                    factor = 1.0 if kind == "heavy_disposal" else lost
                    out[target][i, column] += factor * mass / heavy
        elif kind == "metal":
            out["to_metal"][index[item], column] = 1 / world.metal_yield
            out["metal_made"][index[item], column] = 1.0
        elif kind == "magnet":
            for e, fraction in world.recipes(item)[meta["variant"]].items():
                out["in_magnets"][index[e], column] = fraction
                out["magnet_lost"][index[e], column] = fraction * (1 / world.magnet_yield - 1)
        elif commodity in ("oxide", "metal") and kind in FINAL_KINDS:
            sign = -1.0 if kind == "stock_release" else 1.0
            name = "oxide_final" if commodity == "oxide" else "metal_final"
            weight = metal[index[item]] if commodity == "oxide" else 1.0
            out[name][index[item], column] = sign * weight
    model._ledger = out  # type: ignore[attr-defined]
    return out


FINAL_KINDS = ("demand", "disposal", "offtake", "stock_purchase", "stock_release")


def _ledger(model: MarketModel, values: np.ndarray) -> pd.DataFrame:
    """Per element, t of element: sourced (mined or recycled) = lost in separation + disposed +
    oxide used + fed to metal; metal made = in magnets + magnet-making losses + metal used."""
    totals = {name: matrix @ values for name, matrix in ledger_matrices(model).items()}
    table = pd.DataFrame({f"{k}_t": v for k, v in totals.items()})
    table.insert(0, "element", model.world.elements)
    oxide_residual = totals["sourced"] - (
        totals["lost_in_separation"]
        + totals["heavy_disposed"]
        + totals["oxide_final"]
        + totals["to_metal"]
    )
    metal_residual = totals["metal_made"] - (
        totals["in_magnets"] + totals["magnet_lost"] + totals["metal_final"]
    )
    table["residual_t"] = np.where(
        np.abs(oxide_residual) >= np.abs(metal_residual), oxide_residual, metal_residual
    )
    return table


def _demand(model: MarketModel, meta: pd.DataFrame, prices: pd.DataFrame) -> pd.DataFrame:
    served = meta[meta["kind"] == "demand"].groupby("segment")["t"].sum()
    price = prices.set_index(["commodity", "item", "location", "track"])["usd_per_kg"]
    rows = []
    for segment in model.world.segments:
        track = model.segment_track(segment.region, segment.end_use)
        got = float(served.get(segment.id, 0.0))
        rows.append(
            {
                "segment": segment.id,
                "region": segment.region,
                "end_use": segment.end_use,
                "commodity": segment.commodity,
                "item": segment.item,
                "reference_t": segment.reference_t,
                "served_t": got,
                "unmet_t": max(0.0, segment.reference_t - got),
                "price_usd_per_kg": float(
                    price.get((segment.commodity, segment.item, segment.location, track), np.nan)
                ),
            }
        )
    return pd.DataFrame(rows)


def _subsidies(model: MarketModel, meta: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for floor_id, column in model.floor_columns.items():
        volume = float(meta.loc[column, "t"])
        subsidy = model.floor_subsidy[floor_id]
        rows.append(
            {
                "lever": floor_id,
                "kind": "price_floor",
                "usd_per_kg": subsidy,
                "t": volume,
                "cost_kusd": subsidy * volume,
            }
        )
    for lever_id, (tonnes, kusd) in model.subsidy_payments(meta["t"].to_numpy()).items():
        rate = kusd / tonnes if tonnes else float("nan")
        rows.append(
            {
                "lever": lever_id,
                "kind": "production_subsidy",
                "usd_per_kg": rate,
                "t": tonnes,
                "cost_kusd": kusd,
            }
        )
    return pd.DataFrame(rows, columns=["lever", "kind", "usd_per_kg", "t", "cost_kusd"])
