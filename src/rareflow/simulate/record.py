"""Lean yearly records of a solved market: a few sparse products per year instead of tables.

Elements are reported in t of oxide; ``NdPr`` is Nd + Pr. For each measured group (the
scenario's group and its extra groups; a group is a union of places):

- ``group_supply_t``: oxide the group separates (plants located in it) from ore mined or scrap
  recycled in it; ``group_supply_owned_t`` counts plants and mines the group's countries own
  wherever they are (Lynas Malaysia is Australian-owned);
- ``group_reference_t``: what the group would use at reference prices (its segments' reference
  demand this year, magnets by their recipes' content); ``group_use_t``: what it was served;
  ``group_unmet_t`` the difference;
- ``self_sufficiency_pct`` = supply / reference use (unmet demand does not raise it), and the
  same by ownership.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from rareflow.elements import element
from rareflow.market.accounting import balance_residuals
from rareflow.market.model import MarketModel
from rareflow.market.network import CHINA_EXPORT, RECYCLED, Mine, Plant, at_cap, heavy_elements
from rareflow.market.program import pool
from rareflow.market.rents import buyer_rent_rows
from rareflow.market.separation import heavy_content
from rareflow.metrics import hhi, top_share_pct
from rareflow.scenario.schema import Measure

GROUPS = {"NdPr": ("Nd", "Pr"), "Dy": ("Dy",), "Tb": ("Tb",)}
STAGES = ("mining", "separation", "magnet", "gallium")
"""Stages whose China share, HHI and top-3 share are recorded (gallium: primary production)."""
CHINA = "china"
PRICE_PLACES = ("CN", CHINA_EXPORT, "DE", "US", "JP")


@dataclass
class Recorder:
    """Aggregation vectors over the period-0 LP columns, built once per model."""

    model: MarketModel
    measure: Measure
    vectors: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    """(metric, group, element group) -> weight per column."""

    def __post_init__(self) -> None:
        world, program = self.model.world, self.model.program
        n = len(program.meta)
        self.elements = tuple(self.measure.elements)
        self.parts = {g: GROUPS.get(g, (g,)) for g in self.elements}
        self.groups = {"group": (self.measure.group,), **{
            k: tuple(v) for k, v in self.measure.extra_groups.items()}}  # fmt: skip
        chinese = {loc for loc, ids in world.places.items() if CHINA in ids}
        self.stage_total = {s: np.zeros(n) for s in STAGES}
        self.stage_china = {s: np.zeros(n) for s in STAGES}
        where: dict[str, list[str]] = {s: [""] * n for s in STAGES}
        self.magnets_demand = np.zeros(n)
        self.world_made = {g: np.zeros(n) for g in self.elements}
        self.free_made = {g: np.zeros(n) for g in self.elements}
        self.china_made = {g: np.zeros(n) for g in self.elements}
        self._supply(chinese, where)
        self._use()
        for stage in ("magnet", "gallium"):
            for column in program.select(stage, period=0):
                location = program.meta[column]["location"]
                self.stage_total[stage][column] = 1.0
                self.stage_china[stage][column] = location in chinese
                where[stage][column] = location
        self._gallium()
        self.by_place = {}
        for stage in STAGES:
            places = sorted({p for p in where[stage] if p})
            cols = [c for c, p in enumerate(where[stage]) if p]
            self.by_place[stage] = sparse.csr_matrix(
                (self.stage_total[stage][cols], ([places.index(where[stage][c]) for c in cols],
                                                 cols)), shape=(len(places), n))  # fmt: skip
        rows = program.rows
        self.price_rows = {
            (g, place): [(rows.get(pool("oxide", e, place, 0)), 1.0 / len(self.parts[g]))
                         for e in self.parts[g]]
            for g in self.elements for place in PRICE_PLACES
        }  # fmt: skip
        self.rent_rows = {
            g: [(r, 1.0 / len(self.parts[g])) for e in self.parts[g]
                for r in buyer_rent_rows(self.model, "oxide", e)]
            for g in self.elements
        }  # fmt: skip
        """Element group -> rows of the licences whose rent buyers keep on China's exports of
        its oxides, with the group's weights: the export price is what exporters get."""
        caps: dict[tuple[str, str], float] = {}
        for segment in world.segments:
            if segment.commodity == "oxide":
                key = (segment.item, segment.location)
                caps[key] = min(caps.get(key, np.inf), segment.steps[0][1])
        self.price_caps = {
            (g, place): [(row, caps[(e, place)]) for e, (row, _) in
                         zip(self.parts[g], self.price_rows[(g, place)], strict=True)
                         if row is not None and (e, place) in caps]
            for g in self.elements for place in PRICE_PLACES
        }  # fmt: skip
        """(element group, place) -> (price row, cap) of each member with an oxide demand curve
        there: the curve's top step, above which it says nothing about willingness to pay."""
        self.exports = {g: np.zeros(n) for g in self.elements}
        for column in program.select("export", "smuggle", period=0):
            meta = program.meta[column]
            for g, members in self.parts.items():
                if meta["commodity"] == "oxide" and meta["item"] in members:
                    self.exports[g][column] = 1.0
        self.stocks_cn = {g: np.zeros(n) for g in self.elements}
        self.stocks_abroad = {g: np.zeros(n) for g in self.elements}
        for column in program.select("inventory", period=0):
            meta = program.meta[column]
            for g, members in self.parts.items():
                if meta["commodity"] == "oxide" and meta["item"] in members:
                    target = self.stocks_cn if meta["location"] == "CN" else self.stocks_abroad
                    target[g][column] = 1.0
        self.stocks_heavy = {g: np.zeros(n) for g in self.elements}
        for column in program.select("heavy_stock", period=0):
            meta = program.meta[column]
            content = heavy_content(self.model, meta["mine"], meta["plant"])
            for g, members in self.parts.items():
                self.stocks_heavy[g][column] = sum(content.get(e, 0.0) for e in members)
        self.substituted = np.zeros(n)
        for column in program.select("substitute", period=0):
            if program.meta[column]["segment"] in self.magnet_segments:
                self.substituted[column] = 1.0
        named: dict[tuple[str, ...], np.ndarray] = {}
        named.update(self.vectors.items())
        by_kind: dict[str, dict[str, np.ndarray]] = {
            "world_made": self.world_made,
            "free_made": self.free_made,
            "china_made": self.china_made,
            "exports": self.exports,
            "stocks_cn": self.stocks_cn,
            "stocks_abroad": self.stocks_abroad,
            "stocks_heavy": self.stocks_heavy,
            "stage_total": self.stage_total,
            "stage_china": self.stage_china,
        }
        for kind, by_key in by_kind.items():
            named.update({(kind, key): vector for key, vector in by_key.items()})
        named[("magnets_demand",)] = self.magnets_demand
        named[("substituted",)] = self.substituted
        self.totals_of = list(named)
        """The key of each row of ``stacked``."""
        self.stacked = sparse.csr_matrix(np.vstack(list(named.values())))
        """Every weight vector above as one sparse matrix: a year's totals are one product."""

    def _in(self, group: tuple[str, ...], place: str) -> bool:
        return bool(self.model.world.places.get(place, frozenset()) & set(group))

    def _supply(self, chinese: set[str], where: dict[str, list[str]]) -> None:
        world, program = self.model.world, self.model.program
        n = len(program.meta)
        mines = {m.id: m for m in world.mines}
        plants = {p.id: p for p in world.separators}
        for name in self.groups:
            for g in self.elements:
                self.vectors[("supply", name, g)] = np.zeros(n)
                self.vectors[("owned", name, g)] = np.zeros(n)
        for column in program.select("concentrate", "heavy_concentrate", period=0):
            meta = program.meta[column]
            mine, plant = mines[meta["mine"]], plants[meta["plant"]]
            source = plants[meta["source"]] if meta["kind"] == "heavy_concentrate" else None
            for g, members in self.parts.items():
                share = separated_per_t(world.recovery, mine, plant, source, members)
                self.world_made[g][column] = share
                if mine.location not in chinese and plant.location not in chinese:
                    self.free_made[g][column] = share
                if plant.location in chinese:
                    self.china_made[g][column] = share
                for name, group in self.groups.items():
                    if self._in(group, mine.location) and self._in(group, plant.location):
                        self.vectors[("supply", name, g)][column] = share
                    mine_owner = mine.owner or mine.location
                    plant_owner = plant.owner or plant.location
                    if self._in(group, mine_owner) and self._in(group, plant_owner):
                        self.vectors[("owned", name, g)][column] = share
            self.stage_total["separation"][column] = 1.0
            self.stage_china["separation"][column] = plant.location in chinese
            where["separation"][column] = plant.location
            if meta["kind"] == "concentrate" and mine.ore_type != RECYCLED:
                self.stage_total["mining"][column] = 1.0
                self.stage_china["mining"][column] = mine.location in chinese
                where["mining"][column] = mine.location

    def _use(self) -> None:
        """Served use per column (demand steps) and reference use per segment."""
        world, program = self.model.world, self.model.program
        n = len(program.meta)
        segments = {s.id: s for s in world.segments}
        self.magnet_segments = {s.id for s in world.segments if s.commodity == "magnet"}
        first: dict[str, int] = {}
        for name in self.groups:
            for g in self.elements:
                self.vectors[("use", name, g)] = np.zeros(n)
        for column in program.select("demand", period=0):
            meta = program.meta[column]
            segment = segments[meta["segment"]]
            if meta["track"] == 0 and meta["step"] == 0:
                first[segment.id] = int(column)
            if segment.commodity == "magnet":
                self.magnets_demand[column] = 1.0
            for g, members in self.parts.items():
                content = self._content(segment.commodity, segment.item, members)
                for name, group in self.groups.items():
                    if self._in(group, segment.location):
                        self.vectors[("use", name, g)][column] = content
        self.reference = {}
        for name, group in self.groups.items():
            for g, members in self.parts.items():
                weights = [(first[s.id], s.reference_t * self._content(s.commodity, s.item,
                            members)) for s in world.segments
                           if s.id in first and self._in(group, s.location)]  # fmt: skip
                self.reference[(name, g)] = (
                    np.array([c for c, _ in weights], dtype=int),
                    np.array([w for _, w in weights]),
                )

    def _gallium(self) -> None:
        """Each group's primary gallium, its served and reference use (t Ga)."""
        world, program = self.model.world, self.model.program
        n = len(program.meta)
        segments = {s.id: s for s in world.segments if s.commodity == "gallium"}
        first: dict[str, int] = {}
        for name, group in self.groups.items():
            made, used = np.zeros(n), np.zeros(n)
            for column in program.select("gallium", period=0):
                made[column] = self._in(group, program.meta[column]["location"])
            for column in program.select("demand", period=0):
                meta = program.meta[column]
                segment = segments.get(meta["segment"])
                if segment is None:
                    continue
                if meta["track"] == 0 and meta["step"] == 0:
                    first[segment.id] = int(column)
                used[column] = self._in(group, segment.location)
            self.vectors[("supply", name, "Ga")], self.vectors[("use", name, "Ga")] = made, used
            mine = [(first[s], seg.reference_t) for s, seg in segments.items()
                    if s in first and self._in(group, seg.location)]  # fmt: skip
            self.reference[(name, "Ga")] = (
                np.array([c for c, _ in mine], dtype=int),
                np.array([t for _, t in mine]),
            )

    def _content(self, commodity: str, item: str, members: tuple[str, ...]) -> float:
        """t oxide of the members per t of the product."""
        world = self.model.world
        if commodity == "oxide":
            return 1.0 if item in members else 0.0
        if commodity == "magnet":
            recipe = world.grades[item]
            return sum(recipe.get(e, 0.0) * element(e).oxide_per_metal for e in members) / (
                world.magnet_yield * world.metal_yield
            )
        return 0.0

    def record(
        self, year: int, values: np.ndarray, duals: np.ndarray, extra: dict[str, float]
    ) -> list[tuple[int, str, str, float]]:
        """(year, metric, key, value) rows of one solved year."""
        rows: list[tuple[int, str, str, float]] = []
        scale = self.model.column_scale
        total = dict(zip(self.totals_of, (self.stacked @ values).tolist(), strict=True))
        for name in self.groups:
            prefix = "" if name == "group" else f"{name}:"
            for g in self.elements:
                made = total[("supply", name, g)]
                owned = total[("owned", name, g)]
                used = total[("use", name, g)]
                columns, weights = self.reference[(name, g)]
                reference = float(weights @ scale[columns])
                key = f"{prefix}{g}"
                rows += [
                    (year, "group_supply_t", key, made),
                    (year, "group_supply_owned_t", key, owned),
                    (year, "group_use_t", key, used),
                    (year, "group_reference_t", key, reference),
                    (year, "group_unmet_t", key, max(0.0, reference - used)),
                    (year, "self_sufficiency_pct", key, _pct(made, reference)),
                    (year, "self_sufficiency_owned_pct", key, _pct(owned, reference)),
                ]
            made = total[("supply", name, "Ga")]
            used = total[("use", name, "Ga")]
            columns, weights = self.reference[(name, "Ga")]
            reference = float(weights @ scale[columns])
            rows += [
                (year, "group_supply_t", f"{prefix}Ga", made),
                (year, "group_use_t", f"{prefix}Ga", used),
                (year, "group_reference_t", f"{prefix}Ga", reference),
                (year, "self_sufficiency_pct", f"{prefix}Ga", _pct(made, reference)),
            ]
        for g in self.elements:
            rows.append((year, "world_supply_t", g, total[("world_made", g)]))
            rows.append((year, "china_free_oxide_t", g, total[("free_made", g)]))
            made_in_china = _pct(total[("china_made", g)], total[("world_made", g)])
            rows.append((year, "china_separated_pct", g, made_in_china))
            rows.append((year, "china_exports_t", g, total[("exports", g)]))
            rows.append((year, "private_stock_cn_t", g, total[("stocks_cn", g)]))
            rows.append((year, "private_stock_abroad_t", g, total[("stocks_abroad", g)]))
            rows.append((year, "heavy_concentrate_stock_t", g, total[("stocks_heavy", g)]))
            for place in PRICE_PLACES:
                parts = self.price_rows[(g, place)]
                if all(r is not None for r, _ in parts):
                    price = sum(duals[r] * w for r, w in parts if r is not None)
                    if place == CHINA_EXPORT:
                        price -= sum(duals[r] * w for r, w in self.rent_rows[g])
                    rows.append((year, f"price_{place}_usd_per_kg", g, float(price)))
                if capped := self.price_caps[(g, place)]:
                    capped_now = any(at_cap(float(duals[r]), cap) for r, cap in capped)
                    rows.append((year, f"price_{place}_at_cap", g, float(capped_now)))
        for stage in STAGES:
            whole, china = total[("stage_total", stage)], total[("stage_china", stage)]
            rows.append((year, "china_share_pct", stage, _pct(china, whole)))
            amounts = {str(i): float(v) for i, v in enumerate(self.by_place[stage] @ values)}
            rows.append((year, "hhi", stage, hhi(amounts)))
            rows.append((year, "top3_share_pct", stage, top_share_pct(amounts, 3)))
        served = total[("magnets_demand",)]
        reference = extra["reference"]
        rows.append((year, "magnets_served_t", "world", served))
        rows.append((year, "magnets_unmet_t", "world", max(0.0, reference - served)))
        rows.append((year, "magnets_substituted_t", "world", total[("substituted",)]))
        rows.append((year, "subsidy_musd", "all", extra["subsidy"] / 1000.0))
        _, residuals = balance_residuals(self.model, values)
        imbalance = float(np.abs(residuals).max(initial=0.0))
        rows.append((year, "max_imbalance_t", "all", imbalance))
        rows.append((year, "ledger_residual_t", "all", extra["ledger"]))
        rows.append((year, "recycled_t", "world", extra["recycled"]))
        return rows


def separated_per_t(
    recovery: float, mine: Mine, plant: Plant, source: Plant | None, members: tuple[str, ...]
) -> float:
    """t oxide of ``members`` separated per t of a concentrate column: a mine's ore at
    ``plant``, or (``source`` given) the heavy concentrate a light-only plant left of it."""
    fed = mine.ore
    if source is not None:  # the heavy concentrate's element shares
        left = heavy_elements(mine.ore, source)
        fed = {e: v / sum(left.values()) for e, v in left.items()}
    return sum(recovery * fed.get(e, 0.0) for e in members if e in plant.separable)


def _pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole > 0 else float("nan")
