"""A cheap start for long cascades: stage scalars from the theta method of convergence.

A saturated cascade with constant separation factors is, in its equations, a distillation column
with constant molal overflow and constant relative volatilities: the stage scalar
sigma_k = sum_i beta_ik x_ik plays the part of the stage temperature, the two outlet flows are
fixed by the flows S and W, and each component's stage balances are linear once the sigma_k are
given. Holland's theta method of convergence (Holland, *Fundamentals of Multicomponent
Distillation*, 1981, ch. 2) iterates such columns as follows, here with sigma in place of
temperature:

1. given ln sigma, solve every component's tridiagonal balances exactly (``StageScalarSystem``);
2. the computed outlets (raffinate b_i, organic product d_i) satisfy each component balance but
   not the fixed product flow P; find the one theta with sum_i f_i / (1 + theta b_i / d_i) = P
   and correct every product flow to d_i' = f_i / (1 + theta b_i / d_i);
3. scale each component's whole profile by d_i' / d_i, normalise every stage to sum 1 and take
   the new sigma_k = sum_i beta_ik x_ik from the corrected compositions (the bubble-point step).

The correction of step 2 moves all components together, so the outer iteration does not have
to discover the overall split stage by stage. Each iteration costs one tridiagonal solve of
C x N unknowns (about 0.3 ms at 17 x 300), against one block-tridiagonal solve of (C + 1) x N
(about 2.5 ms) for a Newton step of the log formulation. The new sigma is damped and the damping
adapted to the residual (grown while it falls, halved when it rises), because the undamped
substitution oscillates near a pinch. The iteration is a start, not a solver: where it brings
every stage sum within ``tolerance`` of 1 in the log, Newton on the log formulation finishes in
a few steps; where it stalls (long cascades with many sharp fronts), the caller moves on to
continuation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit, log_expit

from rareflow.process.kernels import LogSystem
from rareflow.process.stage_scalars import StageScalarSystem

NEWTON_STEPS = 15  # Newton steps from the theta start's compositions recomputed in logs; in
# 420 random cascades every one Newton solved took fewer, and a retry from the start's linear
# compositions with 40 more solved none the first had not
SMALLEST = 1e-300
THETA_RANGE = 700.0  # |ln theta| searched; exp(700) is still a finite float


@dataclass(frozen=True)
class ThetaStart:
    """The best stage scalars the iteration found, and how close they came."""

    log_sigma: np.ndarray
    iterations: int
    residual: float  # max over stages of |ln sum_i x_ik| before normalising


def _product_share(log_theta: float, log_ratio: np.ndarray) -> np.ndarray:
    """d_i' / f_i = 1 / (1 + theta b_i / d_i), by the logistic function (no overflow); the
    correction below takes its log directly (``log_expit``), which keeps shares below 1e-308."""
    return np.asarray(expit(-(log_theta + log_ratio)))


def _log_theta(feed: np.ndarray, log_ratio: np.ndarray, product: float, guess: float) -> float:
    """ln theta with sum_i f_i / (1 + theta b_i / d_i) = P, to 1e-10: Brent's method in a
    bracket grown from the last iteration's ln theta (steps of 1, 2, 4, ...), which the root
    rarely leaves. The sum falls monotonically in ln theta, from sum f_i to 0; where P lies
    outside that range (no root in |ln theta| <= ``THETA_RANGE``), 0 leaves the split as
    computed. (A tolerance of 1e-6 stalled the iteration near a pinch at a few 1e-3.)"""

    def excess(log_theta: float) -> float:
        return float(feed @ _product_share(log_theta, log_ratio)) - product

    guess = float(np.clip(guess, -THETA_RANGE, THETA_RANGE))
    value, width = excess(guess), 1.0
    if value == 0.0:
        return guess
    while True:  # the sum falls with ln theta: a positive excess means the root lies above
        other = float(np.clip(guess + (width if value > 0 else -width), -THETA_RANGE, THETA_RANGE))
        if excess(other) * value <= 0.0:
            low, high = sorted((guess, other))
            return float(brentq(excess, low, high, xtol=1e-10))
        if abs(other) >= THETA_RANGE:
            return 0.0
        guess, width = other, 2.0 * width


def theta_start(
    scalar: StageScalarSystem,
    feed: np.ndarray,
    log_sigma: np.ndarray,
    tolerance: float = 1e-4,
    max_iter: int = 300,
    patience: int = 100,
    reach: float = 0.05,
    settle: int = 40,
) -> ThetaStart:
    """Iterate the theta method from ``log_sigma`` (shape N) and return the best point met.

    ``feed`` holds each active component's total feed flow (the outlets' sum); the organic
    product P fixed by the flows is the organic leaving the last stage. Stops when the stage
    sums are within ``tolerance`` of 1 (in the log), after ``max_iter`` iterations, or when
    ``patience`` iterations have not halved the best residual (``settle`` once the best is
    within ``reach``, from where Newton usually converges: long cascades stay on a plateau near
    1 for tens of iterations before the iteration moves on).
    """
    product_flow, aqueous_out = float(scalar.organic[-1]), float(scalar.aqueous[0])
    log_feed = np.log(np.maximum(feed, SMALLEST))
    best_residual, best_sigma = np.inf, log_sigma
    last, damping, stale, iterations, log_theta = np.inf, 0.6, 0, 0, 0.0
    with np.errstate(all="ignore"):
        while iterations < max_iter:
            iterations += 1
            x = np.maximum(scalar.balances(log_sigma), SMALLEST)
            totals = x.sum(axis=0)
            residual = float(np.max(np.abs(np.log(totals))))
            if not np.isfinite(residual):
                break
            if residual < 0.5 * best_residual:
                stale = 0
            else:
                stale += 1
            if residual < best_residual:
                best_residual, best_sigma = residual, log_sigma
            if residual <= tolerance or stale >= (settle if best_residual <= reach else patience):
                break
            damping = min(1.0, 1.3 * damping) if residual < last else max(0.05, 0.5 * damping)
            last = residual
            log_raffinate = np.log(aqueous_out * x[:, 0])
            log_product = np.log(product_flow * scalar.betas[:, -1] * x[:, -1]) - log_sigma[-1]
            log_ratio = log_raffinate - log_product

            log_theta = _log_theta(feed, log_ratio, product_flow, log_theta)
            corrected = log_feed + log_expit(-(log_theta + log_ratio))
            profile = x * np.exp(corrected - log_product)[:, None]
            if not np.all(np.isfinite(profile)):
                # a trace underflowed at an end stage (compositions below 1e-300 in cascades
                # of high factors and many stages): its scale exceeds the float range, so scale
                # and normalise in logs
                log_profile = np.log(x) + (corrected - log_product)[:, None]
                profile = np.exp(log_profile - log_profile.max(axis=0))
            profile /= profile.sum(axis=0)
            target = np.log((scalar.betas * profile).sum(axis=0))
            if not np.all(np.isfinite(target)):
                break
            log_sigma = log_sigma + damping * (target - log_sigma)
    return ThetaStart(best_sigma, iterations, best_residual)


def solve_from_theta(
    scalar: StageScalarSystem, system: LogSystem, feed: np.ndarray, log_sigma: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int, float, bool, str]:
    """The theta start from ``log_sigma``, finished by Newton on the log formulation.

    Newton starts from the start's stage scalars with every composition recomputed in logs
    (``log_balances``): where traces span hundreds of decades, the linear solve leaves them at
    rounding noise, which capped Newton steps take many iterations to repair. Returns (ln sigma,
    ln x, iterations, residual, converged, what happened); where Newton fails, ln sigma is the
    one given and ln x the start's compositions in logs, for the caller's next method."""
    start = theta_start(scalar, feed, log_sigma)
    with np.errstate(all="ignore"):
        log_x = scalar.log_balances(start.log_sigma)
        log_x = log_x - np.logaddexp.reduce(log_x, axis=0)
    norm, ok, outcome, iterations = np.inf, False, "no compositions in logs", start.iterations
    if np.all(np.isfinite(log_x)):
        found_x, found_sigma, more, norm, ok = system.newton(
            np.log(scalar.betas),
            log_x,
            start.log_sigma,
            1e-11,
            NEWTON_STEPS,
            polish_to=5e-13,  # stage sums within half of the polish's 1e-12: it needs no Jacobian
        )
        iterations += more
        outcome = "converged" if ok else "failed"
    message = (
        f"theta method ({start.iterations} iterations, stage sums within "
        f"{start.residual:.1g} in the log), then newton on the log formulation from "
        f"compositions in logs: {outcome}"
    )
    if ok:
        log_x, log_sigma = found_x, found_sigma
    return log_sigma, log_x, iterations, norm, ok, message
