"""Speed of the cascade solver and the two-outlet design, with baselines timed in the same run.

1. scipy.optimize.root (hybr, finite-difference Jacobian) on the stacked stage equations
   (every x_ik and y_ik unknown: balances and equilibria) against rareflow's solver on the
   same small cascade, both from a cold start; ratio = scipy time / rareflow time.
2. rareflow on 17 components x 300 stages (P507 factor series of the dataset, a mid-series
   split at 1.2 x lumped S_min) from a cold start: median time of 7 solves (goal 50 ms),
   method, closure; and the same without the closing check of the profile (diagnose=False).
3. The two-outlet design (closed forms + exact stepping) of a Pr/Nd split.
4. With --robustness: 17 components x 500 stages (adjacent factor 2.0, S = 2) from a cold start.
5. The hard probes (cases that once failed), each its own row.
6. The mass-action example against one MINPACK solve of its equations.
7. With --baselines: the small and large cases and the hard probes through general-purpose
   solvers on the stacked stage equations (``cascade_baselines.py``): IPOPT where cyipopt is
   installed (the equation-oriented way) and scipy's large sparse least squares, each with a
   time budget, beside rareflow's time.
8. With --coverage N [--seed S]: N random cascades, each solved cold by the theta path alone and
   by Newton from the feed alone (how many each solves, and the time).
9. With --long N [--long-stages K] [--seed S]: N random 17-component cascades of K stages (500)
   solved cold as a user would (``solve``): the path each took, the median, 90th percentile and
   largest time, any failure.

    python benchmarks/bench_cascade.py [--quick] [--robustness] [--baselines [--budget S]]
        [--coverage N] [--long N [--long-stages K]] [--seed S]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import numpy as np
from cascade_baselines import StackedEquations
from scipy.optimize import root

from rareflow.dataset import load_dataset
from rareflow.process.cascade import Cascade, solve
from rareflow.process.design import SplitSpec
from rareflow.process.factors import factor_series
from rareflow.process.theory import BinarySpec, design_binary, minimum_flows, outlets


def timed(function: Callable[[], object], repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def small_case() -> Cascade:
    """5 components x 40 stages: the largest size at which scipy's root still converges here."""
    count, stages, step = 5, 40, 1.6
    feed = np.full(count, 1.0 / count)
    spec = BinarySpec(feed[count // 2 :].sum(), step, 0.99, 0.99)
    extractant = 1.5 * minimum_flows(spec)[0]
    scrub = extractant - outlets(spec).fraction_a
    betas = step ** np.arange(count)
    names = ("La", "Ce", "Pr", "Nd", "Sm")
    return Cascade(names, betas, feed, stages // 2, stages - stages // 2, extractant, scrub)


def large_case() -> Cascade:
    dataset = load_dataset()
    series = factor_series(dataset, "p507", "hcl")
    components = series.order[:17]
    rng = np.random.default_rng(7)
    feed = rng.random(len(components)) + 0.05
    feed /= feed.sum()
    cut = len(components) // 2
    spec = SplitSpec(components, series.betas(components), feed, cut, 0.999, 0.999)
    binary = spec.binary()
    extractant = 1.2 * minimum_flows(binary)[0]
    scrub = extractant - outlets(binary).fraction_a
    return Cascade(components, spec.betas, feed, 150, 150, extractant, scrub)


def hard_probes() -> list[tuple[str, Cascade]]:
    """Cases that once failed, each reported as its own row (cold starts)."""
    feed = np.random.default_rng(1).random(17)
    feed /= feed.sum()
    names = tuple(f"c{i}" for i in range(17))

    def seventeen(step: float, stages: int, extractant: float) -> Cascade:
        return Cascade(names, step ** np.arange(17), feed, stages, stages, extractant,
                       extractant - feed[8:].sum())  # fmt: skip

    spec = BinarySpec(0.5, 1.5, 0.99, 0.99)
    near = design_binary(spec, 1.01).flows.extractant
    binary = Cascade(("B", "A"), np.array([1.0, 1.5]), np.array([0.5, 0.5]), 200, 200, near,
                     near - outlets(spec).fraction_a)  # fmt: skip
    return [
        ("17 x 300, adjacent beta 1.6, S = 2.5", seventeen(1.6, 150, 2.5)),
        ("17 x 300, adjacent beta 2.0, S = 2", seventeen(2.0, 150, 2.0)),
        ("17 x 500, adjacent beta 1.6, S = 2.5", seventeen(1.6, 250, 2.5)),
        ("binary beta 1.5 at 1.01 x S_min, 200 + 200", binary),
    ]


def baseline_rows(cases: list[tuple[str, Cascade, float]], budget: float) -> None:
    """Each case (label, cascade, rareflow's cold-start seconds measured above) through IPOPT
    (where installed) and scipy, from the same cold start."""
    from cascade_baselines import ipopt_feasibility, scipy_least_squares

    print(f"general-purpose solvers on the stacked equations (budget {budget:.0f} s each):")
    for label, cascade, ours_time in cases:
        print(f"  {label}: rareflow {1000 * ours_time:.1f} ms")
        ipopt = ipopt_feasibility(cascade, budget)
        if ipopt is None:
            print("    IPOPT: not installed (pip install cyipopt; Debian: coinor-libipopt-dev)")
        else:
            print(f"    IPOPT: {1000 * ipopt.seconds:.1f} ms, residual {ipopt.residual:.1e}, "
                  f"{ipopt.status}")  # fmt: skip
        least = scipy_least_squares(cascade, budget)
        print(f"    scipy least_squares: {1000 * least.seconds:.1f} ms, "
              f"residual {least.residual:.1e}, {least.status}")  # fmt: skip


def mass_action_rows() -> None:
    """The mass-action example (Pr/Nd, 15 + 15 + 6 stages) by continuation, against one
    MINPACK hybr solve of the same equations from the same dilute start (the baseline)."""
    from pathlib import Path

    from rareflow.process.massaction_files import load_mass_action
    from rareflow.process.massaction_solver import solve_mass_action
    from rareflow.process.topology import Point, dilute_start, stage_residual

    example = Path(__file__).resolve().parents[1] / "examples" / "prnd_mass_action.yaml"
    cascade, _ = load_mass_action(example, load_dataset())
    ours_time, ours = timed(lambda: solve_mass_action(cascade), 3)
    top = cascade.topology()
    target = Point(1.0, 1.0, 1.0)
    residual = stage_residual(top, target)

    def direct() -> float:
        with np.errstate(all="ignore"):
            answer = root(residual, dilute_start(top, target), method="hybr")
            return float(np.max(np.abs(residual(answer.x))))

    direct_time, direct_norm = timed(direct, 3)
    print(f"mass action, {cascade.stages} stages x {len(cascade.components)} elements:")
    print(f"  continuation: {1000 * ours_time:9.1f} ms  solves={ours.solves}  "  # type: ignore[union-attr]
          f"residual={ours.residual:.1e}")  # type: ignore[union-attr]  # fmt: skip
    print(f"  one hybr solve from the dilute start: {1000 * direct_time:9.1f} ms  "
          f"residual={direct_norm:.1e}")  # fmt: skip
    saponified = dataclasses.replace(cascade, saponification=0.6)
    sap_time, sap = timed(lambda: solve_mass_action(saponified), 1)
    print(f"  saponified 60 % (past the salt's equivalence: arclength): {1000 * sap_time:9.1f} ms"
          f"  solves={sap.solves}  residual={sap.residual:.1e}")  # type: ignore[union-attr]  # fmt: skip


def long_rows(count: int, seed: int, stages: int) -> None:
    """Random 17-component cascades of ``stages`` stages (adjacent factor 1.2-3, S 1-4, organic
    product 0.2-0.8), each solved cold by ``solve`` as a user would: the path taken, the
    median, 90th percentile and largest time, any failure."""
    from rareflow.process.theory import SpecError

    rng = np.random.default_rng(seed)
    methods: dict[str, list[float]] = {}
    for _ in range(count):
        step, extractant = rng.uniform(1.2, 3.0), 1.0 + 3 * rng.random()
        feed = rng.random(17) + 0.05
        feed /= feed.sum()
        cascade = Cascade(tuple(map(str, range(17))), step ** np.arange(17), feed, stages // 2,
                          stages - stages // 2, extractant,
                          extractant - rng.uniform(0.2, 0.8))  # fmt: skip
        start = time.perf_counter()
        try:
            method: str = solve(cascade).report.method
        except SpecError:
            method = "failed"
        methods.setdefault(method, []).append(time.perf_counter() - start)
    for method, times in sorted(methods.items()):
        print(f"  {method}: {len(times)} of {count}, median {1000 * statistics.median(times):.0f} "
              f"ms, 90th percentile {1000 * float(np.percentile(times, 90)):.0f} ms, "
              f"max {1000 * max(times):.0f} ms")  # fmt: skip


def coverage_rows(count: int, seed: int) -> None:
    """Random cascades (2-17 components, adjacent factor 1.2-3, 4-300 stages, S 1-4, organic
    product 0.2-0.8, aqueous feed), each solved cold by the theta path alone and by Newton from
    the feed average alone: how many each solves, and the time for all."""
    from rareflow.process.theory import SpecError

    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        size, step = int(rng.integers(2, 18)), rng.uniform(1.2, 3.0)
        stages = int(rng.integers(4, 300))
        feed = rng.random(size) + 0.05
        feed /= feed.sum()
        extractant, product = 1.0 + 3 * rng.random(), rng.uniform(0.2, 0.8)
        n = max(1, stages // 2)
        cases.append(Cascade(tuple(map(str, range(size))), step ** np.arange(size), feed, n,
                             stages - n + 1, extractant, extractant - product))  # fmt: skip
    solved: dict[str, np.ndarray] = {}
    for method in ("theta", "newton"):
        start, ok = time.perf_counter(), []
        for cascade in cases:
            try:
                solve(cascade, method=method)
                ok.append(True)
            except SpecError:
                ok.append(False)
        solved[method] = np.array(ok)
        took = time.perf_counter() - start
        print(f"  {method}: {solved[method].sum()} of {count} in {took:.1f} s")
    only = int((solved["newton"] & ~solved["theta"]).sum())
    neither = int((~solved["newton"] & ~solved["theta"]).sum())
    print(f"  solved by Newton but not theta: {only}; by neither (continuation's): {neither}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--robustness", action="store_true", help="also solve 17 x 500")
    parser.add_argument("--baselines", action="store_true", help="also IPOPT and scipy (slow)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per baseline solve")
    parser.add_argument(
        "--coverage", type=int, default=0, metavar="N", help="also N random cascades, cold"
    )
    parser.add_argument(
        "--long", type=int, default=0, metavar="N", help="also N random 17-component cascades"
    )
    parser.add_argument("--long-stages", type=int, default=500, help="their stages (500)")
    parser.add_argument("--seed", type=int, default=3, help="seed of the random cascades")
    arguments = parser.parse_args()
    repeat = 1 if arguments.quick else 3

    case = small_case()
    stacked = StackedEquations(case)
    residual, start = stacked.residual, stacked.start
    count, total = len(case.components), case.stages
    scipy_time, scipy_result = timed(
        lambda: root(residual, start, method="hybr", tol=1e-12), repeat
    )
    ours_time, ours = timed(lambda: solve(case), max(repeat, 5))
    ok = getattr(scipy_result, "success", False)
    print(f"small case {count} components x {total} stages ({2 * count * total} stacked unknowns)")
    print(f"  scipy.optimize.root (hybr, FD Jacobian): {1000 * scipy_time:9.1f} ms  success={ok}")
    print(
        f"  rareflow solve:                          {1000 * ours_time:9.1f} ms  "
        f"method={ours.report.method}"
    )  # type: ignore[union-attr]
    print(f"  ratio scipy / rareflow:                  {scipy_time / ours_time:9.1f}")

    big = large_case()
    big_time, big_solution = timed(lambda: solve(big), max(repeat, 7))  # each a cold start
    print(f"large case {len(big.components)} components x {big.stages} stages (cold start)")
    print(
        f"  rareflow solve: {1000 * big_time:9.1f} ms  method={big_solution.report.method}  "  # type: ignore[union-attr]
        f"iterations={big_solution.report.iterations}  "  # type: ignore[union-attr]
        f"closure={big_solution.closure.max():.1e}"
    )  # type: ignore[union-attr]
    bare_time, _ = timed(lambda: solve(big, diagnose=False), max(repeat, 7))
    print(f"  without the profile check (diagnose=False): {1000 * bare_time:9.1f} ms")

    spec = BinarySpec(0.67, 1.55, 0.999, 0.999)
    design_time, _ = timed(lambda: design_binary(spec, 1.2), 200)
    print(f"two-outlet design (Pr/Nd, 60 stages): {1000 * design_time:.3f} ms")

    print("hard probes (cold start):")
    measured = [("small case", case, ours_time), ("large case", big, big_time)]
    for label, probe in hard_probes():
        probe_time, probe_solution = timed(lambda probe=probe: solve(probe), 1)
        measured.append((label, probe, probe_time))
        report = probe_solution.report  # type: ignore[union-attr]
        print(f"  {label}: {1000 * probe_time:9.1f} ms  method={report.method}  "
              f"iterations={report.iterations}  "
              f"closure={probe_solution.closure.max():.1e}")  # type: ignore[union-attr]  # fmt: skip

    mass_action_rows()

    if arguments.baselines:
        baseline_rows(measured, arguments.budget)

    if arguments.coverage:
        print(f"coverage, {arguments.coverage} random cascades (seed {arguments.seed}), cold:")
        coverage_rows(arguments.coverage, arguments.seed)

    if arguments.long:
        size = f"17 x {arguments.long_stages}"
        print(f"{arguments.long} random {size} cascades (seed {arguments.seed}), cold:")
        long_rows(arguments.long, arguments.seed, arguments.long_stages)

    if arguments.robustness:
        feed = np.random.default_rng(1).random(17)
        feed /= feed.sum()
        hard = Cascade(tuple(f"c{i}" for i in range(17)), 2.0 ** np.arange(17), feed, 250, 250,
                       2.0, 2.0 - feed[8:].sum())  # fmt: skip
        hard_time, hard_solution = timed(lambda: solve(hard), 1)
        report = hard_solution.report  # type: ignore[union-attr]
        print(
            f"robustness 17 components x 500 stages: {hard_time:.1f} s, method={report.method}, "
            f"closure={hard_solution.closure.max():.1e}"
        )  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
