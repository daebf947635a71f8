"""The allied group's supply and security accounts on a built market: its reference use of
the security elements, the magnets it is short of, what it imports from China, its state stock
(bought and sold in period 0 towards a target in days of use, held over the horizon, carried
from year to year), the expected cost of a disruption of its imports from China beyond what the
stock covers, and the cost of holding the stock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rareflow.elements import element
from rareflow.game.instruments import STOCKPILE_ELEMENTS, Instrument
from rareflow.market.clearing import Clearing
from rareflow.market.network import CHINA_EXPORT, Segment
from rareflow.market.program import pool
from rareflow.simulate.world import stock_lever_id


@dataclass(frozen=True)
class Weights:
    """What each player values beyond its surplus (``market.yaml``, section ``game``)."""

    share_floor_pct: float = 85.0
    share_weight_musd_per_point: float = 0.0
    security_elements: tuple[str, ...] = ("Nd", "Pr", "Dy", "Tb")
    security_usd_per_kg: float = 0.0
    disruption_probability: float = 0.0
    """Chance a year that China's exports to the group are cut (for ``disruption_years``)."""
    disruption_years: float = 0.15
    """Share of a year of the group's imports from China that one disruption stops."""
    lost_use_factor: float = 10.0
    """Value of a kg of the group's use lost in a disruption, x the element's reference price."""
    stock_location: str = "JP"
    """Where the group's state stock is bought, held and sold."""


@dataclass
class AlliedSupply:
    """The group's use, imports from China and state stock, on one built market."""

    clearing: Clearing
    group: frozenset[str]
    """The group's place codes."""
    weights: Weights
    stockpiles: tuple[Instrument, ...] = ()
    held: dict[str, float] = field(default_factory=dict)
    """Element -> t oxide in the group's state stock at the start of the year."""
    _use: dict[str, float] | None = None
    _imports: list[tuple[int, int, str, float]] | None = None
    """(period, trade column, element, t oxide per t product) of shipments from China to the
    group."""
    _segments: list[tuple[Segment, np.ndarray]] | None = None
    _columns: dict[tuple[str, str], np.ndarray] | None = None

    def new_year(self) -> None:
        self._use = None

    def stock_to(self, instrument_id: str, days: float) -> None:
        """Buy or sell in period 0 what brings the stock to ``days`` of the group's use; the
        later periods of the horizon hold it."""
        model = self.clearing.model
        use = self._use if self._use is not None else self.use()
        self._use = use
        for e in STOCKPILE_ELEMENTS[instrument_id]:
            gap = use.get(e, 0.0) * days / 365.0 - self.held.get(e, 0.0)
            for kind, volume in (("buy", max(0.0, gap)), ("release", max(0.0, -gap))):
                lever = stock_lever_id(instrument_id, e, kind)
                for period in range(model.periods):
                    model.set_lever_volume(lever, volume if period == 0 else 0.0, period)
                    model.levers.active[period].add(lever)

    def carry(self, values: np.ndarray) -> None:
        """Take the year's purchases and sales into the stock held (after the year's solve)."""
        bought, sold = self.moves(values)
        for e in bought:
            self.held[e] = max(0.0, self.held.get(e, 0.0) + bought[e] - sold[e])

    def moves(self, values: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        """Element -> t bought, and t sold, by the game's stockpiles in period 0."""
        moves: dict[str, dict[str, float]] = {"buy": {}, "release": {}}
        for (kind, e), columns in self._stock_columns().items():
            moves[kind][e] = float(values[columns].sum())
        return moves["buy"], moves["release"]

    def _stock_columns(self) -> dict[tuple[str, str], np.ndarray]:
        """(buy | release, element) -> the period-0 columns of the game's stockpile levers."""
        if self._columns is None:
            program = self.clearing.model.program
            found: dict[tuple[str, str], list[int]] = {}
            for kind, family in (("buy", "stock_purchase"), ("release", "stock_release")):
                levers = {
                    stock_lever_id(i.id, e, kind): e
                    for i in self.stockpiles
                    for e in STOCKPILE_ELEMENTS[i.id]
                }
                for e in levers.values():
                    found.setdefault((kind, e), [])
                for column in program.select(family, period=0):
                    held = levers.get(program.meta[column]["lever"])
                    if held is not None:
                        found[(kind, held)].append(int(column))
            self._columns = {key: np.asarray(cols, dtype=int) for key, cols in found.items()}
        return self._columns

    def _import_columns(self) -> list[tuple[int, int, str, float]]:
        if self._imports is None:
            model = self.clearing.model
            world, program = model.world, model.program
            allied = self.group
            elements = set(self.weights.security_elements)
            found = []
            for column in program.select("trade"):
                meta = program.meta[column]
                if meta["origin"] != CHINA_EXPORT or meta["destination"] not in allied:
                    continue
                commodity, item = meta["commodity"], meta["item"]
                if commodity == "magnet":  # oxide to make it, as in use()
                    content = [
                        (e, fraction / world.magnet_yield / world.metal_yield
                         * element(e).oxide_per_metal)
                        for e, fraction in world.grades[item].items()
                    ]  # fmt: skip
                elif commodity == "metal":
                    content = [(item, element(item).oxide_per_metal / world.metal_yield)]
                elif commodity == "oxide":
                    content = [(item, 1.0)]
                else:
                    continue
                found += [
                    (int(meta["period"]), int(column), e, per_t)
                    for e, per_t in content
                    if e in elements
                ]
            self._imports = found
        return self._imports

    def disruption(
        self, values: np.ndarray, stock: dict[str, float], bought: dict[str, float]
    ) -> tuple[dict[str, float], list[float]]:
        """The group's imports from China for its use by element in period 0 (t oxide
        equivalent; what its state stock buys is not use), and the expected cost of losing them
        for ``disruption_years`` beyond what its state stock covers (thousand USD, present value,
        by period)."""
        model = self.clearing.model
        imports: dict[tuple[int, str], float] = {(0, e): -t for e, t in bought.items()}
        for period, column, e, per_t in self._import_columns():
            imports[(period, e)] = imports.get((period, e), 0.0) + per_t * float(values[column])
        imports = {key: tonnes for key, tonnes in imports.items() if tonnes > 0}
        w, prices = self.weights, model.world.reference_prices
        cost = [0.0] * model.periods
        for (period, e), tonnes in imports.items():
            uncovered = max(0.0, w.disruption_years * tonnes - stock.get(e, 0.0))
            cost[period] += (
                model.discount[period]
                * w.disruption_probability
                * w.lost_use_factor
                * prices[("oxide", e)]
                * uncovered
            )
        exposure = {e: imports.get((0, e), 0.0) for e in w.security_elements}
        return exposure, cost

    def holding_cost(self, duals: np.ndarray, stock: dict[str, float]) -> list[float]:
        """Interest on the state stock's value at the place's price and the carrying charge of
        private stocks (thousand USD, present value, by period)."""
        model = self.clearing.model
        world, rows = model.world, model.program.rows
        carrying = world.inventories.carrying_pct / 100.0 if world.inventories else 0.0
        total = [0.0] * model.periods
        for e, tonnes in stock.items():
            if tonnes <= 0:
                continue
            for period in range(model.periods):
                row = rows.get(pool("oxide", e, self.weights.stock_location, 0, period))
                price = float(duals[row]) if row is not None else 0.0
                reference = world.reference_prices[("oxide", e)] * model.discount[period]
                total[period] += tonnes * (world.discount_rate * price + carrying * reference)
        return total

    def _segments_of(self) -> list[tuple[Segment, np.ndarray]]:
        """The group's segments with their demand columns of period 0 (made once)."""
        if self._segments is None:
            program = self.clearing.model.program
            allied = self.group
            columns: dict[str, list[int]] = {}
            for column in program.select("demand", period=0):
                meta = program.meta[column]
                if meta["track"] == 0:
                    columns.setdefault(meta["segment"], []).append(int(column))
            self._segments = [
                (s, np.asarray(columns[s.id], dtype=int))
                for s in self.clearing.world.segments
                if s.location in allied and s.id in columns
            ]
        return self._segments

    def unmet(self, values: np.ndarray) -> float:
        scale = self.clearing.model.column_scale
        return sum(
            max(0.0, s.reference_t * float(scale[cols[0]]) - float(values[cols].sum()))
            for s, cols in self._segments_of()
            if s.commodity == "magnet"
        )

    def use(self) -> dict[str, float]:
        """Security element -> t oxide the group's places use at reference this year (oxides and
        the content of the magnets they buy)."""
        world, scale = self.clearing.world, self.clearing.model.column_scale
        use = dict.fromkeys(self.weights.security_elements, 0.0)
        for segment, cols in self._segments_of():
            tonnes = segment.reference_t * scale[cols[0]]
            if segment.commodity == "oxide" and segment.item in use:
                use[segment.item] += tonnes
            elif segment.commodity == "magnet":
                for e, fraction in world.grades[segment.item].items():
                    if e in use:
                        metal = tonnes * fraction / world.magnet_yield / world.metal_yield
                        use[e] += metal * element(e).oxide_per_metal
        return use
