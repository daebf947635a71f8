"""General-purpose solvers on a cascade's stacked stage equations, as baselines for rareflow's.

Unknowns z = (x, y): the aqueous and organic fractions x_ik, y_ik of every component i at every
stage k (2 C N of them). Equations, C N of each:

* balance:     F_ik - O_k y_ik - A_k x_ik + O_(k-1) y_i(k-1) + A_(k+1) x_i(k+1) = 0
* equilibrium: y_ik sum_j beta_jk x_jk - beta_ik x_ik = 0

with exact sparse first derivatives (and, for IPOPT, the exact Hessian of the constraints: the
equilibrium rows are bilinear). Two baselines, both from the feed composition at every stage:

* ``scipy_least_squares``: scipy.optimize.least_squares (trust-region reflective, LSMR on the
  sparse Jacobian, z >= 0), scipy's method for large sparse systems;
* ``ipopt_feasibility``: IPOPT (cyipopt; Debian's coinor-libipopt with MUMPS), the
  equation-oriented way, as PrOMMiS/IDAES solve their cascades: the equations as constraints,
  no objective, 0 <= z <= 1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from rareflow.process.cascade import Cascade


@dataclass
class Outcome:
    seconds: float
    residual: float
    """Largest absolute equation residual at the answer."""
    status: str


class StackedEquations:
    """The stacked balances and equilibria of one cascade, with their sparse derivatives."""

    def __init__(self, cascade: Cascade) -> None:
        self.organic, self.aqueous = (np.asarray(a, dtype=float) for a in cascade.stage_flows())
        self.betas = cascade.stage_betas()
        self.count, self.total = self.betas.shape
        self.size = self.count * self.total
        self.feed = np.zeros((self.count, self.total))
        self.feed[:, cascade.feed_stage] = cascade.feed
        self.start = np.concatenate([np.repeat(cascade.feed, self.total)] * 2)
        index = np.arange(self.size).reshape(self.count, self.total)
        self._x, self._y = index, index + self.size
        rows, columns = self._structure()
        self.rows, self.columns = rows, columns
        # Hessian of the equilibrium rows: d2/dy_ik dx_jk = beta_jk (y after x: lower triangle)
        i, j, k = np.meshgrid(
            np.arange(self.count), np.arange(self.count), np.arange(self.total), indexing="ij"
        )
        self.hessian_rows = self._y[i, k].ravel()
        self.hessian_columns = self._x[j, k].ravel()
        self._hessian_row_of = (i * self.total + k).ravel()  # the equilibrium row i, k
        self._hessian_beta = self.betas[j, k].ravel()

    def split(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = z[: self.size].reshape(self.count, self.total)
        return x, z[self.size :].reshape(self.count, self.total)

    def residual(self, z: np.ndarray) -> np.ndarray:
        x, y = self.split(z)
        balance = self.feed - self.organic * y - self.aqueous * x
        balance[:, 1:] += (self.organic * y)[:, :-1]
        balance[:, :-1] += (self.aqueous * x)[:, 1:]
        equilibrium = y * (self.betas * x).sum(axis=0) - self.betas * x
        return np.concatenate([balance.ravel(), equilibrium.ravel()])

    def _structure(self) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of the Jacobian's entries, in the order ``jacobian_values`` gives."""
        c, n, size = self.count, self.total, self.size
        row = np.arange(size).reshape(c, n)
        parts = [
            (row, self._x),  # -A_k x_ik
            (row, self._y),  # -O_k y_ik
            (row[:, 1:], self._y[:, :-1]),  # +O_(k-1) y_i(k-1)
            (row[:, :-1], self._x[:, 1:]),  # +A_(k+1) x_i(k+1)
        ]
        eq = size + row
        i, j, k = np.meshgrid(np.arange(c), np.arange(c), np.arange(n), indexing="ij")
        parts.append((eq, self._y))  # sigma_k
        parts.append((eq[i, k], self._x[j, k]))  # y_ik beta_jk - delta_ij beta_ik
        self._pair = (i, j, k)
        rows = np.concatenate([p[0].ravel() for p in parts])
        columns = np.concatenate([p[1].ravel() for p in parts])
        return rows, columns

    def jacobian_values(self, z: np.ndarray) -> np.ndarray:
        x, y = self.split(z)
        organic = np.broadcast_to(self.organic, x.shape)
        aqueous = np.broadcast_to(self.aqueous, x.shape)
        sigma = (self.betas * x).sum(axis=0)
        i, j, k = self._pair
        cross = y[i, k] * self.betas[j, k] - (i == j) * self.betas[i, k]
        return np.concatenate(
            [
                -aqueous.ravel(),
                -organic.ravel(),
                organic[:, :-1].ravel(),
                aqueous[:, 1:].ravel(),
                np.broadcast_to(sigma, x.shape).ravel(),
                cross.ravel(),
            ]
        )

    def jacobian(self, z: np.ndarray) -> sparse.csr_matrix:
        shape = (2 * self.size, 2 * self.size)
        return sparse.csr_matrix((self.jacobian_values(z), (self.rows, self.columns)), shape)

    def hessian_values(self, multipliers: np.ndarray) -> np.ndarray:
        return np.asarray(multipliers[self.size + self._hessian_row_of] * self._hessian_beta)


def scipy_least_squares(cascade: Cascade, max_seconds: float = 120.0) -> Outcome:
    """scipy's large sparse least squares on the stacked equations (stops by evaluations, so
    ``max_seconds`` is only checked between them)."""
    from scipy.optimize import least_squares

    system = StackedEquations(cascade)
    start = time.perf_counter()

    def residual(z: np.ndarray) -> np.ndarray:
        if time.perf_counter() - start > max_seconds:
            raise TimeoutError
        return system.residual(z)

    status = "converged"
    try:
        answer = least_squares(
            residual, system.start, jac=system.jacobian, bounds=(0.0, 1.0), method="trf",
            tr_solver="lsmr", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000,
        )  # fmt: skip
        z = answer.x
        status = "converged" if answer.status > 0 else f"stopped ({answer.message})"
    except TimeoutError:
        z, status = system.start, f"no answer within {max_seconds:.0f} s"
    seconds = time.perf_counter() - start
    return Outcome(seconds, float(np.max(np.abs(system.residual(z)))), status)


def ipopt_feasibility(cascade: Cascade, max_seconds: float = 120.0) -> Outcome | None:
    """IPOPT on the stacked equations (None where cyipopt is not installed)."""
    try:
        import cyipopt  # type: ignore[import-untyped]
    except ImportError:
        return None
    system = StackedEquations(cascade)
    unknowns = 2 * system.size

    class Problem:
        def objective(self, z: np.ndarray) -> float:
            return 0.0

        def gradient(self, z: np.ndarray) -> np.ndarray:
            return np.zeros(unknowns)

        def constraints(self, z: np.ndarray) -> np.ndarray:
            return system.residual(z)

        def jacobianstructure(self) -> tuple[np.ndarray, np.ndarray]:
            return system.rows, system.columns

        def jacobian(self, z: np.ndarray) -> np.ndarray:
            return system.jacobian_values(z)

        def hessianstructure(self) -> tuple[np.ndarray, np.ndarray]:
            return system.hessian_rows, system.hessian_columns

        def hessian(self, z: np.ndarray, multipliers: np.ndarray, factor: float) -> np.ndarray:
            return system.hessian_values(multipliers)

    problem = cyipopt.Problem(
        n=unknowns, m=unknowns, problem_obj=Problem(), lb=np.zeros(unknowns),
        ub=np.ones(unknowns), cl=np.zeros(unknowns), cu=np.zeros(unknowns),
    )  # fmt: skip
    for name, value in (("print_level", 0), ("sb", "yes"), ("tol", 1e-10),
                        ("constr_viol_tol", 1e-10), ("max_iter", 3000),
                        ("max_cpu_time", float(max_seconds))):  # fmt: skip
        problem.add_option(name, value)
    start = time.perf_counter()
    z, info = problem.solve(system.start)
    seconds = time.perf_counter() - start
    status = (
        info["status_msg"].decode()
        if isinstance(info["status_msg"], bytes)
        else str(info["status_msg"])
    )
    return Outcome(seconds, float(np.max(np.abs(system.residual(z)))), status)
