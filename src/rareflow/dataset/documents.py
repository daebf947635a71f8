"""Models of the dataset's YAML documents: sources, policies, manifest, groups, process costs.

The CSV row models are in ``rareflow.dataset.schema``; the shared field types too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from rareflow.dataset.schema import CountryCode, Edition, Id, Year, _symbols


class Source(BaseModel):
    """One citation of ``sources.yaml``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    title: str
    publisher: str
    year: Year
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    quality: Literal["primary", "company", "secondary", "low", "derived"]
    note: str | None = None

    @model_validator(mode="after")
    def _locatable(self) -> Source:
        if self.url is None and not self.note:
            raise ValueError("a source without a url needs a note saying where to find it")
        return self


PolicyKind = Literal[
    "export_licence",
    "export_ban",
    "extraterritorial_control",
    "technology_control",
    "suspension",
    "general_licence",
    "bilateral_framework",
    "price_floor",
    "offtake",
    "equity",
    "loan",
    "grant",
    "procurement_ban",
    "stockpile",
    "tariff",
]


class PolicyEvent(BaseModel):
    """One dated policy event of ``policies.yaml`` (an announcement, deal or rule)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    id: Id
    date: dt.date
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    jurisdiction: CountryCode
    parties: list[CountryCode] = []
    kind: PolicyKind
    title: str
    instrument: str | None = None
    elements: Annotated[list[str], BeforeValidator(_symbols)] = []
    items: list[str] = []
    facilities: list[Id] = []
    parameters: dict[str, float | int | str | bool | None] = {}
    suspends: list[Id] = []
    suspended_by: list[Id] = []
    source: Annotated[list[Id], Field(min_length=1)]
    note: str | None = None

    @model_validator(mode="after")
    def _dates_ordered(self) -> PolicyEvent:
        start = self.effective_from or self.date
        if self.effective_until is not None and self.effective_until < start:
            raise ValueError(f"effective_until {self.effective_until} is before the start {start}")
        return self


class Manifest(BaseModel):
    """``dataset.yaml``: which USGS edition is pinned, and dataset-wide settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usgs_edition: Edition = "mcs2026"
    alternate_editions: list[Edition] = []
    as_of_year: Year = 2026
    replace_tables: list[str] = []
    description: str | None = None


class CountryGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str | None = None
    source: Annotated[list[Id], Field(min_length=1)]


class Parameter(BaseModel):
    """One number with its unit and its sources (or ``assumption: true`` and a note saying why)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float
    unit: str
    source: list[Id] = []
    assumption: bool = False
    note: str | None = None

    @model_validator(mode="after")
    def _sourced_or_assumed(self) -> Parameter:
        if not self.source and not (self.assumption and self.note):
            raise ValueError(
                "a parameter needs a source, or assumption: true with a note saying why"
            )
        return self


class CostParameter(Parameter):
    """A cost input (never negative)."""

    value: Annotated[float, Field(ge=0)]


def nested_models(value: object) -> Iterator[BaseModel]:
    """Every pydantic model inside ``value`` (itself included), through lists and mappings."""
    if isinstance(value, BaseModel):
        yield value
        for name in type(value).model_fields:
            yield from nested_models(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from nested_models(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from nested_models(item)


REGION_COST_KEYS = (
    "electricity_usd_per_kwh",
    "labour_usd_per_person_year",
    "hcl_usd_per_t",
    "naoh_usd_per_t",
    "extractant_usd_per_kg",
    "diluent_usd_per_kg",
    "wacc_pct",
    "construction_cost_factor",
    "effluent_treatment_usd_per_m3",
    "environmental_compliance_usd_per_t_reo",
)
PLANT_COST_KEYS = (
    "reference_stage_cost_usd",
    "reference_stage_volume_m3",
    "scale_exponent",
    "installation_factor",
    "organic_loading_mol_per_m3",
    "aqueous_concentration_mol_per_m3",
    "mixer_residence_min",
    "settler_to_mixer_volume",
    "solvent_loss_m3_per_1000_m3",
    "extractant_volume_fraction",
    "mixing_energy_kwh_per_m3",
    "operators_per_100_stages",
    "staff_per_operator_position",
    "maintenance_fraction_of_capex",
    "labour_overhead_fraction",
    "plant_life_years",
    "operating_hours_per_year",
)


def _exact_keys(kind: str, given: dict[str, Any], expected: tuple[str, ...]) -> None:
    missing = [k for k in expected if k not in given]
    unknown = [k for k in given if k not in expected]
    if missing or unknown:
        raise ValueError(
            f"{kind} parameters missing {missing} / unknown {unknown}; expected exactly "
            f"{', '.join(expected)}"
        )


class RegionCosts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    parameters: dict[str, CostParameter]

    @model_validator(mode="after")
    def _complete(self) -> RegionCosts:
        _exact_keys("region", self.parameters, REGION_COST_KEYS)
        return self


CAPEX_KEYS = (
    "reference_cost_year",
    "box_cost_factor",
    "max_box_volume_m3",
    "strip_stages_per_split",
    "saponification_stages_per_split",
    "cracking_reference_usd",
    "cracking_scale_exponent",
)
PlantScope = Literal["separation", "cracking", "integrated"]
"""What a plant (or a published capex) covers: the SX separation plant with its finishing,
utilities and indirects; the cracking and leaching of mineral concentrate; or both."""
Site = Literal["greenfield", "brownfield"]


class CostIndex(BaseModel):
    """A plant cost index by year (CEPCI) to bring dated costs to one year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    values: dict[Year, Annotated[float, Field(gt=0)]]
    source: Annotated[list[Id], Field(min_length=1)]
    note: str | None = None

    def ratio(self, to_year: int, from_year: int) -> float:
        """Index of ``to_year`` over ``from_year``; years past the series take its last value."""
        last = max(self.values)
        first = min(self.values)
        to_value = self.values[min(max(to_year, first), last)]
        return to_value / self.values[min(max(from_year, first), last)]


class PlantProject(BaseModel):
    """A published capital cost of a real separation or processing project."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    name: str
    location: CountryCode
    cost_year: Year
    amount: Annotated[float, Field(gt=0)]
    currency: str
    usd_per_unit: Annotated[float, Field(gt=0)]
    capacity_t_reo: Annotated[float, Field(gt=0)]
    scope: PlantScope
    wider_scope: str | None = None
    """What the published figure covers beyond ``scope`` (a mine, an acid plant ...)."""
    ore_type: Id
    site: Site
    role: Literal["calibration", "check"]
    opex_per_t_reo: Annotated[float, Field(gt=0)] | None = None
    """Published operating cost per t REO (in ``currency``), where the study gives one."""
    opex_reagent_share: Annotated[float, Field(gt=0, lt=1)] | None = None
    """Share of that operating cost spent on reagents, where published."""
    source: Annotated[list[Id], Field(min_length=1)]
    note: str | None = None

    @property
    def capex_usd(self) -> float:
        return self.amount * self.usd_per_unit


class LeadTime(BaseModel):
    """A published duration of a phase of a project (years), or a published range of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Id
    stage: Literal["mine", "separation", "cracking", "integrated", "metal", "magnet"]
    phase: Literal["permitting", "construction", "development"]
    """permitting: to the approvals; construction: decision or approval to first output;
    development: discovery or start of studies to output (everything)."""
    site: Site | None = None
    location: CountryCode | None = None
    years_low: Annotated[float, Field(gt=0)]
    years_high: Annotated[float, Field(gt=0)]
    source: Annotated[list[Id], Field(min_length=1)]
    note: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> LeadTime:
        if self.years_high < self.years_low:
            raise ValueError("years_high must be >= years_low")
        return self


class ProcessCosts(BaseModel):
    """``process_costs.yaml``: regional prices and plant engineering parameters for SX costing,
    the capex model's parameters, a cost index, published projects and lead times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: dict[CountryCode, RegionCosts]
    plant: dict[str, CostParameter]
    capex: dict[str, CostParameter]
    cost_index: CostIndex
    projects: list[PlantProject] = []
    lead_times: list[LeadTime] = []

    @model_validator(mode="after")
    def _plant_complete(self) -> ProcessCosts:
        _exact_keys("plant", self.plant, PLANT_COST_KEYS)
        _exact_keys("capex", self.capex, CAPEX_KEYS)
        unknown = sorted({p.location for p in self.projects} - set(self.regions))
        if unknown:
            raise ValueError(
                f"projects located in {unknown} have no region costs; add the region or move "
                "the project to one of " + ", ".join(self.regions)
            )
        ids = [p.id for p in self.projects] + [t.id for t in self.lead_times]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(f"project and lead-time ids must be unique: {doubled}")
        return self
