"""A counter-current cascade whose equilibrium comes from mass action (acidic extractant).

Reaction (dimer basis, chloride medium; P507/PC-88A, P204):

    Ln3+ + 3 (HA)2(o)  =  Ln(HA2)3(o) + 3 H+      K_i = o_i h^3 / (c_i F^3)

so D_i = K_i F^3 / h^3, with F the free dimer, F = Z - 3 sum_i o_i (Z: total dimer = half the
HA concentration), h the aqueous H+ and c_i, o_i the aqueous and organic concentrations (mol/L).
Every stage balances each element, the protons (each Ln extracted releases 3 H+, each Ln
stripped takes 3 back) and the extractant. Loading therefore lowers every D together (less free
extractant) and the acid released lowers them further down the extraction section; the ratio
D_i / D_j = K_i / K_j stays the separation factor on every stage, which is what an ideal
mass-action law gives (measured shifts of beta with loading come from non-ideality, not modelled).
In the dilute limit (tiny loading, h fixed by the feed acid) each element obeys Kremser's law,
which the tests check.

Stages 0 .. n-1 extract, n .. n+m-1 scrub, n+m .. n+m+p-1 strip. The organic passes them in
that order; it enters stage 0 fresh, or stripped from the last stage when it is recycled. The
feed enters stage n-1, the scrub liquor the last scrub stage, the strip acid the last stage.
The strip liquor leaves the first strip stage; a share of it (reflux) is the scrub liquor, the
rest is the extract product. The raffinate leaves stage 0. The unknowns (ln c, ln h, ln F per
stage) are solved with MINPACK's hybrid method along a continuation path
(``massaction_solver``).

**Saponification** (how Chinese plants run): a share S of the organic's extractant enters the
first stage as its Na+ or NH4+ salt MA. The salt takes up the protons extraction releases,
MA(o) + H+ = HA(o) + M+, with the conditional constant K_n = F^(1/2) [M+] / ([MA] h)
(``topology.NEUTRALISATION_LOG_K``, an assumption), so the cascade runs at low acidity without
the pH collapse an unsaponified extraction section shows, and the loaded RE is paid for in M+
(an exchange of 3 M+ per Ln) instead of acid. Every stage then also balances M (aqueous M+
and organic MA) and the extractant counts MA; the RE complex stays Ln(HA2)3, and MA is at
equilibrium whatever the Murphree efficiency of the RE (neutralisation is fast).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rareflow.process.impurities import is_impurity
from rareflow.process.network import Block, Network, Stoichiometry, check_sections
from rareflow.process.reagents import HCL_KG_PER_MOL, NAOH_KG_PER_MOL, reo_kg_per_mol_re
from rareflow.process.theory import SpecError
from rareflow.process.topology import NEUTRALISATION_LOG_K, Solved, Topology


@dataclass(frozen=True)
class MassActionCascade:
    """Flows in m3/h, concentrations in mol/L; ``log_k`` base-10 constants per component."""

    components: tuple[str, ...]
    log_k: np.ndarray
    feed_fractions: np.ndarray
    n: int
    m: int
    extractant_mol_per_l: float
    """Total HA (monomer) concentration of the fresh organic."""
    organic_m3_h: float
    feed_m3_h: float
    feed_mol_per_l: float
    feed_acid_mol_per_l: float
    scrub_m3_h: float = 0.0
    scrub_acid_mol_per_l: float = 0.0
    p: int = 0
    """Strip stages."""
    strip_m3_h: float = 0.0
    strip_acid_mol_per_l: float = 0.0
    reflux: float = 0.0
    """Share of the strip liquor returned as scrub liquor (with the fresh scrub liquor)."""
    recycle_organic: bool = False
    """The stripped organic returns to stage 0 instead of fresh organic."""
    efficiency: float = 1.0
    """Murphree efficiency of every stage on the organic phase: the organic leaving a stage
    moves from what it brought in toward equilibrium with the aqueous leaving by this share."""
    saponification: float = 0.0
    """Share of the entering organic's extractant pre-neutralised as its Na+ or NH4+ salt."""
    neutralisation_log_k: float = NEUTRALISATION_LOG_K
    stoichiometry: tuple[Stoichiometry, ...] | None = None
    """(protons released, dimers bound) per extracted ion of each component (None: each ion's
    charge for both)."""

    def __post_init__(self) -> None:
        check_sections(self, "")
        if not 0.0 < self.efficiency <= 1.0:
            raise SpecError("a Murphree efficiency is in (0, 1]")
        positive = (self.extractant_mol_per_l, self.organic_m3_h, self.feed_m3_h,
                    self.feed_mol_per_l, self.feed_acid_mol_per_l)  # fmt: skip
        if min(positive) <= 0:
            raise SpecError("extractant, flows, feed concentration and feed acid must be > 0")

    @property
    def stages(self) -> int:
        return self.n + self.m + self.p

    def sections(self) -> list[str]:
        return ["extraction"] * self.n + ["scrub"] * self.m + ["strip"] * self.p

    def block(self) -> Block:
        """The cascade as a network's block."""
        return Block("cascade", self.n, self.organic_m3_h, self.m, self.p, self.feed_m3_h,
                     self.feed_mol_per_l, tuple(float(f) for f in self.feed_fractions),
                     self.feed_acid_mol_per_l, self.scrub_m3_h, self.scrub_acid_mol_per_l,
                     self.strip_m3_h, self.strip_acid_mol_per_l, self.reflux,
                     self.recycle_organic, self.saponification)  # fmt: skip

    def topology(self) -> Topology:
        """The cascade's stages and streams: a network of one block (``process/network.py``)."""
        return Network(self.components, self.log_k, self.extractant_mol_per_l, (self.block(),),
                       (), self.efficiency, self.neutralisation_log_k,
                       self.stoichiometry).topology()  # fmt: skip


@dataclass(frozen=True)
class MassActionSolution:
    """Stage profiles (mol/L) and the products of a solved mass-action cascade."""

    cascade: MassActionCascade
    solved: Solved

    @property
    def aqueous(self) -> np.ndarray:
        return self.solved.aqueous

    @property
    def organic(self) -> np.ndarray:
        return self.solved.organic

    @property
    def acid(self) -> np.ndarray:
        return self.solved.acid

    @property
    def free_dimer(self) -> np.ndarray:
        return self.solved.free_dimer

    @property
    def residual(self) -> float:
        return self.solved.residual

    @property
    def solves(self) -> int:
        return self.solved.solves

    def raffinate(self) -> np.ndarray:
        """mol/h of each component leaving in the raffinate."""
        return np.asarray(self.aqueous[:, 0] * self.solved.topology.aqueous_out[0])

    def extract(self) -> np.ndarray:
        """mol/h of each component leaving in the extract product: the loaded organic, or
        with a strip section the strip liquor not refluxed (plus the stripped organic when it
        is not recycled)."""
        c = self.cascade
        organic = self.organic[:, -1] * c.organic_m3_h
        if c.p == 0:
            return np.asarray(organic)
        liquor = (1.0 - c.reflux) * c.strip_m3_h * self.aqueous[:, c.n + c.m]
        return np.asarray(liquor + (0.0 if c.recycle_organic else organic))

    def feed_flow(self) -> np.ndarray:
        c = self.cascade
        return np.asarray(c.feed_m3_h * c.feed_mol_per_l * c.feed_fractions)

    def closure(self) -> np.ndarray:
        """|in - out| / in per component."""
        feed = self.feed_flow()
        out = self.raffinate() + self.extract()
        return np.asarray(np.abs(out - feed) / np.maximum(feed, 1e-300))

    def _leaving(self, profile: np.ndarray) -> float:
        """mol/h of a solute (aqueous mol/L by stage) in the raffinate and the strip liquor
        product."""
        c = self.cascade
        out = float(profile[0] * self.solved.topology.aqueous_out[0])
        if c.p:
            out += (1.0 - c.reflux) * c.strip_m3_h * float(profile[c.n + c.m])
        return out

    def _acid_in_and_out(self) -> tuple[float, float]:
        """H+ fed with the feed, scrub and strip liquors, and leaving free in the raffinate and
        the strip liquor product, mol/h."""
        c = self.cascade
        fed = (c.feed_m3_h * c.feed_acid_mol_per_l + c.scrub_m3_h * c.scrub_acid_mol_per_l
               + (c.strip_m3_h * c.strip_acid_mol_per_l if c.p else 0.0))  # fmt: skip
        return fed, self._leaving(self.acid)

    def base_fed(self) -> float:
        """Counter-ion (Na+ or NH4+) fed as saponified extractant, mol/h."""
        return (
            self.cascade.saponification
            * self.cascade.extractant_mol_per_l
            * (self.cascade.organic_m3_h)
        )

    def proton_closure(self) -> float:
        """|acid in + 3 x RE carried out by the organic - acid and counter-ions out| / acid in:
        chloride is conserved, so every Ln that leaves in the organic left 3 H+ or M+ behind."""
        c = self.cascade
        acid_in, out = self._acid_in_and_out()
        if self.solved.counter_ion is not None:
            out += self._leaving(self.solved.counter_ion)
        charge = self.solved.topology.charges()[:, 0]
        carried = 0.0 if c.recycle_organic else float(charge @ self.organic[:, -1])
        released = carried * c.organic_m3_h
        return abs(acid_in + released - out) / acid_in

    def counter_ion_closure(self) -> float:
        """|salt fed - M+ in the aqueous products - MA in the organic leaving| / salt fed."""
        s = self.solved
        if s.counter_ion is None or s.salt is None:
            return 0.0
        out = self._leaving(s.counter_ion)
        if not self.cascade.recycle_organic:
            out += float(s.salt[-1]) * self.cascade.organic_m3_h
        return abs(self.base_fed() - out) / self.base_fed()

    def distribution(self) -> np.ndarray:
        """D_ik = o_ik / c_ik on every stage."""
        return np.asarray(self.organic / np.maximum(self.aqueous, 1e-300))

    def profiles(self) -> pd.DataFrame:
        """One row per stage: pH, free extractant, loading, D and aqueous/organic mol/L."""
        c = self.cascade
        rows: dict[str, Any] = {
            "stage": np.arange(1, c.stages + 1),
            "section": c.sections(),
            "pH": -np.log10(self.acid),
            "free_dimer_mol_per_l": self.free_dimer,
            "loading_fraction": (self.solved.topology.dimer_counts() * self.organic).sum(axis=0)
            / (c.extractant_mol_per_l / 2.0),
        }  # fmt: skip
        if self.solved.counter_ion is not None and self.solved.salt is not None:
            rows["counter_ion_mol_per_l"] = self.solved.counter_ion
            rows["saponified_mol_per_l"] = self.solved.salt
        distribution = self.distribution()
        for index, name in enumerate(c.components):
            rows[f"D_{name}"] = distribution[index]
            rows[f"aqueous_{name}"] = self.aqueous[index]
            rows[f"organic_{name}"] = self.organic[index]
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        """Products by component. Purities are shares of every component (with impurities:
        absolute); ``re_purity_*`` are shares of the rare earths alone (relative purity)."""
        raffinate, extract = self.raffinate(), self.extract()
        frame = pd.DataFrame({
            "component": self.cascade.components, "feed_mol_h": self.feed_flow(),
            "raffinate_mol_h": raffinate, "extract_mol_h": extract,
            "purity_raffinate": raffinate / raffinate.sum(),
            "purity_extract": extract / extract.sum(),
            "recovery_extract": extract / self.feed_flow(), "closure": self.closure(),
        })  # fmt: skip
        rare = np.array([not is_impurity(c) for c in self.cascade.components])
        if not rare.all():
            for stream, amounts in (("raffinate", raffinate), ("extract", extract)):
                share = np.where(rare, amounts / max(float(amounts[rare].sum()), 1e-300), np.nan)
                frame[f"re_purity_{stream}"] = share
        return frame

    def hcl(self) -> dict[str, float]:
        """HCl fed (feed, scrub and strip liquors) and left free in the outgoing aqueous, mol/h
        and kg per kg of feed REO (from the balances; the rest was bound by extraction)."""
        c = self.cascade
        fed, left = self._acid_in_and_out()
        rare = [not is_impurity(name) for name in c.components]
        fractions = {name: float(f) for name, f, r in zip(c.components, c.feed_fractions, rare,
                                                          strict=True) if r}  # fmt: skip
        feed_kg = float(self.feed_flow()[rare].sum()) * reo_kg_per_mol_re(fractions)
        return {
            "hcl_fed_mol_h": fed, "hcl_left_free_mol_h": left,
            "hcl_fed_kg_per_kg_feed_reo": fed * HCL_KG_PER_MOL / feed_kg,
            "base_fed_mol_h": self.base_fed(),
            "base_kg_per_kg_feed_reo_as_naoh": self.base_fed() * NAOH_KG_PER_MOL / feed_kg,
        }  # fmt: skip

    def to_dict(self, profiles: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "components": list(self.cascade.components),
            "log_k": [float(v) for v in self.cascade.log_k],
            "products": self.summary().to_dict(orient="records"),
            "acid": self.hcl(),
            "proton_closure": self.proton_closure(),
            "counter_ion_closure": self.counter_ion_closure(),
            "solver": {"method": "hybr along a continuation path", "solves": self.solves,
                       "residual": self.residual},
        }  # fmt: skip
        if profiles:
            result["profiles"] = self.profiles().to_dict(orient="records")
        return result


def kremser_unextracted(extraction_factor: float, stages: int) -> float:
    """Fraction of a solute left in the raffinate of N counter-current stages with clean
    solvent and a constant extraction factor E = D O/A: (E - 1) / (E^(N+1) - 1)."""
    if abs(extraction_factor - 1.0) < 1e-12:
        return 1.0 / (stages + 1)
    return (extraction_factor - 1.0) / (extraction_factor ** (stages + 1) - 1.0)


def lewis_overall_efficiency(murphree: float, extraction_factor: float) -> float:
    """Equilibrium stages per real stage of a counter-current cascade whose stages have the
    Murphree efficiency ``murphree`` on the organic phase, at a constant extraction factor
    E = D O/A (Lewis): ln(1 + E_M (E - 1)) / ln E, and E_M itself at E = 1."""
    if abs(extraction_factor - 1.0) < 1e-12:
        return murphree
    return float(np.log(1.0 + murphree * (extraction_factor - 1.0)) / np.log(extraction_factor))
