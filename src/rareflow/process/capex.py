"""Capital cost of a separation or processing plant from its flowsheet's equipment.

**Mixer-settler boxes.** Every split of the flowsheet has extraction (n) and scrub (m) stages
from its design, plus a strip section and a saponification section of fixed size (assumptions of
``process_costs.yaml``). A stage holds the split's organic and aqueous flows for the mixer
residence time, times (1 + settler/mixer volume); a stage too large for one box (``max box
volume``) is built as parallel boxes. A box costs the reference stage cost (Avalon's SX circuit
over its mixer-settlers, 2012 US Gulf dollars) scaled by (box volume / reference volume)^0.6,
times the fitted ``box_cost_factor``.

**Plant.** The separation plant is the SX circuit times the plant/SX factor (precipitation,
calcination, reagents, utilities, indirects and contingency: Avalon's SX circuit was a third of
its plant), plus the first fill of organic. Cracking and leaching of a mineral concentrate
(every ore but ion-adsorption clay, whose leach liquor arrives as a mixed carbonate) scale from a
fitted reference plant of 10,000 t REO/yr with the six-tenths rule. Everything is multiplied by
the region's construction factor and brought from 2012 to the year asked with the CEPCI.

The two fitted numbers come from ``rareflow plant calibrate`` (``process/calibration.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.documents import PlantScope, ProcessCosts
from rareflow.process.flowsheet import Flowsheet
from rareflow.process.reagents import reo_kg_per_mol_re

ORGANIC_DENSITY_KG_PER_M3 = 900.0
"""Loaded P507 in kerosene, ~0.9 g/mL: a rounded physical property (assumption)."""
CRACKING_REFERENCE_T_REO = 10_000.0
"""Capacity of the reference cracking plant that ``cracking_reference_usd`` prices (t REO/yr)."""
LEACHED_MINERALS = ("ion-adsorption clay",)
"""Ores leached at the mine: their concentrate needs no cracking plant."""
SCOPES: tuple[PlantScope, ...] = ("separation", "cracking", "integrated")
SPLIT_COLUMNS = (
    "split", "S", "W", "organic_m3_h", "aqueous_m3_h", "oa_extraction", "oa_scrub",
    "stage_volume_m3", "boxes_per_stage", "stages", "boxes",
)  # fmt: skip
PRACTICAL_OA = (0.1, 10.0)
"""Organic/aqueous volume ratios mixer-settlers are run at (hydrodynamic data exist from 1:10
to 10:1; about 10:1 is the practical upper bound quoted in PrOMMiS's reviews)."""


def process_costs(dataset: Dataset) -> ProcessCosts:
    """The dataset's cost document, or a clear error."""
    if dataset.process_costs is None:
        raise DataQueryError("the dataset has no process_costs.yaml")
    return dataset.process_costs


def organic_price_per_m3(plant: dict[str, float], local: dict[str, float]) -> float:
    """USD per m3 of organic phase: extractant and diluent at the region's prices."""
    share = plant["extractant_volume_fraction"]
    return ORGANIC_DENSITY_KG_PER_M3 * (
        share * local["extractant_usd_per_kg"] + (1.0 - share) * local["diluent_usd_per_kg"]
    )


def needs_cracking(dataset: Dataset, ore: str) -> bool:
    """Whether the ore's concentrate must be cracked (acid bake or caustic) before SX."""
    table = dataset.table("ore_types").set_index("id")
    if ore not in table.index:
        raise DataQueryError(f"unknown ore type {ore!r}")
    mineral = str(table.loc[ore, "mineral"] or "")
    return not any(m in mineral for m in LEACHED_MINERALS)


def sx_boxes(sheet: Flowsheet, costs: ProcessCosts, capacity_t_reo: float) -> pd.DataFrame:
    """Per split: flows, stage volume, parallel boxes per stage, stages with the strip and
    saponification sections, boxes, and the cost of its boxes at ``box_cost_factor`` = 1
    (2012 USD, US Gulf)."""
    plant = {k: p.value for k, p in costs.plant.items()}
    capex = {k: p.value for k, p in costs.capex.items()}
    hours = plant["operating_hours_per_year"]
    feed_mol_per_h = capacity_t_reo * 1000.0 / reo_kg_per_mol_re(sheet.feed) / hours
    table = sheet.splits_table()[["split", "feed_share", "n", "m", "S", "W"]].copy()
    split_feed = table["feed_share"] * feed_mol_per_h
    table["organic_m3_h"] = table["S"] * split_feed / plant["organic_loading_mol_per_m3"]
    table["aqueous_m3_h"] = (
        (table["W"] + 1.0) * split_feed / plant["aqueous_concentration_mol_per_m3"]
    )
    mixer = (table["organic_m3_h"] + table["aqueous_m3_h"]) * plant["mixer_residence_min"] / 60.0
    table["stage_volume_m3"] = mixer * (1.0 + plant["settler_to_mixer_volume"])
    table["boxes_per_stage"] = [
        max(1, math.ceil(v / capex["max_box_volume_m3"])) for v in table["stage_volume_m3"]
    ]
    table["box_volume_m3"] = table["stage_volume_m3"] / table["boxes_per_stage"]
    table["stages"] = (
        table["n"]
        + table["m"]
        + capex["strip_stages_per_split"]
        + capex["saponification_stages_per_split"]
    )
    table["boxes"] = table["stages"] * table["boxes_per_stage"]
    unit = (
        plant["reference_stage_cost_usd"]
        * (table["box_volume_m3"] / plant["reference_stage_volume_m3"]) ** plant["scale_exponent"]
    )
    table["box_cost_usd"] = unit * table["boxes"]
    organic_share = table["organic_m3_h"] / (table["organic_m3_h"] + table["aqueous_m3_h"])
    table["organic_inventory_m3"] = table["stage_volume_m3"] * organic_share * table["stages"]
    # O/A by section: the extraction section's aqueous carries feed and scrub, the scrub
    # section's the scrub liquor alone
    scrub_m3_h = table["W"] * split_feed / plant["aqueous_concentration_mol_per_m3"]
    table["oa_extraction"] = table["organic_m3_h"] / table["aqueous_m3_h"]
    table["oa_scrub"] = table["organic_m3_h"] / scrub_m3_h
    return table


def flow_warnings(boxes: pd.DataFrame) -> list[str]:
    """Splits whose O/A lies outside the range mixer-settlers are run at."""
    low, high = PRACTICAL_OA
    found = []
    for row in boxes.itertuples():
        for section, ratio in (("extraction", row.oa_extraction), ("scrub", row.oa_scrub)):
            if not low <= float(ratio) <= high:
                found.append(
                    f"{row.split}: O/A {float(ratio):.3g} in the {section} section is outside "
                    f"{low:g}-{high:g}, the range mixer-settlers are run at (recycle the aqueous "
                    "or change the organic loading)"
                )
    return found


@dataclass(frozen=True)
class Capex:
    """Capital cost of one plant by item (USD of ``year``)."""

    ore: str
    scope: PlantScope
    region: str
    capacity_t_reo: float
    year: int
    items: dict[str, float]
    boxes: int
    assumptions: tuple[str, ...] = field(default=())
    splits: tuple[dict[str, Any], ...] = field(default=())
    """Per split of the SX circuit: flows (m3/h), O/A by section, stage volume, boxes."""
    warnings: tuple[str, ...] = field(default=())

    @property
    def total_usd(self) -> float:
        return sum(self.items.values())

    @property
    def usd_per_t_year(self) -> float:
        return self.total_usd / self.capacity_t_reo

    def to_dict(self) -> dict[str, Any]:
        return {
            "ore": self.ore,
            "scope": self.scope,
            "region": self.region,
            "capacity_t_reo_per_yr": self.capacity_t_reo,
            "usd_year": self.year,
            "capex_usd": self.total_usd,
            "usd_per_t_reo_per_yr": self.usd_per_t_year,
            "items_usd": self.items,
            "mixer_settler_boxes": self.boxes,
            "splits": list(self.splits),
            "warnings": list(self.warnings),
            "assumptions": list(self.assumptions),
        }


@dataclass(frozen=True)
class CapexParts:
    """A plant's capex split into the parts the fitted numbers multiply (USD of ``year``):
    total = box_cost_factor x separation + cracking_reference_usd x cracking + fill."""

    separation: float
    cracking: float
    fill: float
    boxes: int


def capex_parts(
    sheet: Flowsheet, dataset: Dataset, region: str, capacity_t_reo: float,
    scope: PlantScope, year: int,
) -> CapexParts:  # fmt: skip
    """The unit parts of :func:`plant_capex` (for the calibration's linear fit)."""
    costs = process_costs(dataset)
    if region not in costs.regions:
        raise DataQueryError(
            f"no cost parameters for region {region!r}; expected one of {', '.join(costs.regions)}"
        )
    if not capacity_t_reo > 0:
        raise DataQueryError(f"capacity must be > 0 t REO per year, not {capacity_t_reo}")
    if scope not in SCOPES:
        raise DataQueryError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    plant = {k: p.value for k, p in costs.plant.items()}
    capex = {k: p.value for k, p in costs.capex.items()}
    local = {k: p.value for k, p in costs.regions[region].parameters.items()}
    escalation = costs.cost_index.ratio(year, int(capex["reference_cost_year"]))
    place = local["construction_cost_factor"] * escalation
    boxes = sx_boxes(sheet, costs, capacity_t_reo)
    separation = fill = 0.0
    count = 0
    if scope in ("separation", "integrated"):
        separation = float(boxes["box_cost_usd"].sum()) * plant["installation_factor"] * place
        fill = float(boxes["organic_inventory_m3"].sum()) * organic_price_per_m3(plant, local)
        count = int(boxes["boxes"].sum())
    cracking = 0.0
    if scope in ("cracking", "integrated") and needs_cracking(dataset, sheet.ore):
        size = (capacity_t_reo / CRACKING_REFERENCE_T_REO) ** capex["cracking_scale_exponent"]
        cracking = size * place
    return CapexParts(separation, cracking, fill, count)


def plant_capex(
    sheet: Flowsheet, dataset: Dataset, region: str, capacity_t_reo: float,
    scope: PlantScope = "separation", year: int = 2024,
) -> Capex:  # fmt: skip
    """Capex by item of the plant that runs ``sheet`` at the capacity, built in ``region``."""
    costs = process_costs(dataset)
    parts = capex_parts(sheet, dataset, region, capacity_t_reo, scope, year)
    factor = costs.capex["box_cost_factor"].value
    sx = parts.separation * factor / costs.plant["installation_factor"].value
    items = {
        "sx_circuit": sx,
        "rest_of_separation_plant": parts.separation * factor - sx,
        "organic_first_fill": parts.fill,
        "cracking_and_leaching": parts.cracking * costs.capex["cracking_reference_usd"].value,
    }
    assumed = [f"{region}.{k}" for k, p in costs.regions[region].parameters.items() if p.assumption]
    assumed += [f"plant.{k}" for k, p in costs.plant.items() if p.assumption]
    assumed += [f"capex.{k}" for k, p in costs.capex.items() if p.assumption]
    splits: tuple[dict[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    if scope != "cracking":
        boxes = sx_boxes(sheet, costs, capacity_t_reo)
        splits = tuple(boxes[list(SPLIT_COLUMNS)].to_dict(orient="records"))
        warnings = tuple(flow_warnings(boxes))
    return Capex(sheet.ore, scope, region, capacity_t_reo, year, items, parts.boxes,
                 tuple(assumed), splits, warnings)  # fmt: skip
