"""Cascade description files (YAML) and ``A=0.3,B=0.7`` composition strings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataIssue, DataValidationError, display_path
from rareflow.dataset.readers import line_of, read_yaml
from rareflow.dataset.schema import numbers_not_booleans
from rareflow.dataset.tables import validate_mapping
from rareflow.elements import UnknownElementError, parse_symbol
from rareflow.process.cascade import Cascade
from rareflow.process.factors import FactorSeries, factor_series
from rareflow.process.theory import MAX_STAGES, SpecError

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def parse_composition(text: str, normalise: bool = False) -> dict[str, float]:
    """Parse ``Pr=0.33,Nd=0.67`` into symbols and fractions (symbols case-insensitive).

    Fractions must sum to 1 within 1e-6 unless ``normalise`` rescales them.
    """
    result: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        if "=" not in item:
            raise SpecError(f"composition item {item!r} must look like Nd=0.67")
        name, value = item.split("=", 1)
        try:
            symbol = parse_symbol(name)
        except UnknownElementError as exc:
            raise SpecError(f"composition item {item!r}: {exc}") from None
        try:
            fraction = float(value)
        except ValueError:
            raise SpecError(f"fraction of {symbol} is not a number: {value.strip()!r}") from None
        if not fraction >= 0:
            raise SpecError(f"fraction of {symbol} must be >= 0, not {fraction}")
        if symbol in result:
            raise SpecError(f"{symbol} appears twice in the composition")
        result[symbol] = fraction
    total = sum(result.values())
    if len(result) < 2 or total <= 0:
        raise SpecError("a composition needs at least two components with positive fractions")
    if normalise:
        return {k: v / total for k, v in result.items()}
    if abs(total - 1.0) > 1e-6:
        raise SpecError(f"fractions sum to {total:.6g}, not 1 (use fractions of the REO total)")
    return result


class CascadeFile(BaseModel):
    """Schema of ``rareflow cascade simulate FILE.yaml`` (see docs/process.md)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    _numbers = numbers_not_booleans()

    feed: dict[str, Annotated[float, Field(ge=0, allow_inf_nan=False)]]
    n: Annotated[int, Field(ge=1, le=MAX_STAGES)]
    """Extraction stages (at most ``theory.MAX_STAGES``, the design limit)."""
    m: Annotated[int, Field(ge=0, le=MAX_STAGES)]
    """Scrubbing stages."""
    S: Positive
    W: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    feed_phase: Literal["aqueous", "organic"] = "aqueous"
    separation_factors: dict[str, Positive] | None = None
    separation_factors_scrub: dict[str, Positive] | None = None
    extractant: str | None = None
    medium: str = "hcl"
    overrides: dict[str, Positive] = {}

    @model_validator(mode="after")
    def _factor_source(self) -> CascadeFile:
        if (self.separation_factors is None) == (self.extractant is None):
            raise ValueError(
                "give either separation_factors (per component) or extractant (to use the "
                "dataset's series), not both or neither"
            )
        return self


def load_document(path: Path, model: type[M], build: Callable[[M], T]) -> T:
    """Read a YAML file, validate it against ``model`` and ``build`` the result; every problem
    (file, line, field, or what ``build`` refuses) is raised as a ``DataValidationError``."""
    label = display_path(path)
    issues: list[DataIssue] = []
    data = read_yaml(path, label, issues) if path.exists() else None
    if not path.exists():
        issues.append(DataIssue(label, "file not found", kind="io"))
    if data is not None:
        spec = validate_mapping(model, data, label, line_of(data), issues)
        if spec is not None:
            try:
                return build(spec)
            except (SpecError, ValueError) as exc:
                issues.append(DataIssue(label, str(exc), kind="invalid_value"))
    raise DataValidationError(issues)


def load_cascade(path: Path, dataset: Dataset | None) -> tuple[Cascade, str]:
    """Read and validate a cascade file; returns the cascade and the factor-set label."""
    return load_document(path, CascadeFile, lambda spec: _build(spec, dataset))


def _build(spec: CascadeFile, dataset: Dataset | None) -> tuple[Cascade, str]:
    feed = {parse_symbol(k): v for k, v in spec.feed.items()}
    total = sum(feed.values())
    if abs(total - 1.0) > 1e-6:
        raise SpecError(f"feed fractions sum to {total:.6g}, not 1")
    if spec.separation_factors is not None:
        factors = {parse_symbol(k): v for k, v in spec.separation_factors.items()}
        missing = sorted(set(feed) - set(factors))
        if missing:
            raise SpecError(f"separation_factors lack {', '.join(missing)}")
        label = "separation factors given in the file"
        scrub = None
        if spec.separation_factors_scrub is not None:
            scrub = {parse_symbol(k): v for k, v in spec.separation_factors_scrub.items()}
    else:
        if dataset is None:
            raise SpecError("an extractant series needs the dataset")
        series: FactorSeries = factor_series(dataset, spec.extractant or "", spec.medium,
                                             spec.overrides)  # fmt: skip
        factors = dict(zip(series.order, series.betas(series.order), strict=True))
        label, scrub = series.label, None
    components = tuple(sorted(feed, key=lambda s: factors[s]))
    if any(k not in factors for k in components):
        raise SpecError("every feed component needs a separation factor")
    beta = np.array([factors[c] for c in components])
    beta_scrub = None if scrub is None else np.array([scrub[c] for c in components])
    fractions = np.array([feed[c] for c in components]) / total
    cascade = Cascade(components, beta, fractions, spec.n, spec.m, spec.S, spec.W,
                      spec.feed_phase, beta_scrub)  # fmt: skip
    return cascade, label
