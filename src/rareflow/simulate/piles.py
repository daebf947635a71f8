"""State stockpiles of a scenario (JOGMEC, the US NDS, China's reserve, new ones): each builds
``days`` of a region's reference use over ``build_years`` when the price is below its cap, and
releases what it holds while one of its named lever blocks is in force. The volumes are lever
volumes of the built market, set every year from the pile's level (``RunState.piles``)."""

from __future__ import annotations

import numpy as np

from rareflow.elements import element
from rareflow.market.model import MarketModel
from rareflow.metrics import stockpile_days
from rareflow.simulate.world import ScenarioMarket, stock_lever_id


class Piles:
    def __init__(self, market: ScenarioMarket) -> None:
        self.market = market
        world = market.world
        self.targets: dict[tuple[str, str], float] = {}
        """(pile id, element) -> target level (t)."""
        self.use: dict[str, float] = {}
        """``pile_element`` -> reference annual use behind the target (t/yr)."""
        for pile in market.scenario.stockpiles:
            for e in pile.elements:
                use = sum(
                    s.reference_t
                    for s in world.segments
                    if s.region == pile.region and s.commodity == "oxide" and s.item == e
                )
                use += sum(
                    s.reference_t * world.grades[s.item].get(e, 0.0) * element(e).oxide_per_metal
                    for s in world.segments
                    if s.region == pile.region and s.commodity == "magnet"
                )
                self.targets[(pile.id, e)] = use * pile.days / 365.0
                self.use[f"{pile.id}_{e}"] = use
        program = market.clearing.model.program
        self.columns: dict[tuple[str, str, str], int] = {}
        """(pile id, element, buy | release) -> its period-0 column."""
        for pile in market.scenario.stockpiles:
            for e in pile.elements:
                for kind, family in (("buy", "stock_purchase"), ("release", "stock_release")):
                    lever = stock_lever_id(pile.id, e, kind)
                    column = next(
                        c for c in program.select(family, period=0)
                        if program.meta[c]["lever"] == lever
                    )  # fmt: skip
                    self.columns[(pile.id, e, kind)] = int(column)

    def set_volumes(
        self, model: MarketModel, year: int, period: int, live: set[str], levels: dict[str, float]
    ) -> set[str]:
        """Purchase and release volumes of every pile in one period (the later periods of the
        horizon expect the same as period 0); returns the lever ids to make active."""
        active = set()
        for pile in self.market.scenario.stockpiles:
            releasing = bool(set(pile.release_during) & live)
            for e in pile.elements:
                stock = levels.get(f"{pile.id}_{e}", 0.0)
                target = self.targets[(pile.id, e)]
                buy = (
                    0.0
                    if releasing or year < pile.start
                    else max(0.0, min(target - stock, target / pile.build_years))
                )
                model.set_lever_volume(stock_lever_id(pile.id, e, "buy"), buy, period)
                model.set_lever_volume(
                    stock_lever_id(pile.id, e, "release"), stock if releasing else 0.0, period
                )
                active |= {stock_lever_id(pile.id, e, "buy"), stock_lever_id(pile.id, e, "release")}
        return active

    def update(self, values: np.ndarray, levels: dict[str, float]) -> None:
        for (pile, e, kind), column in self.columns.items():
            moved = float(values[column])
            key = f"{pile}_{e}"
            levels[key] = levels.get(key, 0.0) + (moved if kind == "buy" else -moved)

    @staticmethod
    def levels(levels: dict[str, float]) -> dict[str, float]:
        return {f"stock:{key}": level for key, level in levels.items()}

    def rows(self, year: int, extra: dict[str, float]) -> list[tuple[int, str, str, float]]:
        rows = []
        for key, level in extra.items():
            if key.startswith("stock:"):
                pile = key.removeprefix("stock:")
                rows.append((year, "stock_t", pile, level))
                use = self.use.get(pile, 0.0)
                rows.append((year, "stockpile_days", pile, stockpile_days(level, use)))
        return rows
