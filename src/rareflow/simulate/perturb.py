"""Behavioural parameters drawn within their ranges, for the bands of back-casts and, where a
scenario asks (``market: {behaviour: drawn}``), of forward runs.

Set 0 keeps ``market.yaml``'s values; set k draws every factor uniformly in its range from a
stream seeded by (seed, k), so bands are reproducible. The ranges say how uncertain each
parameter is (no published elasticity exists; the rest are calibrated or assumed). A back-cast
run k uses set k; a forward run k uses set k mod ``behaviour_sets``, so that a worker builds a
market per set rather than per run.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.documents import Parameter
from rareflow.dataset.market_parameters import MarketParameters
from rareflow.scenario.schema import Scenario

RANGES = {
    "demand_elasticity": (0.5, 1.5),
    "substitution_rate": (0.5, 1.5),
    "substitution_cost": (0.75, 1.25),
    "threat": (0.5, 1.5),
    "smuggling_cost": (0.5, 2.0),
    "expectation_trend": (0.5, 1.5),
}
"""Factor ranges on the central values."""


def _scaled(parameter: Parameter, factor: float) -> Parameter:
    return parameter.model_copy(update={"value": parameter.value * factor})


def factors(run: int, seed: int) -> dict[str, float]:
    """The factors of one run (all 1 for run 0)."""
    if run == 0:
        return dict.fromkeys(RANGES, 1.0)
    rng = np.random.default_rng(np.random.SeedSequence([seed, run, 20092016]))
    return {name: float(rng.uniform(low, high)) for name, (low, high) in RANGES.items()}


def behaviour_set(scenario: Scenario, run: int) -> int:
    """The parameter set of a forward run: 0 (central) unless the scenario draws behaviour."""
    options = scenario.market
    return run % options.behaviour_sets if options.behaviour == "drawn" else 0


def run_dataset(dataset: Dataset, scenario: Scenario, seed: int, run: int) -> Dataset:
    """The dataset a forward run solves: its parameter set's (``dataset`` itself for set 0)."""
    return perturbed(dataset, behaviour_set(scenario, run), seed)


def behaviour_parameters(scenario: Scenario, seed: int, run: int) -> dict[str, float | int]:
    """A forward run's parameter set and factors, for the results store (none if central)."""
    if scenario.market.behaviour != "drawn":
        return {}
    chosen = behaviour_set(scenario, run)
    drawn: dict[str, float | int] = {"behaviour_set": chosen}
    drawn.update({f"behaviour:{k}": v for k, v in factors(chosen, seed).items()})
    return drawn


def perturbed(dataset: Dataset, run: int, seed: int) -> Dataset:
    """The dataset with its behavioural parameters scaled by set ``run`` (0: unchanged)."""
    market = dataset.market
    if run == 0 or market is None:
        return dataset
    f = factors(run, seed)
    return dataclasses.replace(dataset, market=scale_market(market, f))


def scale_market(market: MarketParameters, f: dict[str, float]) -> MarketParameters:
    update: dict[str, object] = {
        "demand_elasticity": _scaled(market.demand_elasticity, f["demand_elasticity"])
    }
    update["substitution"] = {
        use: spec.model_copy(
            update={
                "rate": _scaled(spec.rate, f["substitution_rate"]),
                "cost_factor": _scaled(spec.cost_factor, f["substitution_cost"]),
            }
        )
        for use, spec in market.substitution.items()
    }
    if market.inventories is not None:
        tranches = [
            t.model_copy(update={"threat_pct": _scaled(t.threat_pct, f["threat"])})
            for t in market.inventories.tranches
        ]
        held: dict[str, object] = {"tranches": tranches}
        expectations = market.inventories.expectations
        if expectations is not None:
            trend = _scaled(expectations.trend, f["expectation_trend"])
            held["expectations"] = expectations.model_copy(update={"trend": trend})
        update["inventories"] = market.inventories.model_copy(update=held)
    if market.smuggling is not None:
        update["smuggling"] = market.smuggling.model_copy(
            update={
                "cost_usd_per_kg": _scaled(market.smuggling.cost_usd_per_kg, f["smuggling_cost"])
            }
        )
    return market.model_copy(update=update)
