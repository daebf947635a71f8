"""Two-outlet theory against closed forms and the exact stepping oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rareflow.process.theory import (
    BinarySpec,
    SpecError,
    balanced_ratios,
    design_binary,
    fenske_minimum_stages,
    minimum_flows,
    outlets,
    section_flows,
    step_stages,
)

CASE = BinarySpec(feed_a=0.5, beta=1.5, purity_a=0.999, purity_b=0.999)


@pytest.mark.parametrize(
    ("ratio", "stages", "extraction_ratio", "scrub_ratio", "xu_n", "xu_m"),
    [
        # beta = 1.5, f_A = 0.5, P = 0.999, aqueous feed (independent stepping computation)
        (1.01, 100, 0.8344, 1.2475, 30.8, 36.5),
        (1.2, 65, 0.8569, 1.2005, 27.5, 30.0),
        (1.5, 53, 0.8821, 1.1542, 24.7, 25.4),
        (2.0, 46, 0.9089, 1.1114, 22.3, 22.0),
        (5.0, 38, 0.9615, 1.0418, 18.9, 17.9),
    ],
)
def test_reference_table(
    ratio: float, stages: int, extraction_ratio: float, scrub_ratio: float, xu_n: float, xu_m: float
) -> None:
    design = design_binary(CASE, ratio)
    assert design.stages == stages
    assert design.flows.extraction_ratio == pytest.approx(extraction_ratio, abs=5e-5)
    assert design.flows.scrub_ratio == pytest.approx(scrub_ratio, abs=5e-5)
    assert design.xu_estimate_extraction == pytest.approx(xu_n, abs=0.05)
    assert design.xu_estimate_scrub == pytest.approx(xu_m, abs=0.05)


def test_fenske_and_total_reflux() -> None:
    assert fenske_minimum_stages(CASE) == pytest.approx(34.07, abs=0.005)
    s_min, _ = minimum_flows(CASE)
    assert sum(step_stages(CASE, 50 * s_min)) == 35


@pytest.mark.parametrize("phase", ["aqueous", "organic"])
@pytest.mark.parametrize(
    ("feed_a", "beta", "purity"), [(0.5, 1.5, 0.999), (0.3, 2.0, 0.9999), (0.67, 1.55, 0.995)]
)
def test_minimum_flow_is_the_feasibility_boundary(
    phase: str, feed_a: float, beta: float, purity: float
) -> None:
    spec = BinarySpec(feed_a, beta, purity, purity, phase)  # type: ignore[arg-type]
    s_min, _ = minimum_flows(spec)
    with pytest.raises(SpecError):
        step_stages(spec, 0.995 * s_min, check_minimum=False)
    n, m = step_stages(spec, 1.005 * s_min, check_minimum=False)
    assert n > 0 and m > 0


@pytest.mark.parametrize("beta", [1.2, 1.55, 3.0])
@pytest.mark.parametrize("feed_a", [0.2, 0.5, 0.8])
def test_pure_product_limits(beta: float, feed_a: float) -> None:
    pure = 1 - 1e-12
    feed_b = 1 - feed_a
    aqueous = BinarySpec(feed_a, beta, pure, pure, "aqueous")
    organic = BinarySpec(feed_a, beta, pure, pure, "organic")
    s, w = minimum_flows(aqueous)
    assert s == pytest.approx((beta * feed_a + feed_b) / (beta - 1), rel=1e-8)
    assert w == pytest.approx(1 / (beta - 1), rel=1e-8)
    s, w = minimum_flows(organic)
    assert s == pytest.approx(1 / (beta - 1), rel=1e-8)
    assert w == pytest.approx((feed_a + beta * feed_b) / (beta - 1), rel=1e-8)


@pytest.mark.parametrize("phase", ["aqueous", "organic"])
def test_optimal_feed_stage_matches_brute_force(phase: str) -> None:
    spec = BinarySpec(0.4, 1.8, 0.9995, 0.999, phase)  # type: ignore[arg-type]
    extractant = 1.3 * minimum_flows(spec)[0]
    best = sum(step_stages(spec, extractant))
    totals = []
    for feed_stage in range(1, 80):
        try:
            totals.append(sum(step_stages(spec, extractant, feed_stage=feed_stage)))
        except SpecError:
            continue
    assert min(totals) == best


@settings(max_examples=60, deadline=None)
@given(
    feed_a=st.floats(0.05, 0.95),
    purity_a=st.floats(0.96, 0.99999),
    purity_b=st.floats(0.96, 0.99999),
    beta=st.floats(1.05, 5.0),
)
def test_balances_close(feed_a: float, purity_a: float, purity_b: float, beta: float) -> None:
    if purity_a <= feed_a or purity_b <= 1 - feed_a:
        return
    spec = BinarySpec(feed_a, beta, purity_a, purity_b)
    out = outlets(spec)
    assert out.fraction_a + out.fraction_b == pytest.approx(1.0)
    assert out.fraction_a * purity_a + out.fraction_b * (1 - purity_b) == pytest.approx(feed_a)
    assert 0 < out.recovery_a <= 1 + 1e-12 and 0 < out.recovery_b <= 1 + 1e-12
    flows = section_flows(spec, 1.3 * minimum_flows(spec)[0])
    assert flows.extraction_ratio < 1 < flows.scrub_ratio


def test_published_v1_scrub_section() -> None:
    # CIESC 2020 CePr/Nd design, organic feed, S = 0.99: W = 1.6188, E'_M = 1.2293, a = 3384.8,
    # and Xu's scrubbing formula gives m + 1 = 35.06 with beta = 1.55 (published m = 34).
    spec = BinarySpec(0.3713, 1.55, 0.9995, 0.9995, "organic")
    flows = section_flows(spec, 0.99)
    assert flows.scrub == pytest.approx(1.6188, abs=5e-5)
    assert flows.scrub_ratio == pytest.approx(1.2293, abs=5e-5)
    assert outlets(spec).purification_a == pytest.approx(3384.8, abs=0.1)
    m_plus_one = math.log(outlets(spec).purification_a) / math.log(1.55 / flows.scrub_ratio)
    assert m_plus_one == pytest.approx(35.06, abs=0.01)


def test_balanced_ratio_is_balanced_where_both_sections_limit() -> None:
    beta = 2.25  # sqrt = 1.5; balanced when f'_A = 1 / (1 + 1.5) = 0.4
    spec = BinarySpec(0.4, beta, 0.999, 0.999)
    ratios = balanced_ratios(spec)
    assert beta * ratios.extraction_ratio == pytest.approx(1.5, rel=2e-3)
    assert beta / ratios.scrub_ratio == pytest.approx(1.5, rel=2e-3)
    assert "not checked" in ratios.provenance


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"feed_a": 0.5, "beta": 1.0, "purity_a": 0.99, "purity_b": 0.99}, "beta = 1 must be > 1"),
        ({"feed_a": 1.2, "beta": 1.5, "purity_a": 0.99, "purity_b": 0.99}, "strictly between"),
        ({"feed_a": 0.5, "beta": 1.5, "purity_a": 0.4, "purity_b": 0.99}, "must exceed the feed"),
        ({"feed_a": 0.5, "beta": 1.5, "purity_a": 1.0, "purity_b": 0.99}, "violates 1"),
    ],
)
def test_invalid_specs_name_the_bound(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        BinarySpec(**kwargs)  # type: ignore[arg-type]


def test_below_minimum_flow_says_by_how_much() -> None:
    s_min, _ = minimum_flows(CASE)
    with pytest.raises(SpecError, match=r"short by 5 %"):
        step_stages(CASE, 0.95 * s_min)


def test_reagents_scale_with_extractant_flow() -> None:
    design = design_binary(CASE, 1.5)
    assert design.base_equivalents == pytest.approx(3 * design.flows.extractant)
    assert design.acid_equivalents == pytest.approx(3 * design.flows.extractant)


def test_a_cascade_below_the_sharp_split_minimum_says_it_is_pinched() -> None:
    # aqueous feed, f_A = f_B = 0.5, beta = 1.5: a sharp split needs S_min = (1.5 x 0.5 + 0.5)
    # / 0.5 = 2.5 (Xu's two-outlet theory at purities -> 1). Below it the products stall near
    # 96 % whatever the stages; above it 60 + 60 stages reach 99.997 %.
    from rareflow.process.cascade import Cascade, solve
    from rareflow.process.pinch import sharp_minimum

    def cascade(s: float, stages: int) -> Cascade:
        return Cascade(("B", "A"), np.array([1.0, 1.5]), np.array([0.5, 0.5]), stages, stages,
                       s, s - 0.5)  # fmt: skip

    assert sharp_minimum(cascade(2.3, 60)) == ("B", "A", 1.5, pytest.approx(2.5))
    below = solve(cascade(2.3, 60))
    assert len(below.report.warnings) == 1 and "S_min = 2.5" in below.report.warnings[0]
    longer = solve(cascade(2.3, 120))
    assert longer.organic_product[1] == pytest.approx(below.organic_product[1], abs=1e-3)
    above = solve(cascade(2.6, 60))
    assert above.report.warnings == [] and above.organic_product[1] > 0.9999
