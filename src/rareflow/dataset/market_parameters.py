"""``market.yaml``: the parameters of the world market model that the other tables do not hold.

Production capacities of mines come from the pinned mine-production table, ore vectors from the
ore types, prices from the price table and magnet recipes from the recipe table; this document
adds what the market model needs besides: which ore each country mines, plant capacities and
costs by stage, demand by region and end use, freight, the demand elasticity and the levers in
force in the base year. Every number is a ``Parameter``: a value with its unit and sources, or an
explicit assumption with a note saying why.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rareflow.dataset.documents import Parameter, nested_models
from rareflow.dataset.levers import Levers
from rareflow.dataset.schema import CountryCode, Id
from rareflow.elements import RARE_EARTHS, elements_in_group

RegionId = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")]
"""Demand-region ids are upper case (CN, EU, ROW)."""


class DemandRegion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    location: CountryCode
    magnet_demand_t: Parameter
    defence_magnet_t: Parameter | None = None
    contract_share: Parameter | None = None
    """Share of the region's magnet demand tied to magnet makers at its location."""
    oxide_demand_share: Parameter
    gallium_demand_share: Parameter


class MineGroup(BaseModel):
    """A share of a country's mine production attributed to one ore type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country: CountryCode
    ore_type: Id
    share: Parameter
    cost_usd_per_kg_reo: Parameter
    dedicated: list[Id] = []
    """Separation plants the ore may go to (integrated or state-controlled chain); empty = any."""
    routes: list[str] = []
    """Countries or groups where the ore may be separated (known trade routes); empty = any."""
    routes_source: list[Id] = []
    """Sources of ``routes`` (ids of sources.yaml)."""


class Plant(BaseModel):
    """A processing node: one facility of the dataset, an aggregate or a country's stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    location: CountryCode
    facility: Id | None = None
    capacity: Parameter
    cost_usd_per_kg: Parameter
    heavy: bool = False
    available_from: int | None = None
    feeds: list[str] = []
    """Countries or groups whose ore the plant takes (an integrated chain); empty = any."""
    feeds_source: list[Id] = []
    """Sources of ``feeds`` (ids of sources.yaml)."""
    separates: list[str] = []
    """Light plants: the elements separated when fewer than La-Gd (Lynas Malaysia and Mountain
    Pass leave Sm, Eu and Gd in their heavy concentrate); empty = La-Gd."""
    separates_source: list[Id] = []
    """Sources of ``separates`` (ids of sources.yaml)."""

    @model_validator(mode="after")
    def _separates(self) -> Plant:
        problem = separates_problem(self.separates, self.heavy, heavy_concentrate_only=False)
        if problem is None and self.separates and not self.separates_source:
            problem = "separates needs separates_source (ids of sources.yaml)"
        if problem is not None:
            raise ValueError(problem)
        return self


def separates_problem(
    separates: list[str], heavy: bool, heavy_concentrate_only: bool
) -> str | None:
    """What is wrong with a separation plant's ``separates`` list, or None.

    A light plant may separate a part of La-Gd (the rest leaves in its heavy concentrate); a
    heavy circuit on heavy concentrate only may separate a part of what it takes (the rest is
    stored); a heavy plant on mixed concentrate separates everything."""
    unknown = sorted(set(separates) - set(RARE_EARTHS))
    if unknown:
        return f"separates: {', '.join(unknown)} is not a rare-earth symbol (La, Ce, ..., Y)"
    if not separates:
        return None
    if len(set(separates)) != len(separates):
        return "separates lists an element twice"
    if not heavy:
        light = elements_in_group("light")
        outside = sorted(set(separates) - set(light), key=RARE_EARTHS.index)
        if outside:
            return (f"separates: a light-only plant separates only La-Gd ({', '.join(light)}); "
                    f"{', '.join(outside)} need heavy: true")  # fmt: skip
        return None
    if not heavy_concentrate_only:
        return ("separates on a heavy plant needs heavy_concentrate_only: true (a heavy plant "
                "on mixed concentrate separates every element)")  # fmt: skip
    return None


class Recycling(BaseModel):
    """Recovery of rare earths from magnet scrap: capacity from a facility's stated output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    facility: Id
    location: CountryCode
    cost_usd_per_kg_reo: Parameter
    dedicated: list[Id] = []


class EndUse(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    grade: Id
    share: Parameter
    price_factor: Parameter


class Grade(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    non_ree_cost_usd_per_kg: Parameter


class Thrifting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reduction: Parameter
    extra_cost_usd_per_kg: Parameter
    heavy_free_extra_cost_usd_per_kg: Parameter | None = None


class Tranche(BaseModel):
    """One tranche of private stocks: a share of annual use with its convenience yield."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    share: Parameter
    convenience_pct: Parameter
    threat_pct: Parameter


class ExpectationSpec(BaseModel):
    """What holders expect a product to be worth after a year's horizon (docs/market.md):
    ``reference`` (the long-run price) or ``extrapolative`` (last year's price, weighted
    against the reference, times a share of last year's change)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: Literal["reference", "extrapolative"]
    weight: Parameter
    trend: Parameter

    @model_validator(mode="after")
    def _in_range(self) -> ExpectationSpec:
        if not 0.0 <= self.weight.value <= 1.0:
            raise ValueError(f"expectations.weight must lie in [0, 1], not {self.weight.value}")
        if not 0.0 <= self.trend.value <= 3.0:
            raise ValueError(f"expectations.trend must lie in [0, 3], not {self.trend.value}")
        return self


class Inventories(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    commodities: list[Literal["oxide", "metal", "magnet"]]
    carrying_pct: Parameter
    tranches: Annotated[list[Tranche], Field(min_length=1)]
    expectations: ExpectationSpec | None = None
    """None: holders expect the reference price after the horizon."""

    @model_validator(mode="after")
    def _convenience_falls(self) -> Inventories:
        """Convenience must not rise with the stock, with or without a threat (else holders
        would fill a later tranche before an earlier one)."""
        plain = [t.convenience_pct.value for t in self.tranches]
        threatened = [t.convenience_pct.value + t.threat_pct.value for t in self.tranches]
        for name, levels in (("convenience_pct", plain),
                             ("convenience_pct + threat_pct", threatened)):  # fmt: skip
            if any(b > a for a, b in pairwise(levels)):
                raise ValueError(f"inventory tranches: {name} must not increase ({levels})")
        return self


class SubstitutionSpec(BaseModel):
    """How a demand segment switches to a substitute (shares of its reference demand)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_share: Parameter
    rate: Parameter
    cost_factor: Parameter
    build_cost_factor: Parameter
    reversal: Parameter | None = None


class DesignSpec(BaseModel):
    """Capacity of a magnet design variant, as shares of the base year's magnet demand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_share: Parameter
    max_share: Parameter
    rate_share: Parameter
    build_cost_usd_per_kg: Parameter


class AdjustingCapacity(BaseModel):
    """A capacity (t/yr) that starts somewhere, grows at a bounded rate and stays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    initial_t: Parameter
    max_t: Parameter
    rate_t: Parameter
    build_cost_usd_per_kg: Parameter


class SmugglingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cost_usd_per_kg: Parameter
    value_share: Parameter
    capacity: AdjustingCapacity


class UndocumentedMining(BaseModel):
    """Mining outside China's quota, with a capacity that follows prices over time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ore_type: Id
    cost_usd_per_kg_reo: Parameter
    capacity: AdjustingCapacity


class Freight(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    concentrate: Parameter
    oxide: Parameter
    metal: Parameter
    magnet: Parameter
    gallium: Parameter


class GameChina(BaseModel):
    """China as a player (docs/game.md): its places and the weight of its strategic term."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    places: Annotated[list[str], Field(min_length=1)] = ["china"]
    separation_share_floor_pct: Parameter
    """World share of separation of the security elements China wants to keep."""
    share_weight_musd_per_point: Parameter
    """What a point of share below the floor is worth to it (million USD a year)."""


class GameFinance(BaseModel):
    """The alliance's finance programme: the rate it lowers and how much it may lend."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    market_wacc_pct: Parameter
    cap_musd: Parameter


class GameAlliance(BaseModel):
    """The allied group as a player: its places and the value it puts on its own supply."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    places: Annotated[list[str], Field(min_length=1)]
    security_elements: Annotated[list[str], Field(min_length=1)]
    security_usd_per_kg: Parameter
    """Value of a kg of the security elements separated inside the group, beyond its price."""
    disruption_probability: Parameter
    """Chance a year that China's exports to the group are cut (for ``disruption_years``)."""
    disruption_years: Parameter
    """Share of a year of the group's imports from China that one disruption stops."""
    lost_use_factor: Parameter
    """Value of a kg of use lost in a disruption, x the element's reference price."""
    stockpile_location: str = "JP"
    """The place where the group's state stocks are bought and held."""
    finance: GameFinance | None = None


class GameParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    china: GameChina
    alliance: GameAlliance


class MarketParameters(BaseModel):
    """The whole ``market.yaml`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_year: int
    demand_elasticity: Parameter
    price_steps: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=2)]
    step_price: Literal["lower", "mean"] = "lower"
    """The willingness to pay of each demand step below the cap: ``lower``, the lower end of
    its price interval (p_k: the staircase lies under the curve, so a partly served step prices
    at the interval's bottom), or ``mean``, the curve's average price over the step's quantity
    (its benefit equals the area under the curve; docs/market.md)."""
    separation_recovery: Parameter
    metal_yield: Parameter
    magnet_yield: Parameter
    disposal_cost_usd_per_kg: Parameter
    magnet_reference_price_usd_per_kg: Parameter
    gallium_reference_price_usd_per_kg: Parameter
    non_magnet_share: dict[str, Parameter]
    oxide_reference_prices: dict[str, Parameter] = {}
    concentrate_value_ratio: Parameter
    heavy_thrifting: Thrifting | None = None
    freight_usd_per_kg: Freight
    regions: dict[RegionId, DemandRegion]
    end_uses: dict[Id, EndUse]
    grades: dict[Id, Grade]
    mines: list[MineGroup]
    separators: list[Plant]
    metal_plants: list[Plant]
    magnet_plants: list[Plant]
    gallium_cost_usd_per_kg: Parameter
    recycling: list[Recycling] = []
    magnet_use_growth_pct: dict[Id, Parameter] = {}
    """Past annual growth of magnet use by end use ("default" for the others): the magnets in
    use in the base year, whose end of life feeds recycling from the first year."""
    discount_rate: Parameter | None = None
    inventories: Inventories | None = None
    substitution: dict[Id, SubstitutionSpec] = {}
    designs: dict[Literal["thrifted", "heavy_free"], DesignSpec] = {}
    smuggling: SmugglingSpec | None = None
    undocumented_mining: UndocumentedMining | None = None
    levers: Levers = Levers()
    game: GameParameters | None = None
    kind: Literal["market"] = "market"

    def parameters(self) -> list[Parameter]:
        """Every Parameter of the document (for the source check)."""
        return [m for m in nested_models(self) if isinstance(m, Parameter)]

    def references(self) -> list[tuple[str, str, str]]:
        """(kind, field, value) of every country, ore type, facility, grade and route source
        named."""
        found = [("country", f"regions.{k}.location", r.location) for k, r in self.regions.items()]
        for index, mine in enumerate(self.mines):
            found.append(("country", f"mines[{index}].country", mine.country))
            found.append(("ore type", f"mines[{index}].ore_type", mine.ore_type))
            found += [("source", f"mines[{index}].routes_source", s) for s in mine.routes_source]
        for index, recycler in enumerate(self.recycling):
            found.append(("country", f"recycling[{index}].location", recycler.location))
            found.append(("facility", f"recycling[{index}].facility", recycler.facility))
        for stage in ("separators", "metal_plants", "magnet_plants"):
            for index, plant in enumerate(getattr(self, stage)):
                found.append(("country", f"{stage}[{index}].location", plant.location))
                if plant.facility is not None:
                    found.append(("facility", f"{stage}[{index}].facility", plant.facility))
                for name in ("feeds_source", "separates_source"):
                    field = f"{stage}[{index}].{name}"
                    found += [("source", field, s) for s in getattr(plant, name)]
        found += [("grade", f"grades.{g}", g) for g in self.grades]
        return found

    @model_validator(mode="after")
    def _consistent(self) -> MarketParameters:
        steps = self.price_steps
        if any(a <= b for a, b in pairwise(steps)):
            raise ValueError("price_steps must be strictly decreasing multipliers of p0")
        ids = [p.id for p in self.separators + self.metal_plants + self.magnet_plants]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"plant ids must be unique; repeated: {', '.join(duplicates)}")
        unknown = sorted({u.grade for u in self.end_uses.values()} - set(self.grades))
        if unknown:
            raise ValueError(f"end uses name grades not listed under grades: {unknown}")
        return self
