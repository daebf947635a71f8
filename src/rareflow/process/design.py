"""Design of a multi-component split between two key components.

The split sends the components up to the light key (least extracted) to the raffinate and the
rest to the organic product. The outlet flows follow from the lumped binary balances at design
purities that keep a share of each product's allowed impurity as margin (``flow_margin``; with
flows set exactly at the targets, one product can only meet its target by making the other
miss it); S_min comes from the lumped binary with the key pair's separation factor (the
smallest factor across the cut), and the binary stepping gives the first stage estimate. The
multi-component solver then decides: the fewest total stages N, and the split n/m, for which
both lumped purities (and the recovery targets) are met, found by a search over N and n with
warm-started solves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rareflow.process.cascade import Cascade, CascadeSolution, solve
from rareflow.process.theory import (
    BinarySpec,
    FeedPhase,
    SpecError,
    fenske_minimum_stages,
    minimum_flows,
    outlets,
    step_stages,
)

MAX_TOTAL_STAGES = 3000
DESIGN_CYCLES = 3000
"""Dynamic-simulation cycles allowed per solve inside a design search (a failing candidate
is treated as infeasible rather than simulated at length)."""


@dataclass(frozen=True)
class SplitSpec:
    """A cut after ``cut`` components (in extraction order) with lumped purity targets."""

    components: tuple[str, ...]
    betas: np.ndarray
    feed: np.ndarray
    cut: int
    purity_extract: float
    purity_raffinate: float
    feed_phase: FeedPhase = "aqueous"
    recovery_extract: float = 0.0
    recovery_raffinate: float = 0.0
    flow_margin: float = 0.5
    """Share of each product's allowed impurity kept as margin when setting the outlet flows."""

    def __post_init__(self) -> None:
        order = np.argsort(self.betas, kind="stable")
        if not np.array_equal(order, np.arange(len(self.betas))):
            raise SpecError("components must be given from least to most extracted")
        if not 0.0 <= self.flow_margin < 1.0:
            raise SpecError(f"flow_margin = {self.flow_margin} must be in [0, 1)")
        if not 1 <= self.cut < len(self.components):
            raise SpecError(
                f"cut = {self.cut} must leave at least one component on each side "
                f"(1..{len(self.components) - 1})"
            )

    @property
    def key_beta(self) -> float:
        """Separation factor of the key pair (heavy key over light key)."""
        return float(self.betas[self.cut] / self.betas[self.cut - 1])

    def binary(self) -> BinarySpec:
        """The lumped binary at the design purities (targets tightened by the flow margin)."""
        keep = 1.0 - self.flow_margin
        return BinarySpec(
            feed_a=float(self.feed[self.cut :].sum()),
            beta=self.key_beta,
            purity_a=1.0 - (1.0 - self.purity_extract) * keep,
            purity_b=1.0 - (1.0 - self.purity_raffinate) * keep,
            feed_phase=self.feed_phase,
        )


@dataclass
class SplitDesign:
    """The designed split: flows, stages and the solved cascade that meets the targets."""

    spec: SplitSpec
    extractant_min: float
    scrub_min: float
    ratio_to_min: float
    binary_stages: tuple[int, int] | None
    solution: CascadeSolution
    solves: int

    @property
    def cascade(self) -> Cascade:
        return self.solution.cascade

    @property
    def purity_extract(self) -> float:
        return float(self.solution.organic_product[self.spec.cut :].sum())

    @property
    def purity_raffinate(self) -> float:
        return float(self.solution.raffinate[: self.spec.cut].sum())

    def to_dict(self) -> dict[str, Any]:
        cascade = self.cascade
        return {
            "components": list(self.spec.components),
            "cut_after": self.spec.components[self.spec.cut - 1],
            "key_beta": self.spec.key_beta,
            "S_min": self.extractant_min,
            "W_min": self.scrub_min,
            "S": cascade.extractant,
            "W": cascade.scrub,
            "S_over_S_min": self.ratio_to_min,
            "n": cascade.n,
            "m": cascade.m,
            "stages": cascade.stages,
            "binary_estimate": (
                {"n": self.binary_stages[0], "m": self.binary_stages[1]}
                if self.binary_stages
                else None
            ),
            "purity_extract": self.purity_extract,
            "purity_raffinate": self.purity_raffinate,
            "solves": self.solves,
            "simulation": self.solution.to_dict(profiles=False),
        }


class _Searcher:
    """Solves cascades of the split at fixed flows, reusing the nearest solution as a start."""

    def __init__(self, spec: SplitSpec, extractant: float, scrub: float) -> None:
        self.spec, self.extractant, self.scrub = spec, extractant, scrub
        self.cache: dict[tuple[int, int], CascadeSolution] = {}

    def solve(self, n: int, m: int) -> CascadeSolution:
        if (n, m) not in self.cache:
            spec = self.spec
            cascade = Cascade(spec.components, spec.betas, spec.feed, n, m, self.extractant,
                              self.scrub, spec.feed_phase)  # fmt: skip
            nearest = min(self.cache, key=lambda k: abs(k[0] - n) + abs(k[1] - m), default=None)
            start = self.cache[nearest] if nearest is not None else None
            self.cache[(n, m)] = solve(
                cascade, start=start, max_cycles=DESIGN_CYCLES, diagnose=False
            )
        return self.cache[(n, m)]

    def margin(self, n: int, m: int) -> float:
        """min over both products of log10(allowed impurity / achieved impurity); >= 0 meets
        both purity targets (and the recovery targets). -inf where the solve fails."""
        try:
            solution = self.solve(n, m)
        except SpecError:
            return -np.inf
        spec, cut = self.spec, self.spec.cut
        margins = []
        for purity, target in (
            (solution.raffinate[:cut].sum(), spec.purity_raffinate),
            (solution.organic_product[cut:].sum(), spec.purity_extract),
        ):
            margins.append(float(np.log10((1.0 - target) / max(1.0 - purity, 1e-300))))
        recovery_b = solution.recovery_raffinate[:cut] @ spec.feed[:cut] / spec.feed[:cut].sum()
        recovery_a = solution.recovery_organic[cut:] @ spec.feed[cut:] / spec.feed[cut:].sum()
        if recovery_b < spec.recovery_raffinate or recovery_a < spec.recovery_extract:
            return float(min(-1e-9, *margins))
        return float(min(margins))

    def best_split(self, total: int) -> tuple[int, float]:
        """The n (m = total - n) with the largest margin, by integer ternary search."""
        low, high = 1, total - 1
        while high - low > 2:
            left = low + (high - low) // 3
            right = high - (high - low) // 3
            if self.margin(left, total - left) < self.margin(right, total - right):
                low = left + 1
            else:
                high = right - 1
        n = max(range(low, high + 1), key=lambda k: self.margin(k, total - k))
        return n, self.margin(n, total - n)

    def feasible_split(self, total: int) -> int | None:
        n, margin = self.best_split(total)
        return n if margin >= 0 else None


def design_split(
    spec: SplitSpec,
    ratio_to_min: float = 1.5,
    extractant: float | None = None,
) -> SplitDesign:
    """Fewest total stages (and the n/m split) meeting the targets at S = ratio * S_min.

    S_min is the lumped binary's; with non-key components the true multi-component minimum
    can lie below it, so ratios below 1 are allowed (the search then starts from Fenske).
    """
    binary = spec.binary()
    s_min, w_min = minimum_flows(binary)
    if extractant is None:
        if not 0 < ratio_to_min < math.inf:
            raise SpecError(f"ratio_to_min = {ratio_to_min} must be a finite number > 0")
        extractant = ratio_to_min * s_min
    scrub = _flows(spec, extractant)
    if scrub <= 0:
        raise SpecError(f"S = {extractant:.4g} leaves no scrub flow (W = {scrub:.4g}); raise S")
    binary_stages: tuple[int, int] | None = None
    if extractant > s_min:
        binary_stages = step_stages(binary, extractant)
        start = sum(binary_stages)
    else:
        start = 2 * math.ceil(fenske_minimum_stages(binary))
    searcher = _Searcher(spec, extractant, scrub)
    low, high = 2, max(4, start)
    while searcher.feasible_split(high) is None:
        low, high = high + 1, int(high * 1.25) + 2
        if high > MAX_TOTAL_STAGES:
            raise SpecError(
                f"no design with up to {MAX_TOTAL_STAGES} stages meets the targets at "
                f"S = {extractant:.4g} ({extractant / s_min:.3g} x lumped S_min); raise S"
            )
    while low < high:
        middle = (low + high) // 2
        if searcher.feasible_split(middle) is None:
            low = middle + 1
        else:
            high = middle
    n = searcher.feasible_split(high)
    if n is None:  # pragma: no cover - the bisection ends on a feasible total
        raise SpecError("design search lost its feasible bound")
    return SplitDesign(
        spec=spec,
        extractant_min=s_min,
        scrub_min=w_min,
        ratio_to_min=extractant / s_min,
        binary_stages=binary_stages,
        solution=searcher.solve(n, high - n),
        solves=len(searcher.cache),
    )


def _flows(spec: SplitSpec, extractant: float) -> float:
    """The scrub flow W that goes with extractant flow S for this split's outlet flows."""
    out = outlets(spec.binary())
    return (
        extractant - out.fraction_a if spec.feed_phase == "aqueous" else extractant + out.fraction_b
    )


def least_reagent_design(
    spec: SplitSpec, stage_budget: int, tolerance: float = 0.005
) -> SplitDesign:
    """The smallest S (least acid and base: both scale with S) whose design fits the budget.

    Bisection on S: at each S the only question is whether some n/m split of ``stage_budget``
    stages meets the targets (feasibility only grows with S).
    """
    s_min, _ = minimum_flows(spec.binary())

    def fits(extractant: float) -> bool:
        scrub = _flows(spec, extractant)
        if scrub <= 0:
            return False
        return _Searcher(spec, extractant, scrub).feasible_split(stage_budget) is not None

    high = 1.5 * s_min
    while not fits(high):
        high *= 1.5
        if high > 50 * s_min:
            raise SpecError(f"no S up to 50 x lumped S_min fits {stage_budget} stages")
    low = 0.05 * s_min
    while high - low > tolerance * high:
        middle = 0.5 * (low + high)
        if fits(middle):
            high = middle
        else:
            low = middle
    return design_split(spec, extractant=high)
