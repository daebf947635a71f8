"""Is a given cascade run below the minimum extractant flow of its own split, and does a pinch
leave its stage profile undetermined?

A cascade file sets S and W, not a target purity, so the check uses the split the flows imply:
the most extractable components whose feed adds up closest to the organic product flow form
group A, the rest group B, and the adjacent keys across the cut give the lumped separation
factor. Below the S_min of a sharp split of those two groups (Xu's two-outlet theory,
``theory.minimum_flows`` at purities -> 1: (beta f_A + f_B) / (beta - 1) for an aqueous feed)
the cascade pinches at the feed stage: more stages no longer make the products purer. The
solver still returns the steady state; this says why it looks the way it does.

Only aqueous feeds are checked: for an organic feed the theory's limit, 1 / (beta - 1), is
above the S of the published CePr/Nd design this package reproduces (S = 0.99 at beta 1.55),
so it is not trusted as a warning there.

A pinch many stages long can also leave the position of a component's front free: the stage
equations hold to rounding wherever in the pinch it sits, so two solvers (or two starts) give
the same outlets and different interiors. ``profile_freedom`` measures this at the solution from
the smallest singular value of the Jacobian, and ``free_profile_warning`` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rareflow.process.cascade import Cascade
from rareflow.process.kernels import LogSystem
from rareflow.process.stage_scalars import StageScalarSystem


def sharp_minimum(cascade: Cascade) -> tuple[str, str, float, float] | None:
    """(light key, heavy key, lumped beta, S_min of a sharp split at the implied cut), or
    None if the feed is organic, the flows imply no split or the keys do not separate."""
    raffinate, product = cascade.outlet_flows
    if product <= 0 or raffinate <= 0:
        return None
    order = np.argsort(cascade.beta, kind="stable")
    feed = cascade.feed[order]
    beta = cascade.beta[order]
    top = np.cumsum(feed[::-1])[:-1]  # feed of the k most extractable, k = 1..count-1
    k = int(np.argmin(np.abs(top - product))) + 1
    cut = len(feed) - k
    heavy, light = int(order[cut]), int(order[cut - 1])
    ratio = float(beta[cut] / beta[cut - 1])
    if ratio <= 1.0:
        return None
    fa = float(feed[cut:].sum())
    fb = 1.0 - fa
    if cascade.feed_phase != "aqueous":
        return None
    s_min = (ratio * fa + fb) / (ratio - 1.0)
    return cascade.components[light], cascade.components[heavy], ratio, s_min


def pinch_warning(cascade: Cascade) -> str | None:
    """A warning when S is below the sharp-split S_min of the cascade's own cut."""
    found = sharp_minimum(cascade)
    if found is None:
        return None
    light, heavy, ratio, s_min = found
    if cascade.extractant >= s_min:
        return None
    return (
        f"S = {cascade.extractant:.4g} is below S_min = {s_min:.4g} of a sharp {light}/{heavy} "
        f"split at the cut these flows imply (lumped separation factor {ratio:.4g}, Xu's "
        "two-outlet theory): the cascade is pinched at the feed stage, so more stages will "
        "not make the products much purer; raise S (and W with it)"
    )


@dataclass(frozen=True)
class ProfileFreedom:
    """How far the stage equations pin down a solved profile (first-order estimate).

    ``sensitivity`` bounds the change of any stage mole fraction that a change of the stage
    equations as small as the final residual can make: residual / s_min times the x-weighted
    right singular vector of the log formulation's Jacobian for its smallest singular value
    s_min. ``stages`` (0-based, first and last) and ``component`` say where that vector moves
    the most material; ``outlet_sensitivity`` is the same bound at the two end stages."""

    sensitivity: float
    outlet_sensitivity: float
    stages: tuple[int, int]
    component: int
    smallest_singular_value: float


def profile_freedom(
    scalar: StageScalarSystem,
    system: LogSystem,
    log_betas: np.ndarray,
    log_sigma: np.ndarray,
    iterations: int = 2,
    log_x: np.ndarray | None = None,
) -> ProfileFreedom:
    """Inverse iteration on J^T J of the log formulation at the solution (one banded LU).

    A pinch can leave a front's position free: stage equations met to rounding at many
    positions. Then J is singular to rounding (about 1e-19 against 1e-8 or more for a
    determined cascade of the same size) and its null vector sits on the front, so two pairs
    of triangular solves find it; where s_min is not that isolated they overestimate it, and
    the sensitivity they give is a lower bound. ``log_x``: the compositions at ``log_sigma``
    if a log-space path gave them (else the sweep in logs recomputes them)."""
    if log_x is None:
        log_x = scalar.log_balances(log_sigma)
    with np.errstate(all="ignore"):
        residual, bands = system.residual(log_betas, log_x, log_sigma)
    assert bands is not None
    width = system.width
    try:
        start = np.full(bands.shape[1], 1.0)
        smallest, vector = system.smallest_singular(system.factor(bands), start, iterations)
    except np.linalg.LinAlgError:  # exactly singular: free by any measure
        smallest, vector = 0.0, np.full(bands.shape[1], bands.shape[1] ** -0.5)
    # rounding floor: the log residual of a trace near 1e-277 (ln x ~ -640) is exact only to
    # about 1e-13
    floor = max(float(np.max(np.abs(residual[np.isfinite(residual)]), initial=0.0)), 1e-13)
    scale = floor / smallest if smallest > 0 else np.inf
    weighted = np.exp(log_x) * np.abs(vector.reshape(system.total, width).T[:-1]) * scale
    if not np.all(np.isfinite(weighted)):
        weighted = np.where(np.isfinite(weighted), weighted, np.inf)
    by_stage = weighted.max(axis=0)
    moved = np.nonzero(by_stage >= 0.1 * by_stage.max())[0]
    peak = np.unravel_index(int(np.argmax(weighted)), weighted.shape)
    return ProfileFreedom(
        sensitivity=float(by_stage.max()),
        outlet_sensitivity=float(max(by_stage[0], by_stage[-1])),
        stages=(int(moved.min()), int(moved.max())),
        component=int(peak[0]),
        smallest_singular_value=float(smallest),
    )


FREE_PROFILE = 1e-3
"""A profile whose mole fractions can move by more than this is reported as not determined."""


def free_profile_warning(freedom: ProfileFreedom, components: list[str]) -> str | None:
    """A warning when the interior profile is not pinned down by the stage equations."""
    if freedom.sensitivity <= FREE_PROFILE:
        return None
    first, last = freedom.stages
    outlets = (
        "outlets, purities and recoveries are not affected"
        if freedom.outlet_sensitivity <= FREE_PROFILE
        else f"the outlets can move too (by up to {freedom.outlet_sensitivity:.2g})"
    )
    return (
        f"the stage profile is not determined: {components[freedom.component]}'s front, here "
        f"at stages {first + 1}-{last + 1}, can move with a change of the stage equations "
        "below rounding (a pinch), so the plotted profile is one of many steady states; "
        f"{outlets}"
    )
