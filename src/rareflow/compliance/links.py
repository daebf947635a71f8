"""Solved market years for provenance: the base year, or a later year of one run of a
scenario; and the Chinese-mined share reaching a demand segment, for BOM provenance links."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rareflow.compliance.provenance import trace
from rareflow.dataset.dataset import Dataset
from rareflow.elements import parse_symbol
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.scenario.schema import Scenario
from rareflow.simulate.replay import solved_year


def solved(
    dataset: Dataset,
    year: int | None,
    scenario: Callable[[], Scenario],
    label: str,
    seed: int,
    run: int,
) -> tuple[MarketModel, np.ndarray, np.ndarray, str]:
    """(model, values, duals, where) of the base year (``year`` None or the base year) or of
    ``year`` in run ``run`` of the scenario (loaded only if needed); ValueError outside its
    horizon."""
    base = dataset.market.base_year if dataset.market else 2024
    if year is None or year == base:
        clearing = Clearing.from_dataset(dataset)
        values, duals, _, _ = clearing.solve_arrays()
        return clearing.model, values, duals, f"{base} market"
    model, values, duals = solved_year(dataset, scenario(), label, seed, run, year)
    return model, values, duals, f"{label} run {run} (seed {seed}), {year}"


def provenance_lookup(
    dataset: Dataset, scenario: Callable[[], Scenario], label: str, seed: int, run: int
) -> Callable[[str, str, int | None], float]:
    """``share(element, segment, year)``: the Chinese-mined share of an element reaching a
    demand segment in that year's market (solved once per element and year); ValueError if no
    such element reaches the segment."""
    cache: dict[tuple[str, int | None], dict[str, object]] = {}

    def share(element: str, node: str, year: int | None) -> float:
        key = (element, year)
        if key not in cache:
            model, values, duals, _ = solved(dataset, year, scenario, label, seed, run)
            cache[key] = trace(model, values, duals, parse_symbol(element))
        segments = cache[key]["segments"]
        assert isinstance(segments, list)
        for row in segments:
            if row["segment"] == node:
                return float(row["china_mined_share"])
        raise ValueError(f"provenance link: no {element} reaches segment {node!r} in that year")

    return share
