"""The ``rareflow`` command line: one typer app, sub-apps per part of the product."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from rareflow import __version__
from rareflow.cli.backcast import backcast_command
from rareflow.cli.cascade import cascade_app
from rareflow.cli.comply import comply_command
from rareflow.cli.data import data_app
from rareflow.cli.flowsheet import cost as cost  # registers the command
from rareflow.cli.game import game_command
from rareflow.cli.market import market_app
from rareflow.cli.massaction import mass_action as mass_action  # registers the command
from rareflow.cli.output import fail
from rareflow.cli.plant import plant_app
from rareflow.cli.report import report_app
from rareflow.cli.run import results_app, run_command
from rareflow.cli.scenarios import scenario_app
from rareflow.cli.serve import serve_command
from rareflow.cli.trace import trace_command

app = typer.Typer(
    name="rareflow",
    help="Simulator of the rare-earth (and gallium) supply chain, from ore to magnet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"rareflow {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Simulator of the rare-earth (and gallium) supply chain, from ore to magnet."""


app.add_typer(data_app, name="data")
app.add_typer(cascade_app, name="cascade")
app.add_typer(plant_app, name="plant")
app.add_typer(market_app, name="market")
app.add_typer(results_app, name="results")
app.add_typer(scenario_app, name="scenario")
app.add_typer(report_app, name="report")
app.command("run")(run_command)
app.command("comply")(comply_command)
app.command("trace")(trace_command)
app.command(
    "backcast",
    short_help="Run 2009-2016 and 2024-2026 with the model's parameters: model beside published "
    "prices, and the scores (docs/validation.md).",
)(backcast_command)
app.command(
    "game",
    short_help="Play China against the alliance on a scenario's central run, year by year "
    "(docs/game.md).",
)(game_command)
app.command("serve")(serve_command)


def main() -> None:
    """Console entry point: run the app; an unexpected error is a message, not a traceback."""
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    except Exception as exc:
        if os.environ.get("RAREFLOW_DEBUG"):
            raise
        fail(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in rareflow; set RAREFLOW_DEBUG=1 to see the traceback.",
            code=70,
        )


if __name__ == "__main__":  # pragma: no cover
    main()
