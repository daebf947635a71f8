"""Players, their instruments and what each wants, on a built market model.

China chooses export taxes (ad valorem on the FOB price) on three groups of products: light
rare-earth oxides and metals, heavy ones, and magnets (or licences refusing a share of each
group's exports). The allied group chooses price floors for its own separators, one on Nd and
Pr, one on Dy and Tb (a contract for difference on their whole output, as the DoD-MP floor), and
a production subsidy per kg REO they separate, and state stocks of the security elements
(``instruments.py``). A policy profile gives every instrument a value; evaluating it clears the
market with those levers (warm re-solves) and splits the welfare by place (``welfare.py``).

Objectives (million USD, present value over the model's periods):

- China: the surplus of its producers and consumers plus its tax revenue, less
  ``share_weight`` x the points by which its share of world separation of the security elements
  falls below ``share_floor`` (zero weight by default: welfare only).
- The alliance: the surplus of its producers and consumers, less the subsidies it pays, plus
  ``security_usd_per_kg`` x the security elements separated inside the group (the value it puts
  on its own supply beyond the price; the DoD-MP deal reveals about 47 USD/kg), less the
  expected cost of a disruption: with ``disruption_probability`` a year, China's exports to the
  group stop for ``disruption_years``, and what the group would have imported from China in that
  time that its state stocks do not cover is lost at ``lost_use_factor`` x the reference price
  (the cut is not anticipated by the market's buyers), less the cost of holding its
  stocks (interest on their value and the carrying charge of private stocks).

A state stock is an asset bought and sold at the market price, so its purchases and sales move
nobody's welfare directly (``welfare.STOCKPILE_BOOKS``); what they do to prices does.

A best response searches one player's instruments on their grids, coordinate by coordinate,
holding the other's fixed; it starts from the better of the current policy and no policy, so it
never does worse for the player than price-taking (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rareflow.game.instruments import (
    ALLIANCE_PLAYER,
    CHINA_PLAYER,
    STOCKPILE_ELEMENTS,
    Instrument,
)
from rareflow.game.security import AlliedSupply, Weights
from rareflow.game.welfare import accounts
from rareflow.market.clearing import Clearing
from rareflow.market.effects import EffectKind
from rareflow.market.model_parts import licence_key
from rareflow.market.network import CHINA, RECYCLED
from rareflow.market.program import pool
from rareflow.simulate.world import stock_lever_id

RELATIVE_TOLERANCE = 1e-5
"""A policy must beat another by this share of the objective to count as better: the welfare
split rests on the LP's prices, which a degenerate LP does not fix uniquely (alternative optimal
bases move a player's share by about 0.1 million USD of some 70,000 in the world model)."""
Profile = dict[str, float]


@dataclass
class Outcome:
    """A cleared profile: each player's objective and what the tables report."""

    objectives: dict[str, float]
    """Player -> objective, million USD."""
    welfare: dict[str, float]
    """Player -> surplus + revenue - subsidies, million USD (without the strategic terms)."""
    subsidies_musd: float
    tax_revenue_musd: float
    prices: dict[str, float]
    """``element:place`` -> oxide price of period 0, USD/kg (CN and JP)."""
    china_share_pct: float
    allied_output_t: dict[str, float]
    """Security element -> t oxide separated inside the group in period 0."""
    unmet_magnets_t: float
    """Magnet demand of the group's places left unmet in period 0 (reference less served), t."""
    stock_t: dict[str, float] = field(default_factory=dict)
    """Security element -> t oxide in the group's state stock (the game's) after period 0."""
    exposure_t: dict[str, float] = field(default_factory=dict)
    """Security element -> t oxide equivalent the group imports from China in period 0."""
    disruption_cost_musd: float = 0.0
    """Expected cost of a disruption over the periods (present value)."""
    stock_cost_musd: float = 0.0
    """Cost of holding the state stock over the periods (present value)."""
    objectives_now: dict[str, float] = field(default_factory=dict)
    """Player -> its objective in period 0 alone (the year itself), million USD."""


@dataclass
class Game:
    """Two players' instruments on one built market (the year the runner has set up)."""

    clearing: Clearing
    instruments: tuple[Instrument, ...]
    places: dict[str, frozenset[str]]
    """Player -> its place codes."""
    supply: AlliedSupply
    """The alliance's use, imports from China and state stock."""
    weights: Weights = field(default_factory=Weights)
    evaluations: int = 0
    _cache: dict[tuple[tuple[str, float], ...], Outcome] = field(default_factory=dict)
    _mines: dict[int, float] | None = None
    """Capacity row -> its bound as the year was set up, for China's legal mines (what a
    mining cut scales)."""
    _reference: dict[tuple[str, int], dict[tuple[str, str], float]] | None = None
    """(licence, period) -> each product's flows at no policy this year (what a refused share
    applies to)."""

    @classmethod
    def on(cls, clearing: Clearing, instruments: tuple[Instrument, ...],
           alliance: list[str], weights: Weights) -> Game:  # fmt: skip
        world = clearing.world
        places = {
            CHINA_PLAYER: frozenset(p for p in world.places if world.is_chinese(p)),
            ALLIANCE_PLAYER: frozenset(
                p for p in world.places if world.matches(p, alliance) and not world.is_chinese(p)
            ),
        }
        levers = world.levers
        known = {
            r.id
            for r in [*levers.floors, *levers.export_taxes, *levers.licences, *levers.subsidies,
                      *levers.stock_purchases]
        }  # fmt: skip
        usable = tuple(
            i
            for i in instruments
            if i.id in known
            or i.kind == "production"
            or (
                i.kind == "stockpile"
                and stock_lever_id(i.id, STOCKPILE_ELEMENTS[i.id][0], "buy") in known
            )
        )
        stockpiles = tuple(i for i in usable if i.kind == "stockpile")
        supply = AlliedSupply(clearing, places[ALLIANCE_PLAYER], weights, stockpiles)
        return cls(clearing, usable, places, supply, weights)

    def of(self, player: str) -> tuple[Instrument, ...]:
        return tuple(i for i in self.instruments if i.player == player)

    def zero(self) -> Profile:
        return {i.id: 0.0 for i in self.instruments}

    def new_year(self) -> None:
        """Forget the outcomes and licence references of another year's model."""
        self._cache.clear()
        self._reference = None
        self._mines = None
        self.supply.new_year()

    def carry(self, values: np.ndarray) -> None:
        """Take the year's stock purchases and sales into the stock held (after its solve)."""
        self.supply.carry(values)

    def allied_use(self) -> dict[str, float]:
        return self.supply.use()

    # --- clearing a profile ------------------------------------------------------------------

    def apply(self, profile: Profile) -> None:
        """Set the instruments on the model (a lever at zero is switched off)."""
        model, world = self.clearing.model, self.clearing.world
        if self._reference is None and any(
            profile.get(i.id, 0.0) > 0 for i in self.instruments if i.kind == "licence"
        ):
            self._reference = self._licence_reference()
        floors = {f.id: f for f in world.levers.floors}
        subsidies = {s.id: s for s in world.levers.subsidies}
        for instrument in self.instruments:
            value = profile.get(instrument.id, 0.0)
            if instrument.kind == "export_tax":
                model.levers.set_on(instrument.id, EffectKind.AD_VALOREM, value)
            elif instrument.kind == "licence" and value > 0:
                self._refuse(instrument.id, value)
            elif instrument.kind == "production":
                for row, bound in self._chinese_mines().items():
                    model.row_upper[row] = bound * (1.0 - value)
                continue
            elif instrument.kind == "stockpile":
                self.supply.stock_to(instrument.id, value)
                continue
            elif instrument.kind == "floor":
                floors[instrument.id] = floors[instrument.id].model_copy(
                    update={"floor_usd_per_kg": value}
                )
            elif instrument.kind == "subsidy":
                model.levers.set_on(instrument.id, EffectKind.COST, value)
                subsidies[instrument.id] = subsidies[instrument.id].model_copy(
                    update={"usd_per_kg": value}
                )
            for active in model.levers.active:
                if value > 0:
                    active.add(instrument.id)
                else:
                    active.discard(instrument.id)
        world.levers = world.levers.model_copy(
            update={"floors": list(floors.values()), "subsidies": list(subsidies.values())}
        )
        model.refresh()

    def _chinese_mines(self) -> dict[int, float]:
        """Capacity rows of China's legal mines (not recyclers, not the undocumented state)
        with their bounds as the year was set up (taken once a year)."""
        if self._mines is None:
            model = self.clearing.model
            rows = model.program.rows
            chinese = self.places[CHINA_PLAYER]
            self._mines = {
                rows[key]: float(model.row_upper[rows[key]])
                for mine in model.world.mines
                if mine.location in chinese and mine.adjustable is None
                and mine.ore_type != RECYCLED
                for period in range(model.periods)
                if (key := ("capacity", period, mine.id)) in rows
            }  # fmt: skip
        return self._mines

    def _licence_reference(self) -> dict[tuple[str, int], dict[tuple[str, str], float]]:
        """Each licence's product flows with every instrument at zero (one solve)."""
        self.apply(self.zero())
        values, _, _, _ = self.clearing.solve_arrays()
        model = self.clearing.model
        return {
            (i.id, period): model.licence_flows(i.id, period, values)
            for i in self.instruments
            if i.kind == "licence"
            for period in range(model.periods)
        }

    def _refuse(self, licence_id: str, share: float) -> None:
        model, reference = self.clearing.model, self._reference or {}
        for period in range(model.periods):
            for (commodity, item), flows in reference.get((licence_id, period), {}).items():
                key = licence_key(licence_id, commodity, item)
                model.levers.volumes[(key, period)] = (1.0 - share) * flows

    def evaluate(self, profile: Profile) -> Outcome:
        key = tuple(sorted(profile.items()))
        found = self._cache.get(key)
        if found is None:
            self.apply(profile)
            values, duals, _, _ = self.clearing.solve_arrays()
            self.evaluations += 1
            found = self._cache[key] = self._outcome(values, duals)
        return found

    def _outcome(self, values: np.ndarray, duals: np.ndarray) -> Outcome:
        model = self.clearing.model
        split = accounts(model, values, duals)
        welfare = {p: split.total(set(places)) / 1e3 for p, places in self.places.items()}
        first = accounts(model, values, duals, period=0)
        welfare_now = {p: first.total(set(places)) / 1e3 for p, places in self.places.items()}
        share, by_element, allied = self._separation(values)
        w = self.weights
        supply = self.supply
        bought, sold = supply.moves(values)
        stock = {e: supply.held.get(e, 0.0) + bought[e] - sold[e] for e in bought}
        exposure, disruption = supply.disruption(values, stock, bought)
        holding = supply.holding_cost(duals, stock)
        welfare[ALLIANCE_PLAYER] -= sum(holding) / 1e3
        welfare_now[ALLIANCE_PLAYER] -= holding[0] / 1e3
        shortfall = max(0.0, w.share_floor_pct - share)
        strategic = w.share_weight_musd_per_point * shortfall
        objectives = {
            CHINA_PLAYER: welfare[CHINA_PLAYER] - strategic,
            ALLIANCE_PLAYER: welfare[ALLIANCE_PLAYER]
            + w.security_usd_per_kg * allied / 1e3
            - sum(disruption) / 1e3,
        }
        objectives_now = {
            CHINA_PLAYER: welfare_now[CHINA_PLAYER] - strategic,
            ALLIANCE_PLAYER: welfare_now[ALLIANCE_PLAYER]
            + w.security_usd_per_kg * sum(by_element.values()) / 1e3
            - disruption[0] / 1e3,
        }
        return Outcome(
            objectives,
            welfare,
            _sum(split.subsidies_paid, self.places[ALLIANCE_PLAYER]) / 1e3,
            _sum(split.tax_revenue, self.places[CHINA_PLAYER]) / 1e3,
            self._prices(duals),
            share,
            by_element,
            supply.unmet(values),
            stock,
            exposure,
            sum(disruption) / 1e3,
            sum(holding) / 1e3,
            objectives_now,
        )

    def _separation(self, values: np.ndarray) -> tuple[float, dict[str, float], float]:
        """China's share (%) of world separation of the security elements in period 0, the
        group's t of each in period 0, and the group's t in present value over the periods."""
        model = self.clearing.model
        chinese, allied = self.places[CHINA_PLAYER], self.places[ALLIANCE_PLAYER]
        total = china = group_pv = 0.0
        group = dict.fromkeys(self.weights.security_elements, 0.0)
        for plant in model.world.separators:
            for period in range(model.periods):
                for e in self.weights.security_elements:
                    outputs = model.outputs.get((period, plant.id, e), [])
                    made = float(sum(c * values[col] for col, c in outputs))
                    if plant.location in allied:
                        group_pv += model.discount[period] * made
                        group[e] += made if period == 0 else 0.0
                    if period == 0:
                        total += made
                        china += made if plant.location in chinese else 0.0
        return (100.0 * china / total if total > 0 else 0.0), group, group_pv

    def _prices(self, duals: np.ndarray) -> dict[str, float]:
        rows = self.clearing.model.program.rows
        found = {}
        for e in ("Nd", "Pr", "Dy", "Tb"):
            for place in (CHINA, "JP"):
                row = rows.get(pool("oxide", e, place, 0, 0))
                if row is not None:
                    found[f"{e}:{place}"] = float(duals[row])
        return found

    # --- best responses ----------------------------------------------------------------------

    def best_response(self, player: str, profile: Profile, sweeps: int = 3) -> Profile:
        """The player's instruments that do best for it against the other's in ``profile``:
        coordinate search over the grids, from the better of the current and no policy."""
        mine = self.of(player)
        start = dict(profile)
        idle = {**profile, **{i.id: 0.0 for i in mine}}
        if better(self.evaluate(idle).objectives[player], self.evaluate(start).objectives[player]):
            start = idle
        best = self.evaluate(start).objectives[player]
        for _ in range(sweeps):
            changed = False
            for instrument in mine:
                for value in instrument.grid:
                    trial = {**start, instrument.id: value}
                    score = self.evaluate(trial).objectives[player]
                    if better(score, best):
                        start, best, changed = trial, score, True
            if not changed:
                break
        return start


def better(score: float, than: float) -> bool:
    """Whether ``score`` beats ``than`` by more than the split's numerical noise."""
    return score > than + RELATIVE_TOLERANCE * abs(than) + 1e-6


def _sum(by_place: dict[str, float], places: frozenset[str]) -> float:
    return sum(v for p, v in by_place.items() if p in places)
