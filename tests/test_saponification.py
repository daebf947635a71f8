"""Saponified extractant in the mass-action cascade: a stage solved by hand, the unsaponified
limit, separation factors that stay the ratios of the constants, conservation of the
counter-ion and of the charge, and what saponification does to acidity and recovery."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import brentq

from rareflow.process.massaction import MassActionCascade
from rareflow.process.massaction_solver import solve_mass_action
from rareflow.process.network import Block, Link, Network, solve_network
from rareflow.process.theory import SpecError
from rareflow.process.topology import NEUTRALISATION_LOG_K

from .conftest import write
from .test_cli import run


def extraction(**fields: object) -> MassActionCascade:
    """Pr/Nd extraction section, 4 stages, acid-limited (P507 1 mol/L, feed 0.15 mol/L)."""
    base: dict[str, object] = {
        "components": ("Pr", "Nd"), "log_k": np.array([-0.01, 0.18]),
        "feed_fractions": np.array([0.25, 0.75]), "n": 4, "m": 0,
        "extractant_mol_per_l": 1.0, "organic_m3_h": 1.0, "feed_m3_h": 1.0,
        "feed_mol_per_l": 0.15, "feed_acid_mol_per_l": 0.05,
    }  # fmt: skip
    base.update(fields)
    return MassActionCascade(**base)  # type: ignore[arg-type]


def test_one_stage_by_hand() -> None:
    """One stage, a trace of RE: with flows of 1 m3/h each, acid a = 0.1 mol/L and base
    b = 0.05 mol/h, the cations give a = h + m, the counter-ion b = m + s, the extractant
    F = Z - s/2 and equilibrium s K_n h = sqrt(F) m: one equation in h, solved apart."""
    cascade = extraction(n=1, feed_mol_per_l=1e-9, feed_acid_mol_per_l=0.1, saponification=0.05)
    solved = solve_mass_action(cascade).solved
    a, b, z, k = 0.1, 0.05, 0.5, 10.0**NEUTRALISATION_LOG_K

    def equilibrium(h: float) -> float:
        m, s = a - h, b - (a - h)
        return float(s * k * h - np.sqrt(z - s / 2.0) * m)

    h = brentq(equilibrium, a - b + 1e-15, a, xtol=1e-16)
    assert solved.acid[0] == pytest.approx(h, rel=1e-7)
    assert solved.counter_ion is not None and solved.salt is not None
    assert solved.counter_ion[0] == pytest.approx(a - h, rel=1e-6)
    assert solved.salt[0] == pytest.approx(b - (a - h), rel=1e-6)
    assert solved.free_dimer[0] == pytest.approx(z - (b - (a - h)) / 2.0, rel=1e-7)


def test_a_trace_of_saponification_changes_nothing() -> None:
    plain = solve_mass_action(extraction())
    trace = solve_mass_action(extraction(saponification=1e-9))
    assert np.allclose(trace.aqueous, plain.aqueous, rtol=1e-6)
    assert np.allclose(trace.acid, plain.acid, rtol=1e-6)


def test_separation_factor_stays_the_ratio_of_the_constants() -> None:
    solution = solve_mass_action(extraction(saponification=0.3))
    distribution = solution.distribution()
    assert np.allclose(distribution[1] / distribution[0], 10.0 ** (0.18 + 0.01), rtol=1e-9)


def test_saponification_takes_up_the_acid_and_extracts_more() -> None:
    """Each M+ released takes up one H+: the raffinate is less acid and, in a section whose
    extraction the acid limits, more Pr and Nd are extracted; the base is paid per kg."""
    plain = solve_mass_action(extraction())
    saponified = solve_mass_action(extraction(saponification=0.4))
    assert np.all(saponified.acid < plain.acid)
    assert -np.log10(saponified.acid[0]) > -np.log10(plain.acid[0]) + 0.5
    assert np.all(saponified.extract() > plain.extract())
    assert saponified.proton_closure() < 1e-12
    assert saponified.counter_ion_closure() < 1e-12
    assert saponified.closure().max() < 1e-12
    reagents = saponified.hcl()
    assert reagents["base_fed_mol_h"] == pytest.approx(0.4)
    # 0.4 mol/h of NaOH against 0.15 mol/h of RE fed as oxide: Pr6O11 1021.4 g/mol (6 Pr),
    # Nd2O3 336.5 g/mol (2 Nd)
    feed_kg = 0.15 * (0.25 * 1021.4 / 6 + 0.75 * 336.5 / 2) / 1000.0
    assert reagents["base_kg_per_kg_feed_reo_as_naoh"] == pytest.approx(
        0.4 * 0.039997 / feed_kg, rel=1e-3
    )


def test_strip_reflux_and_recycle_keep_every_balance() -> None:
    cascade = extraction(
        n=6, m=6, p=4, scrub_m3_h=0.05, scrub_acid_mol_per_l=3.0, strip_m3_h=0.1,
        strip_acid_mol_per_l=4.0, reflux=0.3, recycle_organic=True, saponification=0.3,
    )  # fmt: skip
    solution = solve_mass_action(cascade)
    assert solution.closure().max() < 1e-9
    assert solution.proton_closure() < 1e-9
    assert solution.counter_ion_closure() < 1e-9


def test_more_base_than_the_acid_runs_the_section_near_ph_4() -> None:
    """Past the point where the salt neutralises all the acid (0.05 mol/h fed, 0.15 mol/h
    released by 0.05 mol/h of RE), every extraction stage's acidity falls by decades over a
    tiny change of salt: steps in the salt stall there and the curve of solutions is followed
    by arclength. The section then runs near pH 4, every RE is extracted and the salt left
    over leaves in the loaded organic."""
    cascade = extraction(feed_mol_per_l=0.05, saponification=0.5)
    solution = solve_mass_action(cascade)
    assert np.all(-np.log10(solution.acid) > 3.5)
    assert solution.extract().sum() > 0.9999 * solution.feed_flow().sum()
    assert solution.solved.salt is not None
    assert solution.solved.salt[-1] * 1.0 == pytest.approx(0.5 - 0.05 - 0.15, rel=2e-2)
    assert solution.closure().max() < 1e-9
    assert solution.proton_closure() < 1e-9
    assert solution.counter_ion_closure() < 1e-9
    with pytest.raises(SpecError, match="saponification is a share"):
        extraction(saponification=1.0).topology()


def test_saponified_network_and_loaded_organic() -> None:
    first = Block("light", 4, 1.0, feed_m3_h=1.0, feed_mol_per_l=0.15, feed_fractions=(0.25, 0.75),
                  feed_acid_mol_per_l=0.05, saponification=0.3)  # fmt: skip
    second = Block("next", 3, 1.0, m=3, p=3, scrub_m3_h=0.05, scrub_acid_mol_per_l=3.0,
                   strip_m3_h=0.1, strip_acid_mol_per_l=4.0)  # fmt: skip
    network = Network(("Pr", "Nd"), np.array([-0.01, 0.18]), 1.0, (first, second),
                      (Link("light", "loaded_organic", "next"),))  # fmt: skip
    solution = solve_network(network)
    assert solution.closure().max() < 1e-9
    assert solution.proton_closure() < 1e-9
    assert solution.counter_ion_closure() < 1e-9
    resaponified = dataclasses.replace(second, saponification=0.2)
    with pytest.raises(SpecError, match="not saponified again"):
        Network(network.components, network.log_k, 1.0, (first, resaponified),
                network.links).topology()  # fmt: skip


@pytest.mark.e2e
def test_cli_saponified_cascade(tmp_path: Path) -> None:
    spec = ("feed: {Pr: 0.25, Nd: 0.75}\nn: 4\nextractant_mol_per_l: 1.0\norganic_m3_h: 1.0\n"
            "feed_m3_h: 1.0\nfeed_mol_per_l: 0.15\nfeed_acid_mol_per_l: 0.05\n")  # fmt: skip
    good = write(tmp_path, "sap.yaml", spec + "saponification: 0.36\n")
    done = run("cascade", "massaction", str(good))
    assert done.returncode == 0, done.stderr
    assert "NaOH-equivalent" in done.stdout and "counter-ion closure" in done.stdout
    bad = write(tmp_path, "bad.yaml", spec + "saponification: 1.2\n")
    done = run("cascade", "massaction", str(bad))
    assert done.returncode != 0 and "saponification" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
