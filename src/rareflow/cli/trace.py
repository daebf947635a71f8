"""``rareflow trace``: where an element at a facility or in a demand segment came from."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
import typer

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, fail, print_frame, print_json
from rareflow.compliance.links import solved
from rareflow.compliance.provenance import trace
from rareflow.compliance.summaries import bands, segment_value_shares
from rareflow.dataset.dataset import Dataset
from rareflow.elements import UnknownElementError, parse_symbol
from rareflow.market.model import MarketModel
from rareflow.scenario.loader import load_scenario
from rareflow.simulate.perturb import behaviour_set, run_dataset
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market


def trace_command(
    element: Annotated[str, typer.Option(help="Element symbol, e.g. Dy, or 'all' (by value).")],
    facility: Annotated[
        str | None, typer.Option(help="Plant, mine or demand-segment id (default: segments only).")
    ] = None,
    year: Annotated[
        int | None, typer.Option(min=1900, max=2100, help="Year (default: the base year).")
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="Scenario for years after the base year.")
    ] = "baseline",
    run: Annotated[int, typer.Option(help="Run index of the scenario (with --seed).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the ensemble the run belongs to.")] = 0,
    runs: Annotated[
        int | None, typer.Option(help="Bands across runs 0..N-1 of the scenario (later years).")
    ] = None,
    free_of: Annotated[
        str | None,
        typer.Option(help="Sourcing check: places (country or group) no stage may be in."),
    ] = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Origin shares by country of mining and of each processing stage (flow-weighted mixing)."""
    dataset = load(data, as_json)
    if element.lower() == "all":
        model, values, duals, where = solved_year(dataset, year, scenario, seed, run)
        table = segment_value_shares(model, values, duals)
        if as_json:
            print_json({"where": where, "segments": table.to_dict(orient="records")})
            return
        print_frame(table, title=f"Chinese-mined share of each segment's rare earths ({where})")
        return
    try:
        symbol = parse_symbol(element)
    except UnknownElementError as error:
        fail(str(error))
    if runs is not None:
        _bands(dataset, symbol, year, scenario, seed, runs, as_json)
        return
    model, values, duals, where = solved_year(dataset, year, scenario, seed, run)
    places = _places(dataset, free_of) if free_of else None
    try:
        result = trace(model, values, duals, symbol, facility, free_of=places)
    except KeyError as error:
        fail(str(error.args[0]))
    result["where"] = where
    if as_json:
        print_json(result)
        return
    console.print(f"[bold]{symbol}[/] in the {where}")
    if "shares" in result:
        shares = result["shares"]
        assert isinstance(shares, dict)
        rows = [
            {"basis": b, "country": c, "share_%": 100 * v}
            for b, s in shares.items()
            for c, v in s.items()
        ]
        amount = f"{result['throughput_t']:,.1f} t {symbol}"
        print_frame(pd.DataFrame(rows), title=f"{result['node']} ({amount})")
        passed_on = result.get("passed_on_unseparated_t")
        if isinstance(passed_on, float) and passed_on > 0:
            targets = result.get("passed_on_to", [])
            assert isinstance(targets, list)
            onward = ", ".join(str(n) for n in targets)
            console.print(f"not separated there: {passed_on:,.1f} t leave in a heavy concentrate "
                          f"for {onward}", highlight=False)  # fmt: skip
        touched = result["touched_by_china"]
        assert isinstance(touched, float)
        unknown = result["unknown_origin"]
        assert isinstance(unknown, float)
        console.print(
            f"handled in China at some stage: {100 * touched:.1f} %; drawn from stock of "
            f"unknown origin (not counted as China-free): {100 * unknown:.1f} %"
        )
    segments = pd.DataFrame(result["segments"])
    if len(segments):
        shares = ["china_mined_share", "china_touched_share", "unknown_origin_share"]
        segments[shares] *= 100
        segments = segments.rename(
            columns={
                "china_mined_share": "mined in China %",
                "china_touched_share": "China at any stage %",
                "unknown_origin_share": "stock of unknown origin %",
            }
        )
        print_frame(segments, title=f"{symbol} by demand segment")


def _places(dataset: Dataset, name: str) -> set[str]:
    """A country code or a country group of the dataset, as country codes."""
    if name in dataset.country_groups:
        return set(dataset.countries_in_group(name))
    codes = set(dataset.table("countries")["code"])
    if name not in codes:
        fail(
            f"--free-of {name!r} is neither a country code nor a group "
            f"({', '.join(sorted(dataset.country_groups))})"
        )
    return {name}


def _bands(
    dataset: Dataset,
    symbol: str,
    year: int | None,
    scenario: str,
    seed: int,
    runs: int,
    as_json: bool,
) -> None:
    """Chinese shares by segment across runs of a scenario (median and 10-90 % band)."""
    if year is None:
        fail("--runs needs --year (a year of the scenario's horizon)")
    spec = load_scenario(scenario)
    if not spec.horizon.start <= year <= spec.horizon.end:
        fail(f"year {year} is outside {scenario}'s horizon")
    runners: dict[int, Runner] = {}  # one per behavioural parameter set the runs use
    results = []
    for index in range(runs):
        chosen = behaviour_set(spec, index)
        if chosen not in runners:
            data = run_dataset(dataset, spec, seed, index)
            runners[chosen] = Runner(build_market(data, spec, scenario))
        runner = runners[chosen]
        plan = draw(runner.market.scenario, seed, index)
        for day, values, duals, _ in runner.years_of(plan, until=year):
            if day == year:
                results.append(trace(runner.market.clearing.model, values, duals, symbol))
    table = bands(results)
    if as_json:
        print_json(
            {
                "element": symbol,
                "year": year,
                "scenario": scenario,
                "seed": seed,
                "runs": runs,
                "segments": table.to_dict(orient="records"),
            }
        )
        return
    print_frame(table, title=f"{symbol} in {year}, {scenario}, {runs} runs (seed {seed})")


def solved_year(
    dataset: Dataset, year: int | None, scenario: str, seed: int, run: int
) -> tuple[MarketModel, np.ndarray, np.ndarray, str]:
    """The solved market of the base year, or of ``year`` in one run of a scenario."""
    try:
        return solved(dataset, year, lambda: load_scenario(scenario), scenario, seed, run)
    except ValueError as error:
        fail(str(error))
