"""Capex and opex of a separation plant from its designed flowsheet, by region.

Sizing and capex come from ``process/capex.py`` (mixer-settler boxes from every split's flows,
the separation plant around them, calibrated on published projects). Opex per year: reagents (3
equivalents of NaOH and HCl per mol RE loaded and stripped, from the designs), extractant and
diluent losses, mixing energy, labour (operator positions per 100 stages x shift coverage),
labour overheads (supervision, laboratory, plant-wide staff, as a share of operating labour),
maintenance (a share of capex), effluent treatment (the aqueous that carries each split's feed
out), environmental compliance per t REO, and the capital charge at the region's WACC over the
plant life.

Every input comes from ``process_costs.yaml`` (sourced or flagged as an assumption); costs are
allocated to products by mass, which the result says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.process.capex import organic_price_per_m3, plant_capex, process_costs, sx_boxes
from rareflow.process.flowsheet import Flowsheet
from rareflow.process.reagents import HCL_KG_PER_MOL, NAOH_KG_PER_MOL, reo_kg_per_mol_re

DRIVERS = (
    "capital_charge",
    "reagents",
    "extractant_losses",
    "energy",
    "labour",
    "labour_overheads",
    "maintenance",
    "effluent",
    "environmental_compliance",
)
# Costs a plant carries whether it runs or not: what the market's separation plants leave out of
# their running cost, since a plant already built compares its price with the cost of one more
# tonne, not with its yearly bills.
FIXED_DRIVERS = ("capital_charge", "labour_overheads", "maintenance")


@dataclass(frozen=True)
class PlantCost:
    """Annual cost by driver (USD/yr) of one flowsheet in one region at one capacity."""

    region: str
    capacity_t_reo: float
    stages: int
    capex_usd: float
    drivers: dict[str, float]
    assumptions: tuple[str, ...]
    capex_items: dict[str, float] = field(default_factory=dict)

    @property
    def annual_usd(self) -> float:
        return sum(self.drivers.values())

    @property
    def operating_usd_per_kg_reo(self) -> float:
        """Cost per kg of feed REO that varies with output (without the capital charge,
        maintenance and labour overheads): what a plant already built weighs against the price
        of one more tonne."""
        running = self.annual_usd - sum(self.drivers[d] for d in FIXED_DRIVERS)
        return running / (self.capacity_t_reo * 1000.0)

    @property
    def usd_per_kg_reo(self) -> float:
        """Cost per kg of feed REO separated (all products, mass allocation)."""
        return self.annual_usd / (self.capacity_t_reo * 1000.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "capacity_t_reo_per_yr": self.capacity_t_reo,
            "stages": self.stages,
            "capex_usd": self.capex_usd,
            "capex_items_usd": self.capex_items,
            "annual_usd": self.annual_usd,
            "usd_per_kg_reo": self.usd_per_kg_reo,
            "operating_usd_per_kg_reo": self.operating_usd_per_kg_reo,
            "drivers_usd_per_yr": self.drivers,
            "drivers_usd_per_kg_reo": {
                k: v / (self.capacity_t_reo * 1000.0) for k, v in self.drivers.items()
            },
            "allocation": "by mass: every product carries the same cost per kg REO",
            "assumptions": list(self.assumptions),
        }


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annual payment per unit of capital at ``rate`` over ``years`` (annuity factor)."""
    if rate == 0:
        return 1.0 / years
    growth = (1.0 + rate) ** years
    return float(rate * growth / (growth - 1.0))


def plant_cost(
    sheet: Flowsheet, dataset: Dataset, region: str, capacity_t_reo: float, year: int = 2024
) -> PlantCost:
    """Capex and annual cost by driver of the separation plant that runs ``sheet``, built in
    ``region`` for the capacity (capex in USD of ``year``)."""
    costs = process_costs(dataset)
    capex = plant_capex(sheet, dataset, region, capacity_t_reo, "separation", year)
    local = {k: p.value for k, p in costs.regions[region].parameters.items()}
    plant = {k: p.value for k, p in costs.plant.items()}
    hours = plant["operating_hours_per_year"]
    feed_mol_per_h = capacity_t_reo * 1000.0 / reo_kg_per_mol_re(sheet.feed) / hours
    boxes = sx_boxes(sheet, costs, capacity_t_reo)
    organic_m3_h, aqueous_m3_h = boxes["organic_m3_h"], boxes["aqueous_m3_h"]
    split_feed = boxes["feed_share"] * feed_mol_per_h
    organic_price = organic_price_per_m3(plant, local)
    totals = sheet.totals()
    feed_mol_per_yr = feed_mol_per_h * hours
    naoh_t = totals["base_eq_per_mol_feed"] * feed_mol_per_yr * NAOH_KG_PER_MOL / 1000.0
    hcl_t = totals["acid_eq_per_mol_feed"] * feed_mol_per_yr * HCL_KG_PER_MOL / 1000.0
    organic_pumped = float(organic_m3_h.sum()) * hours
    positions = plant["operators_per_100_stages"] * totals["stages"] / 100.0
    effluent_m3 = float(split_feed.sum()) * hours / plant["aqueous_concentration_mol_per_m3"]
    rate = local["wacc_pct"] / 100.0
    labour = positions * plant["staff_per_operator_position"] * local["labour_usd_per_person_year"]
    drivers = {
        "capital_charge": capex.total_usd
        * capital_recovery_factor(rate, plant["plant_life_years"]),
        "reagents": naoh_t * local["naoh_usd_per_t"] + hcl_t * local["hcl_usd_per_t"],
        "extractant_losses": organic_pumped * plant["solvent_loss_m3_per_1000_m3"] / 1000.0
        * organic_price,
        "energy": float((organic_m3_h + aqueous_m3_h).sum()) * hours
        * plant["mixing_energy_kwh_per_m3"] * local["electricity_usd_per_kwh"],
        "labour": labour,
        "labour_overheads": labour * plant["labour_overhead_fraction"],
        "maintenance": capex.total_usd * plant["maintenance_fraction_of_capex"],
        "effluent": effluent_m3 * local["effluent_treatment_usd_per_m3"],
        "environmental_compliance": capacity_t_reo
        * local["environmental_compliance_usd_per_t_reo"],
    }  # fmt: skip
    return PlantCost(region, capacity_t_reo, int(totals["stages"]), capex.total_usd, drivers,
                     capex.assumptions, capex.items)  # fmt: skip


def opex_checks(dataset: Dataset) -> list[dict[str, Any]]:
    """The model's operating cost beside every published project that gives one (USD/kg REO):
    reagents, and the rest of the cash cost (everything but the capital charge), for the
    project's ore, place and size; the model's input prices are today's, not the study's."""
    from rareflow.process.calibration import flowsheet_of  # it builds on this module's inputs

    rows = []
    for project in process_costs(dataset).projects:
        if project.opex_per_t_reo is None:
            continue
        cost = plant_cost(flowsheet_of(dataset, project.ore_type), dataset, project.location,
                          project.capacity_t_reo, project.cost_year)  # fmt: skip
        per_kg = {k: v / (project.capacity_t_reo * 1000.0) for k, v in cost.drivers.items()}
        published = project.opex_per_t_reo * project.usd_per_unit / 1000.0
        other = sum(v for k, v in per_kg.items() if k not in ("capital_charge", "reagents"))
        row: dict[str, Any] = {"project": project.id, "location": project.location,
                               "cost_year": project.cost_year, "ore_type": project.ore_type,
                               "published_usd_per_kg_reo": published,
                               "model_cash_usd_per_kg_reo": float(per_kg["reagents"] + other),
                               "model_reagents": float(per_kg["reagents"]),
                               "model_other": float(other),
                               "published_reagents": None, "published_other": None}  # fmt: skip
        if project.opex_reagent_share is not None:
            row["published_reagents"] = published * project.opex_reagent_share
            row["published_other"] = published * (1 - project.opex_reagent_share)
        rows.append(row)
    return rows


def compare(first: PlantCost, second: PlantCost) -> pd.DataFrame:
    """Cost per kg REO by driver in two regions and the difference each driver explains.

    The drivers add up to the total, so their differences add up to the total difference
    exactly; ``share_of_gap`` says how much of the gap each explains.
    """
    scale_a = first.capacity_t_reo * 1000.0
    scale_b = second.capacity_t_reo * 1000.0
    rows = []
    gap = second.usd_per_kg_reo - first.usd_per_kg_reo
    for driver in DRIVERS:
        a = first.drivers[driver] / scale_a
        b = second.drivers[driver] / scale_b
        rows.append({"driver": driver, first.region: a, second.region: b, "difference": b - a,
                     "share_of_gap": (b - a) / gap if gap else 0.0})  # fmt: skip
    rows.append({"driver": "total", first.region: first.usd_per_kg_reo,
                 second.region: second.usd_per_kg_reo, "difference": gap,
                 "share_of_gap": 1.0 if gap else 0.0})  # fmt: skip
    return pd.DataFrame(rows)
