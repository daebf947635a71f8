"""Stages joined by aqueous and organic streams, with mass-action equilibrium on every stage:
the equations and the continuation solver shared by one cascade and by networks of cascades.

A ``Topology`` lists, for T stages, each stage's aqueous and organic outflow (m3/h), the
matrices of aqueous and organic flow from stage j into stage k, the organic links the
continuation closes last (recycles), the external RE and acid inflows, and the acid liquors
whose strength the continuation raises from weak to their value, and the saponified
extractant (counter-ion salt MA) entering with the organic, which the continuation raises with
the liquors. See ``process/massaction.py`` for the chemistry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import root

from rareflow.process.arclength import follow
from rareflow.process.theory import SpecError

PROTONS_PER_ION = 3
CONTINUATION_STEPS = (1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 1.0)
"""Fractions of the feed concentration solved in turn (each from the previous answer)."""
MAX_SOLVES = 400
CONVERGED = 1e-8
NEUTRALISATION_LOG_K = 4.0
"""log10 of K_n = [(HA)2]^(1/2) [M+] / ([MA] [H+]) ((mol/L)^(1/2)), the conditional constant of
MA(o) + H+ = HA(o) + M+ for a saponified extractant. No measured value was found (a flagged
assumption): 4 makes the salt neutralise almost wholly at pH 2 and about half at pH 4-5, as
saponified P507 circuits run at pH 2-4 without a pH collapse; docs/process.md shows the
sensitivity."""
BASE_START = 1e-6
"""Share of the saponification the continuation starts from (raised with the liquors)."""


@dataclass(frozen=True)
class Topology:
    """Stages and streams (flows in m3/h, amounts in mol/h, concentrations in mol/L)."""

    log_k: np.ndarray
    extractant_mol_per_l: float
    efficiency: float
    aqueous_out: np.ndarray
    organic_out: np.ndarray
    aqueous_links: np.ndarray
    """[k, j]: aqueous flow leaving stage j that enters stage k."""
    organic_links: np.ndarray
    """[k, j]: organic flow leaving stage j that enters stage k (always there)."""
    recycle_links: np.ndarray
    """[k, j]: organic flows the continuation closes last (stripped organic sent back)."""
    feed: np.ndarray
    """(components, stages): RE entering from outside, mol/h."""
    acid: np.ndarray
    """Acid entering with the feeds, mol/h per stage."""
    liquors: tuple[tuple[int, float, float], ...] = field(default=())
    """(stage, m3/h, mol/L) of the scrub and strip liquors entering from outside."""
    weak_acid: float = 0.01
    """The strength every liquor starts from (no stronger than the feeds' acid)."""
    base: np.ndarray | None = None
    """Counter-ion salt (MA, mol/h) entering each stage with the organic from outside: the
    saponified share of fresh (or re-saponified recycled) extractant. None: unsaponified."""
    neutralisation_log_k: float = NEUTRALISATION_LOG_K
    charge: np.ndarray | None = None
    """Protons each component's ion releases when extracted (None: all 3, trivalent RE). For
    M^z+ + d (HA)2(o) = complex(o) + z H+ this is z, its charge, unless anions go with it
    (Th4+ leaves as ThCl2(HA2)2(H2A2): 2 protons)."""
    dimers: np.ndarray | None = None
    """Extractant dimers each extracted ion binds, d (None: as many as its protons). The law
    is D = K F^d / h^z (F: free dimer, h: H+)."""

    def charges(self) -> np.ndarray:
        """Protons released per ion, z, as a column (components x 1)."""
        if self.charge is None:
            return np.full((self.log_k.size, 1), float(PROTONS_PER_ION))
        return np.asarray(self.charge, dtype=float).reshape(-1, 1)

    def dimer_counts(self) -> np.ndarray:
        """Dimers bound per extracted ion, d, as a column (components x 1)."""
        if self.dimers is None:
            return self.charges()
        return np.asarray(self.dimers, dtype=float).reshape(-1, 1)

    def distribution(self, free: np.ndarray, h: np.ndarray) -> np.ndarray:
        """D = K F^d / h^z of every component (rows) at the given free dimer and H+."""
        return law(self)(free, h)

    @property
    def saponified(self) -> bool:
        return self.base is not None and bool(np.any(self.base > 0))

    def base_in(self, progress: float) -> np.ndarray:
        """Salt entering (mol/h per stage), raised from BASE_START x its value with the acids."""
        assert self.base is not None
        return np.asarray(self.base * BASE_START ** (1.0 - progress))

    @property
    def stages(self) -> int:
        return int(self.aqueous_out.size)

    def acid_in(self, progress: float) -> np.ndarray:
        """External acid (mol/h per stage) with every liquor at weak^(1-t) x its value^t."""
        acid = self.acid.copy()
        for stage, flow, value in self.liquors:
            weak = min(value, self.weak_acid)
            acid[stage] += flow * (weak ** (1.0 - progress) * value**progress if value else 0.0)
        return acid

    def organic_flows(self, recycle: float) -> np.ndarray:
        return np.asarray(self.organic_links + recycle * self.recycle_links)

    def murphree(self, recycle: float) -> np.ndarray | None:
        """Matrix M with o = o* @ M.T for the organic leaving each stage (None: E = 1): each
        stage moves the organic it receives (mixed by flow) toward o* by the efficiency."""
        if self.efficiency == 1.0:
            return None
        mixing = self.organic_flows(recycle) / self.organic_out[:, None]
        inverse = np.linalg.inv(np.eye(self.stages) - (1.0 - self.efficiency) * mixing)
        return np.asarray(self.efficiency * inverse)


@dataclass(frozen=True)
class Point:
    """Where the continuation is: feed scale, acid progress (0: weak, 1: real), recycle."""

    scale: float
    progress: float
    recycle: float

    def toward(self, other: Point) -> Point:
        return Point(float(np.sqrt(self.scale * other.scale)),
                     0.5 * (self.progress + other.progress),
                     0.5 * (self.recycle + other.recycle))  # fmt: skip

    def distance(self, other: Point) -> float:
        scale = abs(float(np.log(self.scale / other.scale)))
        return max(scale, abs(self.progress - other.progress), abs(self.recycle - other.recycle))


def unpack(z: np.ndarray, count: int, total: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aqueous RE, H+ and free dimer by stage (mol/L); a saponified topology's counter-ion
    M+ (mol/L) follows them in ``z``."""
    c = np.exp(z[: count * total]).reshape(count, total)
    return (c, np.exp(z[count * total : (count + 1) * total]),
            np.exp(z[(count + 1) * total : (count + 2) * total]))  # fmt: skip


def salt_in_organic(top: Topology, counter_ion: np.ndarray, acid: np.ndarray,
                    free: np.ndarray) -> np.ndarray:  # fmt: skip
    """MA (mol/L) in the organic in equilibrium with the aqueous M+ and H+ and the free dimer."""
    return np.asarray(np.sqrt(free) * counter_ion / (10.0**top.neutralisation_log_k * acid))


def law(top: Topology) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """D(F, h) of every component, with its constants computed once (one power per entry
    where every ion binds as many dimers as the protons it releases)."""
    k, charge, dimers = (10.0**top.log_k)[:, None], top.charges(), top.dimer_counts()
    if np.array_equal(charge, dimers):
        return lambda free, h: np.asarray(k * (free / h) ** charge)
    return lambda free, h: np.asarray(k * free**dimers / h**charge)


def organic_leaving(top: Topology, equilibrium: np.ndarray, recycle: float) -> np.ndarray:
    """Organic leaving every stage (mol/L) from the organic in equilibrium with its aqueous."""
    matrix = top.murphree(recycle)
    return equilibrium if matrix is None else np.asarray(equilibrium @ matrix.T)


def stage_residual(top: Topology, point: Point) -> Any:
    """The stage equations as ln(what comes in) - ln(what goes out): every term of both sides
    is positive, so the equations keep their scale however small a concentration gets."""
    count, total = top.log_k.size, top.stages
    charge, dimers, distribution = top.charges(), top.dimer_counts(), law(top)
    z_total = top.extractant_mol_per_l / 2.0
    qa, qo, links = top.aqueous_out, top.organic_out, top.aqueous_links
    organic_links = top.organic_flows(point.recycle)
    murphree = top.murphree(point.recycle)
    feed, acid_in = top.feed * point.scale, top.acid_in(point.progress)
    base_in = top.base_in(point.progress) if top.saponified else None

    def residual(z: np.ndarray) -> np.ndarray:
        c, h, free = unpack(z, count, total)
        o = c * distribution(free, h)  # equilibrium with the aqueous leaving
        leaving = o if murphree is None else o @ murphree.T
        carried = qo * leaving  # RE the organic carries out of each stage
        entering = leaving @ organic_links.T  # RE the organic brings into each stage
        inflow = feed + c @ links.T + entering
        outflow = qa * c + carried
        protons_in = acid_in + h @ links.T + (charge * carried).sum(axis=0)
        protons_out = qa * h + (charge * entering).sum(axis=0)
        bound = free + (dimers * o).sum(axis=0)  # d dimers bound per ion
        salt_balance: list[np.ndarray] = []
        if base_in is not None:
            # MA + H+ -> HA + M+ swaps an H+ for an M+, so the cations H+ + M+ balance as the
            # protons alone do without salt (and stay well scaled when h << m); M balances apart
            m = np.exp(z[(count + 2) * total :])
            salt = salt_in_organic(top, m, h, free)
            salt_carried, salt_entering = qo * salt, base_in + salt @ organic_links.T
            protons_in = protons_in + m @ links.T
            protons_out = protons_out + qa * m
            bound = bound + salt / 2.0
            salt_balance = [np.log(salt_entering + m @ links.T) - np.log(qa * m + salt_carried)]
        return np.concatenate([
            (np.log(inflow) - np.log(outflow)).ravel(),
            np.log(protons_in) - np.log(protons_out), np.log(bound) - np.log(z_total),
            *salt_balance,
        ])  # fmt: skip

    return residual


def dilute_start(top: Topology, point: Point) -> np.ndarray:
    """ln c, ln h, ln F of the dilute network: each stage at the acid its inflows bring, all
    extractant free, so D is fixed and each component's balances are one linear solve."""
    count, total = top.log_k.size, top.stages
    qa, links = top.aqueous_out, top.aqueous_links
    organic_links = top.organic_flows(point.recycle)
    mixing = organic_links / top.organic_out[:, None]
    feed = top.feed * point.scale
    acid = np.linalg.solve(np.diag(qa) - links, top.acid_in(point.progress))
    acid = np.maximum(acid, 1e-12)  # acid carried, nothing released
    free = np.full(total, top.extractant_mol_per_l / 2.0)

    exchange = np.diag(top.organic_out) - organic_links
    murphree = exchange @ (top.efficiency * np.linalg.inv(np.eye(total) - (1 - top.efficiency)
                                                          * mixing))  # fmt: skip

    def aqueous(distribution: np.ndarray, inflow: np.ndarray, equilibrium: bool) -> np.ndarray:
        """c (aqueous) of one solute by stage: the organic leaving is E (I - (1 - E) mixing)^-1
        (D c) (D c at equilibrium), so the balances are one linear system in c."""
        carried = exchange * distribution if equilibrium else murphree * distribution
        matrix = np.diag(qa) - links + carried
        return np.asarray(np.maximum(solve_without_pivoting(matrix, inflow), 1e-300))

    c, distributions = np.empty((count, total)), top.distribution(free, acid)
    for index in range(count):
        c[index] = aqueous(distributions[index], feed[index], top.efficiency == 1.0)
    parts = [np.log(c).ravel(), np.log(acid), np.log(free)]
    if top.saponified:  # the salt as a solute of fixed D at the acid carried
        salt = salt_in_organic(top, np.ones(total), acid, free)
        parts.append(np.log(aqueous(salt, top.base_in(point.progress), True)))
    return np.concatenate(parts)


def solve_without_pivoting(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Gaussian elimination in the given order. The balance matrix of a solute at fixed D is
    an M-matrix (flows out on the diagonal, flows in off it), for which elimination without
    pivoting is stable and keeps every unknown to its own relative precision: a profile that
    falls by 10^100 through a section comes out right, where a pivoting dense solve leaves the
    small end to rounding."""
    work, right = matrix.astype(float).copy(), rhs.astype(float).copy()
    size = right.size
    for k in range(size - 1):
        factors = work[k + 1 :, k] / work[k, k]
        work[k + 1 :, k:] -= np.outer(factors, work[k, k:])
        right[k + 1 :] -= factors * right[k]
    found = np.zeros(size)
    for k in range(size - 1, -1, -1):
        found[k] = (right[k] - work[k, k + 1 :] @ found[k + 1 :]) / work[k, k]
    return found


def _along_the_ramp(
    top: Topology, trail: list[tuple[float, np.ndarray]], point: Point
) -> tuple[np.ndarray, int] | None:
    """Where steps in the acid and salt ramp stall (a saponified cascade passing the point
    where its salt just neutralises the acid), follow the curve of solutions by arclength
    to ``point``'s progress and polish there; None if that fails too."""
    if point.scale != 1.0 or len(trail) < 2:
        return None
    found = follow(
        lambda z, t: stage_residual(top, Point(1.0, t, 0.0))(z), trail[-2], trail[-1],
        point.progress,
    )  # fmt: skip
    if found is None:
        return None
    z, norm = _attempt(top, point, found[0])
    return (z, found[1] + 1) if norm <= CONVERGED else None


def _attempt(top: Topology, point: Point, z: np.ndarray) -> tuple[np.ndarray, float]:
    residual = stage_residual(top, point)
    with np.errstate(all="ignore"):
        result = root(residual, z, method="hybr", options={"xtol": 1e-13, "maxfev": 200_000})
        norm = float(np.max(np.abs(residual(result.x))))
    return result.x, norm if np.isfinite(norm) else np.inf


def path(top: Topology) -> list[Point]:
    """The feed from dilute to real with weak liquors and open recycles (nothing is trapped
    between sections while the network is dilute); then the liquors to their strength; then
    the recycles closed."""
    points = [Point(scale, 0.0, 0.0) for scale in CONTINUATION_STEPS]
    ratios = [value / min(value, top.weak_acid) for _, _, value in top.liquors if value > 0]
    if top.saponified:
        ratios.append(1.0 / BASE_START)
    steps = max(2, int(np.ceil(4 * np.log10(max(ratios, default=1.0)))))
    points += [Point(1.0, float(t), 0.0) for t in np.linspace(0.0, 1.0, steps + 1)[1:]]
    if top.recycle_links.any():
        points += [Point(1.0, 1.0, float(r)) for r in np.linspace(0.0, 1.0, 9)[1:]]
    return points


@dataclass(frozen=True)
class Solved:
    """Concentrations (mol/L) by component and stage, acid and free extractant by stage, and
    the topology they solve."""

    topology: Topology
    aqueous: np.ndarray
    organic: np.ndarray
    acid: np.ndarray
    free_dimer: np.ndarray
    residual: float
    solves: int
    counter_ion: np.ndarray | None = None
    """Saponified topologies: aqueous M+ (Na+ or NH4+) by stage, mol/L."""
    salt: np.ndarray | None = None
    """Saponified topologies: MA left in the organic leaving each stage, mol/L."""


def solve_topology(top: Topology) -> Solved:
    """Steady state along :func:`path`, each solve started from the last answer (shifted as
    a dilute answer would be when the feed grows); a step that fails is halved, at most
    ``MAX_SOLVES`` solves. Raises ``SpecError`` naming where it stopped."""
    count, total = top.log_k.size, top.stages
    points = path(top)
    done = points[0]
    start = dilute_start(top, done)
    z, norm = _attempt(top, done, start)
    if norm > CONVERGED:
        _, acid, free = unpack(start, count, total)
        largest = float(np.max(top.distribution(free, acid)))
        raise SpecError(
            f"mass-action cascade did not converge even dilute (residual {norm:.3g}); the "
            f"largest distribution ratio there is {largest:.3g}: lower the largest log_k or "
            "raise the feed acid"
        )
    solves, targets = 1, points[1:]
    trail: list[tuple[float, np.ndarray]] = []  # solutions along the acid (and salt) ramp
    while targets:
        point = targets[0]
        shifted = z.copy()
        shifted[: count * total] += np.log(point.scale / done.scale)
        trial, norm = _attempt(top, point, shifted)
        solves += 1
        if norm <= CONVERGED:
            z, done = trial, point
            if point.scale == 1.0 and point.recycle == 0.0:
                trail.append((point.progress, z))
            targets.pop(0)
            continue
        middle = done.toward(point)
        if solves >= MAX_SOLVES or done.distance(middle) < 1e-4:
            along = _along_the_ramp(top, trail, point) if point.recycle == 0.0 else None
            if along is not None:
                z, done, steps = along[0], point, along[1]
                solves += steps
                trail.append((point.progress, z))
                targets.pop(0)
                continue
            raise SpecError(
                f"mass-action cascade did not converge beyond {done.scale:g} x the feed, "
                f"{done.progress:.3g} of the way to the liquors' acid and {done.recycle:.3g} "
                f"of the recycle (residual {norm:.3g}); lower the feed concentration, raise "
                "the extractant or change the acids"
                + (" or the saponification" if top.saponified else "")
            )
        targets.insert(0, middle)
    c, h, free = unpack(z, count, total)
    organic = organic_leaving(top, c * top.distribution(free, h), done.recycle)
    if not top.saponified:
        loaded = top.extractant_mol_per_l / 2.0 - (top.dimer_counts() * organic).sum(axis=0)
        return Solved(top, c, organic, h, loaded, norm, solves)
    m = np.exp(z[(count + 2) * total :])
    salt = salt_in_organic(top, m, h, free)
    return Solved(top, c, organic, h, free, norm, solves, m, salt)
