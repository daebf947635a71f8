"""Two-outlet fractional extraction of a binary A|B with constant separation factors.

Cascade extraction theory for a counter-current cascade with saturated organic ("constant mixed
extraction ratio"): stages 1..n are the extraction section (fresh saponified organic enters stage
1, raffinate B leaves it), stages n+1..n+m the scrubbing section (scrub acid enters stage n+m,
loaded organic with A leaves it). The feed (1 unit of RE flow) enters as aqueous at stage n or
as organic at stage n+1. Notation follows Xu Guangxian: f = feed fractions, P = product purities,
f' = outlet fractions, S = organic RE flow of the extraction section, W = aqueous RE flow of the
scrubbing section, E_M / E'_M = mixed extraction ratios of the two sections.

Closed forms (balances, S_min/W_min, Fenske) and exact stage-to-stage stepping (the
McCabe-Thiele analogue, exact for this model) are computed here; Xu's simplified stage formulas
are returned as labelled estimates only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

FeedPhase = Literal["aqueous", "organic"]
MAX_STAGES = 5000

BALANCED_RATIO_PROVENANCE = (
    "balanced extraction ratios beta*E_M = beta/E'_M = sqrt(beta) derived from the flow algebra "
    "of the two sections; a stand-in for Xu's optimal-extraction-ratio equation, whose printed "
    "form was not checked"
)
XU_ESTIMATE_LABEL = (
    "estimate: Xu's simplified formulas n = lg b / lg(beta E_M), m + 1 = lg a / lg(beta'/E'_M) "
    "(assume feed composition at the feed stage; optimistic near S_min)"
)


class SpecError(ValueError):
    """An infeasible or invalid specification; the message names the bound and by how much."""


@dataclass(frozen=True)
class BinarySpec:
    """A binary split: A (more extracted) goes to the organic product, B to the raffinate."""

    feed_a: float
    beta: float
    purity_a: float
    purity_b: float
    feed_phase: FeedPhase = "aqueous"
    beta_scrub: float | None = None

    def __post_init__(self) -> None:
        _open_unit("feed_a", self.feed_a)
        _open_unit("purity_a", self.purity_a)
        _open_unit("purity_b", self.purity_b)
        for name, value in (("beta", self.beta), ("beta_scrub", self.beta_scrub)):
            if value is not None and not value > 1.0:
                raise SpecError(
                    f"{name} = {value:g} must be > 1 (A must be the more extracted component); "
                    f"it is {1.0 - value:g} too low"
                )
        if self.feed_phase not in ("aqueous", "organic"):
            raise SpecError(f"feed_phase must be 'aqueous' or 'organic', not {self.feed_phase!r}")
        if self.purity_a <= self.feed_a:
            raise SpecError(
                f"purity_a = {self.purity_a:g} must exceed the feed fraction of A {self.feed_a:g} "
                f"(by {self.feed_a - self.purity_a:g} too little): nothing to purify"
            )
        if self.purity_b <= self.feed_b:
            raise SpecError(
                f"purity_b = {self.purity_b:g} must exceed the feed fraction of B {self.feed_b:g} "
                f"(by {self.feed_b - self.purity_b:g} too little): nothing to purify"
            )

    @property
    def feed_b(self) -> float:
        return 1.0 - self.feed_a

    @property
    def beta_s(self) -> float:
        """Separation factor of the scrubbing section (beta' ; defaults to beta)."""
        return self.beta if self.beta_scrub is None else self.beta_scrub


def _open_unit(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        bound = "0" if value <= 0 else "1"
        raise SpecError(f"{name} = {value:g} must lie strictly between 0 and 1 (violates {bound})")


@dataclass(frozen=True)
class Outlets:
    """Outlet fractions (product flow / feed flow), recoveries and purification factors."""

    fraction_a: float
    fraction_b: float
    recovery_a: float
    recovery_b: float
    purification_a: float
    purification_b: float


def outlets(spec: BinarySpec) -> Outlets:
    """Exact overall and component balances of the split."""
    fa, fb, pa, pb = spec.feed_a, spec.feed_b, spec.purity_a, spec.purity_b
    fraction_a = (pb - fb) / (pa + pb - 1.0)
    fraction_b = (pa - fa) / (pa + pb - 1.0)
    return Outlets(
        fraction_a=fraction_a,
        fraction_b=fraction_b,
        recovery_a=fraction_a * pa / fa,
        recovery_b=fraction_b * pb / fb,
        purification_a=(pa / (1.0 - pa)) / (fa / fb),
        purification_b=(pb / (1.0 - pb)) / (fb / fa),
    )


def minimum_flows(spec: BinarySpec) -> tuple[float, float]:
    """(S_min, W_min): the pinch at the feed stage, exact for the two single-feed cases.

    For an aqueous feed S_min is never below the product flow f'_A (W must stay positive).
    """
    fa, fb, pa, pb, beta = spec.feed_a, spec.feed_b, spec.purity_a, spec.purity_b, spec.beta
    out = outlets(spec)
    if spec.feed_phase == "aqueous":
        s_min = out.fraction_a * (pa - fa) * (beta * fa + fb) / ((beta - 1.0) * fa * fb)
        # A loose purity_a can make the pinch bound fall below the product flow; then the bound
        # that binds is a positive scrub flow (W > 0, i.e. S > f'_A).
        s_min = max(s_min, out.fraction_a)
        return s_min, s_min - out.fraction_a
    s_min = out.fraction_b * (pb * (fa + beta * fb) - beta * fb) / ((beta - 1.0) * fa * fb)
    if s_min <= 0:
        raise SpecError(
            f"purity_b = {pb:g} is reached without extraction for an organic feed (S_min = "
            f"{s_min:.4g} <= 0); ask for a purer raffinate or use an aqueous feed"
        )
    return s_min, s_min + out.fraction_b


@dataclass(frozen=True)
class SectionFlows:
    """RE flows between stages (per unit feed) and the mixed extraction ratios."""

    extractant: float
    scrub: float
    extraction_organic: float
    extraction_aqueous: float
    scrub_organic: float
    scrub_aqueous: float

    @property
    def extraction_ratio(self) -> float:
        """E_M of the extraction section."""
        return self.extraction_organic / self.extraction_aqueous

    @property
    def scrub_ratio(self) -> float:
        """E'_M of the scrubbing section."""
        return self.scrub_organic / self.scrub_aqueous


def section_flows(spec: BinarySpec, extractant: float) -> SectionFlows:
    """Flows for an extractant flow S; W follows from the product split."""
    out = outlets(spec)
    if spec.feed_phase == "aqueous":
        scrub = extractant - out.fraction_a
        flows = SectionFlows(extractant, scrub, extractant, scrub + 1.0, extractant, scrub)
    else:
        scrub = extractant + out.fraction_b
        flows = SectionFlows(extractant, scrub, extractant, scrub, extractant + 1.0, scrub)
    if scrub <= 0:
        raise SpecError(
            f"S = {extractant:g} leaves no scrub flow (W = {scrub:g}); S must exceed "
            f"{out.fraction_a:g} by at least {-scrub:g}"
        )
    return flows


def fenske_minimum_stages(spec: BinarySpec) -> float:
    """Minimum total equilibrium stages at total reflux: lg(a*b) / lg(beta)."""
    out = outlets(spec)
    return math.log(out.purification_a * out.purification_b) / math.log(spec.beta)


def xu_stage_estimates(spec: BinarySpec, flows: SectionFlows) -> tuple[float | None, float | None]:
    """Xu's simplified (n, m): estimates only; ``None`` where a section cannot purify."""
    out = outlets(spec)
    extraction = spec.beta * flows.extraction_ratio
    scrubbing = spec.beta_s / flows.scrub_ratio
    n = math.log(out.purification_b) / math.log(extraction) if extraction > 1 else None
    m = math.log(out.purification_a) / math.log(scrubbing) - 1.0 if scrubbing > 1 else None
    return n, m


def _equilibrium(x: float, beta: float) -> float:
    return beta * x / (1.0 + (beta - 1.0) * x)


def step_stages(
    spec: BinarySpec, extractant: float, check_minimum: bool = True, feed_stage: int | None = None
) -> tuple[int, int]:
    """Exact minimum (n, m) at extractant flow S by stage-to-stage stepping.

    Steps from the raffinate end (x_1 = 1 - P_B) along the extraction operating line and
    switches to the scrubbing line where that gives more progress (the optimal feed stage),
    until the organic leaving a scrubbing stage reaches P_A. ``feed_stage`` forces the switch
    after that many extraction stages instead. With ``check_minimum=False`` the S_min bound is
    not checked first, so stepping itself must find the pinch (used to test S_min).
    """
    s_min, _ = minimum_flows(spec)
    if check_minimum and extractant <= s_min:
        raise SpecError(
            f"S = {extractant:.6g} is not above S_min = {s_min:.6g} (short by "
            f"{100 * (1 - extractant / s_min):.3g} %): the cascade needs infinitely many stages"
        )
    flows = section_flows(spec, extractant)
    out = outlets(spec)
    x1 = 1.0 - spec.purity_b
    x, y = x1, _equilibrium(x1, spec.beta)
    aqueous_feed = spec.feed_phase == "aqueous"
    scrub_organic = flows.scrub_organic
    in_scrub = False
    switch_at = 0
    for stage in range(1, MAX_STAGES + 1):
        if in_scrub and y >= spec.purity_a:
            n = switch_at if aqueous_feed else switch_at - 1
            return n, stage - n
        extraction_x = (extractant * y + out.fraction_b * x1) / flows.extraction_aqueous
        scrub_x = (scrub_organic * y - out.fraction_a * spec.purity_a) / flows.scrub_aqueous
        if feed_stage is not None:
            switch_now = stage == (feed_stage if aqueous_feed else feed_stage + 1)
        else:
            switch_now = scrub_x >= extraction_x and (aqueous_feed or stage > 1)
        if not in_scrub and switch_now:
            in_scrub, switch_at = True, stage
        x_next = scrub_x if in_scrub else extraction_x
        if x_next <= x:
            raise SpecError(f"stepping stalled at stage {stage}: a pinch below purity_a")
        x = min(x_next, 1.0)
        y = _equilibrium(x, spec.beta_s if in_scrub else spec.beta)
    raise SpecError(f"more than {MAX_STAGES} stages needed; S is too close to S_min")


@dataclass(frozen=True)
class BalancedRatios:
    extraction_ratio: float
    scrub_ratio: float
    extractant: float
    scrub: float
    provenance: str = BALANCED_RATIO_PROVENANCE


def balanced_ratios(spec: BinarySpec) -> BalancedRatios:
    """The balanced choice beta*E_M = beta/E'_M = sqrt(beta), fixing the limiting section."""
    root = math.sqrt(spec.beta)
    out = outlets(spec)
    if spec.feed_phase == "aqueous":
        if out.fraction_a <= 1.0 / (1.0 + root):
            extractant = out.fraction_b / (root - 1.0)
        else:
            extractant = out.fraction_a / (root - 1.0) + out.fraction_a
    elif out.fraction_b >= 1.0 / (1.0 + root):
        extractant = out.fraction_b / (root - 1.0)
    else:
        extractant = (1.0 - root * out.fraction_b) / (root - 1.0)
    flows = section_flows(spec, extractant)
    return BalancedRatios(flows.extraction_ratio, flows.scrub_ratio, extractant, flows.scrub)


@dataclass(frozen=True)
class BinaryDesign:
    """Everything a two-outlet design gives, per unit feed RE flow."""

    spec: BinarySpec
    outlets: Outlets
    extractant_min: float
    scrub_min: float
    flows: SectionFlows
    ratio_to_min: float
    stages_extraction: int
    stages_scrub: int
    xu_estimate_extraction: float | None
    xu_estimate_scrub: float | None
    fenske_minimum: float
    balanced: BalancedRatios
    base_equivalents: float
    acid_equivalents: float

    @property
    def stages(self) -> int:
        return self.stages_extraction + self.stages_scrub

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of ``rareflow cascade design --json`` (docs/process.md)."""
        return {
            "spec": asdict(self.spec),
            "outlets": asdict(self.outlets),
            "S_min": self.extractant_min,
            "W_min": self.scrub_min,
            "S": self.flows.extractant,
            "W": self.flows.scrub,
            "S_over_S_min": self.ratio_to_min,
            "E_M": self.flows.extraction_ratio,
            "E_M_scrub": self.flows.scrub_ratio,
            "section_flows": asdict(self.flows),
            "n": self.stages_extraction,
            "m": self.stages_scrub,
            "stages": self.stages,
            "xu_estimate": {
                "n": self.xu_estimate_extraction,
                "m": self.xu_estimate_scrub,
                "label": XU_ESTIMATE_LABEL,
            },
            "fenske_minimum_stages": self.fenske_minimum,
            "balanced": asdict(self.balanced),
            "reagents_eq_per_mol_feed": {
                "base": self.base_equivalents,
                "acid": self.acid_equivalents,
            },
        }


def reagent_equivalents(spec: BinarySpec, flows: SectionFlows) -> tuple[float, float]:
    """(base, acid) equivalents per mol of feed RE: 3 per mol RE loaded / stripped.

    Base saponifies the organic for every mol of RE it loads (S, plus the feed itself for an
    organic feed loaded upstream); acid scrubs W back and strips the organic product.
    """
    out = outlets(spec)
    loaded = flows.extractant + (1.0 if spec.feed_phase == "organic" else 0.0)
    stripped = flows.scrub + out.fraction_a
    return 3.0 * loaded, 3.0 * stripped


def design_binary(
    spec: BinarySpec, ratio_to_min: float | None = 1.2, extractant: float | None = None
) -> BinaryDesign:
    """Design the split at S = ratio_to_min * S_min (or at a given S)."""
    s_min, w_min = minimum_flows(spec)
    if extractant is None:
        if ratio_to_min is None or not 1.0 < ratio_to_min < math.inf:
            raise SpecError(
                f"ratio_to_min = {ratio_to_min} must be a number > 1 (S must exceed "
                f"S_min = {s_min:.6g})"
            )
        extractant = ratio_to_min * s_min
    flows = section_flows(spec, extractant)
    n, m = step_stages(spec, extractant)
    xu_n, xu_m = xu_stage_estimates(spec, flows)
    base, acid = reagent_equivalents(spec, flows)
    return BinaryDesign(
        spec=spec,
        outlets=outlets(spec),
        extractant_min=s_min,
        scrub_min=w_min,
        flows=flows,
        ratio_to_min=extractant / s_min,
        stages_extraction=n,
        stages_scrub=m,
        xu_estimate_extraction=xu_n,
        xu_estimate_scrub=xu_m,
        fenske_minimum=fenske_minimum_stages(spec),
        balanced=balanced_ratios(spec),
        base_equivalents=base,
        acid_equivalents=acid,
    )
