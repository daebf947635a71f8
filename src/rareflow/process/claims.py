"""Two claims about new plants, answered with the calibrated capex, costs and lead times.

1. "A new plant costs ~US$2 bn and takes 10 years": capex by scope (separation only; cracking and
   separation) and capacity, with the band of the capex model's out-of-sample error, the
   capacity at which US$2 bn would be reached, and the lead time from published projects.
2. "China separates at a tenth of Western cost": cost per kg REO of the same flowsheet in China
   and in Western regions, by driver, at equal scale and at China's scale.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.documents import PlantScope, Site
from rareflow.process.calibration import calibrate_capex, flowsheet_of
from rareflow.process.capex import capex_parts, plant_capex, process_costs
from rareflow.process.cost import compare, plant_cost
from rareflow.process.flowsheet import Flowsheet
from rareflow.process.leadtime import lead_time

CLAIMED_CAPEX_USD = 2.0e9
CLAIMED_YEARS = 10.0
CLAIMED_COST_RATIO = 10.0
CASES: tuple[tuple[PlantScope, Site, bool], ...] = (
    ("separation", "brownfield", False),
    ("separation", "greenfield", False),
    ("integrated", "greenfield", True),
)
"""(scope, site, with a new mine) of the plants the first claim is checked on."""


def capacity_at(
    dataset: Dataset, ore: str, region: str, scope: PlantScope, capex_usd: float, year: int
) -> float | None:
    """Capacity (t REO/yr) whose capex reaches ``capex_usd`` (bisection in log capacity), or
    None if not reached below 1 Mt/yr."""
    sheet = flowsheet_of(dataset, ore)
    costs = process_costs(dataset)
    factor = costs.capex["box_cost_factor"].value
    cracking = costs.capex["cracking_reference_usd"].value

    def total(capacity: float) -> float:
        parts = capex_parts(sheet, dataset, region, capacity, scope, year)
        return factor * parts.separation + cracking * parts.cracking + parts.fill

    low, high = math.log(100.0), math.log(1.0e6)
    if total(math.exp(high)) < capex_usd:
        return None
    if total(math.exp(low)) >= capex_usd:
        return math.exp(low)
    for _ in range(40):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if total(math.exp(middle)) < capex_usd else (low, middle)
    return math.exp(high)


def new_plant_claim(
    dataset: Dataset, ore: str, capacities: tuple[float, ...], regions: tuple[str, ...],
    year: int = 2024,
) -> dict[str, Any]:  # fmt: skip
    """Capex (with the check band) and lead time of new plants against "US$2 bn, 10 years"."""
    calibration = calibrate_capex(dataset)
    check = calibration.scores()["check"]["rms_log_error"] or 0.0
    costs = process_costs(dataset)
    sheet = flowsheet_of(dataset, ore)
    rows = []
    for region in regions:
        for scope, site, with_mine in CASES:
            lead = lead_time(costs, scope, site, region, with_mine)
            for capacity in capacities:
                capex = plant_capex(sheet, dataset, region, capacity, scope, year)
                total = capex.total_usd
                rows.append({
                    "region": region, "scope": scope, "site": site, "new_mine": with_mine,
                    "capacity_t_reo_per_yr": capacity, "capex_usd": total,
                    "capex_low_usd": total * math.exp(-check),
                    "capex_high_usd": total * math.exp(check),
                    "usd_per_t_reo_per_yr": capex.usd_per_t_year,
                    "lead_time_years": list(lead.years), "lead_time_gaps": list(lead.gaps),
                    "lead_time_from": list(lead.permitting_ids + lead.construction_ids),
                })  # fmt: skip
    reach = {
        region: capacity_at(dataset, ore, region, "integrated", CLAIMED_CAPEX_USD, year)
        for region in regions
    }
    whole = {
        t.id: [t.years_low, t.years_high] for t in costs.lead_times if t.phase == "development"
    }
    return {
        "claim": "a new plant costs ~US$2 bn and takes 10 years",
        "ore": ore, "usd_year": year, "capex_band_log": check,
        "band": "capex x exp(+-RMS log error of the capex model on its check projects)",
        "cases": rows,
        "integrated_capacity_at_2bn_t_reo_per_yr": reach,
        "whole_path_published_years": whole,
        "calibration_scores": calibration.scores(),
    }  # fmt: skip


def with_china_input(dataset: Dataset, region: str, key: str) -> Dataset:
    """The dataset with one of ``region``'s cost inputs set to China's value."""
    costs = process_costs(dataset)
    local = costs.regions[region]
    parameters = {**local.parameters, key: costs.regions["CN"].parameters[key]}
    regions = {**costs.regions, region: local.model_copy(update={"parameters": parameters})}
    return dataclasses.replace(dataset, process_costs=costs.model_copy(update={"regions": regions}))


def china_input_effects(
    dataset: Dataset, sheet: Flowsheet, region: str, capacity: float, year: int
) -> list[dict[str, Any]]:
    """The region's cost ratio to China when one of its inputs takes China's value, and when
    all do (what would have to be true for the gap to close), largest effect first."""
    china = plant_cost(sheet, dataset, "CN", capacity, year).usd_per_kg_reo
    base = plant_cost(sheet, dataset, region, capacity, year).usd_per_kg_reo
    costs = process_costs(dataset)
    rows: list[dict[str, Any]] = []
    for key in costs.regions[region].parameters:
        changed = plant_cost(sheet, with_china_input(dataset, region, key), region, capacity,
                             year).usd_per_kg_reo  # fmt: skip
        rows.append({"input": key, "ratio_to_china": changed / china,
                     "ratio_change": (changed - base) / china,
                     "assumption": costs.regions[region].parameters[key].assumption})  # fmt: skip
    rows.sort(key=lambda r: float(r["ratio_change"]))
    every = dataset
    for key in costs.regions[region].parameters:
        every = with_china_input(every, region, key)
    same = plant_cost(sheet, every, region, capacity, year).usd_per_kg_reo
    rows.append({"input": "all", "ratio_to_china": same / china,
                 "ratio_change": (same - base) / china, "assumption": False})  # fmt: skip
    return rows


def cost_ratio_claim(
    dataset: Dataset, ore: str, capacity: float, china_capacity: float,
    regions: tuple[str, ...], year: int = 2024,
) -> dict[str, Any]:  # fmt: skip
    """Cost per kg REO in China against Western regions, by driver, against "a tenth"."""
    sheet = flowsheet_of(dataset, ore)
    china = plant_cost(sheet, dataset, "CN", capacity, year)
    china_large = plant_cost(sheet, dataset, "CN", china_capacity, year)
    rows = []
    for region in regions:
        west = plant_cost(sheet, dataset, region, capacity, year)
        table = compare(china, west)
        rows.append({
            "region": region, "capacity_t_reo_per_yr": capacity,
            "usd_per_kg_reo": west.usd_per_kg_reo,
            "operating_usd_per_kg_reo": west.operating_usd_per_kg_reo,
            "ratio_to_china": west.usd_per_kg_reo / china.usd_per_kg_reo,
            "ratio_to_china_at_its_scale": west.usd_per_kg_reo / china_large.usd_per_kg_reo,
            "operating_ratio_to_china": west.operating_usd_per_kg_reo
            / china.operating_usd_per_kg_reo,
            "by_driver": table.to_dict(orient="records"),
            "china_input_one_at_a_time": china_input_effects(dataset, sheet, region, capacity,
                                                             year),
        })  # fmt: skip
    return {
        "claim": "China separates at a tenth of Western cost",
        "ore": ore, "usd_year": year,
        "china": {"capacity_t_reo_per_yr": capacity, "usd_per_kg_reo": china.usd_per_kg_reo,
                  "operating_usd_per_kg_reo": china.operating_usd_per_kg_reo},
        "china_at_scale": {"capacity_t_reo_per_yr": china_capacity,
                           "usd_per_kg_reo": china_large.usd_per_kg_reo},
        "regions": rows,
        "assumed_inputs": list(china.assumptions),
    }  # fmt: skip
