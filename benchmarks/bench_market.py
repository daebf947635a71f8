"""Speed of the world market clearing, with a baseline timed in the same run.

1. One year of the default world model: build (world + LP) once, then a cold HiGHS solve, and
   the full clearing (solve + prices + balance and ledger checks).
2. Re-solves as a Monte Carlo ensemble needs them: every mine's capacity drawn anew (0.7-1.3 x),
   N samples. rareflow changes the row bounds of the built model and warm-starts HiGHS; the
   baseline rebuilds the same LP with linopy for each sample and solves it with HiGHS through
   linopy. Ratio = linopy time / rareflow time; the objectives must agree to 1e-9 (relative).

    python benchmarks/bench_market.py [--samples N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from rareflow.dataset import load_dataset
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel


def linopy_objective(model: MarketModel, row_upper: np.ndarray) -> float:
    """Build the same LP with linopy (variables, constraints, objective) and solve it."""
    import linopy
    import xarray as xr

    matrix = model.matrix().tocsr()
    m = linopy.Model()
    count = matrix.shape[1]
    upper = np.asarray(model.upper, dtype=float)
    x = m.add_variables(
        lower=xr.DataArray(np.zeros(count), dims="col"),
        upper=xr.DataArray(upper, dims="col"),
        name="x",
    )
    lengths = np.diff(matrix.indptr)
    width = int(lengths.max())
    rows = matrix.shape[0]
    coefficients = np.zeros((rows, width))
    columns = np.full((rows, width), -1, dtype=int)
    for row in range(rows):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        coefficients[row, : end - start] = matrix.data[start:end]
        columns[row, : end - start] = matrix.indices[start:end]
    terms = xr.Dataset(
        {"coeffs": (("row", "_term"), coefficients), "vars": (("row", "_term"), columns)}
    )
    lhs = linopy.LinearExpression(terms, m)
    lower = np.asarray(model.row_lower, dtype=float)
    equal = lower == row_upper
    bounded = ~equal & np.isfinite(row_upper)
    balance_rhs = xr.DataArray(row_upper[equal], dims="row")
    limit_rhs = xr.DataArray(row_upper[bounded], dims="row")
    m.add_constraints(lhs.sel(row=np.flatnonzero(equal)) == balance_rhs, name="balance")
    m.add_constraints(lhs.sel(row=np.flatnonzero(bounded)) <= limit_rhs, name="limit")
    cost = xr.DataArray(np.asarray(model.cost, dtype=float), dims="col")
    m.add_objective((cost * x).sum(), sense="max")
    m.solve(solver_name="highs", output_flag=False)
    return float(m.objective.value)


def cold_solve(model: MarketModel) -> float:
    """Median of 7 cold HiGHS solves (the basis forgotten each time), seconds."""
    times = []
    for _ in range(7):
        model.highs.clearSolver()
        start = time.perf_counter()
        model.solve_once()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--periods", type=int, default=2, help="years in the rolling horizon")
    arguments = parser.parse_args()
    dataset = load_dataset()

    one_year = Clearing.from_dataset(dataset, periods=1).model
    print(
        f"one year alone: {len(one_year.program.cost)} columns x "
        f"{len(one_year.program.row_upper)} rows; cold HiGHS solve (median of 7) "
        f"{1000 * cold_solve(one_year):.1f} ms"
    )
    start = time.perf_counter()
    clearing = Clearing.from_dataset(dataset, periods=arguments.periods)
    build = time.perf_counter() - start
    model = clearing.model
    cold = cold_solve(model)
    fresh = Clearing.from_dataset(dataset, periods=arguments.periods)
    start = time.perf_counter()
    fresh.solve()
    full = time.perf_counter() - start
    print(
        f"one year with its horizon ({arguments.periods} periods): {len(model.program.cost)} "
        f"columns x {len(model.program.row_upper)} rows"
    )
    print(f"  build (world + LP):               {1000 * build:8.1f} ms")
    print(f"  cold HiGHS solve (median of 7):   {1000 * cold:8.1f} ms")
    print(f"  full clearing (solve + checks):   {1000 * full:8.1f} ms")

    rng = np.random.default_rng(2024)
    base = {m.id: m.capacity_t for m in clearing.world.mines if m.adjustable is None}
    ours, theirs, gaps = [], [], []
    for _ in range(arguments.samples):
        capacities = {k: v * rng.uniform(0.7, 1.3) for k, v in base.items()}
        start = time.perf_counter()
        for node, capacity in capacities.items():
            clearing.set_capacity(node, capacity)
        _, _, objective = model.solve_once()
        ours.append(time.perf_counter() - start)
        row_upper = np.asarray(model.current_row_upper, dtype=float)
        start = time.perf_counter()
        reference = linopy_objective(model, row_upper)
        theirs.append(time.perf_counter() - start)
        gaps.append(abs(objective - reference) / max(1.0, abs(reference)))
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"re-solves ({arguments.samples} samples, mine capacities 0.7-1.3 x):")
    print(f"  rareflow warm re-solve (median):  {1000 * statistics.median(ours):8.2f} ms")
    print(f"  linopy rebuild + solve (median):  {1000 * statistics.median(theirs):8.2f} ms")
    print(f"  ratio linopy / rareflow:          {ratio:8.1f}")
    print(f"  largest relative objective gap:   {max(gaps):8.1e}")


if __name__ == "__main__":
    main()
