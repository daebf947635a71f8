"""Levers as switchable effects on a built market LP.

While the model is built, every lever registers what it does to columns and rows: a cost adder
(tariffs, subsidies), a switch on a column's bound (bans, sourcing-rule copies of demand), an
absolute column bound (stock volumes, floor volumes) or a row bound (quotas, offtakes). With
``activate`` the levers in force are chosen and costs and bounds recomputed from the base values,
so a year loop turns levers on and off with warm re-solves instead of rebuilding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rareflow.dataset.levers import Subsidy, TradeRule

if TYPE_CHECKING:
    import highspy

    from rareflow.market.network import World
    from rareflow.market.program import Program


class LeverEffects:
    """Mixed into ``MarketModel``: lever matching, registration and switching."""

    world: World
    program: Program
    highs: highspy.Highs
    effects: list[tuple[str, str, int, float, float]]
    active: set[str]
    base_cost: np.ndarray
    base_upper: np.ndarray
    column_scale: np.ndarray
    floor_columns: dict[str, int]
    floor_subsidy: dict[str, float]

    def border(self, column: int, commodity: str, item: str, origin: str, destination: str) -> None:
        """Register the tariffs and bans that apply to a column crossing a border."""
        if origin == destination:
            return
        value = self.world.reference_prices.get((commodity, item), 0.0)
        levers = self.world.levers
        for tariff in levers.tariffs:
            if self.matches(tariff, commodity, item, origin, destination):
                self.effects.append(
                    (tariff.id, "cost", column, -tariff.rate_pct / 100 * value, 0.0)
                )
        for ban in levers.bans:
            if self.matches(ban, commodity, item, origin, destination):
                self.effects.append((ban.id, "switch", column, 0.0, 1.0))

    def subsidise(self, column: int, node_id: str, stage: str, location: str) -> None:
        """Register the production subsidies that lower a column's unit cost."""
        for subsidy in self.subsidies_of(node_id, stage, location):
            self.effects.append((subsidy.id, "cost", column, subsidy.usd_per_kg, 0.0))

    def matches(
        self, rule: TradeRule, commodity: str, item: str, origin: str, destination: str
    ) -> bool:
        world = self.world
        if commodity not in rule.commodities or origin == destination:
            return False
        if rule.elements and not (set(rule.elements) & self._contents(commodity, item)):
            return False
        if rule.exclude_destination and world.matches(destination, rule.exclude_destination):
            return False
        return world.matches(origin, rule.origin) and world.matches(destination, rule.destination)

    def _contents(self, commodity: str, item: str) -> set[str]:
        if commodity == "magnet":
            return set(self.world.grades[item])
        if commodity == "concentrate":
            mine = next(m for m in self.world.mines if m.id == item)
            return set(mine.ore)
        return {item}

    def subsidies_of(
        self, node_id: str, stage: str, location: str, active_only: bool = False
    ) -> list[Subsidy]:
        """Production subsidies that lower the unit cost of a mine or plant."""
        return [
            s
            for s in self.world.levers.subsidies
            if (not active_only or s.id in self.active)
            and (
                node_id in s.plants
                or (
                    not s.plants
                    and s.stage in (None, stage)
                    and self.world.matches(location, s.countries)
                )
            )
        ]

    def subsidy_payments(self, values: np.ndarray) -> dict[str, tuple[float, float]]:
        """Per production-subsidy lever: (t subsidised, thousand USD paid) at these levels."""
        nodes = {m.id: ("mine", m.location) for m in self.world.mines}
        nodes.update({p.id: (p.stage, p.location) for p in self.world.plants()})
        paid: dict[str, tuple[float, float]] = {
            s.id: (0.0, 0.0) for s in self.world.levers.subsidies
        }
        for column, meta in enumerate(self.program.meta):
            level = float(values[column])
            if level <= 0:
                continue
            for key in ("mine", "plant"):
                if key not in meta or (key == "mine" and meta["kind"] != "concentrate"):
                    continue
                stage, location = nodes[meta[key]]
                for lever in self.subsidies_of(meta[key], stage, location, active_only=True):
                    tonnes, kusd = paid[lever.id]
                    paid[lever.id] = (tonnes + level, kusd + level * lever.usd_per_kg)
        return paid

    def _apply_effects(self) -> None:
        """Costs, column and row bounds from the base values, the active levers and the
        column scales (demand growth)."""
        cost = self.base_cost.copy()
        with np.errstate(invalid="ignore"):
            upper = np.where(self.column_scale == 0, 0.0, self.base_upper * self.column_scale)
        row_upper = np.asarray(self.program.row_upper, dtype=float)
        for lever_id, kind, index, on, off in self.effects:
            active = lever_id in self.active
            if kind == "cost":
                cost[index] += on if active else off
            elif kind == "switch":
                factor = on if active else off
                upper[index] = 0.0 if factor == 0 else upper[index] * factor
            elif kind == "upper":
                upper[index] = (on if active else off) * self.column_scale[index]
            elif kind == "row":
                row_upper[index] = on if active else off
        for floor_id, column in self.floor_columns.items():
            cost[column] = self.floor_subsidy[floor_id] if floor_id in self.active else 0.0
        self.program.cost = list(cost)
        self.program.upper = list(upper)
        self.program.row_upper = list(row_upper)

    def refresh(self) -> None:
        """Push costs and bounds to HiGHS after lever or scale changes (keeps the basis)."""
        self._apply_effects()
        columns = np.arange(len(self.program.cost), dtype=np.int32)
        rows = np.arange(len(self.program.row_upper), dtype=np.int32)
        self.highs.changeColsCost(len(columns), columns, np.asarray(self.program.cost))
        self.highs.changeColsBounds(
            len(columns), columns, np.zeros(len(columns)), np.asarray(self.program.upper)
        )
        self.highs.changeRowsBounds(  # type: ignore[attr-defined]
            len(rows), rows, np.asarray(self.program.row_lower), np.asarray(self.program.row_upper)
        )

    def set_lever_volume(self, lever_id: str, volume: float) -> None:
        """New volume of a stock, floor or offtake lever (applied at the next ``refresh``)."""
        self.effects = [
            (i, kind, index, volume if i == lever_id and kind in ("upper", "row") else on, off)
            for i, kind, index, on, off in self.effects
        ]

    def activate(self, lever_ids: set[str]) -> None:
        """Make exactly these levers (of those the model was built with) active."""
        self.active = set(lever_ids)
        self.refresh()
