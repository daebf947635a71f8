"""Separation-factor series of an extractant system: sourced pairs, stated estimates, overrides.

A cascade needs one factor per component relative to a reference. rareflow builds it from the
dataset's adjacent-pair factors (``separation_factors.csv``, the row marked ``default`` for each
pair). Where a lanthanide pair has no sourced value, the gap is filled by one stated rule and
every such step is flagged as an estimate in the series and in every output that uses it:

    ESTIMATE RULE: a missing adjacent-lanthanide step takes the geometric mean, per unit of
    atomic number, of the extractant's sourced (non-estimate) adjacent-lanthanide steps; a step
    across promethium (Sm/Nd) counts two units.

Yttrium is placed by its own sourced pair (for P507, Y/Dy); it has no place in the estimate
rule, so a series without a sourced Y pair has no Y. User overrides replace any pair and are
named in the series label.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.elements import ELEMENTS, LANTHANIDES, parse_symbol
from rareflow.process.theory import SpecError

ESTIMATE_RULE = (
    "missing adjacent-lanthanide step = geometric mean per unit atomic number of the "
    "extractant's sourced adjacent-lanthanide steps (a step across Pm counts two units)"
)
SERIES_LANTHANIDES = tuple(s for s in LANTHANIDES if s != "Pm")


@dataclass(frozen=True)
class Step:
    """One adjacent step of the series: beta = D(more) / D(less)."""

    more: str
    less: str
    beta: float
    kind: str
    source: str
    estimate: bool
    note: str = ""


@dataclass(frozen=True)
class FactorSeries:
    """Relative separation factors (least extracted = 1) with the provenance of every step."""

    extractant: str
    medium: str
    relative: dict[str, float]
    steps: tuple[Step, ...]
    overrides: tuple[str, ...] = field(default_factory=tuple)

    @property
    def order(self) -> tuple[str, ...]:
        """Elements from least to most extracted."""
        return tuple(sorted(self.relative, key=lambda s: self.relative[s]))

    @property
    def estimated_steps(self) -> list[Step]:
        return [step for step in self.steps if step.estimate]

    @property
    def label(self) -> str:
        """Which set was used, e.g. 'p507/hcl: 3 sourced steps, 10 estimated (rule ...)'."""
        sourced = len(self.steps) - len(self.estimated_steps)
        text = f"{self.extractant}/{self.medium}: {sourced} sourced steps"
        if self.estimated_steps:
            text += f", {len(self.estimated_steps)} ESTIMATED ({ESTIMATE_RULE})"
        if self.overrides:
            text += f"; user overrides: {', '.join(self.overrides)}"
        return text

    def betas(self, components: Iterable[str]) -> np.ndarray:
        """Relative factors for ``components`` (raises if one is not in the series)."""
        values = []
        for component in components:
            if component not in self.relative:
                raise SpecError(
                    f"{component} has no separation factor in the {self.extractant}/{self.medium} "
                    f"series (it has {', '.join(self.order)}); supply one with an override"
                )
            values.append(self.relative[component])
        return np.array(values)

    def is_estimated(self, a: str, b: str) -> bool:
        """Whether any step between elements a and b (inclusive range) is an estimate."""
        order = self.order
        low, high = sorted((order.index(a), order.index(b)))
        between = set(order[low : high + 1])
        return any(s.estimate and {s.more, s.less} <= between for s in self.steps)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([step.__dict__ for step in self.steps])


def _atomic(symbol: str) -> int:
    return ELEMENTS[symbol].atomic_number


def factor_series(
    dataset: Dataset,
    extractant: str = "p507",
    medium: str = "hcl",
    overrides: Mapping[str, float] | None = None,
) -> FactorSeries:
    """Build the series for an extractant system (see the module docstring for the rule)."""
    table = dataset.table("separation_factors")
    rows = table[(table["extractant"] == extractant) & (table["medium"] == medium)]
    if rows.empty:
        systems = sorted(set(zip(table["extractant"], table["medium"], strict=True)))
        raise SpecError(
            f"no separation factors for {extractant}/{medium}; the dataset has "
            + ", ".join(f"{e}/{m}" for e, m in systems)
        )
    pairs: dict[tuple[str, str], Step] = {}
    for row in rows[rows["default"]].itertuples():
        estimate = row.kind == "estimate"
        pairs[(row.more_extracted, row.less_extracted)] = Step(
            row.more_extracted, row.less_extracted, float(row.beta), row.kind,
            ";".join(row.source), estimate, row.note if isinstance(row.note, str) else "",
        )  # fmt: skip
    names: list[str] = []
    for key, value in (overrides or {}).items():
        more, less = _parse_pair(key)
        if not value > 0:
            raise SpecError(f"override {key} = {value} must be a positive number")
        pairs[(more, less)] = Step(more, less, float(value), "user", "user", False)
        names.append(f"{more}/{less}={value:g}")
    return _assemble(extractant, medium, pairs, tuple(names))


def _parse_pair(text: str) -> tuple[str, str]:
    parts = text.replace(":", "/").split("/")
    if len(parts) != 2:
        raise SpecError(f"a pair is written MORE/LESS, e.g. Nd/Pr, not {text!r}")
    return parse_symbol(parts[0]), parse_symbol(parts[1])


def _assemble(
    extractant: str, medium: str, pairs: dict[tuple[str, str], Step], overrides: tuple[str, ...]
) -> FactorSeries:
    lanthanide_steps = {
        k: v for k, v in pairs.items() if k[0] in SERIES_LANTHANIDES and k[1] in SERIES_LANTHANIDES
    }
    sourced = [
        (s.beta, _atomic(s.more) - _atomic(s.less))
        for s in lanthanide_steps.values()
        if not s.estimate and _atomic(s.more) > _atomic(s.less)
    ]
    mean_step = (
        math.exp(sum(math.log(b) for b, _ in sourced) / sum(dz for _, dz in sourced))
        if sourced
        else None
    )
    relative = {SERIES_LANTHANIDES[0]: 1.0}
    steps: list[Step] = []
    for less, more in itertools.pairwise(SERIES_LANTHANIDES):
        step = lanthanide_steps.get((more, less))
        if step is None:
            if mean_step is None:
                raise SpecError(
                    f"{extractant}/{medium} has no sourced lanthanide step to estimate {more}/"
                    f"{less} from; supply factors with an override"
                )
            units = _atomic(more) - _atomic(less)
            step = Step(more, less, mean_step**units, "estimate", "rareflow estimate rule", True,
                        f"{ESTIMATE_RULE}: {mean_step:.4g}^{units}")  # fmt: skip
        steps.append(step)
        relative[more] = relative[less] * step.beta
    for (more, less), step in pairs.items():
        if "Y" not in (more, less):
            continue
        if less in relative and more == "Y":
            relative["Y"] = relative[less] * step.beta
        elif more in relative and less == "Y":
            relative["Y"] = relative[more] / step.beta
        else:
            continue
        steps.append(step)
        break
    return FactorSeries(extractant, medium, relative, tuple(steps), overrides)
