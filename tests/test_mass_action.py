"""Mass-action cascades: Kremser's law in the dilute limit, separation factors = ratios of the
constants on every stage, conservation of every element and of the protons, loading that lowers
extraction, constants from the dataset, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rareflow.dataset.dataset import Dataset
from rareflow.process.massaction import (
    MassActionCascade,
    kremser_unextracted,
    lewis_overall_efficiency,
)
from rareflow.process.massaction_files import extraction_constants
from rareflow.process.massaction_solver import solve_mass_action
from rareflow.process.theory import SpecError

from .conftest import write
from .test_cli import run

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "prnd_mass_action.yaml"


def _pr_nd(**fields: object) -> MassActionCascade:
    base: dict[str, object] = {
        "components": ("Pr", "Nd"),
        "log_k": np.array([-0.01, 0.18]),
        "feed_fractions": np.array([0.25, 0.75]),
        "n": 15,
        "m": 15,
        "extractant_mol_per_l": 1.0,
        "organic_m3_h": 1.0,
        "feed_m3_h": 1.0,
        "feed_mol_per_l": 0.05,
        "feed_acid_mol_per_l": 0.01,
        "scrub_m3_h": 0.1,
        "scrub_acid_mol_per_l": 3.0,
    }
    return MassActionCascade(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(("stages", "organic"), [(1, 1.0), (3, 0.5), (6, 2.0)])
def test_dilute_extraction_obeys_kremser(stages: int, organic: float) -> None:
    # a trace feed in strong acid: D = K Z^3 / h^3 is the same on every stage, so the
    # unextracted fraction is (E - 1) / (E^(N+1) - 1) with E = D O / A
    cascade = _pr_nd(n=stages, m=0, scrub_m3_h=0.0, scrub_acid_mol_per_l=0.0,
                     feed_mol_per_l=1e-10, feed_acid_mol_per_l=0.3, organic_m3_h=organic,
                     extractant_mol_per_l=0.4, log_k=np.array([0.3, 1.2]))  # fmt: skip
    solution = solve_mass_action(cascade)
    left = solution.raffinate() / solution.feed_flow()
    for index, log_k in enumerate(cascade.log_k):
        distribution = 10**log_k * 0.2**3 / 0.3**3
        expected = kremser_unextracted(distribution * organic / 1.0, stages)
        assert left[index] == pytest.approx(expected, rel=1e-7)
    assert kremser_unextracted(1.0, 4) == pytest.approx(0.2)


@pytest.mark.parametrize("efficiency", [1.0, 0.8, 0.5])
def test_murphree_efficiency_by_hand(efficiency: float) -> None:
    # trace feed, O = A: one stage leaves 1 / (1 + E D); two stages (organic in clean, o_0 =
    # E D c_0, o_1 = (1 - E) o_0 + E D c_1, two balances) leave 1 / (1 + 2 E D - E^2 D
    # + E^2 D^2), which is Kremser's 1 / (1 + D + D^2) at E = 1
    log_k = np.array([0.3, 0.9])
    for stages in (1, 2):
        cascade = _pr_nd(n=stages, m=0, scrub_m3_h=0.0, scrub_acid_mol_per_l=0.0,
                         feed_mol_per_l=1e-10, feed_acid_mol_per_l=0.3, log_k=log_k,
                         extractant_mol_per_l=0.4, efficiency=efficiency)  # fmt: skip
        solution = solve_mass_action(cascade)
        left = solution.raffinate() / solution.feed_flow()
        for index, value in enumerate(log_k):
            d, e = 10**value * 0.2**3 / 0.3**3, efficiency
            expected = 1 / (1 + e * d) if stages == 1 else 1 / (1 + 2 * e * d - e * e * d
                                                                + e * e * d * d)  # fmt: skip
            assert left[index] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("efficiency", [1.0, 0.8, 0.5])
@pytest.mark.parametrize(("factor", "stages"), [(3.0, 4), (1.5, 6), (0.6, 5)])
def test_murphree_stages_count_as_lewis_says(efficiency: float, factor: float,
                                             stages: int) -> None:  # fmt: skip
    """N real stages of Murphree efficiency E_M separate a trace solute as N E_O equilibrium
    stages, E_O = ln(1 + E_M (E - 1)) / ln E (Lewis), in Kremser's law with non-integer N."""
    cascade = _pr_nd(components=("Nd",), log_k=np.array([np.log10(factor * 0.3**3 / 0.2**3)]),
                     feed_fractions=np.array([1.0]), n=stages, m=0, scrub_m3_h=0.0,
                     scrub_acid_mol_per_l=0.0, feed_mol_per_l=1e-10, feed_acid_mol_per_l=0.3,
                     extractant_mol_per_l=0.4, efficiency=efficiency)  # fmt: skip
    solution = solve_mass_action(cascade)
    left = float((solution.raffinate() / solution.feed_flow())[0])
    equivalent = stages * lewis_overall_efficiency(efficiency, factor)
    assert left == pytest.approx((factor - 1.0) / (factor ** (equivalent + 1) - 1.0), rel=1e-6)


def test_lower_efficiency_separates_less() -> None:
    purities = [
        solve_mass_action(_pr_nd(efficiency=e)).summary().set_index("component")
        .loc["Pr", "purity_raffinate"]
        for e in (1.0, 0.9, 0.7)
    ]  # fmt: skip
    assert purities[0] > purities[1] > purities[2]


def test_separation_factor_is_the_ratio_of_constants_on_every_stage() -> None:
    solution = solve_mass_action(_pr_nd())
    distribution = solution.distribution()
    assert distribution[1] / distribution[0] == pytest.approx(
        np.full(30, 10 ** (0.18 + 0.01)), rel=1e-9
    )
    profiles = solution.profiles()
    assert profiles["loading_fraction"].max() > 0.5  # a loaded cascade, not the dilute limit


def test_every_element_and_the_protons_are_conserved() -> None:
    for cascade in (_pr_nd(), _pr_nd(feed_mol_per_l=0.2, scrub_acid_mol_per_l=1.0)):
        solution = solve_mass_action(cascade)
        assert solution.closure().max() < 1e-10
        assert solution.proton_closure() < 1e-10
        assert (solution.free_dimer > 0).all()  # never more loaded than the extractant allows


def test_loading_lowers_extraction() -> None:
    # more RE in the same feed volume: less free extractant and more acid released, so every
    # D falls and a smaller share is extracted
    light, heavy = (solve_mass_action(_pr_nd(m=0, scrub_m3_h=0.0, feed_mol_per_l=c))
                    for c in (0.01, 0.2))  # fmt: skip
    assert (heavy.distribution()[:, 0] < light.distribution()[:, 0]).all()
    recovered = [s.extract().sum() / s.feed_flow().sum() for s in (light, heavy)]
    assert recovered[1] < recovered[0]
    assert heavy.acid[0] > light.acid[0]  # the raffinate carries the released acid


def test_a_scrub_section_separates_pr_from_nd() -> None:
    solution = solve_mass_action(_pr_nd())
    summary = solution.summary().set_index("component")
    assert summary.loc["Pr", "purity_raffinate"] > 0.99
    assert summary.loc["Nd", "recovery_extract"] > 0.999


STRIP = {"p": 6, "strip_m3_h": 0.1, "strip_acid_mol_per_l": 4.0}


def test_a_strip_section_changes_nothing_upstream() -> None:
    # without reflux or recycle nothing flows back from the strip section: the raffinate is the
    # one of the same cascade without it, and the extract is what its loaded organic carried
    plain = solve_mass_action(_pr_nd())
    stripped = solve_mass_action(_pr_nd(**STRIP))
    assert stripped.raffinate() == pytest.approx(plain.raffinate(), rel=1e-8)
    assert stripped.extract() == pytest.approx(plain.extract(), rel=1e-8)
    # 4 M acid over 6 stages leaves almost nothing on the organic
    assert stripped.organic[:, -1].sum() < 1e-6 * stripped.organic[:, 30].sum()
    assert set(stripped.profiles()["section"]) == {"extraction", "scrub", "strip"}


def test_recycled_organic_and_reflux_keep_every_balance() -> None:
    plain = solve_mass_action(_pr_nd(**STRIP))
    recycled = solve_mass_action(_pr_nd(**STRIP, recycle_organic=True))
    # the stripped organic comes back nearly clean (RE and a little less free extractant),
    # so recycling it moves the products by a small fraction only
    carried_back = recycled.organic[:, -1] * recycled.cascade.organic_m3_h
    assert carried_back.sum() < 1e-6 * recycled.extract().sum()
    assert recycled.raffinate() == pytest.approx(plain.raffinate(), rel=1e-4)
    assert recycled.extract() == pytest.approx(plain.extract(), rel=1e-6)
    refluxed = solve_mass_action(_pr_nd(p=6, strip_m3_h=0.2, strip_acid_mol_per_l=4.0,
                                        reflux=0.5, scrub_m3_h=0.0, scrub_acid_mol_per_l=0.0,
                                        recycle_organic=True))  # fmt: skip
    for solution in (recycled, refluxed):
        assert solution.closure().max() < 1e-10
        assert solution.proton_closure() < 1e-10
    # the scrub liquor is half the strip liquor: Nd-rich, so the extract is purer Nd
    purity = refluxed.summary().set_index("component")["purity_extract"]
    assert purity["Nd"] > 0.99


def test_bad_cascades_are_refused() -> None:
    with pytest.raises(SpecError, match="needs scrub_m3_h > 0"):
        _pr_nd(scrub_m3_h=0.0)
    with pytest.raises(SpecError, match="must be > 0"):
        _pr_nd(extractant_mol_per_l=0.0)
    with pytest.raises(SpecError, match="needs strip and scrub sections"):
        _pr_nd(reflux=0.5)
    with pytest.raises(SpecError, match="needs a strip section"):
        _pr_nd(recycle_organic=True)
    with pytest.raises(SpecError, match="Murphree efficiency"):
        _pr_nd(efficiency=0.0)


def test_constants_from_the_dataset(dataset: Dataset) -> None:
    values, notes = extraction_constants(dataset, "p507", "hcl", ("Dy", "Y", "Nd"))
    assert values[0] == pytest.approx(1.67) and values[1] == pytest.approx(2.24)
    table = dataset.table("separation_factors")
    assert not table.empty
    from rareflow.process.factors import factor_series

    series = factor_series(dataset, "p507", "hcl")
    ratio = series.betas(["Nd"])[0] / series.betas(["Dy"])[0]
    assert values[2] == pytest.approx(1.67 + np.log10(ratio))
    assert "derived from Dy" in notes[2]
    with pytest.raises(SpecError, match="no extraction constant"):
        extraction_constants(dataset, "cyanex272", "hcl", ("Nd",))


@pytest.mark.e2e
def test_cli_mass_action(tmp_path: Path) -> None:
    result = run("cascade", "massaction", str(EXAMPLE), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["proton_closure"] < 1e-10
    # HCl fed by hand: 1 m3/h x 0.01 + 0.1 x 3 (scrub) + 0.1 x 4 (strip) = 0.71 mol/h
    assert payload["acid"]["hcl_fed_mol_h"] == pytest.approx(0.71)
    assert max(p["closure"] for p in payload["products"]) < 1e-10
    assert len(payload["profiles"]) == 36 and "pH" in payload["profiles"][0]  # n + m + p
    bad = write(tmp_path, "bad.yaml", "feed: {Pr: 0.5, Nd: 0.5}\nn: 0\n")
    refused = run("cascade", "massaction", str(bad))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "n" in refused.stderr and "bad.yaml" in refused.stderr


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(0, 4),
    gap=st.floats(0.05, 1.0),
    feed=st.floats(1e-4, 0.1),
    share=st.floats(0.05, 0.95),
    scrub_acid=st.floats(0.05, 3.0),
    strip=st.sampled_from([0, 3]),
    reflux=st.sampled_from([0.0, 0.3]),
    recycle=st.booleans(),
    efficiency=st.sampled_from([1.0, 0.7]),
)
def test_conservation_whatever_the_cascade(
    n: int, m: int, gap: float, feed: float, share: float, scrub_acid: float,
    strip: int, reflux: float, recycle: bool, efficiency: float,
) -> None:  # fmt: skip
    cascade = _pr_nd(n=n, m=m, log_k=np.array([0.0, gap]), feed_mol_per_l=feed,
                     feed_fractions=np.array([share, 1 - share]),
                     scrub_m3_h=0.1 if m else 0.0, scrub_acid_mol_per_l=scrub_acid,
                     p=strip, strip_m3_h=0.2 if strip else 0.0,
                     strip_acid_mol_per_l=4.0 if strip else 0.0,
                     reflux=reflux if strip and m else 0.0,
                     recycle_organic=recycle and bool(strip),
                     efficiency=efficiency)  # fmt: skip
    try:
        solution = solve_mass_action(cascade)
    except SpecError:
        return  # a refusal says so; it never returns unbalanced numbers
    assert solution.closure().max() < 1e-9
    assert solution.proton_closure() < 1e-9
    assert (solution.acid > 0).all() and (solution.free_dimer > 0).all()
