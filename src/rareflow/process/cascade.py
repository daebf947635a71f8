"""Multi-component steady state of a counter-current fractional-extraction cascade.

Model: constant separation factors with saturated organic (constant mixed extraction ratio).
Every stage k has fixed RE flows (organic out O_k, aqueous out A_k, per unit feed), and a
component's mole fraction in the organic leaving a stage is y_ik = beta_ik x_ik / sigma_k with
sigma_k = sum_j beta_jk x_jk. Given the N stage scalars sigma_k, each component's stage balances
form one tridiagonal linear system, solved exactly (all components stacked into one banded
solve). The N conditions sum_i x_ik = 1 are then solved, cold, from a start given by the theta
method of convergence (``rareflow.process.theta``) finished by Newton on a log formulation; by
Newton's method on ln sigma with the exact Jacobian (itself one banded solve with N right-hand
sides) from a warm start or where the theta start fails; pseudo-arclength continuation
in the separation factors (beta**t, t: 0 -> 1, passing folds) handles hard cases, and a
time-marching "dynamic simulation" of the cascade (equilibrate every stage, move the phases,
repeat) is the last resort. Whatever the
method, every component balance closes to rounding because the inner solves are exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from rareflow.process.kernels import LogSystem
from rareflow.process.stage_scalars import StageScalarSystem, dynamic_simulation
from rareflow.process.theory import FeedPhase, SpecError
from rareflow.process.theta import solve_from_theta

if TYPE_CHECKING:
    from rareflow.process.pinch import ProfileFreedom

Method = Literal["newton", "theta", "continuation", "dynamic"]


@dataclass(frozen=True)
class Cascade:
    """A cascade to solve: components, separation factors, feed, stages and flows.

    ``beta`` are separation factors relative to any reference (only ratios matter) in the
    extraction section; ``beta_scrub`` those of the scrubbing section (default: the same).
    Flows are per unit of feed RE flow: ``extractant`` = S, ``scrub`` = W as in Xu's notation.
    """

    components: tuple[str, ...]
    beta: np.ndarray
    feed: np.ndarray
    n: int
    m: int
    extractant: float
    scrub: float
    feed_phase: FeedPhase = "aqueous"
    beta_scrub: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.components)
        beta = np.asarray(self.beta, dtype=float)
        feed = np.asarray(self.feed, dtype=float)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "feed", feed)
        object.__setattr__(self, "extractant", float(self.extractant))
        object.__setattr__(self, "scrub", float(self.scrub))
        if self.beta_scrub is not None:
            object.__setattr__(self, "beta_scrub", np.asarray(self.beta_scrub, dtype=float))
        if count < 2 or beta.shape != (count,) or feed.shape != (count,):
            raise SpecError("need at least two components, one beta and one feed fraction each")
        for name, values in (("beta", beta), ("beta_scrub", self.beta_scrub)):
            if values is not None and (values.shape != (count,) or not np.all(values > 0)):
                raise SpecError(f"{name} must be {count} positive numbers")
        if np.any(feed < 0) or abs(feed.sum() - 1.0) > 1e-9:
            raise SpecError(
                f"feed fractions must be >= 0 and sum to 1 (they sum to {feed.sum():.12g})"
            )
        if self.n < 1 or self.m < 0 or (self.feed_phase == "organic" and self.m < 1):
            raise SpecError(
                f"stages n = {self.n}, m = {self.m}: need n >= 1 and m >= 0 "
                "(m >= 1 for an organic feed)"
            )
        if self.m == 0 and self.scrub != 0:
            raise SpecError(
                f"with no scrubbing stages the scrub flow must be 0, not {self.scrub:g}"
            )
        raffinate, product = self.outlet_flows
        if self.extractant <= 0 or self.scrub < 0 or raffinate <= 0 or product <= 0:
            raise SpecError(
                f"flows S = {self.extractant:g}, W = {self.scrub:g} give raffinate "
                f"{raffinate:g} and organic product {product:g}; all must be positive"
            )

    @property
    def stages(self) -> int:
        return self.n + self.m

    @property
    def feed_stage(self) -> int:
        """0-based index of the stage the feed enters."""
        return self.n - 1 if self.feed_phase == "aqueous" else self.n

    @property
    def outlet_flows(self) -> tuple[float, float]:
        """(raffinate f'_B, organic product f'_A) RE flows per unit feed."""
        if self.feed_phase == "aqueous":
            return self.scrub + 1.0 - self.extractant, self.extractant - self.scrub
        return self.scrub - self.extractant, self.extractant + 1.0 - self.scrub

    def stage_flows(self) -> tuple[np.ndarray, np.ndarray]:
        """RE flows leaving each stage: organic O_k and aqueous A_k (k = 1..N)."""
        n, total = self.n, self.stages
        raffinate, product = self.outlet_flows
        organic = np.full(total, self.extractant, dtype=float)
        aqueous = np.full(total, self.scrub, dtype=float)
        if self.feed_phase == "aqueous":
            aqueous[:n] = self.scrub + 1.0
        else:
            organic[n:] = self.extractant + 1.0
        aqueous[0] = raffinate
        organic[-1] = product
        return organic, aqueous

    def stage_betas(self) -> np.ndarray:
        """Separation factors by component and stage, shape (C, N)."""
        scrub = self.beta if self.beta_scrub is None else self.beta_scrub
        betas = np.empty((len(self.components), self.stages))
        betas[:, : self.n] = self.beta[:, None]
        betas[:, self.n :] = scrub[:, None]
        return betas


@dataclass
class SolverReport:
    """How the steady state was found."""

    method: Method
    iterations: int
    residual: float
    history: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """What the result means for the design (e.g. S below S_min: a pinched cascade)."""
    freedom: ProfileFreedom | None = None
    """How far the stage equations pin the profile down (``pinch.profile_freedom``)."""


def solve(
    cascade: Cascade,
    tol: float = 1e-12,
    max_cycles: int = 100_000,
    method: str = "auto",
    start: CascadeSolution | None = None,
    on_step: Callable[[float], None] | None = None,
    diagnose: bool = True,
) -> CascadeSolution:
    """Steady state of the cascade: the theta start, Newton, continuation, dynamic simulation.

    ``method`` forces one path ("theta", "newton", "continuation", "dynamic"); "auto" tries
    them in that order. ``start`` warm-starts Newton, tried first, from a solution of a similar
    cascade (its stage scalars resampled onto this cascade's sections). ``on_step(t)`` hears of
    the continuation's progress (t from 0 to 1), for long cascades. ``diagnose`` checks
    whether a pinch leaves the profile undetermined (a few ms at 17 x 300; searches that
    solve many trial cascades turn it off). Raises ``SpecError`` if none converges.
    """
    if method not in ("auto", "newton", "theta", "continuation", "dynamic"):
        raise SpecError(
            f"unknown method {method!r}; expected auto, newton, theta, continuation or dynamic"
        )
    active = cascade.feed > 0
    organic, aqueous = cascade.stage_flows()
    betas = cascade.stage_betas()[active]
    feed = np.zeros((int(active.sum()), cascade.stages))
    feed[:, cascade.feed_stage] = cascade.feed[active]
    scalar = StageScalarSystem(organic, aqueous, betas, feed)
    history: list[str] = []
    iterations, norm, ok = 0, np.inf, False
    log_sigma = np.log(betas.T @ cascade.feed[active])
    used: Method = "newton"
    system: LogSystem | None = None  # the log formulation, built once where a path needs it
    log_x: np.ndarray | None = None  # its compositions at log_sigma, where a path gives them
    if start is not None and method in ("auto", "newton"):
        warm = resample_stage_scalars(start, cascade)
        log_sigma_warm, iterations, norm, ok = scalar.newton(warm, tol, 30)
        history.append(f"newton from a warm start: {'converged' if ok else 'failed'}")
        if ok:
            log_sigma = log_sigma_warm
    if not ok and method in ("auto", "theta"):
        system = LogSystem(organic, aqueous, feed)
        found = solve_from_theta(scalar, system, cascade.feed[active], log_sigma)
        log_sigma_theta, log_x_theta, more, norm, ok, message = found
        iterations += more
        history.append(message)
        if ok:
            log_sigma, used, log_x = log_sigma_theta, "theta", log_x_theta
    if not ok and method in ("auto", "newton"):
        log_sigma, more, norm, ok = scalar.newton(log_sigma, tol, 30)
        iterations += more
        history.append(f"newton on the stage scalars: {'converged' if ok else 'failed'}")
    if not ok and method in ("auto", "continuation"):
        used = "continuation"
        system = system or LogSystem(organic, aqueous, feed)
        log_sigma, more, norm, ok, message = system.arclength(
            np.log(betas), cascade.feed[active], 1e-11, on_step=on_step
        )
        iterations += more
        history.append(f"continuation in the separation factors: {message} ({more} iterations)")
    if not ok and method in ("auto", "dynamic"):
        used = "dynamic"
        log_sigma = dynamic_simulation(organic, aqueous, betas, feed, max_cycles, history)
        ok = True
    if not ok:
        raise SpecError(f"cascade did not converge (residual {norm:.3g}); " + "; ".join(history))
    polished, more, norm, converged = scalar.newton(log_sigma, tol, 20, patience=2)
    iterations += more
    if converged:
        if polished is not log_sigma:  # moved: the log path's compositions no longer match
            log_x = None
        log_sigma = polished
    else:
        norm = float(np.max(np.abs(scalar.fractions(log_sigma).sum(axis=0) - 1.0)))
        history.append(f"final Newton polish did not reach {tol:g}; residual {norm:.2g}")
        if norm > 1e-8:
            raise SpecError(
                f"cascade did not converge (residual {norm:.3g}); " + "; ".join(history)
            )
    x = np.zeros((cascade.feed.size, cascade.stages))
    x[active] = scalar.fractions(log_sigma)
    from rareflow.process.pinch import free_profile_warning, pinch_warning, profile_freedom

    warnings = [pinch_warning(cascade)]  # pinch reads Cascade, defined here
    freedom = None
    if diagnose:
        system = system or LogSystem(organic, aqueous, feed)
        freedom = profile_freedom(scalar, system, np.log(betas), log_sigma, log_x=log_x)
        names = [c for c, on in zip(cascade.components, active, strict=True) if on]
        warnings.append(free_profile_warning(freedom, names))
    report = SolverReport(used, iterations, norm, history, [w for w in warnings if w], freedom)
    return CascadeSolution.build(cascade, x, np.exp(log_sigma), report)


def resample_stage_scalars(solution: CascadeSolution, cascade: Cascade) -> np.ndarray:
    """ln sigma of ``solution`` mapped onto ``cascade`` by relative position in each section."""
    old, new = solution.cascade, cascade
    old_positions = np.r_[
        (np.arange(old.n) + 0.5) / old.n, 1 + (np.arange(old.m) + 0.5) / max(old.m, 1)
    ]
    new_positions = np.r_[
        (np.arange(new.n) + 0.5) / new.n, 1 + (np.arange(new.m) + 0.5) / max(new.m, 1)
    ]
    return np.asarray(np.interp(new_positions, old_positions[: old.stages], np.log(solution.sigma)))


@dataclass
class CascadeSolution:
    """Stage compositions, products, recoveries and the mass-balance closure of a cascade."""

    cascade: Cascade
    aqueous: np.ndarray
    organic: np.ndarray
    report: SolverReport
    closure: np.ndarray
    sigma: np.ndarray

    @classmethod
    def build(
        cls, cascade: Cascade, x: np.ndarray, sigma: np.ndarray, report: SolverReport
    ) -> CascadeSolution:
        y = cascade.stage_betas() * x / sigma
        raffinate, product = cascade.outlet_flows
        out = raffinate * x[:, 0] + product * y[:, -1]
        scale = np.maximum(cascade.feed, 1e-300)
        closure = np.where(cascade.feed > 0, np.abs(out - cascade.feed) / scale, np.abs(out))
        return cls(cascade, x, y, report, closure, sigma)

    @property
    def raffinate(self) -> np.ndarray:
        """Composition (mole fractions) of the raffinate (aqueous leaving stage 1)."""
        return self.aqueous[:, 0]

    @property
    def organic_product(self) -> np.ndarray:
        """Composition of the loaded organic leaving the last stage."""
        return self.organic[:, -1]

    @property
    def recovery_organic(self) -> np.ndarray:
        product = self.cascade.outlet_flows[1]
        return _safe_ratio(product * self.organic_product, self.cascade.feed)

    @property
    def recovery_raffinate(self) -> np.ndarray:
        raffinate = self.cascade.outlet_flows[0]
        return _safe_ratio(raffinate * self.raffinate, self.cascade.feed)

    def summary(self) -> pd.DataFrame:
        """Per component: feed, both product compositions and recoveries, balance closure."""
        return pd.DataFrame(
            {
                "component": self.cascade.components,
                "feed": self.cascade.feed,
                "raffinate": self.raffinate,
                "organic_product": self.organic_product,
                "recovery_raffinate": self.recovery_raffinate,
                "recovery_organic": self.recovery_organic,
                "closure": self.closure,
            }
        )

    def profiles(self) -> pd.DataFrame:
        """Tidy stage profiles: stage, section, phase, component, mole fraction."""
        stages = np.arange(1, self.cascade.stages + 1)
        section = np.where(stages <= self.cascade.n, "extraction", "scrubbing")
        frames = []
        for phase, values in (("aqueous", self.aqueous), ("organic", self.organic)):
            for index, component in enumerate(self.cascade.components):
                frames.append(
                    pd.DataFrame(
                        {
                            "stage": stages,
                            "section": section,
                            "phase": phase,
                            "component": component,
                            "fraction": values[index],
                        }
                    )
                )
        return pd.concat(frames, ignore_index=True)

    def to_dict(self, profiles: bool = True) -> dict[str, Any]:
        """The stable JSON shape of ``rareflow cascade simulate --json`` (docs/process.md)."""
        raffinate, product = self.cascade.outlet_flows
        payload: dict[str, Any] = {
            "components": list(self.cascade.components),
            "n": self.cascade.n,
            "m": self.cascade.m,
            "S": self.cascade.extractant,
            "W": self.cascade.scrub,
            "feed_phase": self.cascade.feed_phase,
            "raffinate_flow": raffinate,
            "organic_product_flow": product,
            "products": self.summary().to_dict(orient="records"),
            "max_closure": float(self.closure.max()),
            "solver": {
                "method": self.report.method,
                "iterations": self.report.iterations,
                "residual": self.report.residual,
                "history": self.report.history,
                "profile_sensitivity": (
                    None if self.report.freedom is None else self.report.freedom.sensitivity
                ),
            },
            "warnings": self.report.warnings,
        }
        if profiles:
            payload["profiles"] = {
                "aqueous": {
                    c: self.aqueous[i].tolist() for i, c in enumerate(self.cascade.components)
                },
                "organic": {
                    c: self.organic[i].tolist() for i, c in enumerate(self.cascade.components)
                },
            }
        return payload


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    result = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=result, where=denominator > 0)
    return result
