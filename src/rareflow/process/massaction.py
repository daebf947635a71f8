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

Stages 0 .. n-1 extract, n .. n+m-1 scrub; fresh organic enters stage 0 and leaves loaded from
the last stage; scrub acid enters the last stage, the feed enters stage n-1, the raffinate
leaves stage 0. The unknowns (ln c, ln h, ln F per stage) are solved with MINPACK's hybrid
method, continued from a dilute feed to the real one so each solve starts near its answer.
Saponification (pre-neutralised extractant) is not modelled: the extractant releases protons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import solve_banded
from scipy.optimize import root

from rareflow.process.theory import SpecError

PROTONS_PER_ION = 3
DIMERS_PER_ION = 3
CONTINUATION_STEPS = (1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 1.0)
"""Fractions of the feed concentration solved in turn (each from the previous answer)."""
MAX_SOLVES = 200


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

    def __post_init__(self) -> None:
        if self.n < 1 or self.m < 0:
            raise SpecError("need n >= 1 extraction stages and m >= 0 scrub stages")
        if self.m > 0 and self.scrub_m3_h <= 0:
            raise SpecError("a scrub section (m > 0) needs scrub_m3_h > 0")
        positive = (self.extractant_mol_per_l, self.organic_m3_h, self.feed_m3_h,
                    self.feed_mol_per_l, self.feed_acid_mol_per_l)  # fmt: skip
        if min(positive) <= 0:
            raise SpecError("extractant, flows, feed concentration and feed acid must be > 0")

    @property
    def stages(self) -> int:
        return self.n + self.m

    def aqueous_flows(self) -> np.ndarray:
        """Aqueous flow leaving every stage (m3/h): scrub liquor, plus the feed below it."""
        flows = np.full(self.stages, self.scrub_m3_h)
        flows[: self.n] += self.feed_m3_h
        return flows


def _unpack(z: np.ndarray, count: int, total: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.exp(z[: count * total]).reshape(count, total)
    return c, np.exp(z[count * total : (count + 1) * total]), np.exp(z[(count + 1) * total :])


def _residual(cascade: MassActionCascade, scale: float, scrub_acid: float) -> Any:
    """The stage equations as ln(what comes in) - ln(what goes out): every term of both sides
    is positive, so the equations keep their scale however small a concentration gets."""
    count, total = len(cascade.components), cascade.stages
    k = (10.0**cascade.log_k)[:, None]
    z_total = cascade.extractant_mol_per_l / 2.0
    qa, qo = cascade.aqueous_flows(), cascade.organic_m3_h
    feed = np.zeros((count, total))
    feed[:, cascade.n - 1] = (
        cascade.feed_m3_h * cascade.feed_mol_per_l * scale * (cascade.feed_fractions)
    )
    acid_in = np.zeros(total)
    acid_in[cascade.n - 1] += cascade.feed_m3_h * cascade.feed_acid_mol_per_l
    acid_in[-1] += cascade.scrub_m3_h * scrub_acid

    def residual(z: np.ndarray) -> np.ndarray:
        c, h, free = _unpack(z, count, total)
        o = k * c * free**3 / h**3
        inflow = feed.copy()
        inflow[:, :-1] += (qa * c)[:, 1:]
        inflow[:, 1:] += (qo * o)[:, :-1]
        outflow = qa * c + qo * o
        loaded = qo * o.sum(axis=0)
        protons_in = acid_in + PROTONS_PER_ION * loaded
        protons_in[:-1] += (qa * h)[1:]
        protons_out = qa * h
        protons_out[1:] += PROTONS_PER_ION * loaded[:-1]
        extractant = np.log(free + DIMERS_PER_ION * o.sum(axis=0)) - np.log(z_total)
        return np.concatenate([
            (np.log(inflow) - np.log(outflow)).ravel(),
            np.log(protons_in) - np.log(protons_out), extractant,
        ])  # fmt: skip

    return residual


def _dilute_start(cascade: MassActionCascade, scale: float, scrub_acid: float) -> np.ndarray:
    """ln c, ln h, ln F of the dilute cascade: the acid of the inflows, all extractant free,
    so D is fixed on every stage and each component's balances are one tridiagonal solve."""
    count, total = len(cascade.components), cascade.stages
    qa, qo = cascade.aqueous_flows(), cascade.organic_m3_h
    acid = np.full(total, scrub_acid if cascade.m else 0.0)
    acid[: cascade.n] = (cascade.feed_m3_h * cascade.feed_acid_mol_per_l
                         + cascade.scrub_m3_h * scrub_acid) / qa[0]  # fmt: skip
    acid = np.maximum(acid, 1e-12)
    free = np.full(total, cascade.extractant_mol_per_l / 2.0)
    c = np.empty((count, total))
    for index in range(count):
        extraction = qo * 10.0 ** cascade.log_k[index] * free**3 / acid**3
        bands = np.zeros((3, total))
        bands[0, 1:] = qa[1:]  # aqueous from the stage above
        bands[1] = -(qa + extraction)
        bands[2, :-1] = extraction[:-1]  # organic from the stage below
        rhs = np.zeros(total)
        rhs[cascade.n - 1] = -(cascade.feed_m3_h * cascade.feed_mol_per_l * scale
                               * cascade.feed_fractions[index])  # fmt: skip
        c[index] = np.maximum(solve_banded((1, 1), bands, rhs), 1e-300)
    return np.concatenate([np.log(c).ravel(), np.log(acid), np.log(free)])


@dataclass(frozen=True)
class MassActionSolution:
    """Stage profiles (mol/L) and the products of a solved mass-action cascade."""

    cascade: MassActionCascade
    aqueous: np.ndarray
    organic: np.ndarray
    acid: np.ndarray
    free_dimer: np.ndarray
    residual: float
    solves: int

    def raffinate(self) -> np.ndarray:
        """mol/h of each component leaving in the raffinate."""
        return np.asarray(self.aqueous[:, 0] * self.cascade.aqueous_flows()[0])

    def loaded_organic(self) -> np.ndarray:
        """mol/h of each component leaving in the loaded organic."""
        return np.asarray(self.organic[:, -1] * self.cascade.organic_m3_h)

    def feed_flow(self) -> np.ndarray:
        c = self.cascade
        return np.asarray(c.feed_m3_h * c.feed_mol_per_l * c.feed_fractions)

    def closure(self) -> np.ndarray:
        """|in - out| / in per component."""
        feed = self.feed_flow()
        out = self.raffinate() + self.loaded_organic()
        return np.asarray(np.abs(out - feed) / np.maximum(feed, 1e-300))

    def proton_closure(self) -> float:
        """|acid in + 3 x RE extracted - acid out| / acid in (whole cascade)."""
        c = self.cascade
        acid_in = c.feed_m3_h * c.feed_acid_mol_per_l + c.scrub_m3_h * c.scrub_acid_mol_per_l
        released = PROTONS_PER_ION * float(self.loaded_organic().sum())
        out = float(self.acid[0] * c.aqueous_flows()[0])
        return abs(acid_in + released - out) / acid_in

    def distribution(self) -> np.ndarray:
        """D_ik = o_ik / c_ik on every stage."""
        return np.asarray(self.organic / np.maximum(self.aqueous, 1e-300))

    def profiles(self) -> pd.DataFrame:
        """One row per stage: pH, free extractant, loading, D and aqueous/organic mol/L."""
        c = self.cascade
        rows: dict[str, Any] = {
            "stage": np.arange(1, c.stages + 1),
            "section": ["extraction"] * c.n + ["scrub"] * c.m,
            "pH": -np.log10(self.acid),
            "free_dimer_mol_per_l": self.free_dimer,
            "loading_fraction": DIMERS_PER_ION
            * self.organic.sum(axis=0)
            / (c.extractant_mol_per_l / 2.0),
        }
        distribution = self.distribution()
        for index, name in enumerate(c.components):
            rows[f"D_{name}"] = distribution[index]
            rows[f"aqueous_{name}"] = self.aqueous[index]
            rows[f"organic_{name}"] = self.organic[index]
        return pd.DataFrame(rows)

    def summary(self) -> pd.DataFrame:
        raffinate, organic = self.raffinate(), self.loaded_organic()
        return pd.DataFrame({
            "component": self.cascade.components, "feed_mol_h": self.feed_flow(),
            "raffinate_mol_h": raffinate, "organic_mol_h": organic,
            "purity_raffinate": raffinate / raffinate.sum(),
            "purity_organic": organic / organic.sum(),
            "recovery_organic": organic / self.feed_flow(), "closure": self.closure(),
        })  # fmt: skip

    def to_dict(self, profiles: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "components": list(self.cascade.components),
            "log_k": [float(v) for v in self.cascade.log_k],
            "products": self.summary().to_dict(orient="records"),
            "proton_closure": self.proton_closure(),
            "solver": {"method": "hybr with continuation in the feed concentration",
                       "solves": self.solves, "residual": self.residual},
        }  # fmt: skip
        if profiles:
            result["profiles"] = self.profiles().to_dict(orient="records")
        return result


def _attempt(
    cascade: MassActionCascade, point: tuple[float, float], z: np.ndarray
) -> tuple[np.ndarray, float]:
    residual = _residual(cascade, *point)
    with np.errstate(all="ignore"):
        result = root(residual, z, method="hybr", options={"xtol": 1e-13, "maxfev": 200_000})
        norm = float(np.max(np.abs(residual(result.x))))
    return result.x, norm if np.isfinite(norm) else np.inf


def _path(cascade: MassActionCascade) -> list[tuple[float, float]]:
    """(feed scale, scrub acid) points: the feed from dilute to real at a scrub acid no
    stronger than the feed's (so the scrub section does not strip and nothing is trapped
    between the sections while the cascade is dilute), then the scrub acid to its value."""
    target = cascade.scrub_acid_mol_per_l
    weak = min(target, cascade.feed_acid_mol_per_l) if cascade.m else target
    points = [(scale, weak) for scale in CONTINUATION_STEPS]
    if weak < target:
        steps = max(2, int(np.ceil(np.log10(target / max(weak, 1e-12)) * 4)))
        points += [(1.0, float(a)) for a in np.geomspace(weak, target, steps + 1)[1:]]
    return points


def solve_mass_action(cascade: MassActionCascade) -> MassActionSolution:
    """Steady state of the cascade; raises ``SpecError`` if it does not converge.

    Continuation along :func:`_path`, each solve started from the last answer (concentrations
    shifted as a dilute answer would be); a step that fails is halved (geometrically), at most
    ``MAX_SOLVES`` solves in all.
    """
    count, total = len(cascade.components), cascade.stages
    points = _path(cascade)
    done = points[0]
    z, norm = _attempt(cascade, done, _dilute_start(cascade, *done))
    if norm > 1e-8:
        raise SpecError(f"mass-action cascade did not converge even dilute (residual {norm:.3g})")
    solves, targets = 1, points[1:]
    while targets:
        point = targets[0]
        shifted = z.copy()
        shifted[: count * total] += np.log(point[0] / done[0])  # the dilute answer scales so
        trial, norm = _attempt(cascade, point, shifted)
        solves += 1
        if norm <= 1e-8:
            z, done = trial, point
            targets.pop(0)
            continue
        middle = (float(np.sqrt(point[0] * done[0])), float(np.sqrt(point[1] * done[1])))
        if solves >= MAX_SOLVES or max(middle[0] / done[0], middle[1] / done[1]) < 1.0 + 1e-4:
            raise SpecError(
                f"mass-action cascade did not converge beyond {done[0]:g} x the feed "
                f"concentration and {done[1]:g} mol/L of scrub acid (residual {norm:.3g}); "
                "lower the feed concentration, raise the extractant or weaken the scrub acid"
            )
        targets.insert(0, middle)
    c, h, free = _unpack(z, count, total)
    k = (10.0**cascade.log_k)[:, None]
    organic = k * c * free**3 / h**3
    return MassActionSolution(cascade, c, organic, h, free, norm, solves)


def kremser_unextracted(extraction_factor: float, stages: int) -> float:
    """Fraction of a solute left in the raffinate of N counter-current stages with clean
    solvent and a constant extraction factor E = D O/A: (E - 1) / (E^(N+1) - 1)."""
    if abs(extraction_factor - 1.0) < 1e-12:
        return 1.0 / (stages + 1)
    return (extraction_factor - 1.0) / (extraction_factor ** (stages + 1) - 1.0)
