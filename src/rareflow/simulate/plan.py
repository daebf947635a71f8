"""What one run of a scenario draws: project dates and cancellations, policy switches, demand
growth, candidate lead times.

Draws are common random numbers: each project, lever block and candidate has its own stream,
``SeedSequence([seed, run, key of its kind and id])``, and each random quantity is a fixed
transform of that stream's uniforms (inverse distribution functions). So run k of two scenario
variants draws the same delays for the projects they share, whatever else differs, and a
longer mean delay never shortens a project's delay in any run: differences between variants,
paired by run, are the variants' effect and not draw noise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from rareflow.scenario.schema import Candidate, Project, Scenario, Slippage

DRAWS = "common-random-numbers-1"
"""The way runs draw (stored with each ensemble): runs drawn another way are not paired with
these, and an ensemble is never resumed under another way."""
NO_SLIPPAGE = Slippage(mean_delay_years=0.0, cancel_probability=0.0)
NEWCOMER_RAMP_FACTOR = 1.5
"""Newcomers ramp 1.5x slower than incumbents (assumption anchored on the observed ramps of
Lynas Kalgoorlie, MP Independence and SRC Saskatoon; docs/simulate.md)."""
HEAVY_RAMP_FACTOR = 1.25
"""Heavy rare-earth separation ramps 1.25x slower (assumption, see docs/simulate.md)."""


def stream_key(kind: str, name: str) -> int:
    """A stable 64-bit number for one drawing entity (not Python's salted hash)."""
    digest = hashlib.sha256(f"{kind}\x1f{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def uniforms(seed: int, run: int, kind: str, name: str, count: int) -> np.ndarray:
    """The first ``count`` uniforms in [0, 1) of one entity's stream in one run; a prefix of
    the same stream whatever ``count`` is."""
    sequence = np.random.SeedSequence([seed, run, stream_key(kind, name)])
    return np.random.default_rng(sequence).random(count)


@dataclass(frozen=True)
class RunPlan:
    run: int
    seed: int
    project_start: dict[str, int | None]
    """First year of output of each project (None: cancelled)."""
    project_ramp: dict[str, float]
    lever_start: dict[str, int | None]
    """First year of each dated lever block (None: it does not happen in this run)."""
    growth_scale: float
    lead_draws: dict[str, list[float]]
    """Per candidate, a uniform draw in [0, 1) for the lead time of each unit that may be
    committed (mapped onto the candidate's range by :func:`lead_time_of`, so a range the plant
    model sets when the market is built is drawn from the same way)."""

    def parameters(self) -> dict[str, float | int | None]:
        """The drawn values as a flat record (for the results store)."""
        flat: dict[str, float | int | None] = {"growth_scale": self.growth_scale}
        flat.update({f"start:{k}": v for k, v in self.project_start.items()})
        flat.update({f"lever:{k}": v for k, v in self.lever_start.items()})
        return flat


def draw(scenario: Scenario, seed: int, run: int) -> RunPlan:
    """The random draws of one run, entity by entity (see the module's docstring)."""
    overrides = {o.id: o for o in scenario.overrides}
    starts: dict[str, int | None] = {}
    ramps: dict[str, float] = {}
    for project in scenario.projects:
        slip = scenario.slippage.get(project.status, NO_SLIPPAGE)
        cancel_u, delay_u, ramp_u = uniforms(seed, run, "project", project.id, 3)
        cancelled = bool(cancel_u < slip.cancel_probability)
        delay = poisson_quantile(delay_u, slip.mean_delay_years)
        override = overrides.get(project.id)
        start = project.start
        if override is not None:
            start = override.start if override.start is not None else start
            delay += override.delay_years
            cancelled = cancelled or override.cancel
        starts[project.id] = None if cancelled else start + delay
        ramps[project.id] = ramp_years(project) * (1.0 + (slip.ramp_factor_max - 1.0) * ramp_u)
    levers: dict[str, int | None] = {}
    for block in scenario.levers:
        happen_u, shift_u = uniforms(seed, run, "lever", block.id, 2)
        shift = min(int(shift_u * (block.start_spread_years + 1)), block.start_spread_years)
        levers[block.id] = block.start + shift if happen_u < block.probability else None
    (growth_u,) = uniforms(seed, run, "demand", "growth_scale", 1)
    scale = max(0.0, 1.0 + scenario.demand.growth_scale_sd * float(special.ndtri(growth_u)))
    leads = {
        c.id: [float(u) for u in uniforms(seed, run, "candidate", c.id, c.max_units)]
        for c in scenario.candidates
    }
    return RunPlan(run, seed, starts, ramps, levers, scale, leads)


def poisson_quantile(u: float, mean: float) -> int:
    """The Poisson(mean) variate at quantile ``u`` (0 for a zero mean)."""
    if mean <= 0.0:
        return 0
    return int(stats.poisson.ppf(u, mean))


def lead_time_of(candidate: Candidate, draw: float) -> int:
    """Whole years from commitment to output: uniform over the candidate's range."""
    low, high = candidate.lead_years
    return low + min(int(draw * (high - low + 1)), high - low)


def ramp_years(project: Project) -> float:
    years = float(project.ramp_years)
    if project.newcomer:
        years *= NEWCOMER_RAMP_FACTOR
    if project.heavy and project.stage == "separation":
        years *= HEAVY_RAMP_FACTOR
    return years


def project_capacity(project: Project, year: int, plan: RunPlan) -> float:
    """A project's capacity in ``year`` in one run: its recorded level where it has one, else
    nameplate times the ramp from its drawn start."""
    if year in project.recorded_t:
        return project.recorded_t[year]
    start, ramp = plan.project_start[project.id], plan.project_ramp[project.id]
    return project.capacity_t * ramp_fraction(year, start, ramp)


def ramp_fraction(year: int, start: int | None, ramp: float) -> float:
    """Share of nameplate available in ``year``: 0 before the start, then linear to 1."""
    if start is None or year < start:
        return 0.0
    return min(1.0, (year - start + 1) / (ramp + 1.0))
