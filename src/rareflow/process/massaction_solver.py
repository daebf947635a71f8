"""Solving a mass-action cascade: the shared continuation solver (``process/topology.py``) on
the cascade's stages and streams."""

from __future__ import annotations

from rareflow.process.massaction import MassActionCascade, MassActionSolution
from rareflow.process.topology import solve_topology


def solve_mass_action(cascade: MassActionCascade) -> MassActionSolution:
    """Steady state of the cascade; raises ``SpecError`` if it does not converge."""
    return MassActionSolution(cascade, solve_topology(cascade.topology()))
