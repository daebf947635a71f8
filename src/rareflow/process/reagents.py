"""Acid and base per kilogram of REO from the equivalents a split moves.

Cation exchange moves 3 equivalents of base (saponification) per mole of RE loaded onto the
organic and 3 equivalents of acid per mole of RE scrubbed or stripped back. Masses use the
molar masses of NaOH (39.997 g/mol) and HCl (36.461 g/mol), and the REO mass per mole of RE
of the feed composition (e.g. 168.24 g for Nd2O3).
"""

from __future__ import annotations

from collections.abc import Mapping

from rareflow.elements import ELEMENTS

NAOH_KG_PER_MOL = 0.039997
HCL_KG_PER_MOL = 0.036461


def reo_kg_per_mol_re(fractions: Mapping[str, float]) -> float:
    """Mass of REO (kg) that holds one mole of RE atoms for a molar composition."""
    total = sum(fractions.values())
    return sum(
        f / total * ELEMENTS[s].oxide_molar_mass / ELEMENTS[s].metal_atoms / 1000.0
        for s, f in fractions.items()
    )


def reagents_kg_per_kg_reo(
    base_equivalents: float, acid_equivalents: float, fractions: Mapping[str, float]
) -> dict[str, float]:
    """kg NaOH (100 %) and kg HCl (100 %) per kg of feed REO, from equivalents per mol feed."""
    mol_per_kg = 1.0 / reo_kg_per_mol_re(fractions)
    return {
        "naoh_kg_per_kg_reo": base_equivalents * mol_per_kg * NAOH_KG_PER_MOL,
        "hcl_kg_per_kg_reo": acid_equivalents * mol_per_kg * HCL_KG_PER_MOL,
    }
