"""``rareflow cascade massaction``: a cascade whose equilibrium comes from mass action."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from rareflow.cli.cascade import cascade_app, read_file
from rareflow.cli.data import DataDir, JsonFlag
from rareflow.cli.output import console, fail, print_frame, print_json
from rareflow.process.massaction_files import load_mass_action, load_network
from rareflow.process.massaction_solver import solve_mass_action
from rareflow.process.network import solve_network
from rareflow.process.theory import SpecError

T = TypeVar("T")


def _solved(solve: Callable[[], T]) -> T:
    try:
        return solve()
    except SpecError as exc:
        fail(str(exc))


@cascade_app.command(
    "massaction", short_help="Solve a cascade with distribution ratios from mass action."
)
def mass_action(
    file: Annotated[Path, typer.Argument(help="Mass-action cascade YAML (docs/process.md).")],
    data: DataDir = None,
    as_json: JsonFlag = False,
    profiles: Annotated[bool, typer.Option(help="Print pH, loading and D by stage.")] = False,
) -> None:
    """Solve a cascade with distribution ratios from mass action: loading, acid and free
    extractant stage by stage (acidic extractant, dimer basis, optionally saponified)."""
    cascade, notes = read_file(file, data, load_mass_action)
    solution = _solved(lambda: solve_mass_action(cascade))
    if as_json:
        payload = solution.to_dict(profiles=True)
        payload["constants"] = notes
        print_json(payload)
        return
    console.print(f"[bold]{cascade.stages} stages[/] (n = {cascade.n}, m = {cascade.m}), "
                  f"{cascade.extractant_mol_per_l:g} mol/L extractant; constants: "
                  f"{'; '.join(notes)}", highlight=False)  # fmt: skip
    print_frame(solution.summary(), title="products")
    acid = solution.hcl()
    console.print(f"  HCl fed {acid['hcl_fed_kg_per_kg_feed_reo']:.3g} kg per kg feed REO "
                  f"({acid['hcl_fed_mol_h']:.4g} mol/h; {acid['hcl_left_free_mol_h']:.4g} mol/h "
                  "leaves free)", highlight=False)  # fmt: skip
    if cascade.saponification > 0:
        console.print(f"  base (saponification {cascade.saponification:.0%}) "
                      f"{acid['base_kg_per_kg_feed_reo_as_naoh']:.3g} kg NaOH-equivalent per kg "
                      f"feed REO ({acid['base_fed_mol_h']:.4g} mol/h); counter-ion closure "
                      f"{solution.counter_ion_closure():.2g}", highlight=False)  # fmt: skip
    console.print(f"  solver: {solution.solves} continuation solves, residual "
                  f"{solution.residual:.2g}, proton closure {solution.proton_closure():.2g}",
                  highlight=False)  # fmt: skip
    if profiles:
        print_frame(solution.profiles(), title="stage profiles", limit=None)


@cascade_app.command(
    "network", short_help="Solve a network of mass-action cascades linked by their streams."
)
def network(
    file: Annotated[Path, typer.Argument(help="Network YAML: blocks and links (docs/process.md).")],
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Solve a network of mass-action cascades linked by their streams (hyperlinked
    flowsheets): every block at once, loops included."""
    net, notes = read_file(file, data, load_network)
    solution = _solved(lambda: solve_network(net))
    if as_json:
        payload = solution.to_dict()
        payload["constants"] = notes
        print_json(payload)
        return
    console.print(f"[bold]{len(net.blocks)} blocks[/], {sum(b.stages for b in net.blocks)} "
                  f"stages; constants: {'; '.join(notes)}", highlight=False)  # fmt: skip
    print_frame(solution.summary(), title="streams leaving the network")
    console.print(f"  solver: {solution.solved.solves} continuation solves, residual "
                  f"{solution.solved.residual:.2g}, max closure {solution.closure().max():.2g}",
                  highlight=False)  # fmt: skip
