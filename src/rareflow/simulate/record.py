"""Lean yearly records of a solved market: a few sparse products per year instead of tables.

Elements are reported in t of oxide; ``NdPr`` is Nd + Pr. Self-sufficiency of a group for an
element = oxide the group separates from ore mined (or scrap recycled) in the group / oxide the
group consumes (oxide demand served there plus the content of magnets served there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from rareflow.elements import element
from rareflow.market.model import MarketModel
from rareflow.market.network import RECYCLED
from rareflow.market.program import pool
from rareflow.metrics import hhi, top_share_pct

GROUPS = {"NdPr": ("Nd", "Pr"), "Dy": ("Dy",), "Tb": ("Tb",)}
STAGES = ("mining", "separation", "magnet")
CHINA = "china"


@dataclass
class Recorder:
    """Aggregation vectors over the LP columns, built once per model."""

    model: MarketModel
    group: str
    elements: tuple[str, ...]

    def __post_init__(self) -> None:
        world, meta = self.model.world, self.model.program.meta
        n = len(meta)
        mines = {m.id: m for m in world.mines}
        plants = {p.id: p for p in world.separators}
        inside = {loc for loc, ids in world.places.items() if self.group in ids}
        chinese = {loc for loc, ids in world.places.items() if CHINA in ids}
        self.made = {g: np.zeros(n) for g in self.elements}
        self.used = {g: np.zeros(n) for g in self.elements}
        self.world_made = {g: np.zeros(n) for g in self.elements}
        self.stage_total = {s: np.zeros(n) for s in STAGES}
        self.stage_china = {s: np.zeros(n) for s in STAGES}
        where: dict[str, list[str]] = {s: [""] * n for s in STAGES}
        self.magnets_demand = np.zeros(n)
        parts = {g: GROUPS.get(g, (g,)) for g in self.elements}
        for column, m in enumerate(meta):
            kind = m["kind"]
            if kind in ("concentrate", "heavy_concentrate"):
                mine = mines[m["mine"]]
                plant = plants[m["plant"]]
                source = plants[m["source"]] if kind == "heavy_concentrate" else None
                heavy = 1.0
                if source is not None:
                    heavy = sum(v for e, v in mine.ore.items() if e not in source.separable)
                for g, members in parts.items():
                    share = 0.0
                    for e in members:
                        separated = e in plant.separable and (
                            source is None or e not in source.separable
                        )
                        if separated:
                            share += self.model.world.recovery * mine.ore.get(e, 0.0) / heavy
                    self.world_made[g][column] = share
                    if mine.location in inside and plant.location in inside:
                        self.made[g][column] = share
                if kind == "concentrate":
                    self.stage_total["separation"][column] = 1.0
                    self.stage_china["separation"][column] = plant.location in chinese
                    where["separation"][column] = plant.location
                    if mine.ore_type != RECYCLED:
                        self.stage_total["mining"][column] = 1.0
                        self.stage_china["mining"][column] = mine.location in chinese
                        where["mining"][column] = mine.location
                else:
                    self.stage_total["separation"][column] = 1.0
                    self.stage_china["separation"][column] = plant.location in chinese
                    where["separation"][column] = plant.location
            elif kind == "magnet":
                self.stage_total["magnet"][column] = 1.0
                self.stage_china["magnet"][column] = m["location"] in chinese
                where["magnet"][column] = m["location"]
            elif kind == "demand":
                if m["commodity"] == "magnet":
                    self.magnets_demand[column] = 1.0
                if m["location"] not in inside:
                    continue
                for g, members in parts.items():
                    if m["commodity"] == "oxide" and m["item"] in members:
                        self.used[g][column] = 1.0
                    elif m["commodity"] == "magnet":
                        recipe = world.grades[m["item"]]
                        self.used[g][column] = (
                            sum(recipe.get(e, 0.0) * element(e).oxide_per_metal for e in members)
                            / world.magnet_yield
                        )
        self.by_place = {
            stage: sparse.csr_matrix(
                (self.stage_total[stage][[c for c, p in enumerate(where[stage]) if p]],
                 ([places.index(where[stage][c]) for c, p in enumerate(where[stage]) if p],
                  [c for c, p in enumerate(where[stage]) if p])),
                shape=(len(places), n),
            )
            for stage in STAGES
            for places in [sorted({p for p in where[stage] if p})]
        }  # fmt: skip
        rows = self.model.program.rows
        self.price_rows = {
            (g, place): [
                (rows.get(pool("oxide", e, place, 0)), 1.0 / len(parts[g])) for e in parts[g]
            ]
            for g in self.elements
            for place in ("CN", "US", "JP")
        }
        self.balance = self.model.balance_rows()[1]

    def record(
        self,
        year: int,
        values: np.ndarray,
        duals: np.ndarray,
        reference_magnets: float,
        subsidy_kusd: float,
    ) -> list[tuple[int, str, str, float]]:
        """(year, metric, key, value) rows of one solved year."""
        rows: list[tuple[int, str, str, float]] = []
        for g in self.elements:
            made, used = float(self.made[g] @ values), float(self.used[g] @ values)
            rows.append((year, "group_supply_t", g, made))
            rows.append((year, "group_use_t", g, used))
            rows.append(
                (year, "self_sufficiency_pct", g, 100 * made / used if used > 0 else np.nan)
            )
            rows.append((year, "world_supply_t", g, float(self.world_made[g] @ values)))
            for place in ("CN", "US", "JP"):
                parts = self.price_rows[(g, place)]
                if all(r is not None for r, _ in parts):
                    price = sum(duals[r] * w for r, w in parts)
                    rows.append((year, f"price_{place}_usd_per_kg", g, float(price)))
        for stage in STAGES:
            total = float(self.stage_total[stage] @ values)
            china = float(self.stage_china[stage] @ values)
            rows.append((year, "china_share_pct", stage, 100 * china / total if total else np.nan))
            amounts = {str(i): float(v) for i, v in enumerate(self.by_place[stage] @ values)}
            rows.append((year, "hhi", stage, hhi(amounts)))
            rows.append((year, "top3_share_pct", stage, top_share_pct(amounts, 3)))
        served = float(self.magnets_demand @ values)
        rows.append((year, "magnets_served_t", "world", served))
        rows.append((year, "magnets_unmet_t", "world", max(0.0, reference_magnets - served)))
        rows.append((year, "subsidy_musd", "all", subsidy_kusd / 1000.0))
        imbalance = float(np.abs(self.balance @ values).max()) if self.balance.shape[0] else 0.0
        rows.append((year, "max_imbalance_t", "all", imbalance))
        return rows
