"""Mass-action cascade files (YAML) and the extraction constants they take from the dataset.

Constants: an element with its own row in ``extraction_constants.csv`` takes it; any other takes
the anchor's (the first rare-earth row of the extractant and medium, Dy for P507/HCl) times its
separation factor to the anchor in the dataset's series, log K_i = log K_anchor +
log10(beta_i / beta_anchor). Which constants are derived, and whether their factors are
estimates, is said. Impurity ions (Fe, Al, Ca, Th) take their own row, with its law (protons
released, dimers bound: Th(IV) in chloride releases 2 and binds 3), or a constant the file
gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.schema import numbers_not_booleans
from rareflow.process.factors import factor_series
from rareflow.process.files import load_document
from rareflow.process.impurities import charge_of, is_impurity, parse_component
from rareflow.process.massaction import MassActionCascade
from rareflow.process.network import Block, Link, Network, Stoichiometry
from rareflow.process.theory import SpecError
from rareflow.process.topology import NEUTRALISATION_LOG_K, PROTONS_PER_ION

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
MAX_MASS_ACTION_STAGES = 200
"""Every stage adds (components + 2) unknowns to one dense solve; larger cascades belong to the
constant-factor solver."""


def _constant_rows(dataset: Dataset, extractant: str, medium: str) -> pd.DataFrame:
    table = dataset.table("extraction_constants")
    return table[(table["extractant"] == extractant) & (table["medium"] == medium)]


def _law(row: Any) -> Stoichiometry:
    """(protons released, dimers bound) of a constant's row (dimers blank: as many)."""
    protons = float(row.proton_exponent)
    return protons, protons if pd.isna(row.dimer_exponent) else float(row.dimer_exponent)


def extraction_constants(
    dataset: Dataset, extractant: str, medium: str, components: tuple[str, ...]
) -> tuple[np.ndarray, list[str]]:
    """log10 K of each component and a note per component on where it comes from."""
    rows = _constant_rows(dataset, extractant, medium)
    if rows.empty:
        raise SpecError(
            f"no extraction constant for {extractant}/{medium} in the dataset; give log_k "
            "per component in the file"
        )
    own = {str(r.element): r for r in rows.itertuples()}
    anchor = next((e for e in own if not is_impurity(e)), "")  # rare earths derive from it
    series = factor_series(dataset, extractant, medium)
    values, notes = [], []
    for component in components:
        if component in own:
            row = own[component]
            protons, dimers = _law(row)
            values.append(float(row.log_k_ex))
            law = f"; {protons:g} H+, {dimers:g} (HA)2"
            law = "" if is_rare_earth_law(protons, dimers) else law
            cited = row.source if isinstance(row.source, str) else ", ".join(row.source)
            notes.append(f"{component}: log K {row.log_k_ex:g} ({cited}{law})")
            continue
        if not anchor:
            raise SpecError(f"no rare-earth constant for {extractant}/{medium} to derive "
                            f"{component}'s from; give it in log_k")  # fmt: skip
        ratio = float(series.betas([component])[0] / series.betas([anchor])[0])
        values.append(float(own[anchor].log_k_ex) + float(np.log10(ratio)))
        flag = "ESTIMATED factors" if series.is_estimated(component, anchor) else "sourced factors"
        notes.append(f"{component}: derived from {anchor} x beta {ratio:.4g} ({flag})")
    return np.array(values), notes


def is_rare_earth_law(protons: float, dimers: float) -> bool:
    return protons == dimers == PROTONS_PER_ION


def component_constants(
    given_text: dict[str, float] | None,
    dataset: Dataset,
    extractant: str,
    medium: str,
    components: tuple[str, ...],
) -> tuple[np.ndarray, list[str], tuple[Stoichiometry, ...]]:
    """log10 K and the law (protons, dimers) per component: the file's ``log_k`` where it gives
    one, the dataset's for the others (rare earths without a row of their own derived through
    the separation factors); an impurity takes its row's law, or its charge for both."""
    given = {parse_component(k): v for k, v in (given_text or {}).items()}
    rows = _constant_rows(dataset, extractant, medium)
    shipped = {str(r.element): _law(r) for r in rows.itertuples()}
    lacking = [c for c in components if is_impurity(c) and c not in given and c not in shipped]
    if lacking:
        raise SpecError(
            f"no extraction constant ships for {', '.join(lacking)} with {extractant or '-'}/"
            f"{medium} (the dataset has {', '.join(shipped) or 'none'}): give it in log_k"
        )
    rest = tuple(c for c in components if c not in given)
    notes = [f"{c}: log K {given[c]:g} (given in the file)" for c in components if c in given]
    found: dict[str, float] = {}
    if rest:
        values, dataset_notes = extraction_constants(dataset, extractant, medium, rest)
        found = dict(zip(rest, (float(v) for v in values), strict=True))
        notes += dataset_notes
    laws = tuple(shipped.get(c, (float(charge_of(c)), float(charge_of(c)))) for c in components)
    for c, (protons, dimers) in zip(components, laws, strict=True):
        if c in given and not is_rare_earth_law(protons, dimers):
            notes.append(f"{c}: the law of the dataset's row, {protons:g} H+ and {dimers:g} (HA)2")
    log_k = np.array([given[c] if c in given else found[c] for c in components])
    return log_k, notes, laws


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
StageCount = Annotated[int, Field(ge=0, le=MAX_MASS_ACTION_STAGES)]


class SectionsFile(BaseModel):
    """What a cascade file and a network's block share: sections, liquors, organic, feed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    _numbers = numbers_not_booleans()

    n: Annotated[int, Field(ge=1, le=MAX_MASS_ACTION_STAGES)]
    m: StageCount = 0
    p: StageCount = 0
    """Strip stages."""
    organic_m3_h: Positive
    scrub_m3_h: NonNegative = 0.0
    scrub_acid_mol_per_l: NonNegative = 0.0
    strip_m3_h: NonNegative = 0.0
    strip_acid_mol_per_l: NonNegative = 0.0
    reflux: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    recycle_organic: bool = False
    saponification: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.0
    """Share of the entering organic's extractant pre-neutralised (Na+ or NH4+ salt)."""


class ConstantsFile(BaseModel):
    """Where the extraction constants come from: the dataset's series or the file."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    _numbers = numbers_not_booleans()

    extractant_mol_per_l: Positive
    efficiency: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0
    """Murphree efficiency of every stage (organic phase)."""
    extractant: str | None = "p507"
    medium: str = "hcl"
    log_k: dict[str, Annotated[float, Field(ge=-20, le=20)]] | None = None
    """Base-10 constants per component (instead of the dataset's)."""
    neutralisation_log_k: Annotated[float, Field(ge=-5, le=12)] = NEUTRALISATION_LOG_K
    """log10 K_n of MA + H+ = HA + M+ for saponified organic (an assumption by default)."""


class MassActionFile(SectionsFile, ConstantsFile):
    """Schema of ``rareflow cascade massaction FILE.yaml`` (see docs/process.md)."""

    feed: dict[str, NonNegative]
    feed_m3_h: Positive
    feed_mol_per_l: Positive
    feed_acid_mol_per_l: Positive


def load_mass_action(path: Path, dataset: Dataset) -> tuple[MassActionCascade, list[str]]:
    """Read and validate a file; returns the cascade and where its constants come from."""
    return load_document(path, MassActionFile, lambda spec: _build(spec, dataset))


def _build(spec: MassActionFile, dataset: Dataset) -> tuple[MassActionCascade, list[str]]:
    feed = {parse_component(k): v for k, v in spec.feed.items()}
    total = sum(feed.values())
    if len(feed) < 1 or abs(total - 1.0) > 1e-6:
        raise SpecError(f"feed fractions sum to {total:.6g}, not 1")
    components = tuple(feed)
    log_k, notes, laws = component_constants(spec.log_k, dataset, spec.extractant or "",
                                             spec.medium, components)  # fmt: skip
    order = np.argsort(log_k, kind="stable")
    cascade = MassActionCascade(
        tuple(components[i] for i in order), log_k[order],
        np.array([feed[components[i]] for i in order]), spec.n, spec.m,
        spec.extractant_mol_per_l, spec.organic_m3_h, spec.feed_m3_h, spec.feed_mol_per_l,
        spec.feed_acid_mol_per_l, spec.scrub_m3_h, spec.scrub_acid_mol_per_l, spec.p,
        spec.strip_m3_h, spec.strip_acid_mol_per_l, spec.reflux, spec.recycle_organic,
        spec.efficiency, spec.saponification, spec.neutralisation_log_k,
        tuple(laws[i] for i in order),
    )  # fmt: skip
    return cascade, notes


class BlockFile(SectionsFile):
    """One cascade of a network file."""

    id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
    feed: dict[str, NonNegative] = {}
    feed_m3_h: NonNegative = 0.0
    feed_mol_per_l: NonNegative = 0.0
    feed_acid_mol_per_l: NonNegative = 0.0


class LinkFile(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    source: str
    stream: Literal["raffinate", "strip_liquor", "loaded_organic"]
    target: str
    share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 1.0


class NetworkFile(ConstantsFile):
    """Schema of ``rareflow cascade network FILE.yaml`` (see docs/process.md)."""

    blocks: Annotated[list[BlockFile], Field(min_length=1, max_length=20)]
    links: list[LinkFile] = []


def load_network(path: Path, dataset: Dataset) -> tuple[Network, list[str]]:
    """Read and validate a network file; returns the network and where its constants come
    from."""
    return load_document(path, NetworkFile, lambda spec: _build_network(spec, dataset))


def _build_network(spec: NetworkFile, dataset: Dataset) -> tuple[Network, list[str]]:
    feeds = {b.id: {parse_component(k): v for k, v in b.feed.items()} for b in spec.blocks}
    for block in spec.blocks:
        total = sum(feeds[block.id].values())
        if block.feed_m3_h > 0 and (abs(total - 1.0) > 1e-6 or block.feed_mol_per_l <= 0):
            raise SpecError(f"block {block.id}: a feed needs fractions summing to 1 and "
                            "feed_mol_per_l > 0")  # fmt: skip
    components = tuple(dict.fromkeys(s for f in feeds.values() for s in f))
    if not components:
        raise SpecError("no block has a feed composition")
    log_k, notes, laws = component_constants(spec.log_k, dataset, spec.extractant or "",
                                             spec.medium, components)  # fmt: skip
    order = np.argsort(log_k, kind="stable")
    ordered = tuple(components[i] for i in order)
    blocks = tuple(
        Block(b.id, b.n, b.organic_m3_h, b.m, b.p, b.feed_m3_h, b.feed_mol_per_l,
              tuple(feeds[b.id].get(c, 0.0) for c in ordered), b.feed_acid_mol_per_l,
              b.scrub_m3_h, b.scrub_acid_mol_per_l, b.strip_m3_h, b.strip_acid_mol_per_l,
              b.reflux, b.recycle_organic, b.saponification)
        for b in spec.blocks
    )  # fmt: skip
    links = tuple(Link(k.source, k.stream, k.target, k.share) for k in spec.links)
    network = Network(ordered, log_k[order], spec.extractant_mol_per_l, blocks, links,
                      spec.efficiency, spec.neutralisation_log_k,
                      tuple(laws[i] for i in order))  # fmt: skip
    return network, notes
