"""The stacked stage equations the benchmark hands to IPOPT and scipy: the same model as the
cascade solver's (its answer satisfies them) with exact derivatives (finite differences)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

from rareflow.process.cascade import Cascade, solve


def _baselines() -> ModuleType:
    path = Path(__file__).parent.parent / "benchmarks" / "cascade_baselines.py"
    spec = importlib.util.spec_from_file_location("cascade_baselines", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _ternary() -> Cascade:
    return Cascade(("La", "Ce", "Pr"), np.array([1.0, 1.8, 3.2]), np.array([0.3, 0.5, 0.2]),
                   5, 4, 1.4, 1.4 - 0.55)  # fmt: skip


def test_the_solvers_answer_satisfies_the_stacked_equations() -> None:
    cascade = _ternary()
    solution = solve(cascade)
    system = _baselines().StackedEquations(cascade)
    z = np.concatenate([solution.aqueous.ravel(), solution.organic.ravel()])
    assert np.max(np.abs(system.residual(z))) < 1e-11
    assert np.max(np.abs(system.residual(system.start))) > 1e-3  # the start is not the answer


def test_jacobian_and_hessian_match_finite_differences() -> None:
    system = _baselines().StackedEquations(_ternary())
    rng = np.random.default_rng(3)
    z = system.start + 0.05 * rng.random(system.start.size)
    step = 1e-6
    unit = np.eye(z.size)
    differences = np.stack(
        [
            (system.residual(z + step * e) - system.residual(z - step * e)) / (2 * step)
            for e in unit
        ],
        axis=1,
    )
    assert np.max(np.abs(system.jacobian(z).toarray() - differences)) < 1e-7
    # Hessian of multipliers . constraints: the derivative of J(z)^T lambda
    multipliers = rng.random(z.size)
    lower = np.zeros((z.size, z.size))
    np.add.at(lower, (system.hessian_rows, system.hessian_columns),
              system.hessian_values(multipliers))  # fmt: skip
    hessian = lower + lower.T - np.diag(np.diag(lower))
    gradient = lambda point: system.jacobian(point).T @ multipliers  # noqa: E731
    numeric = np.stack(
        [(gradient(z + step * e) - gradient(z - step * e)) / (2 * step) for e in unit], axis=1
    )
    assert np.max(np.abs(hessian - numeric)) < 1e-7
    assert np.all(system.hessian_rows >= system.hessian_columns)  # IPOPT takes the lower triangle
