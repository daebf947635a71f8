"""Candidates costed by the plant model: capex and lead time filled in before a run.

A separation candidate with ``costed: {ore_type, scope, site, new_mine, region}`` takes, where
the scenario does not give them, its capex per t/yr from the calibrated capex model
(``process/capex.py``: the ore's flowsheet at the candidate's capacity, built in the region, in
dollars of the scenario's first year) and its lead-time range from the published durations of
plants of the same scope and site (``process/leadtime.py``), in whole years.
"""

from __future__ import annotations

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.process.calibration import flowsheet_of
from rareflow.process.capex import plant_capex, process_costs
from rareflow.process.leadtime import lead_time
from rareflow.process.theory import SpecError
from rareflow.scenario.schema import Candidate, Scenario


class CostingError(ValueError):
    """A costed candidate the plant model cannot price (names the candidate and the fix)."""


def costed_candidate(candidate: Candidate, dataset: Dataset, year: int) -> Candidate:
    """The candidate with its missing capex and lead time taken from the plant model."""
    spec = candidate.costed
    if spec is None:
        return candidate
    costs = process_costs(dataset)
    region = spec.region or candidate.location
    if region not in costs.regions:
        raise CostingError(
            f"candidate {candidate.id}: no plant costs for region {region!r}; set costed.region "
            f"to one of {', '.join(costs.regions)}"
        )
    update: dict[str, object] = {}
    if candidate.capex_usd_per_t_year is None:
        try:
            sheet = flowsheet_of(dataset, spec.ore_type)
            capex = plant_capex(sheet, dataset, region, candidate.capacity_t, spec.scope, year)
        except (SpecError, DataQueryError) as exc:
            raise CostingError(f"candidate {candidate.id}: {exc}") from None
        update["capex_usd_per_t_year"] = capex.usd_per_t_year
    if candidate.lead_time_years is None:
        lead = lead_time(costs, spec.scope, spec.site, region, spec.new_mine)
        update["lead_time_years"] = lead.whole_years
    return candidate.model_copy(update=update) if update else candidate


def costed_scenario(scenario: Scenario, dataset: Dataset) -> Scenario:
    """The scenario with every costed candidate resolved (itself if there is none)."""
    if not any(c.costed is not None for c in scenario.candidates):
        return scenario
    year = scenario.horizon.start
    candidates = [costed_candidate(c, dataset, year) for c in scenario.candidates]
    return scenario.model_copy(update={"candidates": candidates})
