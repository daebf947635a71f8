"""The log formulation of the cascade's steady state (see ``rareflow.process.cascade`` for the
model; the other formulation, on the stage scalars alone, is ``rareflow.process.stage_scalars``).

``LogSystem``: unknowns ln x_ik and ln sigma_k, equations ln(inflow) - ln(outflow) per component
and stage and ln(sum_i x_ik) per stage, all evaluated with log-sum-exp so that compositions of
1e-300 and below stay representable. Its Jacobian is block-tridiagonal (one banded LU per Newton
step); it finishes the theta start and carries the continuation in the separation factors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import lapack, solve_banded

NEG_INF = -np.inf
AMPLIFICATION = 1e6
"""A Newton step longer than this many times the residual (2-norms) is checked for a direction
the Jacobian cannot see (``LogSystem._step``); a regular J of these cascades amplifies less."""


def _log_sum3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    top = np.maximum(np.maximum(a, b), c)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.asarray(top + np.log(np.exp(a - top) + np.exp(b - top) + np.exp(c - top)))


def _band(width: int, rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of matrix entries (rows, columns) in LAPACK banded storage of half-width."""
    return width + rows - columns, columns


class LogSystem:
    """Stage equations in ln x and ln sigma with a block-tridiagonal Jacobian."""

    def __init__(self, organic: np.ndarray, aqueous: np.ndarray, feed: np.ndarray) -> None:
        with np.errstate(divide="ignore"):
            self.log_organic = np.log(organic)[None, :]
            self.log_aqueous = np.log(aqueous)[None, :]
            self.log_feed = np.log(feed)
        self.count, self.total = feed.shape
        width = self.count + 1
        self.width = width
        stages = np.arange(self.total)
        rows = stages[None, :] * width + np.arange(self.count)[:, None]
        sigma = np.broadcast_to(stages * width + self.count, rows.shape)
        self._self = _band(width, rows.ravel(), rows.ravel())
        self._own_sigma = _band(width, rows.ravel(), sigma.ravel())
        self._previous = _band(width, rows[:, 1:].ravel(), rows[:, :-1].ravel())
        self._previous_sigma = _band(width, rows[:, 1:].ravel(), sigma[:, :-1].ravel())
        self._next = _band(width, rows[:, :-1].ravel(), rows[:, 1:].ravel())
        self._sum = _band(width, sigma.ravel(), rows.ravel())
        self.shape = (2 * width + 1, width * self.total)
        self._packed: np.ndarray | None = None

    def _flows(
        self, log_betas: np.ndarray, log_x: np.ndarray, log_sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """ln of: organic leaving each stage, organic arriving from below, aqueous arriving from
        above, total inflow (with the feed) and total outflow, per component and stage."""
        organic = self.log_organic + log_betas - log_sigma + log_x
        aqueous = self.log_aqueous + log_x
        from_below = np.full_like(log_x, NEG_INF)
        from_below[:, 1:] = organic[:, :-1]
        from_above = np.full_like(log_x, NEG_INF)
        from_above[:, :-1] = aqueous[:, 1:]
        inflow = _log_sum3(from_below, from_above, self.log_feed)
        return organic, from_below, from_above, inflow, np.logaddexp(organic, aqueous)

    def residual(
        self, log_betas: np.ndarray, log_x: np.ndarray, log_sigma: np.ndarray, jacobian: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Stage equations (C+1 rows by N stages) and, if asked, their banded Jacobian."""
        return self._assemble(self._flows(log_betas, log_x, log_sigma), log_x, jacobian)

    def _assemble(
        self, flows: tuple[np.ndarray, ...], log_x: np.ndarray, jacobian: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        organic, from_below, from_above, inflow, outflow = flows
        top = log_x.max(axis=0)
        total = top + np.log(np.exp(log_x - top).sum(axis=0))
        residual = np.vstack([inflow - outflow, total[None, :]])
        if not jacobian:
            return residual, None
        bands = np.zeros(self.shape, order="F")  # LAPACK's layout: no transposing copy
        bands[self._self] = -1.0
        bands[self._own_sigma] = np.exp(organic - outflow).ravel()
        share_below = np.exp(from_below - inflow)
        bands[self._previous] = share_below[:, 1:].ravel()
        bands[self._previous_sigma] = -share_below[:, 1:].ravel()
        bands[self._next] = np.exp(from_above - inflow)[:, :-1].ravel()
        bands[self._sum] = np.exp(log_x - total).ravel()
        return residual, bands

    def newton(
        self,
        log_betas: np.ndarray,
        log_x: np.ndarray,
        log_sigma: np.ndarray,
        tol: float,
        max_iter: int,
        max_step: float = 3.0,
        polish_to: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray, int, float, bool]:
        """Newton steps with capped size; returns (ln x, ln sigma, iterations, residual, ok).

        With ``polish_to``, once within ``tol`` up to two more steps try to reach it, and the
        best point met is returned."""
        target = tol if polish_to is None else polish_to
        norm, best = np.inf, None
        width = self.width
        with np.errstate(all="ignore"):
            for iteration in range(1, max_iter + 1):
                residual, bands = self.residual(log_betas, log_x, log_sigma)
                norm = float(np.max(np.abs(residual)))
                if best is not None and not norm < best[2]:
                    return best[0], best[1], iteration, best[2], True
                if not np.isfinite(norm):
                    return log_x, log_sigma, iteration, norm, False
                if norm <= tol:
                    if norm <= target or (best is not None and iteration >= best[3] + 2):
                        return log_x, log_sigma, iteration, norm, True
                    best = (log_x, log_sigma, norm, iteration if best is None else best[3])
                assert bands is not None
                try:
                    step = self._step(bands, residual, tol)
                except (np.linalg.LinAlgError, ValueError):
                    return log_x, log_sigma, iteration, norm, False
                step = step.reshape(self.total, width).T
                largest = float(np.max(np.abs(step)))
                if not np.isfinite(largest):
                    return log_x, log_sigma, iteration, norm, False
                if largest > max_step:
                    step *= max_step / largest
                log_x = log_x + step[: self.count]
                log_sigma = log_sigma + step[self.count]
        if best is not None:
            return best[0], best[1], max_iter, best[2], True
        return log_x, log_sigma, max_iter, norm, False

    def factor(self, bands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LU of the banded Jacobian (LAPACK's dgbtrf on ``bands``, the layout of
        ``residual``); raises ``LinAlgError`` where it is exactly singular. The factors live in
        one buffer of the system, reused by the next call: use them before factoring again
        (a fresh 2-3 MB array a call cost more in page faults than the factorisation)."""
        width = self.width
        if self._packed is None or self._packed.shape[1] != bands.shape[1]:
            self._packed = np.zeros((3 * width + 1, bands.shape[1]), order="F")
        packed = self._packed
        packed[:width] = 0.0
        packed[width:] = bands
        factors, pivots, info = lapack.dgbtrf(packed, width, width, overwrite_ab=1)
        if info != 0:
            raise np.linalg.LinAlgError("singular Jacobian")
        return factors, pivots

    def smallest_singular(
        self, lu: tuple[np.ndarray, np.ndarray], start: np.ndarray, iterations: int
    ) -> tuple[float, np.ndarray]:
        """(estimate of J's smallest singular value, its right singular vector): inverse
        iteration on J^T J from ``start``, one pair of triangular solves per iteration. The
        estimate is an upper bound, tight where that value is isolated (a free front: 1e-19
        against 1e-7 and more for the next); 0 where J^-1 overflows."""
        width, (factors, pivots) = self.width, lu
        vector = start / float(np.linalg.norm(start))
        growth = 1.0
        for _ in range(iterations):
            transposed, _info = lapack.dgbtrs(factors, width, width, vector, pivots, trans=1)
            image, _info = lapack.dgbtrs(factors, width, width, transposed, pivots)
            growth = float(np.linalg.norm(image))
            if not np.isfinite(growth) or growth == 0.0:
                return 0.0, vector
            vector = image / growth
        return growth**-0.5, vector

    def _step(self, bands: np.ndarray, residual: np.ndarray, tol: float) -> np.ndarray:
        """The Newton step J d = -r, less its part along a direction J cannot see.

        In a pinch the position of a front is free: J has a singular value far below rounding
        (``pinch.profile_freedom``), and the plain step moves along its singular vector by
        rounding noise over that value, 1e14 and more, so capped steps wander instead of
        converging. A step that amplifies the residual more than ``AMPLIFICATION``-fold is
        checked: two pairs of inverse iterations on J^T J from the step itself (which points
        that way) give the smallest singular value s and its vector v; if s is below ``tol``
        (a unit move along v changes the equations by less than the tolerance), the step's part
        along v is dropped: the minimum-norm (pseudo-inverse) step, which converges to one point
        of the set of solutions as fast as Newton converges where J is regular."""
        width = self.width
        lu = self.factor(bands)
        rhs = -residual.T.ravel()
        step, _info = lapack.dgbtrs(lu[0], width, width, rhs, lu[1])
        if not float(np.linalg.norm(step)) > AMPLIFICATION * float(np.linalg.norm(rhs)):
            return np.asarray(step)
        smallest, vector = self.smallest_singular(lu, step, 2)
        if 0.0 < smallest < tol:
            step = step - vector * float(vector @ step)
        return np.asarray(step)

    def residual_with_derivative(
        self, log_betas: np.ndarray, scale: float, log_x: np.ndarray, log_sigma: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Residual, Jacobian bands and d residual / d t for factors beta**t (``scale`` = t)."""
        flows = self._flows(scale * log_betas, log_x, log_sigma)
        residual, bands = self._assemble(flows, log_x, True)
        assert bands is not None
        organic, from_below, _, inflow, outflow = flows
        derivative = -np.exp(organic - outflow) * log_betas
        derivative[:, 1:] += np.exp(from_below - inflow)[:, 1:] * log_betas[:, :-1]
        return residual, bands, np.vstack([derivative, np.zeros((1, self.total))])

    def _flat(self, log_x: np.ndarray, log_sigma: np.ndarray) -> np.ndarray:
        return np.vstack([log_x, log_sigma[None, :]]).T.ravel()

    def _split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stacked = z.reshape(self.total, self.width).T
        return stacked[: self.count].copy(), stacked[self.count].copy()

    def arclength(
        self,
        log_betas: np.ndarray,
        feed: np.ndarray,
        tol: float,
        max_steps: int = 2000,
        on_step: Callable[[float], None] | None = None,
    ) -> tuple[np.ndarray, int, float, bool, str]:
        """Pseudo-arclength continuation from beta**0 (x = feed, sigma = 1) to beta**1.

        Follows the solution curve in (ln x, ln sigma, t) with a bordered Newton corrector, so
        turning points in t (folds, where the plain continuation in t stalls) are passed.
        ``on_step(t)`` hears of every accepted step (t may step back at a fold).
        Returns (ln sigma, iterations, residual, converged, message).
        """
        width = self.width
        z = self._flat(np.repeat(np.log(feed)[:, None], self.total, axis=1), np.zeros(self.total))
        weight = 1.0 / np.sqrt(z.size)
        t, step, iterations, norm = 0.0, 0.5, 0, np.inf

        def solve_for(bands: np.ndarray, rhs: np.ndarray) -> np.ndarray:
            return np.asarray(solve_banded((width, width), bands, rhs, check_finite=False))

        def evaluate(z: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            log_x, log_sigma = self._split(z)
            residual, bands, derivative = self.residual_with_derivative(
                log_betas, t, log_x, log_sigma
            )
            return residual.T.ravel(), bands, derivative.T.ravel()

        def tangent(
            bands: np.ndarray, derivative: np.ndarray, previous: tuple[np.ndarray, float] | None
        ) -> tuple[np.ndarray, float]:
            dz, dt = solve_for(bands, -derivative) * weight, 1.0
            length = float(np.sqrt(dz @ dz + dt * dt))
            dz, dt = dz / length, dt / length
            if previous is not None and dz @ previous[0] + dt * previous[1] < 0:
                dz, dt = -dz, -dt
            return dz, dt

        with np.errstate(all="ignore"):
            try:
                _, bands, derivative = evaluate(z, t)
                direction = tangent(bands, derivative, None)
            except (np.linalg.LinAlgError, ValueError):
                return np.zeros(self.total), 0, norm, False, "no tangent at the start"
            for _ in range(max_steps):
                dz, dt = direction
                z_guess, t_guess = z + step * dz / weight, t + step * dt
                if t_guess > 1.0:
                    fraction = (1.0 - t) / (t_guess - t)
                    log_x, log_sigma = self._split(z + fraction * (z_guess - z))
                    log_x, log_sigma, used, norm, ok = self.newton(
                        log_betas, log_x, log_sigma, tol, 30
                    )
                    iterations += used
                    if ok:
                        if on_step is not None:
                            on_step(1.0)
                        return log_sigma, iterations, norm, True, "arclength reached t = 1"
                    step /= 2.0
                    continue
                z_new, t_new, ok, used = z_guess, t_guess, False, 0
                while used < 12:
                    used += 1
                    try:
                        residual, bands, derivative = evaluate(z_new, t_new)
                        along = dz @ ((z_new - z) * weight) + dt * (t_new - t) - step
                        norm = max(float(np.max(np.abs(residual))), abs(along))
                        if not np.isfinite(norm):
                            break
                        if norm < 1e-9:
                            ok = True
                            break
                        both = solve_for(bands, np.column_stack([-residual, derivative]))
                        u, v = both[:, 0], both[:, 1]
                    except (np.linalg.LinAlgError, ValueError):
                        break
                    change_t = (-along - dz @ (u * weight)) / (dt - dz @ (v * weight))
                    change_z = u - v * change_t
                    largest = float(np.max(np.abs(change_z)))
                    if not np.isfinite(largest):
                        break
                    if largest > 3.0:
                        change_z, change_t = change_z * 3.0 / largest, change_t * 3.0 / largest
                    z_new, t_new = z_new + change_z, t_new + change_t
                iterations += used
                if ok:
                    z, t = z_new, t_new
                    if on_step is not None:
                        on_step(t)
                    direction = tangent(bands, derivative, direction)  # Jacobian at (z, t)
                    if used <= 4:
                        step *= 3.0
                else:
                    step /= 2.0
                    if step < 1e-8:
                        return self._split(z)[1], iterations, norm, False, f"stalled at t = {t:.5f}"
        return self._split(z)[1], iterations, norm, False, "step limit reached"
