"""Row schemas of the bundled dataset (pydantic), one model per table.

Each CSV row is validated by its model: empty cells become ``None``, ``;`` lists are split,
element symbols are parsed case-insensitively. Cross-table rules (references, sums, dates)
live in ``rareflow.dataset.validate``. The file formats are documented in ``docs/data.md``.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from rareflow.elements import ELEMENTS, parse_symbol


def _no_boolean_numbers(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, bool) and info.field_name is not None:
        field = cls.model_fields.get(info.field_name)
        if field is not None and _numeric(field.annotation):
            raise ValueError(f"expected a number, not {str(value).lower()}")
    return value


def numbers_not_booleans() -> Any:
    """A validator for every field of a model that refuses ``true``/``false`` where a number
    is expected (pydantic would read them as 1 and 0: ``n: true`` would be a cascade of one
    stage). Use as ``_numbers = numbers_not_booleans()`` in the model's body."""
    return field_validator("*", mode="before")(_no_boolean_numbers)


def _numeric(annotation: Any) -> bool:
    """Whether a field's type is a number (int, float or Decimal, possibly optional)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _numeric(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        return bool(members) and bool not in members and all(_numeric(a) for a in members)
    return annotation in (int, float, Decimal)


ID_PATTERN = r"^[a-z0-9][a-z0-9_]*$"
PLACE_PATTERN = r"^([A-Z]{2}|OTHER|[a-z0-9][a-z0-9_]*)$"
"""A country code or a group id (``country_groups.yaml``)."""
Place = Annotated[str, Field(pattern=PLACE_PATTERN)]
COUNTRY_PATTERN = r"^([A-Z]{2}|OTHER|WORLD)$"

NON_RARE_EARTH_COMPONENTS = ("Fe", "B", "Co", "Cu", "Zr", "Nb", "Al")
"""Magnet constituents that are not rareflow elements (Ga is an element of rareflow)."""
EXTRACTED_IMPURITIES = ("Fe", "Al", "Ca", "Th")
"""Non-rare-earth ions the mass-action cascade can carry (``rareflow.process.impurities``)."""

Stage = Literal[
    "mine",
    "concentrate",
    "cracking",
    "separation",
    "metal",
    "alloy",
    "magnet",
    "recycling",
    "gallium",
]
STAGES: tuple[str, ...] = get_args(Stage)
Status = Literal[
    "operating", "commissioning", "construction", "planned", "announced", "halted", "pilot"
]
Edition = Literal["mcs2025", "mcs2026"]


def _split(value: Any) -> Any:
    """Split a ``;``-separated cell into a list of stripped, non-empty items."""
    if value is None:
        return []
    if isinstance(value, str):
        return [item.strip() for item in value.split(";") if item.strip()]
    return value


def _symbol(value: Any) -> Any:
    return parse_symbol(value) if isinstance(value, str) else value


def _symbols(value: Any) -> Any:
    return [parse_symbol(v) if isinstance(v, str) else v for v in _split(value)]


def _symbol_or(value: Any, others: tuple[str, ...], what: str) -> Any:
    """An element symbol or one of ``others`` (case-insensitive), else a ValueError naming
    ``what`` was expected."""
    if not isinstance(value, str):
        return value
    for other in others:
        if value.strip().lower() == other.lower():
            return other
    try:
        return parse_symbol(value)
    except ValueError:
        accepted = ", ".join([*ELEMENTS, *others])
        raise ValueError(
            f"unknown {what} {value.strip()!r}; expected an element symbol or one of {accepted}"
        ) from None


def _extracted(value: Any) -> Any:
    return _symbol_or(value, EXTRACTED_IMPURITIES, "extracted ion")


def _component(value: Any) -> Any:
    return _symbol_or(value, NON_RARE_EARTH_COMPONENTS, "magnet component")


Id = Annotated[str, Field(pattern=ID_PATTERN)]
CountryCode = Annotated[str, Field(pattern=COUNTRY_PATTERN)]
Year = Annotated[int, Field(ge=1900, le=2100)]
NonNegative = Annotated[float, Field(ge=0)]
Percent = Annotated[float, Field(ge=0, le=100)]
IdList = Annotated[list[Id], BeforeValidator(_split)]
SourceIds = Annotated[list[Id], BeforeValidator(_split), Field(min_length=1)]
Symbol = Annotated[str, BeforeValidator(_symbol)]
SymbolList = Annotated[list[str], BeforeValidator(_symbols)]
CountryList = Annotated[list[CountryCode], BeforeValidator(_split)]


class Row(BaseModel):
    """Base of every table row: strict columns, blanks are nulls, a source and a note."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    source: SourceIds
    note: str | None = None

    figure_column: ClassVar[str | None] = None
    """The row's main figure; when it is null the note must say why (e.g. NOT FOUND)."""

    @model_validator(mode="before")
    @classmethod
    def _blank_is_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: (None if isinstance(v, str) and not v.strip() else v) for k, v in data.items()
            }
        return data

    @model_validator(mode="after")
    def _null_figure_explained(self) -> Row:
        column = self.figure_column
        if column is not None and getattr(self, column) is None and not self.note:
            raise ValueError(
                f"{column} is empty but the note does not say why (e.g. 'NOT FOUND in sources')"
            )
        return self


class Country(Row):
    code: CountryCode
    name: str
    kind: Literal["country", "aggregate"]
    groups: IdList = []


class MineProduction(Row):
    figure_column: ClassVar[str | None] = "mine_production_t_reo"

    country: CountryCode
    year: Year
    edition: Edition
    mine_production_t_reo: NonNegative | None = None
    estimated: bool = False


class Reserves(Row):
    figure_column: ClassVar[str | None] = "reserves_t_reo"

    country: CountryCode
    edition: Edition
    reserves_t_reo: NonNegative | None = None
    qualifier: Literal["=", ">"] = "="


class OreTypeBase(Row):
    """Element distribution of one ore, % of total REO; element columns are ``<Symbol>_pct``."""

    id: Id
    name: str
    mineral: str | None = None
    deposit: str | None = None
    country: CountryCode
    sum_tolerance_pct: Annotated[float, Field(gt=0, le=10)] = 1.0
    proxy_of: Id | None = None
    estimate: bool = False
    # One optional column per rare earth, e.g. ``Nd_pct``: see ``OreType`` below.

    def composition_pct(self) -> dict[str, float]:
        """Reported element percentages (nulls left out), keyed by symbol."""
        values = {s: getattr(self, f"{s}_pct", None) for s in ELEMENTS}
        return {s: float(v) for s, v in values.items() if v is not None}


ELEMENT_PCT_COLUMN = re.compile(r"^(?P<symbol>[A-Za-z]{1,3})_pct$")

OreType: type[OreTypeBase] = create_model(  # type: ignore[call-overload]
    "OreType",
    __base__=OreTypeBase,
    **{f"{s}_pct": (Percent | None, None) for s, e in ELEMENTS.items() if e.is_rare_earth},
)


class Facility(Row):
    id: Id
    name: str
    operator: str | None = None
    country: CountryCode
    region: str | None = None
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    location_basis: Literal["site", "town", "region"] | None = None
    stages: Annotated[list[Stage], BeforeValidator(_split), Field(min_length=1)]
    feed: str | None = None
    ore_type: Id | None = None
    status: Status
    start_year: Year | None = None
    heavy_ree: Literal["yes", "no", "planned", "limited", "uses"] | None = None
    technology_origin: CountryCode | None = None
    equipment_origin: CountryCode | None = None
    owner_country: CountryCode | None = None
    kind: Literal["facility", "aggregate"] = "facility"
    covered_by: IdList = []
    """Aggregates whose figures already include this facility's (never add the two)."""

    @model_validator(mode="after")
    def _coordinates_complete(self) -> Facility:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude must both be given or both be empty")
        if self.latitude is not None and self.location_basis is None:
            raise ValueError("coordinates need a location_basis (site, town or region)")
        return self


Product = Literal[
    "reo",
    "concentrate",
    "ore",
    "mixed_carbonate",
    "ndpr_oxide",
    "dy_oxide",
    "tb_oxide",
    "dy_tb_oxide",
    "hree_feed",
    "ndpr_metal",
    "metal",
    "ndfeb_alloy",
    "ndfeb_magnet",
    "smco_magnet",
    "magnet",
    "scrap",
    "gallium",
]


class FacilityCapacity(Row):
    figure_column: ClassVar[str | None] = "capacity"

    facility: Id
    stage: Stage
    product: Product
    capacity: NonNegative | None = None
    unit: Literal["t_per_yr"] = "t_per_yr"
    basis: Literal["nameplate", "quota", "output", "run_rate", "target", "permitted"]
    year: Year
    available_from: Year | None = None


class FacilityLink(Row):
    from_facility: Id
    to_facility: Id
    material: str
    dedicated: bool = False


HistoryMeasure = Literal[
    "mine_production_t_reo",
    "undocumented_mining_t_reo",
    "undocumented_mining_cost_usd_per_kg_reo",
    "smuggling_t",
    "plant_capacity_t",
    "plant_output_t",
    "magnet_demand_t",
    "oxide_demand_share",
    "china_exports_t",
    "china_export_quota_t",
    "cny_per_usd",
    "china_vat_pct",
]


class MarketHistory(Row):
    """One figure of the historical layer: the state of the market world in a past year (what a
    back-cast starts from and is checked against). ``key`` is a country code, a market plant id
    or a demand region, as the measure says (docs/data.md)."""

    figure_column: ClassVar[str | None] = "value"

    year: Year
    measure: HistoryMeasure
    key: Annotated[str, Field(min_length=1)]
    value: NonNegative | None = None
    unit: str
    estimated: bool = False


class Price(Row):
    product: Id
    elements: SymbolList
    purity_pct: Percent | None = None
    year: Year
    price_usd_per_kg: NonNegative
    basis: str
    edition: Edition | None = None


class PricePoint(Row):
    product: Id
    elements: SymbolList
    purity_pct: Percent | None = None
    date: dt.date
    market: Literal["china_domestic", "fob_china", "europe", "ex_china", "rotterdam", "us_import"]
    low: NonNegative
    high: NonNegative | None = None
    unit: Literal["usd_per_kg", "cny_per_kg", "cny_per_t"]

    @model_validator(mode="after")
    def _range_ordered(self) -> PricePoint:
        if self.high is not None and self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


class GalliumProduction(Row):
    figure_column: ClassVar[str | None] = "value_t_ga"

    country: CountryCode
    year: Year
    edition: Edition | None = None
    measure: Literal[
        "primary_production",
        "primary_capacity",
        "refined_production",
        "refined_capacity",
        "secondary_capacity",
    ]
    value_t_ga: NonNegative | None = None
    estimated: bool = False


class MagnetRecipe(Row):
    grade: Id
    family: Literal["ndfeb", "smco"]
    component: Annotated[str, BeforeValidator(_component)]
    wt_pct: Percent
    wt_pct_low: Percent | None = None
    wt_pct_high: Percent | None = None


class MagnetIntensity(Row):
    figure_column: ClassVar[str | None] = "value"

    application: Id
    variant: Id
    quantity: Literal["ndfeb_magnet", "smco_magnet", "magnet_ree", "re_material", "magnet"]
    value: NonNegative | None = None
    value_low: NonNegative | None = None
    value_high: NonNegative | None = None
    unit: Id
    basis: str | None = None


class StageShare(Row):
    stage: str
    region: CountryList
    year: Year
    share_pct: Percent
    kind: Literal["reported", "projection"]


class ExtractionConstant(Row):
    """An extraction equilibrium constant of one ion with an acidic extractant:
    M + d (HA)2(o) = complex(o) + z H+, K = [complex] [H+]^z / ([M] [(HA)2]^d); a trivalent
    rare earth has z = d = 3 (Ln3+ + 3 (HA)2 = Ln(HA2)3 + 3 H+)."""

    extractant: Literal["p507", "p204", "cyanex272"]
    medium: Literal["hcl", "hno3", "h2so4", "other"]
    element: Annotated[str, BeforeValidator(_extracted)]
    """A rare earth, or an impurity ion of the mass-action model (Fe, Al, Ca, Th)."""
    log_k_ex: Annotated[float, Field(ge=-20, le=20)]
    basis: Literal["dimer"]
    """Extractant species of the law: the dimer (HA)2."""
    proton_exponent: Annotated[int, Field(ge=1, le=4)] = 3
    """z, the protons released per extracted ion."""
    conditions: str | None = None
    dimer_exponent: Annotated[float, Field(gt=0, le=6)] | None = None
    """d, the dimers bound per extracted ion (blank: equal to z)."""


class SeparationFactor(Row):
    """One adjacent-pair separation factor beta = D(more extracted) / D(less extracted)."""

    extractant: Literal["p507", "p204", "cyanex272", "naphthenic_acid", "tbp"]
    medium: Literal["hcl", "hno3", "h2so4", "other"]
    more_extracted: Symbol
    less_extracted: Symbol
    beta: Annotated[float, Field(gt=0)]
    beta_low: Annotated[float, Field(gt=0)] | None = None
    beta_high: Annotated[float, Field(gt=0)] | None = None
    kind: Literal["design", "measured", "tracer", "derived", "estimate"]
    """design: a plant design value; measured: a loaded-system measurement; tracer: a tracer-level
    measurement; derived: arithmetic on sourced values; estimate: a gap filled by a stated rule."""
    conditions: str | None = None
    default: bool = False
    """Whether this value is the extractant's default for the pair (one default per pair)."""

    @model_validator(mode="after")
    def _distinct(self) -> SeparationFactor:
        if self.more_extracted == self.less_extracted:
            raise ValueError("a separation factor needs two different elements")
        return self
