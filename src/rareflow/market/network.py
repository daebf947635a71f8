"""The world of one market year: mines, plants, demand segments and places, as plain data.

``rareflow.market.world_data.build_world`` assembles it from the dataset; tests build small
worlds by hand. The LP (``rareflow.market.model``) only sees a ``World``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from rareflow.dataset.levers import Levers
from rareflow.elements import RARE_EARTHS, elements_in_group

LIGHT_SEPARABLE = frozenset(elements_in_group("light"))
"""Elements a light-only separation plant separates (La-Gd, USGS grouping)."""


DIDYMIUM_PR = 0.25
"""Pr share of Nd + Pr in didymium (PrNd) oxide and metal, the 75:25 trade ratio
(source fastmarkets_2024_06_20_ndpr, as in magnet_recipes.csv)."""


CHINA = "CN"
"""China's domestic market (its plants, its consumers, its traders)."""
CHINA_EXPORT = "CNX"
"""China's export market: Chinese material cleared for export (quotas, taxes, licences passed)
waits here; its price is the FOB China price. Not a country: no plant or consumer sits there."""
CHINA_GROUP = "china"


class MarketDataError(ValueError):
    """The dataset cannot make a market world for the year asked (missing data)."""


@dataclass(frozen=True)
class Adjustable:
    """A capacity that moves over time: it starts at ``initial_t``, grows by at most ``rate_t`` a
    year (each t/yr added costs ``build_cost_usd_per_kg`` once, in kUSD per t/yr) up to
    ``max_t``, and once built stays (less ``reversal`` a year): substitution, design and
    smuggling capacities, undocumented mining."""

    initial_t: float
    max_t: float
    rate_t: float
    build_cost_usd_per_kg: float
    reversal: float = 0.0


@dataclass(frozen=True)
class Substitution:
    """How a demand segment can switch to a substitute technology: up to ``max_share`` of its
    reference demand, adding at most ``rate`` of it a year, at ``cost_factor`` x its reference
    price per kg replaced, after a one-time development cost of ``build_cost_factor`` x p0 per
    t/yr of capacity."""

    max_share: float
    rate: float
    cost_factor: float
    build_cost_factor: float
    reversal: float = 0.0


@dataclass(frozen=True)
class Inventories:
    """Private stocks of the products in ``commodities`` held at every demand place, in tranches
    of the place's annual reference use: (share of use, convenience yield % of p0 a year, extra
    convenience % of p0 a year under a supply threat of level 1). Holding a t costs
    ``carrying_pct`` % of p0 a year plus interest (the discount rate)."""

    commodities: tuple[str, ...]
    tranches: tuple[tuple[float, float, float], ...]
    carrying_pct: float


@dataclass(frozen=True)
class Smuggling:
    """Exports around China's quota, tax and licence system (not around bans or licences that
    close smuggling, which are enforced): extra cost per kg plus a share of the product's
    value, within a network capacity (t/yr, all products together) that adjusts over time."""

    cost_usd_per_kg: float
    capacity: Adjustable
    value_share: float = 0.0
    """Extra cost as a share of the product's reference value (risk grows with value)."""


@dataclass(frozen=True)
class Mine:
    """Mining and beneficiation to a mixed concentrate (t REO) with a fixed element vector."""

    id: str
    location: str
    ore_type: str
    ore: dict[str, float]
    capacity_t: float
    cost_usd_per_kg: float
    dedicated: tuple[str, ...] = ()
    """Separation plants this ore may go to; empty = any."""
    routes: tuple[str, ...] = ()
    """Countries or groups where this ore may be separated (known trade routes); empty = any."""
    owner: str | None = None
    """Country of the owner (None: the mine's own country)."""
    adjustable: Adjustable | None = None
    """Capacity that adjusts over time instead of a fixed capacity (undocumented mining)."""


@dataclass(frozen=True)
class Plant:
    """A separation, metal, magnet or gallium plant: capacity in t of its stage's unit."""

    id: str
    stage: str
    location: str
    capacity_t: float
    cost_usd_per_kg: float
    heavy: bool = False
    facility: str | None = None
    feeds: tuple[str, ...] = ()
    """Countries or groups whose ore the plant takes; empty = any."""
    owner: str | None = None
    """Country of the owner (None: the plant's own country)."""
    takes_heavy_of: tuple[str, ...] = ()
    """Light-only plants whose heavy concentrate goes only here (or into store) while this
    plant has capacity in a period (an integrated chain)."""
    heavy_concentrate_only: bool = False
    """Takes only light-only plants' heavy concentrate, never a mine's mixed concentrate."""
    separates: frozenset[str] | None = None
    """Elements the plant separates when it is not its kind's default set: a light plant
    that leaves Sm, Eu and Gd in its heavy concentrate (SEG), or a heavy circuit that makes
    only some of the heavy concentrate's elements and stores the rest."""

    @property
    def separable(self) -> frozenset[str]:
        if self.separates is not None:
            return self.separates
        return frozenset(RARE_EARTHS) if self.heavy else LIGHT_SEPARABLE


@dataclass(frozen=True)
class Segment:
    """Stepwise demand of one region and end use for one product at one place."""

    id: str
    region: str
    end_use: str
    commodity: str
    item: str
    location: str
    reference_t: float
    reference_price: float
    steps: tuple[tuple[float, float], ...]
    """(quantity t, willingness to pay USD/kg), highest price first."""
    domestic: bool = False
    """Served only by plants at its location (qualified long-term supply)."""


@dataclass
class World:
    """Everything one clearing needs."""

    year: int
    places: dict[str, frozenset[str]]
    """Location code -> the ids it answers to (itself and its country groups)."""
    mines: list[Mine]
    separators: list[Plant]
    metal_plants: list[Plant]
    magnet_plants: list[Plant]
    gallium_plants: list[Plant]
    grades: dict[str, dict[str, float]]
    """Grade -> kg of each rare-earth metal per kg magnet."""
    grade_other_cost: dict[str, float]
    segments: list[Segment]
    freight: dict[str, float]
    reference_prices: dict[tuple[str, str], float]
    """(commodity, item) -> USD/kg, for ad valorem tariffs."""
    recovery: float
    metal_yield: float
    magnet_yield: float
    disposal_cost: float
    levers: Levers = field(default_factory=Levers)
    thrift_reduction: float = 0.0
    """Share of Dy and Tb a thrifted variant of a grade saves (0: no thrifted variant)."""
    thrift_cost: float = 0.0
    """Extra USD/kg magnet of the thrifted variant."""
    heavy_free_cost: float | None = None
    """Extra USD/kg magnet of a variant without Dy and Tb (None: no such variant)."""
    magnet_scale: float = 1.0
    """Factor applied to the data's magnet tonnages (see ``magnet_scale``)."""
    discount_rate: float = 0.08
    """Rate at which the years of a rolling horizon are discounted (interest on stocks)."""
    inventories: Inventories | None = None
    substitution: dict[str, Substitution] = field(default_factory=dict)
    """By end use (``non_magnet`` for oxide segments, ``default`` for any other)."""
    designs: dict[str, Adjustable] = field(default_factory=dict)
    """Capacity (t magnet/yr) of a design variant (``thrifted``, ``heavy_free``); absent = any."""
    smuggling: Smuggling | None = None
    two_tier: bool = True
    """Whether China's exports pass through its export market (CNX)."""

    def substitution_of(self, segment: Segment) -> Substitution | None:
        spec = self.substitution.get(segment.end_use) or self.substitution.get("default")
        return spec if spec is not None and spec.max_share > 0 else None

    def is_chinese(self, place: str) -> bool:
        """Whether a place code or group id stands for China (or part of it)."""
        return place in (CHINA, CHINA_GROUP, CHINA_EXPORT) or CHINA_GROUP in self.places.get(
            place, frozenset()
        )

    @property
    def elements(self) -> list[str]:
        present = {e for mine in self.mines for e, share in mine.ore.items() if share > 0}
        return [e for e in RARE_EARTHS if e in present]

    @property
    def metal_elements(self) -> list[str]:
        used = {e for recipe in self.grades.values() for e in recipe}
        return [e for e in RARE_EARTHS if e in used]

    def recipes(self, grade: str) -> dict[str, dict[str, float]]:
        """Ways to make a grade: its recipe; the same with Nd + Pr in the 75:25 didymium ratio
        of the ores (Pr substitutes for Nd in Nd2Fe14B); with less Dy and Tb (``thrifted``);
        and without them (``heavy_free``), the last two at extra costs (``variant_cost``)."""
        recipe = self.grades[grade]
        variants = {"recipe": recipe}
        total = recipe.get("Nd", 0.0) + recipe.get("Pr", 0.0)
        if total > 0 and abs(recipe.get("Pr", 0.0) - DIDYMIUM_PR * total) > 1e-9:
            variants["didymium"] = _with_ndpr(recipe, total)
        heavy = recipe.get("Dy", 0.0) + recipe.get("Tb", 0.0)
        if heavy > 0 and self.thrift_reduction > 0:
            cut = 1 - self.thrift_reduction
            lean = {**recipe, "Dy": recipe.get("Dy", 0.0) * cut, "Tb": recipe.get("Tb", 0.0) * cut}
            variants["thrifted"] = _with_ndpr(
                {e: f for e, f in lean.items() if f > 0}, total + heavy * self.thrift_reduction
            )
        if heavy > 0 and self.heavy_free_cost is not None:
            free = {e: f for e, f in recipe.items() if e not in ("Dy", "Tb")}
            variants["heavy_free"] = _with_ndpr(free, total + heavy)
        return variants

    def variant_cost(self, variant: str) -> float:
        """Extra USD/kg magnet of making a grade this way."""
        if variant == "thrifted":
            return self.thrift_cost
        if variant == "heavy_free":
            return self.heavy_free_cost or 0.0
        return 0.0

    def plants(self) -> list[Plant]:
        return self.separators + self.metal_plants + self.magnet_plants + self.gallium_plants

    def matches(self, location: str, places: list[str] | tuple[str, ...]) -> bool:
        """Whether ``location`` is one of ``places`` (codes or group ids); empty = anywhere."""
        return not places or bool(self.places[location] & set(places))


def _with_ndpr(recipe: dict[str, float], ndpr: float) -> dict[str, float]:
    return {**recipe, "Nd": (1 - DIDYMIUM_PR) * ndpr, "Pr": DIDYMIUM_PR * ndpr}


def demand_steps(
    reference_t: float,
    reference_price: float,
    elasticity: float,
    multipliers: list[float],
    step_price: Literal["lower", "mean"] = "lower",
) -> tuple[tuple[float, float], ...]:
    """Steps of q(p) = q0 (p/p0)^elasticity at p = multiplier x p0, highest price first.

    Step k holds q(m_k p0) - q(m_k-1 p0), the demand between the prices m_k-1 and m_k. Its
    willingness to pay is m_k p0 (``lower``) or the curve's mean price over that quantity
    (``mean``); the first step, the cap, is bought at up to m_0 p0 either way.
    """
    steps, served, previous = [], 0.0, None
    for multiplier in multipliers:
        quantity = reference_t * multiplier**elasticity
        price = multiplier
        if step_price == "mean" and previous is not None:
            price = mean_price_multiplier(previous, multiplier, elasticity)
        steps.append((quantity - served, price * reference_price))
        served, previous = quantity, multiplier
    return tuple(steps)


def mean_price_multiplier(high: float, low: float, elasticity: float) -> float:
    """Mean of p/p0 over the quantities q(high p0)..q(low p0) of q = q0 (p/p0)^elasticity.

    With u = q/q0 the inverse curve is p/p0 = u^(1/e), so the mean is
    (u_b^a - u_a^a) / (a (u_b - u_a)) with a = 1 + 1/e (ln u_b - ln u_a over the width at a = 0).
    """
    u_high, u_low = high**elasticity, low**elasticity
    a = 1.0 + 1.0 / elasticity
    if abs(a) < 1e-9:
        return float(math.log(u_low / u_high) / (u_low - u_high))
    return float((u_low**a - u_high**a) / (a * (u_low - u_high)))


CAP_TOLERANCE = 1e-6
"""Relative distance below a demand curve's cap at which a price counts as at the cap."""


def at_cap(price: float, cap: float) -> bool:
    """Whether a price sits at a demand curve's cap (its top step's willingness to pay): there
    the price is a bound on rationed buyers, not a market price."""
    return bool(price >= cap * (1.0 - CAP_TOLERANCE))


RECYCLED = "magnet_scrap"
"""Ore type of recycling sources (their output counts as recycling, not mining)."""


def heavy_elements(ore: dict[str, float], plant: Plant) -> dict[str, float]:
    """Fractions of an ore's REO that a plant cannot separate (they leave as heavy concentrate)."""
    return {e: s for e, s in ore.items() if e not in plant.separable and s > 0}
