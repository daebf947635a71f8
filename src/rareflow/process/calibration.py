"""Fit the capex model's two free numbers on published projects; check it on the others.

The capex of a project is linear in the two fitted numbers (``capex_parts``):
``box_cost_factor`` x separation part + ``cracking_reference_usd`` x cracking part + first fill
of organic. They are chosen to minimise the squared log error over the projects marked
``role: calibration`` in ``process_costs.yaml``; every other project is a check, reported apart.
A project whose published figure covers more than the model builds (``wider_scope``: a mine,
an acid plant) is shown but kept out of the check score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.documents import PlantProject
from rareflow.process.capex import CapexParts, capex_parts, process_costs
from rareflow.process.flowsheet import Flowsheet, build_flowsheet

_FLOWSHEETS: dict[tuple[int, int, str], tuple[object, object, Flowsheet]] = {}


def flowsheet_of(dataset: Dataset, ore: str) -> Flowsheet:
    """The default flowsheet of an ore, designed once per ore and per set of the tables it
    depends on (ore types and separation factors: a dataset that shares them shares it; the
    cache holds the tables, so their ids stay theirs)."""
    ores, factors = dataset.tables["ore_types"], dataset.tables["separation_factors"]
    key = (id(ores), id(factors), ore)
    if key not in _FLOWSHEETS:
        _FLOWSHEETS[key] = (ores, factors, build_flowsheet(dataset, ore))
    return _FLOWSHEETS[key][2]


def _modelled(parts: CapexParts, box_factor: float, cracking_usd: float) -> float:
    return box_factor * parts.separation + cracking_usd * parts.cracking + parts.fill


def _rms(errors: list[float]) -> float | None:
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else None


@dataclass(frozen=True)
class CapexCalibration:
    """The fitted numbers, the values in the dataset, and every project's fit."""

    box_cost_factor: float
    cracking_reference_usd: float
    stored: dict[str, float]
    rows: list[dict[str, Any]]

    def scores(self) -> dict[str, Any]:
        """RMS of the natural-log error (and n) of the calibration and check projects."""
        out: dict[str, Any] = {}
        for role in ("calibration", "check"):
            errors = [r["log_error"] for r in self.rows if r["role"] == role and r["in_scope"]]
            out[role] = {"rms_log_error": _rms(errors), "n": len(errors)}
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "fitted": {"box_cost_factor": self.box_cost_factor,
                       "cracking_reference_usd": self.cracking_reference_usd},
            "stored": self.stored,
            "scores": self.scores(),
            "projects": self.rows,
        }  # fmt: skip


def _parts(dataset: Dataset, project: PlantProject) -> CapexParts:
    sheet = flowsheet_of(dataset, project.ore_type)
    return capex_parts(sheet, dataset, project.location, project.capacity_t_reo, project.scope,
                       project.cost_year)  # fmt: skip


def calibrate_capex(dataset: Dataset) -> CapexCalibration:
    """Fit ``box_cost_factor`` and ``cracking_reference_usd``; report every project."""
    costs = process_costs(dataset)
    stored = {
        "box_cost_factor": costs.capex["box_cost_factor"].value,
        "cracking_reference_usd": costs.capex["cracking_reference_usd"].value,
    }
    parts = {p.id: _parts(dataset, p) for p in costs.projects}
    fitting = [p for p in costs.projects if p.role == "calibration"]
    box_factor, cracking_usd = stored["box_cost_factor"], stored["cracking_reference_usd"]
    with_cracking = any(parts[p.id].cracking > 0 for p in fitting)
    if fitting:
        start = np.log([box_factor, cracking_usd])

        def residuals(x: np.ndarray) -> np.ndarray:
            k, c = math.exp(x[0]), math.exp(x[1]) if with_cracking else cracking_usd
            return np.array([
                math.log(_modelled(parts[p.id], k, c)) - math.log(p.capex_usd) for p in fitting
            ])  # fmt: skip

        fit = least_squares(residuals, start, method="lm" if len(fitting) >= 2 else "trf")
        box_factor = float(math.exp(fit.x[0]))
        cracking_usd = float(math.exp(fit.x[1])) if with_cracking else cracking_usd
    rows = []
    for project in costs.projects:
        part = parts[project.id]
        model = _modelled(part, box_factor, cracking_usd)
        rows.append({
            "project": project.id, "name": project.name, "role": project.role,
            "location": project.location, "cost_year": project.cost_year,
            "scope": project.scope, "site": project.site, "wider_scope": project.wider_scope,
            "in_scope": project.wider_scope is None,
            "capacity_t_reo_per_yr": project.capacity_t_reo, "ore_proxy": project.ore_type,
            "published_usd": project.capex_usd, "model_usd": model,
            "model_with_stored_usd": _modelled(part, stored["box_cost_factor"],
                                               stored["cracking_reference_usd"]),
            "ratio": model / project.capex_usd,
            "log_error": math.log(model / project.capex_usd),
            "mixer_settler_boxes": part.boxes, "source": list(project.source),
        })  # fmt: skip
    return CapexCalibration(box_factor, cracking_usd, stored, rows)
