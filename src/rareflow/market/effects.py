"""Levers as switchable effects on a built market LP.

While the model is built, every lever registers what it does to one column or row of one period
as a typed ``Effect``: a cost adder (tariffs, subsidies), an ad valorem tax whose base is the
market price (export taxes, settled by the clearing), a switch on a column's bound (bans,
sourcing-rule copies of demand), an absolute column bound (stock and floor volumes) or a row
bound (quotas, offtakes, licences). ``LeverEffects.apply`` recomputes costs and bounds from the
base values, the levers active in each period and the column scales, so a year loop turns levers
on and off with warm re-solves instead of rebuilding.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np

from rareflow.dataset.levers import Subsidy, TradeRule
from rareflow.market.network import CHINA, CHINA_EXPORT, World


class EffectKind(StrEnum):
    COST = "cost"
    """Add ``on`` (active) or ``off`` to the column's objective coefficient."""
    AD_VALOREM = "ad_valorem"
    """Subtract ``on`` x the current tax base (a price, USD/kg) from the objective coefficient."""
    SWITCH = "switch"
    """Multiply the column's upper bound by ``on`` (active) or ``off``."""
    UPPER = "upper"
    """Column upper bound = the lever's volume (x the column scale) while active, else ``off``."""
    ROW_UPPER = "row_upper"
    """Row upper bound = the lever's volume while active, else ``off``."""


@dataclass(frozen=True)
class Effect:
    lever: str
    kind: EffectKind
    target: int
    """Column (or row, for ROW_UPPER) index."""
    period: int
    on: float
    off: float = 0.0
    weight: float = 1.0
    """Discount factor of the period (cost effects are in present value)."""
    volume_key: str = ""
    """Key of the volume of an UPPER / ROW_UPPER effect when it is not the lever's own (a
    licence has one volume per product it covers)."""

    @property
    def key(self) -> str:
        return self.volume_key or self.lever


@dataclass
class LeverEffects:
    """The effects of every lever of a world, which levers are active in each period, lever
    volumes and ad valorem tax bases."""

    world: World
    periods: int
    effects: list[Effect] = field(default_factory=list)
    active: list[set[str]] = field(default_factory=list)
    shares: list[dict[str, float]] = field(default_factory=list)
    """Per period: lever id -> share of the year it is in force, where below 1 (a scenario
    block from ``start_month`` or to ``end_month``). Rates and levels (COST and AD_VALOREM
    effects, licences' refused shares) count by it; bounds and switches do not."""
    volumes: dict[tuple[str, int], float] = field(default_factory=dict)
    """(volume key, period) -> volume of an UPPER / ROW_UPPER effect (default: the effect's
    ``on``); the key is the lever id or the effect's ``volume_key``."""
    tax_base: dict[int, float] = field(default_factory=dict)
    """Effect position -> current base (USD/kg) of an AD_VALOREM effect."""

    def add(self, effect: Effect) -> None:
        self.effects.append(effect)

    def part_of_year(self, lever_id: str, period: int) -> float:
        """Share of the period's year the lever is in force when it is active."""
        return self.shares[period].get(lever_id, 1.0) if self.shares else 1.0

    def share(self, lever_id: str, period: int) -> float:
        """Share of the period's year the lever is in force: 0 when inactive."""
        if lever_id not in self.active[period]:
            return 0.0
        return self.part_of_year(lever_id, period)

    # --- matching ------------------------------------------------------------------------------

    def matches(
        self,
        rule: TradeRule,
        commodity: str,
        item: str,
        origin: str,
        destination: str,
        importer: bool = False,
    ) -> bool:
        """Whether a trade rule covers a flow. China's exports pass through its export market
        (``CNX``): an exporter's rule on Chinese exports to anywhere acts on the export step
        (CN -> CNX), a rule naming destinations on the shipments from CNX; importers' rules
        (tariffs) always act on the shipments (they are not part of the FOB price)."""
        world = self.world
        if commodity not in rule.commodities or origin == destination:
            return False
        if rule.elements and not (set(rule.elements) & self.contents(commodity, item)):
            return False
        if destination == CHINA_EXPORT:
            return not importer and world.matches(origin, rule.origin) and _all_exports(world, rule)
        if origin == CHINA_EXPORT:
            if _all_exports(world, rule) and not importer:
                return False
            origin = CHINA
        if rule.exclude_destination and world.matches(destination, rule.exclude_destination):
            return False
        return world.matches(origin, rule.origin) and world.matches(destination, rule.destination)

    def contents(self, commodity: str, item: str) -> set[str]:
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
        active = self.active[0] if self.active else set()
        return [
            s
            for s in self.world.levers.subsidies
            if (not active_only or s.id in active)
            and (
                node_id in s.plants
                or (
                    not s.plants
                    and s.stage in (None, stage)
                    and self.world.matches(location, s.countries)
                )
            )
        ]

    # --- applying ------------------------------------------------------------------------------

    def apply(
        self,
        base_cost: np.ndarray,
        base_upper: np.ndarray,
        column_scale: np.ndarray,
        base_row_upper: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Objective coefficients, column upper bounds and row upper bounds under the active
        levers of every period."""
        cost = base_cost.copy()
        with np.errstate(invalid="ignore"):
            upper = np.where(column_scale == 0, 0.0, base_upper * column_scale)
        row_upper = base_row_upper.copy()
        for position, effect in enumerate(self.effects):
            on = effect.lever in self.active[effect.period]
            target = effect.target
            if effect.kind is EffectKind.COST:
                share = self.share(effect.lever, effect.period)
                cost[target] += effect.weight * (share * effect.on + (1 - share) * effect.off)
            elif effect.kind is EffectKind.AD_VALOREM:
                if on:
                    rate = self.part_of_year(effect.lever, effect.period) * effect.on
                    cost[target] -= effect.weight * rate * self.tax_base.get(position, 0.0)
            elif effect.kind is EffectKind.SWITCH:
                factor = effect.on if on else effect.off
                upper[target] = 0.0 if factor == 0 else upper[target] * factor
            elif effect.kind is EffectKind.UPPER:
                volume = self.volumes.get((effect.key, effect.period), effect.on)
                upper[target] = (volume if on else effect.off) * column_scale[target]
            else:
                volume = self.volumes.get((effect.key, effect.period), effect.on)
                row_upper[target] = volume if on else effect.off
        return cost, upper, row_upper

    def set_on(self, lever_id: str, kind: EffectKind, value: float) -> None:
        """New ``on`` of a lever's effects of one kind, at the next ``apply``: the rate of an
        export tax (AD_VALOREM) or the per-unit amount of a subsidy (COST) a player chooses."""
        for position, effect in enumerate(self.effects):
            if effect.lever == lever_id and effect.kind is kind:
                self.effects[position] = replace(effect, on=value)

    def of_kind(self, kind: EffectKind) -> list[tuple[int, Effect]]:
        return [(i, e) for i, e in enumerate(self.effects) if e.kind is kind]


def _all_exports(world: World, rule: TradeRule) -> bool:
    """A rule on exports to anywhere outside China (no destination named, and any excluded
    destination is Chinese)."""
    if rule.destination:
        return False
    return all(world.is_chinese(place) for place in rule.exclude_destination)
