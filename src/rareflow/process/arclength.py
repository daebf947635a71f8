"""Pseudo-arclength continuation in one parameter, for steady states that change too steeply
for steps in the parameter itself.

Where a saponified cascade passes the point at which its salt just neutralises the acid that
reaches the extraction section, every stage's acidity falls by two to three decades while the
salt grows by a fraction of a per cent: steps in the salt cannot follow. Stepping along the
curve of solutions (unknowns and parameter together, each step a fixed length along the
tangent) follows it whatever its slope, and through folds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import root

MAX_STEPS = 400
TOLERANCE = 1e-9


def follow(
    residual: Callable[[np.ndarray, float], np.ndarray],
    before: tuple[float, np.ndarray],
    last: tuple[float, np.ndarray],
    target: float,
) -> tuple[np.ndarray, int] | None:
    """Unknowns near the solution at ``target`` (from the last two solutions along the curve,
    parameter first) and the number of steps taken, or None if the curve could not be
    followed there. The caller polishes the answer at ``target`` itself."""
    (t0, z0), (t1, z1) = before, last
    x = np.concatenate([z1, [t1]])
    tangent = np.concatenate([z1 - z0, [t1 - t0]])
    tangent /= np.linalg.norm(tangent)
    length, steps = 0.05, 0
    while steps < MAX_STEPS:
        steps += 1
        anchor, direction = x, tangent

        def augmented(y: np.ndarray) -> np.ndarray:
            along = direction @ (y - anchor) - length  # noqa: B023 (used within the step)
            return np.concatenate([residual(y[:-1], float(y[-1])), [along]])

        with np.errstate(all="ignore"):
            found = root(augmented, x + length * tangent, method="hybr",
                         options={"xtol": 1e-13})  # fmt: skip
            norm = float(np.max(np.abs(augmented(found.x))))
        if not np.isfinite(norm) or norm > TOLERANCE:
            length /= 2.0
            if length < 1e-10:
                return None
            continue
        step = found.x - x
        if found.x[-1] >= target:
            share = (target - x[-1]) / step[-1]
            if share > 0.99 or length < 1e-6:
                return x[:-1] + share * step[:-1], steps
            length *= max(share, 0.01)  # overshot: a shorter step lands on the target
            continue
        tangent = step / np.linalg.norm(step)
        x = found.x
        length = min(1.5 * length, 50.0)
    return None
