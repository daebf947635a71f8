"""The cascade's steady state on its stage scalars alone (see ``rareflow.process.cascade``).

``StageScalarSystem``: the N stage scalars sigma_k are the unknowns; each component's stage
balances are one exact tridiagonal solve (all components stacked into one banded solve), and
Newton's method drives sum_i x_ik - 1 to zero with the exact N x N Jacobian. Fast where it
converges, and its inner solves close every component balance to rounding; ``log_balances``
solves the same balances in logs for traces far below rounding. ``dynamic_simulation`` is the
time-marching last resort on the same unknowns.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded


class StageScalarSystem:
    """Stacked linear stage balances for given stage scalars ln sigma (shape N)."""

    def __init__(
        self, organic: np.ndarray, aqueous: np.ndarray, betas: np.ndarray, feed: np.ndarray
    ) -> None:
        self.organic, self.aqueous, self.betas = organic, aqueous, betas
        self.count, self.total = betas.shape
        self.rhs = -feed.ravel()
        self.bounds = (np.log(betas.min(axis=0)), np.log(betas.max(axis=0)))
        index = np.arange(self.total)
        self._diagonal = (slice(None), index, index)
        self._below = (slice(None), index[1:], index[:-1])

    def _banded(self, log_sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        extraction = self.organic * self.betas * np.exp(-log_sigma)
        bands = np.zeros((3, self.count, self.total))
        bands[0, :, 1:] = self.aqueous[1:]
        bands[1] = -(extraction + self.aqueous)
        bands[2, :, :-1] = extraction[:, :-1]
        return bands.reshape(3, -1), extraction

    def balances(self, log_sigma: np.ndarray) -> np.ndarray:
        """x_ik (shape C x N) solving every component balance exactly; stage sums free."""
        bands, _ = self._banded(log_sigma)
        solution = solve_banded((1, 1), bands, self.rhs, check_finite=False)
        return np.asarray(solution.reshape(self.count, self.total))

    def log_balances(self, log_sigma: np.ndarray) -> np.ndarray:
        """ln x_ik solving every component balance, for compositions far below rounding.

        The Thomas sweep of the balances, written so that every operation adds or multiplies
        positive numbers: with E_k = O_k beta_ik / sigma_k, the pivots are p_k = E_k + q_k with
        q_0 = A_0 and q_k = A_k q_(k-1) / p_(k-1), the forward sums g_k = f_k + E_(k-1) g_(k-1)
        / p_(k-1), and x_k = (g_k + A_(k+1) x_(k+1)) / p_k. There is no cancellation, so in
        logs (log-sum-exp) a trace of 1e-250 keeps its relative precision, where the linear
        solve (``balances``) returns rounding noise below about 1e-16 of the largest x.
        Costs one pass over the stages in Python (a few ms at 300 stages)."""
        count, total = self.count, self.total
        with np.errstate(divide="ignore"):
            log_e = np.log(self.organic)[None, :] + np.log(self.betas) - log_sigma[None, :]
            log_a = np.log(self.aqueous)
            log_f = np.log(np.maximum(-self.rhs.reshape(count, total), 0.0))
        log_p, log_g = np.empty((count, total)), np.empty((count, total))
        log_q = np.full(count, log_a[0])
        log_p[:, 0], log_g[:, 0] = np.logaddexp(log_e[:, 0], log_q), log_f[:, 0]
        for k in range(1, total):
            log_q = log_a[k] + log_q - log_p[:, k - 1]
            log_p[:, k] = np.logaddexp(log_e[:, k], log_q)
            carried = log_e[:, k - 1] - log_p[:, k - 1] + log_g[:, k - 1]
            log_g[:, k] = np.logaddexp(log_f[:, k], carried)
        log_x = np.empty((count, total))
        log_x[:, -1] = log_g[:, -1] - log_p[:, -1]
        for k in range(total - 2, -1, -1):
            log_x[:, k] = np.logaddexp(log_g[:, k], log_a[k + 1] + log_x[:, k + 1]) - log_p[:, k]
        return log_x

    def fractions(self, log_sigma: np.ndarray) -> np.ndarray:
        """Aqueous mole fractions x_ik solving every component balance exactly."""
        return np.asarray(np.maximum(self.balances(log_sigma), 0.0))

    def _jacobian(self, bands: np.ndarray, extraction: np.ndarray, x: np.ndarray) -> np.ndarray:
        """d (sum_i x_ik - 1) / d ln sigma at the solved x: one banded solve, N right-hand sides."""
        flow = extraction * x
        columns = np.zeros((self.count, self.total, self.total))
        columns[self._diagonal] = flow
        columns[self._below] = -flow[:, :-1]
        derivative = solve_banded(
            (1, 1), bands, columns.reshape(-1, self.total), check_finite=False
        ).reshape(self.count, self.total, self.total)
        return np.asarray(-derivative.sum(axis=0))

    def newton(
        self,
        log_sigma: np.ndarray,
        tol: float,
        max_iter: int,
        max_step: float = 2.0,
        patience: int = 6,
    ) -> tuple[np.ndarray, int, float, bool]:
        """Newton on ln sigma, steps capped and kept inside [ln min beta, ln max beta].

        Gives up early when the residual has not halved for ``patience`` iterations.
        """
        norm, best, stale = np.inf, np.inf, 0
        low, high = self.bounds
        with np.errstate(all="ignore"):
            for iteration in range(1, max_iter + 1):
                try:
                    # the residual is one tridiagonal solve; the Jacobian, built only when a
                    # step is needed, costs N more
                    bands, extraction = self._banded(log_sigma)
                    x = solve_banded((1, 1), bands, self.rhs, check_finite=False)
                    x = x.reshape(self.count, self.total)
                    residual = x.sum(axis=0) - 1.0
                    norm = float(np.max(np.abs(residual)))
                    if not np.isfinite(norm):
                        return log_sigma, iteration, norm, False
                    if norm <= tol:
                        return log_sigma, iteration, norm, True
                    jacobian = self._jacobian(bands, extraction, x)
                    best, stale = (norm, 0) if norm < 0.5 * best else (best, stale + 1)
                    if stale >= patience:
                        return log_sigma, iteration, norm, False
                    step = np.linalg.solve(jacobian, -residual)
                except (np.linalg.LinAlgError, ValueError):
                    return log_sigma, iteration, norm, False
                largest = float(np.max(np.abs(step)))
                if largest > max_step:
                    step *= max_step / largest
                log_sigma = np.clip(log_sigma + step, low, high)
        return log_sigma, max_iter, norm, False


def _equilibrate(
    totals: np.ndarray,
    organic: np.ndarray,
    aqueous: np.ndarray,
    betas: np.ndarray,
    log_sigma: np.ndarray,
) -> np.ndarray:
    """Equilibrate every stage at once: solve sum_i T_i s / (O beta_i + A s) = 1 for s."""
    for _ in range(100):
        sigma = np.exp(log_sigma)
        denominator = organic * betas + aqueous * sigma
        value = (totals * sigma / denominator).sum(axis=0) - 1.0
        slope = (totals * organic * betas * sigma / denominator**2).sum(axis=0)
        change = np.clip(value / np.maximum(slope, 1e-300), -2.0, 2.0)
        log_sigma = log_sigma - change
        if np.max(np.abs(change)) < 1e-14:
            break
    return log_sigma


def dynamic_simulation(
    organic: np.ndarray,
    aqueous: np.ndarray,
    betas: np.ndarray,
    feed: np.ndarray,
    max_cycles: int,
    history: list[str],
) -> np.ndarray:
    """Time-march the cascade like a laboratory cascade test until it stops changing.

    Each cycle equilibrates every stage (the organic carries its fixed RE load, components
    distribute by their separation factors), then moves the organic one stage up and the
    aqueous one stage down and adds the feed. Returns the stage scalars ln sigma.
    """
    totals = feed.sum(axis=1, keepdims=True) * (organic + aqueous)
    log_sigma = np.log((betas * totals).sum(axis=0) / totals.sum(axis=0))
    for cycle in range(1, max_cycles + 1):
        log_sigma = _equilibrate(totals, organic, aqueous, betas, log_sigma)
        sigma = np.exp(log_sigma)
        x = totals * sigma / (organic * betas + aqueous * sigma)
        new = feed.copy()
        new[:, 1:] += (organic * betas * x / sigma)[:, :-1]
        new[:, :-1] += (aqueous * x)[:, 1:]
        change = float(np.max(np.abs(new - totals)))
        totals = new
        if change < 1e-12:
            history.append(f"dynamic simulation settled after {cycle} cycles")
            return np.asarray(log_sigma)
    history.append(f"dynamic simulation stopped after {max_cycles} cycles (change {change:.2g})")
    return np.asarray(log_sigma)
