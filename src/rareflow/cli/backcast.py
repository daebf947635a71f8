"""``rareflow backcast``: run the historical episodes and compare them with what was published."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from rareflow.cli.backcast_tables import markdown, number
from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, fail, print_frame, print_json
from rareflow.cli.run import scenario_or_fail
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Expectations
from rareflow.simulate.backcast import EPISODES, run_backcast

Runs = Annotated[
    int,
    typer.Option(
        min=1,
        max=200,
        help="Runs per episode (run 0 keeps market.yaml's parameters, the others draw them).",
    ),
]
Seed = Annotated[int, typer.Option(min=0, help="Seed of the parameter draws.")]
Rule = Annotated[
    str | None,
    typer.Option(
        "--expectations",
        help="What stock holders expect after the horizon: reference or extrapolative "
        "(default: market.yaml's rule; docs/market.md).",
    ),
]
Trend = Annotated[
    float | None,
    typer.Option(min=0.0, max=3.0, help="Share of last year's price change expected to "
                 "continue (default: market.yaml's)."),
]  # fmt: skip
Weight = Annotated[
    float | None,
    typer.Option(min=0.0, max=1.0, help="Weight of last year's price against the reference "
                 "price (default: market.yaml's)."),
]  # fmt: skip


StepPrice = Annotated[
    str | None,
    typer.Option("--step-price", help="Willingness to pay of each demand step: lower (the "
                 "bottom of its price interval) or mean (the curve's mean over the step); "
                 "default: market.yaml's step_price (docs/market.md)."),
]  # fmt: skip


Markdown = Annotated[
    bool,
    typer.Option("--markdown", help="Print the price and export tables as Markdown, each cell "
                 "'median [10-90 %] / published' (the tables of docs/validation.md)."),
]  # fmt: skip


Episode = Annotated[
    list[str] | None,
    typer.Option("--episode", help="EPISODE=SCENARIO: run an episode (2009-2016 or 2024-2026) "
                 "from another scenario, a name or a YAML file extending the episode's "
                 "(history-2009, history-2024) with another reading of history."),
]  # fmt: skip


def backcast_command(
    runs: Runs = 5,
    seed: Seed = 0,
    expectations: Rule = None,
    trend: Trend = None,
    weight: Weight = None,
    episode: Episode = None,
    step_price: StepPrice = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
    as_markdown: Markdown = False,
) -> None:
    """Run 2009-2016 and 2024-2026 with the model's parameters; print model (median, 10-90 %
    band) beside the published values, and the scores (docs/validation.md)."""
    if as_json and as_markdown:
        fail("--json and --markdown: choose one", 2)
    variants = _episodes(episode or [], data)
    rule = None
    if expectations is not None or trend is not None or weight is not None:
        if expectations is None:
            fail("--trend and --weight need --expectations extrapolative")
        if expectations not in ("reference", "extrapolative"):
            fail(f"--expectations {expectations!r}: use reference or extrapolative")
        rule = Expectations(rule=expectations, trend=trend, weight=weight)
    if step_price not in (None, "lower", "mean"):
        fail(f"--step-price {step_price!r}: use lower or mean")
    dataset = load(data, as_json)
    if dataset.market is None:
        fail("the dataset has no market.yaml; the back-cast needs the market model")
    if step_price is not None:
        market = dataset.market.model_copy(update={"step_price": step_price})
        dataset = dataclasses.replace(dataset, market=market)
    result = run_backcast(dataset, runs, seed, rule, variants)
    if as_json:
        print_json(result.to_dict())
        return
    if as_markdown:
        print(markdown(result), end="")
        return
    series = result.series
    prices = series[series["quantity"] == "price"].copy()
    for episode, rows in prices.groupby("episode", sort=False):
        table = rows.assign(
            model=rows["median"].map(number),
            band=[
                f"{number(low)}-{number(high)}"
                for low, high in zip(rows["p10"], rows["p90"], strict=True)
            ],
            data=rows["published"].map(number),
        )
        wide = table.pivot_table(
            index=["element", "market"], columns="year", values=["model", "data"],
            aggfunc="first",
        )  # fmt: skip
        wide.columns = [f"{year} {kind}" for kind, year in wide.columns]
        wide = wide[sorted(wide.columns, key=lambda c: (c.split()[0], c.split()[1] != "model"))]
        print_frame(wide.reset_index(), f"Prices, USD/kg: model median / published ({episode})")
    quantities = series[~series["quantity"].str.startswith("price")]
    print_frame(
        quantities[["episode", "quantity", "year", "median", "published"]].round(0),
        "Quantities, t",
    )
    scores = result.scores
    calibration, check = scores["log_rmse_export_calibration"], scores["log_rmse_export_check"]
    lines = [
        f"log-RMSE of export prices: calibration 2010-2012 {calibration:.2f}"
        f" (n={scores['n_export_calibration']}), check 2013-2016 "
        f"{check:.2f} (n={scores['n_export_check']}), goal <= 0.5",
        f"log-RMSE of China's domestic prices: calibration "
        f"{scores['log_rmse_china_calibration']:.2f}, check {scores['log_rmse_china_check']:.2f}",
        f"peak year right: {scores['peak_year_right']} of {scores['peak_year_elements']} elements"
        f" in run 0, {scores['peak_year_right_median']} on the runs' median path",
    ]
    if "compared_prices" in scores:
        lines.append(
            f"compared prices the model determines (run 0): {scores['compared_prices_determined']}"
            f" of {scores['compared_prices']} (the others lie in an interval of optimal prices)"
        )
    collapsed = scores["n_collapsed_export_all"] + scores["n_collapsed_china_all"]
    if collapsed:
        lines.insert(2, f"  {collapsed} model price(s) below 1 % of the published value, "
                     "scored as 1 % of it")  # fmt: skip
    checks = scores["episode_2025"]
    if "log_rmse_2025" in checks:
        lines.append(
            f"log-RMSE of 2024-2026 prices (every market): 2024 (calibration year) "
            f"{checks['log_rmse_2024']:.2f} (n={checks['n_2024']}), 2025 (out of sample) "
            f"{checks['log_rmse_2025']:.2f} (n={checks['n_2025']})"
        )
    for key, value in checks.items():
        if key.startswith(("log_rmse_", "n_")):
            continue
        lines.append(
            f"2025: {key} = {value:.2f}" if isinstance(value, float) else f"2025: {key} = {value}"
        )
    console.print("\n".join(lines), markup=False, highlight=False)


def _episodes(given: list[str], data: Path | None) -> dict[str, str]:
    """EPISODE=SCENARIO pairs, each scenario checked against the dataset and the episode's
    years (exit 1 naming the problem)."""
    variants: dict[str, str] = {}
    for text in given:
        episode, _, name = text.partition("=")
        if episode not in EPISODES or not name:
            fail(f"--episode {text!r}: write EPISODE=SCENARIO with EPISODE one of "
                 f"{', '.join(EPISODES)}")  # fmt: skip
        scenario, built_in = scenario_or_fail(name, data), load_scenario(EPISODES[episode])
        if scenario.horizon != built_in.horizon or scenario.history != built_in.history:
            fail(f"--episode {text!r}: the scenario must cover {built_in.horizon.start}-"
                 f"{built_in.horizon.end} with history: {str(built_in.history).lower()}, as "
                 f"{EPISODES[episode]} does (it covers {scenario.horizon.start}-"
                 f"{scenario.horizon.end}); write 'extends: {EPISODES[episode]}'")  # fmt: skip
        variants[episode] = name
    return variants
