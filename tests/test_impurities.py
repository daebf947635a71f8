"""Non-rare-earth impurities in the mass-action cascade: ions of charge z bind z dimers and
release z protons (Kremser's law in the dilute limit with D = K (Z/h)^z), the separation factor
to a rare earth moves as (F/h)^(z - 3) stage by stage, charge and every element are conserved,
absolute and RE purities, and files that must give the impurities' constants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataValidationError
from rareflow.process.massaction import MassActionCascade, kremser_unextracted
from rareflow.process.massaction_files import load_mass_action
from rareflow.process.massaction_solver import solve_mass_action
from rareflow.process.theory import SpecError

from .conftest import write


def cascade(components: tuple[str, ...], log_k: list[float], fractions: list[float],
            **fields: object) -> MassActionCascade:  # fmt: skip
    base: dict[str, object] = {
        "components": components, "log_k": np.array(log_k),
        "feed_fractions": np.array(fractions), "n": 12, "m": 12, "extractant_mol_per_l": 1.0,
        "organic_m3_h": 1.0, "feed_m3_h": 1.0, "feed_mol_per_l": 0.05,
        "feed_acid_mol_per_l": 0.01, "scrub_m3_h": 0.1, "scrub_acid_mol_per_l": 3.0,
    }  # fmt: skip
    base.update(fields)
    return MassActionCascade(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("stages", [1, 4])
def test_dilute_impurities_obey_kremser_with_their_charge(stages: int) -> None:
    # trace feed, 0.3 mol/L acid, 0.4 mol/L HA (Z = 0.2): D = K (0.2 / 0.3)^z
    trace = cascade(("Ca", "Nd", "Th"), [0.5, 0.2, 1.5], [0.3, 0.4, 0.3], n=stages, m=0,
                    scrub_m3_h=0.0, scrub_acid_mol_per_l=0.0, feed_mol_per_l=1e-10,
                    feed_acid_mol_per_l=0.3, extractant_mol_per_l=0.4)  # fmt: skip
    solution = solve_mass_action(trace)
    left = solution.raffinate() / solution.feed_flow()
    for index, (log_k, charge) in enumerate(zip([0.5, 0.2, 1.5], [2, 3, 4], strict=True)):
        distribution = 10**log_k * (0.2 / 0.3) ** charge
        assert left[index] == pytest.approx(kremser_unextracted(distribution, stages), rel=1e-7)


def test_the_factor_to_a_rare_earth_moves_with_acid_and_free_extractant() -> None:
    loaded = cascade(("Ca", "Pr", "Nd", "Th"), [-3.0, -0.01, 0.18, 0.0],
                     [0.005, 0.25, 0.74, 0.005])  # fmt: skip
    solution = solve_mass_action(loaded)
    d = solution.distribution()
    ratio = solution.free_dimer / solution.acid
    assert np.allclose(d[0] / d[2], 10 ** (-3.0 - 0.18) / ratio, rtol=1e-8)
    assert np.allclose(d[3] / d[2], 10 ** (0.0 - 0.18) * ratio, rtol=1e-8)
    assert np.allclose(d[2] / d[1], 10 ** (0.18 + 0.01), rtol=1e-9)  # REs: unchanged


def test_charge_and_every_element_are_conserved() -> None:
    full = cascade(("Ca", "Al", "Pr", "Nd", "Fe", "Th"), [-3.0, -2.0, -0.01, 0.18, 2.5, 0.0],
                   [0.004, 0.004, 0.24, 0.74, 0.008, 0.004], p=4, strip_m3_h=0.1,
                   strip_acid_mol_per_l=4.0, reflux=0.3, recycle_organic=True,
                   saponification=0.1)  # fmt: skip
    solution = solve_mass_action(full)
    assert solution.closure().max() < 1e-9
    assert solution.proton_closure() < 1e-9
    assert solution.counter_ion_closure() < 1e-9


def test_absolute_and_rare_earth_purity() -> None:
    """Fe, strongly extracted, ends in the extract with Nd: the extract's Nd purity among the
    rare earths is above its absolute purity by the Fe it carries; the REO per kg of reagent
    counts only the rare earths."""
    with_iron = solve_mass_action(cascade(("Pr", "Nd", "Fe"), [-0.01, 0.18, 2.5],
                                          [0.25, 0.74, 0.01]))  # fmt: skip
    summary = with_iron.summary().set_index("component")
    iron = summary.loc["Fe", "extract_mol_h"]
    assert summary.loc["Fe", "recovery_extract"] > 0.999
    extract = summary["extract_mol_h"]
    assert summary.loc["Nd", "purity_extract"] == pytest.approx(extract["Nd"] / extract.sum())
    assert summary.loc["Nd", "re_purity_extract"] == pytest.approx(
        extract["Nd"] / (extract.sum() - iron)
    )
    assert np.isnan(summary.loc["Fe", "re_purity_extract"])
    plain = solve_mass_action(cascade(("Pr", "Nd"), [-0.01, 0.18], [0.25, 0.75]))
    # the same acid per kg of REO fed: Fe is not REO (0.0495 mol/h RE against 0.05)
    per_kg_iron = with_iron.hcl()["hcl_fed_kg_per_kg_feed_reo"]
    per_kg_plain = plain.hcl()["hcl_fed_kg_per_kg_feed_reo"]
    assert per_kg_iron == pytest.approx(per_kg_plain * 0.05 / 0.0495, rel=2e-3)


def test_files_must_give_the_impurities_constants(tmp_path: Path, dataset: Dataset) -> None:
    spec = ("feed: {Pr: 0.25, Nd: 0.74, iron: 0.01}\nn: 6\nextractant_mol_per_l: 1.0\n"
            "organic_m3_h: 1.0\nfeed_m3_h: 1.0\nfeed_mol_per_l: 0.05\n"
            "feed_acid_mol_per_l: 0.01\n")  # fmt: skip
    with pytest.raises(DataValidationError, match="no extraction constant ships for Fe"):
        load_mass_action(write(tmp_path, "a.yaml", spec), dataset)
    built, notes = load_mass_action(write(tmp_path, "b.yaml", spec + "log_k: {Fe: 2.5}\n"),
                                    dataset)  # fmt: skip
    assert built.components[-1] == "Fe" and built.log_k[-1] == 2.5
    assert any("Fe: log K 2.5 (given in the file)" in n for n in notes)
    assert any(n.startswith("Nd:") for n in notes)  # the rare earths keep the dataset's


def test_a_profile_falling_through_hundreds_of_decades_starts_right() -> None:
    """Th at log K 4 (D about 6e10 at the dilute start) falls by e^25 a stage. The start is
    solved by elimination without pivoting, which keeps every stage's value; a pivoting solve
    left a plateau of rounding that the continuation could not leave. Solved, the raffinate
    keeps under 1e-40 of the Th."""
    strong = solve_mass_action(cascade(("Pr", "Nd", "Th"), [-0.01, 0.18, 4.0],
                                       [0.25, 0.74, 0.01]))  # fmt: skip
    assert strong.closure().max() < 1e-9
    assert strong.proton_closure() < 1e-9
    assert strong.raffinate()[2] < 1e-40 * strong.feed_flow()[2]


def test_an_ion_may_release_fewer_protons_than_the_dimers_it_binds() -> None:
    """Th(IV) with PC-88A in chloride leaves as ThCl2(HA2)2(H2A2): 2 H+ released, 3 dimers
    bound, D = K F^3 / h^2 (Singh et al. 2001). On every stage of the solved cascade D follows
    that law at the free dimer that 3 bound dimers per ion leave, and the protons close with
    2 per Th carried out; with (4, 4) the same constant gives another cascade."""
    fields: dict[str, object] = {"stoichiometry": ((3.0, 3.0), (3.0, 3.0), (2.0, 3.0))}
    chloro = solve_mass_action(cascade(("Pr", "Nd", "Th"), [-0.01, 0.18, 0.5],
                                       [0.25, 0.73, 0.02], **fields))  # fmt: skip
    d, free, h = chloro.distribution(), chloro.free_dimer, chloro.acid
    assert np.allclose(d[2], 10**0.5 * free**3 / h**2, rtol=1e-8)
    assert np.allclose(d[1], 10**0.18 * (free / h) ** 3, rtol=1e-8)
    # the law holds with the free dimer the extractant balance leaves: Z/2 - 3 sum o
    assert np.allclose(free, 0.5 - 3 * chloro.organic.sum(axis=0), rtol=1e-9)
    assert chloro.closure().max() < 1e-9 and chloro.proton_closure() < 1e-9
    ionic = solve_mass_action(cascade(("Pr", "Nd", "Th"), [-0.01, 0.18, 0.5],
                                      [0.25, 0.73, 0.02]))  # fmt: skip
    assert not np.allclose(ionic.distribution()[2], d[2], rtol=1e-3)
    with pytest.raises(SpecError, match="one positive"):
        solve_mass_action(cascade(("Pr", "Nd"), [-0.01, 0.18], [0.25, 0.75],
                                  stoichiometry=((3.0, 3.0),)))  # fmt: skip


def test_al_and_th_take_the_measured_constants_and_their_laws(
    tmp_path: Path, dataset: Dataset
) -> None:
    """Al(III) (Matsui and Era 1983: log K -1.16, 3 H+, 2.5 dimers) and Th(IV) (Singh et al.
    2001: log K 3.65, 2 H+, 3 dimers) ship with P507/HCl; a file need not give them, and the
    solved cascade follows each law on every stage."""
    spec = ("feed: {Pr: 0.25, Nd: 0.73, aluminium: 0.01, thorium: 0.01}\nn: 8\nm: 4\n"
            "extractant_mol_per_l: 1.0\norganic_m3_h: 1.0\nfeed_m3_h: 1.0\n"
            "feed_mol_per_l: 0.05\nfeed_acid_mol_per_l: 0.3\nscrub_m3_h: 0.1\n"
            "scrub_acid_mol_per_l: 3.0\n")  # fmt: skip
    built, notes = load_mass_action(write(tmp_path, "alth.yaml", spec), dataset)
    laws = dict(zip(built.components, built.stoichiometry or (), strict=True))
    constants = dict(zip(built.components, built.log_k, strict=True))
    assert laws["Al"] == (3.0, 2.5) and laws["Th"] == (2.0, 3.0) and laws["Nd"] == (3.0, 3.0)
    assert constants["Al"] == -1.16 and constants["Th"] == 3.65
    assert any("matsui_era_1983_al_pc88a; 3 H+, 2.5 (HA)2" in n for n in notes)
    solution = solve_mass_action(built)
    d, free, h = solution.distribution(), solution.free_dimer, solution.acid
    at = {c: i for i, c in enumerate(built.components)}
    assert np.allclose(d[at["Th"]], 10**3.65 * free**3 / h**2, rtol=1e-8)
    assert np.allclose(d[at["Al"]], 10**-1.16 * free**2.5 / h**3, rtol=1e-8)
    assert solution.closure().max() < 1e-9 and solution.proton_closure() < 1e-9
    assert solution.summary().set_index("component").loc["Th", "recovery_extract"] > 0.99
