"""Solving a mass-action cascade: MINPACK's hybrid method along a continuation path that
starts from a dilute cascade whose answer is one linear solve (``massaction.dilute_start``)."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import root

from rareflow.process.massaction import (
    DIMERS_PER_ION,
    MassActionCascade,
    MassActionSolution,
    Point,
    dilute_start,
    organic_leaving,
    stage_residual,
    unpack,
)
from rareflow.process.theory import SpecError

CONTINUATION_STEPS = (1e-6, 1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5, 1.0)
"""Fractions of the feed concentration solved in turn (each from the previous answer)."""
MAX_SOLVES = 400


def _attempt(cascade: MassActionCascade, point: Point, z: np.ndarray) -> tuple[np.ndarray, float]:
    residual = stage_residual(cascade, point)
    with np.errstate(all="ignore"):
        result = root(residual, z, method="hybr", options={"xtol": 1e-13, "maxfev": 200_000})
        norm = float(np.max(np.abs(residual(result.x))))
    return result.x, norm if np.isfinite(norm) else np.inf


def _path(cascade: MassActionCascade) -> list[Point]:
    """The feed from dilute to real with the scrub and strip acids no stronger than the feed's
    and no organic recycle (nothing is trapped between sections while the cascade is dilute);
    then the acids to their values; then the organic recycle."""
    feed_acid = cascade.feed_acid_mol_per_l
    scrub, strip = cascade.scrub_acid_mol_per_l, cascade.strip_acid_mol_per_l
    weak = Point(CONTINUATION_STEPS[0], min(scrub, feed_acid) or feed_acid,
                 min(strip, feed_acid) or feed_acid, cascade.reflux, 0.0)  # fmt: skip
    points = [dataclasses.replace(weak, scale=scale) for scale in CONTINUATION_STEPS]
    acids = dataclasses.replace(points[-1], scrub_acid=scrub or weak.scrub_acid,
                                strip_acid=strip or weak.strip_acid)  # fmt: skip
    steps = max(2, int(np.ceil(4 * points[-1].distance(acids))))
    points += [dataclasses.replace(acids, scrub_acid=float(a), strip_acid=float(b))
               for a, b in zip(np.geomspace(points[-1].scrub_acid, acids.scrub_acid, steps + 1)[1:],
                               np.geomspace(points[-1].strip_acid, acids.strip_acid, steps + 1)[1:],
                               strict=True)]  # fmt: skip
    if cascade.recycle_organic:
        points += [dataclasses.replace(points[-1], recycle=float(r))
                   for r in np.linspace(0.0, 1.0, 9)[1:]]  # fmt: skip
    return points


def solve_mass_action(cascade: MassActionCascade) -> MassActionSolution:
    """Steady state of the cascade; raises ``SpecError`` if it does not converge.

    Continuation along :func:`_path`, each solve started from the last answer (concentrations
    shifted as a dilute answer would be when the feed grows); a step that fails is halved, at
    most ``MAX_SOLVES`` solves in all.
    """
    count, total = len(cascade.components), cascade.stages
    points = _path(cascade)
    done = points[0]
    z, norm = _attempt(cascade, done, dilute_start(cascade, done))
    if norm > 1e-8:
        raise SpecError(f"mass-action cascade did not converge even dilute (residual {norm:.3g})")
    solves, targets = 1, points[1:]
    while targets:
        point = targets[0]
        shifted = z.copy()
        shifted[: count * total] += np.log(point.scale / done.scale)
        trial, norm = _attempt(cascade, point, shifted)
        solves += 1
        if norm <= 1e-8:
            z, done = trial, point
            targets.pop(0)
            continue
        middle = done.toward(point)
        if solves >= MAX_SOLVES or done.distance(middle) < 1e-4:
            raise SpecError(
                f"mass-action cascade did not converge beyond {done.scale:g} x the feed, "
                f"scrub acid {done.scrub_acid:g} and strip acid {done.strip_acid:g} mol/L, "
                f"reflux {done.reflux:g}, recycle {done.recycle:g} (residual {norm:.3g}); "
                "lower the feed concentration, raise the extractant or change the acids"
            )
        targets.insert(0, middle)
    c, h, free = unpack(z, count, total)
    k = (10.0**cascade.log_k)[:, None]
    organic = organic_leaving(cascade, k * c * free**3 / h**3, done.recycle)
    free = cascade.extractant_mol_per_l / 2.0 - DIMERS_PER_ION * organic.sum(axis=0)
    return MassActionSolution(cascade, c, organic, h, free, norm, solves)
