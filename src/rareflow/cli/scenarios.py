"""``rareflow scenario``: list, check, show (resolved) and new (an annotated template)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
import yaml

from rareflow.cli.data import DataDir, JsonFlag
from rareflow.cli.output import console, counted, fail, print_frame, print_json
from rareflow.cli.run import scenario_or_fail
from rareflow.scenario.loader import builtin_names, load_scenario

scenario_app = typer.Typer(help="Built-in and user scenarios.", no_args_is_help=True)

TEMPLATE = """\
# A rareflow scenario (docs/simulate.md). Everything not set here comes from `extends`.
name: {name}
description: What this scenario asks, in one sentence.
extends: {extends}                # a built-in scenario (rareflow scenario list) or a file
horizon: {{start: 2024, end: 2040}}

# Dated lever blocks: in force from `start` to `end` (null: open), with a probability per run,
# a start drawn in start..start+start_spread_years, known to markets from `announced`; a block
# that starts or ends within a year (start_month, end_month) counts its rates and levels by the
# months in force.
levers:
  - id: my_export_tax
    start: 2027
    start_month: 7
    end: 2030
    probability: 0.5
    announced: 2026
    source: []                    # ids from the dataset's sources.yaml (rareflow data source ID)
    note: An example; change or delete it.
    levers:
      export_taxes:
        - {{id: cn_tax_ndpr, elements: [Nd, Pr], rate_pct: 25}}

# Demand growth by end use (default: every other end use), % a year, optionally by period.
demand:
  growth:
    - {{end_use: default, rate_pct: 3.0, source: []}}

# New capacity: projects with a start year, status and ramp (see the built-in files for more).
projects: []

# What to measure: the group whose self-sufficiency is reported and the thresholds.
measure:
  group: us_japan_australia
  elements: [NdPr, Dy, Tb]
  thresholds_pct: [50, 100]
"""


@scenario_app.command("list")
def list_command(as_json: JsonFlag = False) -> None:
    """The built-in scenarios."""
    rows = []
    for name in builtin_names():
        scenario = load_scenario(name)
        rows.append(
            {"name": name, "extends": scenario.extends, "description": scenario.description}
        )
    if as_json:
        print_json(rows)
        return
    print_frame(pd.DataFrame(rows), title="Scenarios")


@scenario_app.command("check")
def check_command(
    scenario: Annotated[str, typer.Argument(help="Built-in name or YAML file.")],
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate a scenario against the dataset (exit 1 with every problem)."""
    parsed = scenario_or_fail(scenario, data)
    summary = {
        "scenario": scenario,
        "valid": True,
        "projects": len(parsed.projects),
        "lever_blocks": len(parsed.levers),
        "candidates": len(parsed.candidates),
    }
    if as_json:
        print_json(summary)
        return
    console.print(
        f"{scenario}: valid ({counted(len(parsed.projects), 'project')}, "
        f"{counted(len(parsed.levers), 'lever block')}, "
        f"{counted(len(parsed.candidates), 'candidate')})"
    )


@scenario_app.command("show")
def show_command(
    scenario: Annotated[str, typer.Argument(help="Built-in name or YAML file.")],
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """The scenario as runs see it: `extends` resolved, defaults left out, as YAML."""
    parsed = scenario_or_fail(scenario, data)
    document = parsed.model_dump(mode="json", exclude_defaults=True)
    if as_json:
        print_json(document)
        return
    typer.echo(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100), nl=False)


@scenario_app.command("new")
def new_command(
    name: Annotated[str, typer.Argument(help="Name of the new scenario.")] = "my-scenario",
    extends: Annotated[str, typer.Option(help="Built-in scenario to start from.")] = "baseline",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: print).")
    ] = None,
) -> None:
    """An annotated scenario template that passes `scenario check` as it is."""
    if extends not in builtin_names():
        fail(f"--extends {extends!r}: expected one of {', '.join(builtin_names())}")
    text = TEMPLATE.format(name=name, extends=extends)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists():
        fail(f"{output} exists; give another --output or remove it")
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}")
    console.print(f"wrote {output}; check it with: rareflow scenario check {output}")
