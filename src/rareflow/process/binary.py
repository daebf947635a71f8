"""A two-outlet design from a feed composition: the key pair ordered by the extractant's
separation-factor series (or a given factor), designed by ``theory.design_binary``, with the
reagents per kg of feed. Shared by the command line and the web API."""

from __future__ import annotations

from typing import Any, Literal

from rareflow.dataset.dataset import Dataset
from rareflow.process.factors import factor_series
from rareflow.process.files import parse_composition
from rareflow.process.reagents import reagents_kg_per_kg_reo
from rareflow.process.theory import BinarySpec, SpecError, design_binary


def design_from_feed(
    dataset: Dataset,
    feed: str,
    purity: float,
    beta: float | None = None,
    purity_raffinate: float | None = None,
    feed_phase: Literal["aqueous", "organic"] = "aqueous",
    ratio_to_min: float = 1.2,
    extractant_flow: float | None = None,
    extractant: str = "p507",
    medium: str = "hcl",
) -> dict[str, Any]:
    """The design as JSON-ready data (``DesignResult.to_dict`` plus the components, the
    factor's source and the reagents); raises SpecError naming what is wrong."""
    composition = parse_composition(feed)
    if len(composition) != 2:
        raise SpecError("the feed needs exactly two components for a two-outlet design")
    series = factor_series(dataset, extractant, medium)
    symbols = sorted(composition, key=lambda s: series.relative.get(s, 0.0))
    if any(s not in series.relative for s in symbols) and beta is None:
        raise SpecError(f"{', '.join(symbols)} not both in the {extractant} series; give a beta")
    less, more = symbols
    factor = beta if beta is not None else series.relative[more] / series.relative[less]
    spec = BinarySpec(
        feed_a=composition[more], beta=factor, purity_a=purity,
        purity_b=purity if purity_raffinate is None else purity_raffinate,
        feed_phase=feed_phase,
    )  # fmt: skip
    result = design_binary(spec, ratio_to_min, extractant_flow)
    payload = result.to_dict()
    payload["components"] = {"A_organic": more, "B_raffinate": less}
    payload["separation_factor_source"] = "given" if beta is not None else series.label
    payload["reagents_per_kg_feed_reo"] = reagents_kg_per_kg_reo(
        result.base_equivalents, result.acid_equivalents, composition
    )
    return payload
