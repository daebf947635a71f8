"""Scenario files: the years ahead as data (pydantic models; loading is in ``loader.py``).

A scenario names a horizon, dated levers (each with the probability that it happens), demand
growth by end use, the project pipeline with historical slippage, candidate projects that come
when prices pay for them, recycling, stockpile rules, and the group whose self-sufficiency is
measured. ``extends`` inherits another scenario: lists merge by ``id`` (same id: this file's
entry wins), mappings merge key by key.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from rareflow.dataset.levers import Levers
from rareflow.dataset.market_parameters import separates_problem
from rareflow.dataset.schema import Id, Place, numbers_not_booleans

Year = Annotated[int, Field(ge=2000, le=2100)]
Month = Annotated[int, Field(ge=1, le=12)]
Probability = Annotated[float, Field(ge=0, le=1)]
Stage = Literal["mine", "separation", "metal", "magnet", "gallium"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    _numbers = numbers_not_booleans()


class Horizon(Strict):
    start: Year
    end: Year

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end < self.start:
            raise ValueError(f"horizon end {self.end} is before its start {self.start}")
        return self


PRO_RATED = ("tariffs", "export_taxes", "licences", "threats", "subsidies")
"""Lever kinds whose rate or level a block in force for part of a year scales by its months."""


class DatedLevers(Strict):
    """Levers in force from ``start`` (inclusive) to ``end`` (inclusive; null = open)."""

    id: Id
    start: Year
    end: Year | None = None
    probability: Probability = 1.0
    """Chance that this block happens at all in a run (a policy switch)."""
    start_spread_years: Annotated[int, Field(ge=0)] = 0
    """The start is drawn uniformly in start .. start + spread."""
    announced: Year | None = None
    """Year from which markets know the block is coming (default: its start; a surprise)."""
    end_announced: Year | None = None
    """Year from which markets know the block ends at ``end`` (default: known with the block,
    as a contract's term is). Before it, holders expect the block to stay in force past
    ``end``: a policy whose end nobody had announced is expected to persist."""
    start_month: Month = 1
    """Month (1-12) the block comes into force in its start year."""
    end_month: Month = 12
    """Last month (1-12) in force in its end year. A year the block covers only in part counts
    its rates and levels (taxes, tariffs, licences' refused shares, threats, subsidies) by the
    months in force, as an annual market sees a policy that began in July at half strength."""
    levers: Levers
    source: list[Id] = []
    note: str | None = None

    @model_validator(mode="after")
    def _months(self) -> DatedLevers:
        if self.end is not None and self.end < self.start:
            raise ValueError(
                f"block {self.id}: it ends in {self.end}, before it starts ({self.start}), so "
                "it never acts; give an end year from the start year on, or none (open-ended)"
            )
        if self.end_month != 12 and self.end is None:
            raise ValueError(f"block {self.id}: end_month needs an end year")
        if self.end == self.start and self.end_month < self.start_month:
            raise ValueError(
                f"block {self.id}: it starts and ends in {self.start}, so end_month "
                f"({self.end_month}) cannot be before start_month ({self.start_month})"
            )
        if self.start_month != 1 or self.end_month != 12:
            whole_year = [
                name for name in type(self.levers).model_fields
                if name not in PRO_RATED and getattr(self.levers, name)
            ]  # fmt: skip
            if whole_year:
                raise ValueError(
                    f"block {self.id}: start_month and end_month count rates and levels "
                    f"({', '.join(PRO_RATED)}) by the months in force, but "
                    f"{', '.join(whole_year)} are amounts or switches for a whole year; put them "
                    "in a block of their own without months, with the part year's amount (a "
                    "ban from a month on can be written as a licence with refused_share: 1)"
                )
        return self

    def share_of_year(self, when: int, start: int, end_known: bool = True) -> float:
        """Share (0-1) of year ``when`` that the block is in force, for a block that starts in
        ``start`` (its drawn start year) and, where ``end_known``, ends at ``end_month`` of its
        end year (a block whose end is not known is expected to run through that year)."""
        if when < start or (end_known and self.end is not None and when > self.end):
            return 0.0
        first = self.start_month if when == start else 1
        last = self.end_month if end_known and when == self.end else 12
        return max(0, last - first + 1) / 12

    @model_validator(mode="after")
    def _end_announced(self) -> DatedLevers:
        if self.end_announced is not None:
            if self.end is None:
                raise ValueError(f"block {self.id}: end_announced needs an end")
            if self.end_announced > self.end + 1:
                raise ValueError(
                    f"block {self.id}: end_announced {self.end_announced} is after the year the "
                    f"block has ended ({self.end + 1}); use at most {self.end + 1}"
                )
        return self

    def ends_for(self, year: int) -> int | None:
        """The last year in force as markets see it at ``year`` (None: open-ended)."""
        if self.end_announced is not None and year < self.end_announced:
            return None
        return self.end


class Growth(Strict):
    """Annual demand growth of one end use (``default`` for all others), optionally by region
    and, for oxide demand (``non_magnet``), by element."""

    end_use: str
    region: str | None = None
    elements: list[str] = []
    """Oxide demand of these elements only (empty: the whole end use). In the years it covers,
    an element's rule takes precedence over its end use's."""
    rate_pct: Annotated[float, Field(gt=-100, le=100)]
    """Growth of demand, % a year (above -100: demand cannot fall below zero)."""
    start: Year | None = None
    end: Year | None = None
    source: list[Id] = []
    note: str | None = None


class Demand(Strict):
    growth: list[Growth] = []
    growth_scale_sd: Annotated[float, Field(ge=0)] = 0.0
    """Standard deviation of a per-run factor on every growth rate (mean 1)."""


class Build(Strict):
    """What a project and a candidate project share: a node of a stage at a place."""

    id: Id
    stage: Stage
    location: Place
    capacity_t: Annotated[float, Field(gt=0)]
    cost_usd_per_kg: Annotated[float, Field(ge=0)]
    heavy: bool = False
    ore_type: Id | None = None
    feeds: list[Place] = []
    dedicated: list[Id] = []
    owner: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    """Country code of the owner when it is not the node's location (Lynas Malaysia: AU);
    self-sufficiency by ownership counts the node for the owner."""
    takes_heavy_of: list[Id] = []
    """Light-only separation plants of its chain whose heavy concentrate goes only to this
    heavy plant (or into store) in the years it has capacity: an integrated chain, as Lynas
    Malaysia's heavy circuit takes Lynas's own mixed heavy concentrate."""
    heavy_concentrate_only: bool = False
    """A heavy circuit built for the heavy fraction (SEG, SEGH) that light-only plants leave:
    it takes that heavy concentrate only, never a mine's mixed concentrate, so it adds no light
    separation (Lynas Malaysia's and Mountain Pass's heavy circuits)."""
    separates: list[str] = []
    """Elements the plant separates when not all of its kind's (light: La-Gd; a heavy circuit
    on heavy concentrate: every element; the rest of its feed is stored). Lynas Malaysia's
    first heavy circuit made only Dy and Tb."""
    source: list[Id] = []
    note: str | None = None

    def expanding(self) -> bool:
        return False

    @model_validator(mode="after")
    def _mine_has_ore(self) -> Build:
        if self.stage == "mine" and self.ore_type is None and not self.expanding():
            raise ValueError("a new mine needs ore_type (an id of ore_types.csv)")
        for field in ("takes_heavy_of", "heavy_concentrate_only"):
            if getattr(self, field) and not (self.stage == "separation" and self.heavy):
                raise ValueError(f"{field} needs a heavy separation plant (stage: separation, "
                                 "heavy: true)")  # fmt: skip
        if self.separates and self.stage != "separation":
            raise ValueError("separates is for separation plants (stage: separation)")
        if self.separates and self.expanding():
            raise ValueError("separates belongs to the plant an expansion adds to, not to the "
                             "expansion (remove it here)")  # fmt: skip
        problem = separates_problem(self.separates, self.heavy, self.heavy_concentrate_only)
        if problem is not None:
            raise ValueError(problem)
        return self


class Project(Build):
    """New capacity in the pipeline (or an expansion: capacity added to an existing node)."""

    start: Year
    """Announced first year of output."""
    status: Literal["operating", "commissioning", "construction", "planned", "announced"]
    ramp_years: Annotated[int, Field(ge=0)] = 2
    newcomer: bool = True
    expands: Id | None = None
    """Node id (mine or plant of the market model) whose capacity this adds to."""
    recorded_t: dict[Year, Annotated[float, Field(ge=0)]] = {}
    """Capacity actually available in stated years (t/yr, e.g. a plant's reported output in a
    back-cast), used instead of the ramp in those years."""

    def expanding(self) -> bool:
        return self.expands is not None


class Override(Strict):
    """Changes an inherited project: a new start, a delay or a cancellation."""

    id: Id
    start: Year | None = None
    delay_years: Annotated[int, Field(ge=0)] = 0
    cancel: bool = False


class Slippage(Strict):
    """Historical slippage by project status: delay in years ~ Poisson(mean), cancellation."""

    mean_delay_years: Annotated[float, Field(ge=0)]
    cancel_probability: Probability
    ramp_factor_max: Annotated[float, Field(ge=1)] = 1.0
    """Ramp-up takes ramp_years x U(1, ramp_factor_max) years."""
    source: list[Id] = []
    note: str | None = None


class CapacityGrowth(Strict):
    """Annual growth of the base-year capacity of existing nodes of a stage in some places
    (incumbents' brownfield growth that no named project describes)."""

    id: Id
    stage: Stage
    places: Annotated[list[Place], Field(min_length=1)]
    rate_pct: Annotated[float, Field(gt=-100, le=100)]
    start: Year | None = None
    end: Year | None = None
    source: list[Id] = []
    note: str | None = None


class Costed(Strict):
    """Take a separation candidate's capex and lead time from the calibrated plant model
    (``rareflow plant capex``): the flowsheet of ``ore_type`` at the candidate's capacity,
    built in ``region`` (default: the candidate's location), and the published durations of
    plants of the same scope and site."""

    ore_type: Id
    scope: Literal["separation", "cracking", "integrated"] = "separation"
    site: Literal["greenfield", "brownfield"] = "greenfield"
    new_mine: bool = False
    """Count a new mine's permitting in the lead time."""
    region: Annotated[str, Field(min_length=2, max_length=3)] | None = None


DEFAULT_LEAD_TIME_YEARS = (5, 8)


class Candidate(Build):
    """A project that is committed when the market pays for it, then built over its lead time."""

    capex_usd_per_t_year: Annotated[float, Field(gt=0)] | None = None
    """Capital per t/yr of capacity (from the plant model when ``costed`` and not given)."""
    wacc_pct: Annotated[float, Field(ge=0)] = 10.0
    life_years: Annotated[int, Field(gt=0)] = 20
    lead_time_years: tuple[int, int] | None = None
    """Years from commitment to output, drawn uniformly (default: from the plant model when
    ``costed``, else 5-8)."""
    signal_years: Annotated[int, Field(ge=1)] = 2
    max_units: Annotated[int, Field(ge=1)] = 1
    costed: Costed | None = None

    @model_validator(mode="after")
    def _capex_known(self) -> Candidate:
        if self.costed is None and self.capex_usd_per_t_year is None:
            raise ValueError(
                "a candidate needs capex_usd_per_t_year, or costed: {ore_type: ...} to take it "
                "from the calibrated plant model"
            )
        if self.costed is not None and self.stage != "separation":
            raise ValueError("costed is for separation candidates (the plant model's scope)")
        if (
            self.lead_time_years is not None
            and not 1 <= self.lead_time_years[0] <= (self.lead_time_years[1])
        ):
            raise ValueError("lead_time_years must be [low, high] with 1 <= low <= high")
        return self

    @property
    def lead_years(self) -> tuple[int, int]:
        """The lead-time range the runs draw from."""
        if self.lead_time_years is None and self.costed is not None:
            raise ValueError(f"candidate {self.id}: lead time not resolved from the plant model")
        return self.lead_time_years or DEFAULT_LEAD_TIME_YEARS

    @property
    def capex(self) -> float:
        """Capital per t/yr; a costed candidate must have been resolved (``simulate.costing``)."""
        if self.capex_usd_per_t_year is None:
            raise ValueError(f"candidate {self.id}: capex not resolved from the plant model")
        return self.capex_usd_per_t_year


class Learning(Strict):
    """Technology transfer with a learning curve: a node's unit cost moves from
    ``cost_factor_start`` x its cost at ``start`` to ``cost_factor_end`` x over ``years``."""

    id: Id
    node: Id
    start: Year
    cost_factor_start: Annotated[float, Field(gt=0)] = 1.0
    cost_factor_end: Annotated[float, Field(gt=0)] = 1.0
    years: Annotated[int, Field(ge=1)] = 5
    source: list[Id] = []
    note: str | None = None


class Recycling(Strict):
    """End-of-life magnets come back after their lifetime at a collection rate."""

    collection_rate: Probability = 0.0
    collection_rate_end: Probability | None = None
    """Rate reached linearly by the horizon's end (default: constant)."""
    lifetimes: dict[str, Annotated[int, Field(gt=0)]] = {}
    regions: list[Place] = []
    """Places whose end-of-life magnets are collected (countries or groups; empty: all)."""
    recycler: Id = "cn_magnet_recycling"
    """Recycling node that takes the collected scrap, or a new node at ``location``."""
    location: Place | None = None
    cost_usd_per_kg: Annotated[float, Field(ge=0)] = 10.0
    source: list[Id] = []
    note: str | None = None


class Stockpile(Strict):
    """Builds ``days`` of a region's reference use of elements, releases it while a lever is on."""

    id: Id
    location: Place
    region: str
    elements: Annotated[list[str], Field(min_length=1)]
    days: Annotated[float, Field(gt=0)]
    start: Year
    build_years: Annotated[int, Field(ge=1)] = 3
    max_price_factor: Annotated[float, Field(gt=0)] = 1.5
    release_during: list[Id] = []
    """Ids of dated lever blocks during which the stock is released."""
    source: list[Id] = []
    note: str | None = None


class Measure(Strict):
    group: Place = "us_japan_australia"
    """The group whose self-sufficiency is measured (a country code or group id)."""
    extra_groups: dict[Id, Annotated[list[Place], Field(min_length=1)]] = {}
    """Further groups to measure, each a union of places (e.g. alliance_plus: [us_japan_australia,
    CA, eu, MY])."""
    elements: list[str] = ["NdPr", "Dy", "Tb"]
    thresholds_pct: list[float] = [50.0, 100.0]


class Expectations(Strict):
    """What stock holders expect a product to be worth after the horizon (docs/market.md);
    a number left out is the dataset's (``market.yaml``, ``inventories.expectations``)."""

    rule: Literal["reference", "extrapolative"]
    """``reference``: the product's reference price (holders expect the long-run price);
    ``extrapolative``: p0^(1 - weight) x p^weight x (p / p_before)^trend from the run's own
    prices of the last two years at the place (speculation on the trend)."""
    weight: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    """Weight of last year's price against the reference price."""
    trend: Annotated[float | None, Field(ge=0.0, le=3.0)] = None
    """Share of last year's price change expected to continue."""


class MarketOptions(Strict):
    lookahead_years: Annotated[int, Field(ge=0, le=5)] = 1
    """Years ahead each year's clearing looks at (perfect foresight of the run's path for
    capacities and demand, of the policies known so far; docs/market.md)."""
    expectations: Expectations | None = None
    """None: the rule of the dataset's ``market.yaml`` (``inventories.expectations``)."""
    foresight: Literal["nameplate", "recorded"] = "nameplate"
    """What the later years of a back-cast's horizon know of the historical layer: ``nameplate``
    capacities only (recorded outputs of mines and of ``plant_output_t`` plants stay at the
    current year's level), or the whole ``recorded`` path (foresight of realised output)."""
    behaviour: Literal["central", "drawn"] = "central"
    """``central``: every run uses ``market.yaml``'s behavioural parameters; ``drawn``: run k
    uses parameter set k mod ``behaviour_sets``, each drawn within the ranges the back-cast's
    bands use (short-run elasticity, substitution rate and cost, threat premium, smuggling
    cost, expectation trend; set 0 is central), so a fan carries model uncertainty as well as
    the scenario's."""
    behaviour_sets: Annotated[int, Field(ge=1, le=50)] = 20
    """Parameter sets ``drawn`` cycles through (each a market a worker builds once, about
    0.5 s and 20 MB)."""


class Scenario(Strict):
    name: str
    description: str = ""
    extends: str | list[str] | None = None
    horizon: Horizon
    levers: list[DatedLevers] = []
    demand: Demand = Demand()
    projects: list[Project] = []
    overrides: list[Override] = []
    slippage: dict[str, Slippage] = {}
    candidates: list[Candidate] = []
    capacity_growth: list[CapacityGrowth] = []
    learning: list[Learning] = []
    recycling: Recycling = Recycling()
    stockpiles: list[Stockpile] = []
    measure: Measure = Measure()
    market: MarketOptions = MarketOptions()
    history: bool = False
    """Capacities of existing mines and plants follow the historical layer (market_history.csv)
    year by year: a back-cast episode."""
    source: list[Id] = []
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)
    """Lines of the scenario's own file by field path (``projects[id].location``, a lever id),
    for messages about names the dataset does not know; parents' records have none."""

    def line(self, field: str) -> int | None:
        """Line of ``field`` in the scenario's own file, or of its nearest enclosing record."""
        path = field
        while path:
            if path in self._lines:
                return self._lines[path]
            if "." not in path or ("[" in field and "[" not in path.rpartition(".")[0]):
                return None
            path = path.rpartition(".")[0]
        return None


def cited_sources(document: Any) -> list[str]:
    """Every source id in a scenario document (values of ``source`` lists, at any depth)."""
    found: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "source" and isinstance(value, list):
                    found.update(str(v) for v in value)
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)
