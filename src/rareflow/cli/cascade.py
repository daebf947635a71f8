"""``rareflow cascade``: design and simulate solvent-extraction cascades."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, counted, errors, fail, print_frame, print_json
from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataValidationError
from rareflow.elements import UnknownElementError, parse_symbol
from rareflow.process.binary import design_from_feed
from rareflow.process.cascade import Cascade, CascadeSolution, solve
from rareflow.process.design import SplitSpec, design_split, least_reagent_design
from rareflow.process.factors import factor_series
from rareflow.process.files import load_cascade, parse_composition
from rareflow.process.theory import SpecError

cascade_app = typer.Typer(help="Design and simulate solvent-extraction cascades.",
                          no_args_is_help=True)  # fmt: skip

Extractant = Annotated[str, typer.Option(help="Extractant system of the dataset's factors.")]
Medium = Annotated[str, typer.Option(help="Aqueous medium of the factors (hcl, hno3 ...).")]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--factor", help="Override a pair, e.g. --factor Nd/Pr=1.6 (repeatable)."),
]
FeedPhaseOption = Annotated[str, typer.Option(help="aqueous (feed at stage n) or organic (n+1).")]


def factor_overrides(items: list[str] | None) -> dict[str, float]:
    result = {}
    for item in items or []:
        if "=" not in item:
            fail(f"--factor {item!r} must look like Nd/Pr=1.6")
        pair, value = item.split("=", 1)
        try:
            factor = float(value)
        except ValueError:
            fail(f"--factor {item!r}: {value!r} is not a number")
        if not 0 < factor < math.inf:
            fail(f"--factor {item!r}: a separation factor is a finite number > 0")
        result[pair.strip()] = factor
    return result


@cascade_app.command("design")
def design(
    feed: Annotated[str, typer.Option(help="Two components, e.g. Pr=0.33,Nd=0.67.")],
    purity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Purity of the organic product (A), 0-1.")
    ],
    beta: Annotated[
        float | None, typer.Option(help="Separation factor A/B (default: dataset).")
    ] = None,
    purity_raffinate: Annotated[
        float | None, typer.Option(help="Purity of the raffinate (B); default = --purity.")
    ] = None,
    feed_phase: FeedPhaseOption = "aqueous",
    ratio_to_min: Annotated[float, typer.Option(help="S / S_min.")] = 1.2,
    extractant_flow: Annotated[
        float | None, typer.Option("--S", help="S instead of a ratio.")
    ] = None,
    extractant: Extractant = "p507",
    medium: Medium = "hcl",
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Two-outlet design of a binary split: S_min, W_min, flows, E_M, stages, reagents."""
    try:
        payload = design_from_feed(
            load(data), feed, purity, beta, purity_raffinate,
            feed_phase,  # type: ignore[arg-type]
            ratio_to_min, extractant_flow, extractant, medium,
        )  # fmt: skip
    except SpecError as exc:
        fail(str(exc))
    if beta is not None:
        payload["separation_factor_source"] = "given with --beta"
    if as_json:
        print_json(payload)
        return
    _print_design(payload)


def _print_design(p: dict[str, Any]) -> None:
    a, b = p["components"]["A_organic"], p["components"]["B_raffinate"]
    console.print(
        f"[bold]{a} | {b}[/] split, {p['spec']['feed_phase']} feed, beta = "
        f"{p['spec']['beta']:.4g} ({p['separation_factor_source']})",
        highlight=False,
    )
    xu = " / ".join("-" if v is None else f"{v:.1f}" for v in p["xu_estimate"].values()
                    if not isinstance(v, str))  # fmt: skip
    out, reagents, balanced = p["outlets"], p["reagents_per_kg_feed_reo"], p["balanced"]
    rows = [
        ("S_min / W_min", f"{p['S_min']:.5g} / {p['W_min']:.5g}"),
        ("S / W (S/S_min)", f"{p['S']:.5g} / {p['W']:.5g} ({p['S_over_S_min']:.3g})"),
        ("E_M / E'_M", f"{p['E_M']:.5g} / {p['E_M_scrub']:.5g}"),
        ("stages n + m = N (exact stepping)", f"{p['n']} + {p['m']} = {p['stages']}"),
        ("Xu estimate n / m (estimate only)", xu),
        ("Fenske minimum (total reflux)", f"{p['fenske_minimum_stages']:.2f}"),
        ("outlet fractions f'_A / f'_B", f"{out['fraction_a']:.5g} / {out['fraction_b']:.5g}"),
        ("recoveries Y_A / Y_B", f"{out['recovery_a']:.5g} / {out['recovery_b']:.5g}"),
        ("NaOH / HCl per kg feed REO",
         f"{reagents['naoh_kg_per_kg_reo']:.3f} / {reagents['hcl_kg_per_kg_reo']:.3f} kg"),
        ("balanced ratios E_M / E'_M (S)",
         f"{balanced['extraction_ratio']:.4g} / {balanced['scrub_ratio']:.4g} "
         f"({balanced['extractant']:.4g})"),
    ]  # fmt: skip
    print_frame(pd.DataFrame(rows, columns=["quantity", "value"]))
    console.print(
        f"  balanced ratios: {p['balanced']['provenance']}", highlight=False, markup=False
    )


def solved_cascade(file: Path, data: Path | None) -> tuple[Cascade, str, CascadeSolution]:
    """The cascade of a file, its factors' source and its steady state; exit 1 with every
    problem of the file or the reason it cannot be solved."""
    cascade, label = read_file(file, data, load_cascade)
    progress = Progress(TextColumn("continuation in the separation factors"), BarColumn(),
                        TextColumn("t = {task.completed:.3f}"), TimeElapsedColumn(),
                        console=errors, transient=True, disable=not errors.is_terminal)  # fmt: skip
    task = progress.add_task("continuation", total=1.0)

    def on_step(t: float) -> None:  # a long cascade's continuation shows how far it is
        if not progress.live.is_started:
            progress.start()
        progress.update(task, completed=max(progress.tasks[0].completed, min(t, 1.0)))

    try:
        return cascade, label, solve(cascade, on_step=on_step)
    except SpecError as exc:
        fail(str(exc))
    finally:
        progress.stop()


T = TypeVar("T")


def read_file(file: Path, data: Path | None, reader: Callable[[Path, Dataset], T]) -> T:
    """A file read against the dataset; exit 1 with every problem in it, one a line."""
    dataset = load(data)
    try:
        return reader(file, dataset)
    except DataValidationError as error:
        for issue in error.issues:
            errors.print(str(issue), markup=False, highlight=False, soft_wrap=True)
        fail(f"{counted(len(error.issues), 'problem')} in {file}; nothing was solved")
    except SpecError as exc:
        fail(str(exc))


@cascade_app.command("simulate")
def simulate(
    file: Annotated[Path, typer.Argument(help="Cascade YAML (format in docs/process.md).")],
    data: DataDir = None,
    as_json: JsonFlag = False,
    profiles: Annotated[bool, typer.Option(help="Print the stage profiles too.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Write the stage-profile figure (plotly) to this HTML file.")
    ] = None,
) -> None:
    """Solve a given cascade: product purities, recoveries, closure and stage profiles."""
    cascade, label, solution = solved_cascade(file, data)
    payload = solution.to_dict(profiles=True)
    payload["separation_factor_source"] = label
    if html is not None:
        from rareflow.report.cascade import stage_profile_figure

        try:
            stage_profile_figure(solution).write_html(str(html), include_plotlyjs=True)
        except OSError as exc:
            fail(f"cannot write {html}: {exc.strerror}")
    if as_json:
        print_json(payload)
        return
    console.print(f"[bold]{cascade.stages} stages[/] (n = {cascade.n}, m = {cascade.m}), "
                  f"S = {cascade.extractant:g}, W = {cascade.scrub:g}; factors: {label}",
                  highlight=False)  # fmt: skip
    print_frame(solution.summary(), title="products")
    report = solution.report
    console.print(f"  solver: {report.method}, {report.iterations} iterations, residual "
                  f"{report.residual:.2g}, max closure {solution.closure.max():.2g}",
                  highlight=False)  # fmt: skip
    for warning in report.warnings:
        errors.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    if profiles:
        wide = solution.profiles().pivot_table(
            index="stage", columns=["phase", "component"], values="fraction"
        )
        print_frame(wide.reset_index(), title="stage profiles", limit=None)


@cascade_app.command("split")
def split(
    feed: Annotated[str, typer.Option(help="Composition, e.g. Ce=0.4445,Pr=0.1842,Nd=0.3713.")],
    cut: Annotated[str, typer.Option(help="Key pair LIGHT/HEAVY, e.g. Pr/Nd.")],
    purity: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Purity of the extract group, 0-1.")
    ],
    purity_raffinate: Annotated[float | None, typer.Option(help="Default = --purity.")] = None,
    ratio_to_min: Annotated[float, typer.Option(help="S / lumped S_min.")] = 1.5,
    stage_budget: Annotated[
        int | None, typer.Option(help="Find the least S whose design fits this many stages.")
    ] = None,
    feed_phase: FeedPhaseOption = "aqueous",
    extractant: Extractant = "p507",
    medium: Medium = "hcl",
    factor: Overrides = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Design a multi-component split: fewest stages, or least reagent for a stage budget."""
    dataset = load(data)
    try:
        composition = parse_composition(feed, normalise=True)
        series = factor_series(dataset, extractant, medium, factor_overrides(factor))
        components = tuple(sorted(composition, key=lambda s: series.betas([s])[0]))
        pair = [s.strip() for s in cut.replace("|", "/").split("/")]
        if len(pair) != 2:
            fail(f"--cut {cut!r}: expected a key pair LIGHT/HEAVY such as Pr/Nd")
        light, heavy = pair
        try:
            light, heavy = parse_symbol(light), parse_symbol(heavy)
        except UnknownElementError as exc:
            fail(f"--cut {cut!r}: {exc}")
        if components.index(heavy) + 1 == components.index(light):
            why = f" (set by --factor {', '.join(factor)})" if factor else ""
            fail(
                f"--cut {light}/{heavy}: {heavy} comes before {light} in the extraction order "
                f"{'-'.join(components)}{why}; the cut is LIGHT/HEAVY in that order: "
                f"--cut {heavy}/{light}"
            )
        if components.index(heavy) != components.index(light) + 1:
            fail(f"{light}/{heavy} are not adjacent in the extraction order {'-'.join(components)}")
        fractions = np.array([composition[c] for c in components])
        target_b = purity if purity_raffinate is None else purity_raffinate
        spec = SplitSpec(
            components, series.betas(components), fractions, components.index(heavy), purity,
            target_b, feed_phase,  # type: ignore[arg-type]
        )  # fmt: skip
        result = (
            least_reagent_design(spec, stage_budget)
            if stage_budget is not None
            else design_split(spec, ratio_to_min)
        )
    except SpecError as exc:
        fail(str(exc))
    payload = result.to_dict()
    payload["separation_factor_source"] = series.label
    payload["estimated_factors_used"] = series.is_estimated(components[0], components[-1])
    if as_json:
        print_json(payload)
        return
    c = result.cascade
    console.print(
        f"[bold]{'-'.join(components[: spec.cut])} | {'-'.join(components[spec.cut :])}"
        f"[/]: N = {c.stages} (n = {c.n}, m = {c.m}), S = {c.extractant:.4g} "
        f"({result.ratio_to_min:.3g} x lumped S_min), W = {c.scrub:.4g}",
        highlight=False,
    )
    console.print(
        f"  purities: extract {result.purity_extract:.6f}, raffinate "
        f"{result.purity_raffinate:.6f}; {result.solves} cascades solved",
        highlight=False,
    )
    console.print(f"  factors: {series.label}", highlight=False, markup=False)
    if payload["estimated_factors_used"]:
        console.print("  [bold yellow]this split uses ESTIMATED separation factors[/]")
    print_frame(result.solution.summary(), title="products")
