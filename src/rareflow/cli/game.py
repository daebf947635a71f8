"""``rareflow game``: China and the alliance choose their policies against each other, year by
year of a scenario, with the market inside (docs/game.md)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import typer

from rareflow.cli.data import DataDir, JsonFlag, load
from rareflow.cli.output import console, errors, fail, print_frame, print_json
from rareflow.cli.run import scenario_or_fail
from rareflow.game.ensemble import play_ensemble
from rareflow.game.finance import FinanceLevel, play_financed, terms_of
from rareflow.game.instruments import ALLIANCE_PLAYER, CHINA_PLAYER
from rareflow.game.rolling import Settings, play, to_dict, weights_of

Years = Annotated[
    str | None,
    typer.Option(help="Years played, FIRST-LAST or one year (default: the scenario's horizon)."),
]
ModeOption = Annotated[
    Literal["nash", "stackelberg"],
    typer.Option(help="nash: simultaneous best responses; stackelberg: China leads."),
]
Players = Annotated[
    Literal["both", "china", "alliance"],
    typer.Option(help="Who chooses; the other keeps the scenario's own policy."),
]
Security = Annotated[
    float | None,
    typer.Option(min=0, help="Alliance's value of a kg of its own Nd/Pr/Dy/Tb, USD/kg "
                 "(default: market.yaml, 47 from the DoD-MP floor)."),
]  # fmt: skip
ShareWeight = Annotated[
    float | None,
    typer.Option(min=0, help="China's weight on its separation share below the floor, "
                 "million USD a point (default: market.yaml, 0)."),
]  # fmt: skip
ChinaSet = Annotated[
    Literal["taxes", "licences"],
    typer.Option("--china", help="China's instruments: export taxes, or licences refusing a share "
                 "of each group's exports (WTO-constrained, as after 2015)."),
]  # fmt: skip
ProductionFlag = Annotated[
    bool,
    typer.Option("--production", help="China may also cut its mining quota (0-30 %)."),
]
SubsidyFlag = Annotated[
    bool,
    typer.Option("--subsidy", help="The alliance may also subsidise its separators "
                 "(USD/kg REO)."),
]  # fmt: skip
StockpileFlag = Annotated[
    bool,
    typer.Option("--stockpile", help="The alliance may also hold state stocks of Nd/Pr and of "
                 "Dy/Tb (0-180 days of its use); worth something only with --disruption."),
]  # fmt: skip
Disruption = Annotated[
    float | None,
    typer.Option(min=0, max=1, help="Chance a year that China's exports to the alliance stop "
                 "(default: market.yaml, 0; the 2010-2025 rate is 0.125)."),
]  # fmt: skip
FinanceFlag = Annotated[
    bool,
    typer.Option("--finance", help="The alliance also chooses, once for the path, how many points "
                 "(0, 2, 4) export-credit loans take off its new plants' cost of capital, up to "
                 "the EXIM cap; each level is played through the years."),
]  # fmt: skip
LicenceRent = Annotated[
    Literal["exporter", "buyer"],
    typer.Option("--licence-rent", help="Who keeps the rent of China's licences (with --china "
                 "licences): its exporters, or the licensed buyers abroad, as in 2025."),
]  # fmt: skip
FreeChina = Annotated[
    bool,
    typer.Option("--free-china", help="Drop the scenario's Chinese export quotas, taxes, "
                 "licences and bans so China chooses its own (the 2010-2014 check)."),
]  # fmt: skip


def game_command(
    scenario: Annotated[str, typer.Argument(help="Built-in name or YAML file.")] = "baseline",
    years: Years = None,
    mode: ModeOption = "nash",
    players: Players = "both",
    china: ChinaSet = "taxes",
    production: ProductionFlag = False,
    subsidy: SubsidyFlag = False,
    stockpile: StockpileFlag = False,
    security: Security = None,
    disruption: Disruption = None,
    finance: FinanceFlag = False,
    share_weight: ShareWeight = None,
    free_china: FreeChina = False,
    licence_rent: LicenceRent = "exporter",
    seed: Annotated[int, typer.Option(min=0, help="Seed of the run's draws.")] = 0,
    runs: Annotated[
        int,
        typer.Option(
            min=1,
            max=1000,
            help="Runs of the scenario to play the game on (more than 1: an ensemble on Dask).",
        ),
    ] = 1,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Local Dask workers.")] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of a running Dask scheduler.")
    ] = None,
    data: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Play the game on a scenario's central run: per year, each round's instruments and
    objectives, then the equilibrium against the price-taking run."""
    if licence_rent == "buyer" and china != "licences":
        fail("--licence-rent acts on China's licences only: add --china licences")
    dataset = load(data, as_json)
    parsed = scenario_or_fail(scenario, data)
    horizon = (parsed.horizon.start, parsed.horizon.end)
    span = _years(years, horizon)
    weights, alliance = weights_of(dataset)
    if security is not None:
        weights = dataclasses.replace(weights, security_usd_per_kg=security)
    if disruption is not None:
        weights = dataclasses.replace(weights, disruption_probability=disruption)
    if share_weight is not None:
        weights = dataclasses.replace(weights, share_weight_musd_per_point=share_weight)
    chosen = (CHINA_PLAYER, ALLIANCE_PLAYER) if players == "both" else (players,)
    settings = Settings(
        mode, span, weights, alliance, chosen, china, production, subsidy, stockpile, free_china,
        seed, licence_rent=licence_rent,
    )  # fmt: skip
    label = Path(scenario).stem if scenario.endswith((".yaml", ".yml")) else scenario
    if finance:
        if runs > 1:
            fail("--finance plays the path once per level; use it with --runs 1")
        try:
            best, levels = play_financed(dataset, parsed, label, settings, terms_of(dataset))
        except ValueError as error:
            fail(str(error))
        assert best.result is not None
        payload = {**to_dict(best.result), "finance": _finance(best, levels)}
        if as_json:
            print_json(payload)
            return
        _print_finance(payload["finance"])
        _print(payload)
        return
    if runs > 1:
        directory = str(data) if data else None
        ensemble = play_ensemble(parsed, label, settings, runs, workers, scheduler, directory)
        if as_json:
            print_json(ensemble)
            return
        _print_bands(ensemble)
        for failure in ensemble["failed"]:
            errors.print(f"run {failure['run']} failed: {failure['error']}", markup=False)
        return
    payload = to_dict(play(dataset, parsed, label, settings))
    if as_json:
        print_json(payload)
        return
    _print(payload)


def _finance(best: FinanceLevel, levels: list[FinanceLevel]) -> dict[str, Any]:
    return {
        "chosen_points": best.points,
        "levels": [
            {
                "points": level.points,
                "financed": level.financed,
                "value_musd": level.value_musd,
                "capital_charge_musd": level.capital_charge_musd,
                "rebate_musd": level.rebate_musd,
                "candidates_online_t": {str(y): t for y, t in level.online_t.items()},
            }
            for level in levels
        ],
    }


def _print_finance(finance: dict[str, Any]) -> None:
    rows = [
        {
            "points off": level["points"],
            "financed": ", ".join(level["financed"]) or "-",
            "value": level["value_musd"],
            "capital charge": level["capital_charge_musd"],
            "rebate": level["rebate_musd"],
            "online last year, t": list(level["candidates_online_t"].values())[-1]
            if level["candidates_online_t"] else 0.0,
        }
        for level in finance["levels"]
    ]  # fmt: skip
    print_frame(
        pd.DataFrame(rows).round(1),
        f"Finance programme (chosen: {finance['chosen_points']:g} points off the market rate); "
        "present values over the played years, million USD",
    )


def _years(text: str | None, horizon: tuple[int, int]) -> tuple[int, int]:
    if text is None:
        return horizon
    found = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if found is None:
        fail(f"--years {text!r}: expected FIRST-LAST (e.g. 2026-2035) or one year")
    first, last = int(found.group(1)), int(found.group(2) or found.group(1))
    if not horizon[0] <= first <= last <= horizon[1]:
        fail(
            f"--years {text!r}: the scenario runs {horizon[0]}-{horizon[1]}; choose years inside it"
        )
    return first, last


SHORT = {
    "game_tax_light": "light",
    "game_tax_heavy": "heavy",
    "game_tax_magnet": "magnet",
    "game_floor_ndpr": "NdPr fl",
    "game_floor_dytb": "DyTb fl",
    "game_licence_light": "ref light",
    "game_licence_heavy": "ref heavy",
    "game_licence_magnet": "ref magnet",
    "game_subsidy_separation": "subsidy",
    "game_production_cut": "mining cut",
    "game_stock_ndpr": "NdPr days",
    "game_stock_dytb": "DyTb days",
}


def _print(payload: dict[str, Any]) -> None:
    rounds = pd.DataFrame(
        [
            {"year": r["year"], "round": r["round"], "player": r["player"],
             **{SHORT[k]: v for k, v in r["instruments"].items()},
             "China": r["objectives_musd"][CHINA_PLAYER],
             "allies": r["objectives_musd"][ALLIANCE_PLAYER]}
            for r in payload["rounds"]
        ]
    )  # fmt: skip
    if not rounds.empty:
        print_frame(
            rounds.round(2),
            f"Best-response rounds ({payload['mode']}; taxes as shares of FOB, refused shares of "
            "exports, floors USD/kg, objectives million USD)",
        )
    policies, markets = [], []
    for year, found in payload["equilibrium"].items():
        taking = payload["price_taking"][year]
        gain = {
            p: found["welfare_musd"][p] - taking["welfare_musd"][p] for p in found["welfare_musd"]
        }
        ended = "nash" if found["converged"] else ("cycle" if found["cycle"] else "limit")
        policies.append({
            "year": int(year), **{SHORT[k]: v for k, v in found["instruments"].items()},
            "ended": ended if payload["mode"] == "nash" else "leader",
            "China +": gain[CHINA_PLAYER], "allies +": gain[ALLIANCE_PLAYER],
            "tax": found["china_tax_revenue_musd"], "subsidy": found["alliance_subsidies_musd"],
            **({"stock t": sum(found["alliance_stock_t"].values()),
                "risk": found["alliance_disruption_cost_musd"]}
               if payload["weights"]["alliance_disruption_probability"] else {}),
        })  # fmt: skip
        for case, outcome in (("eq", found), ("pt", taking)):
            prices, own = outcome["prices_usd_per_kg"], outcome["alliance_self_sufficiency"]
            markets.append({
                "year": int(year), "case": case,
                **{k.replace(":", " "): round(prices.get(k, 0.0))
                   for k in ("Nd:CN", "Nd:JP", "Dy:CN", "Dy:JP", "Tb:CN", "Tb:JP")},
                **{f"own {e} %": round(100 * own[e], 1) for e in ("Nd", "Dy", "Tb") if e in own},
            })  # fmt: skip
    print_frame(
        pd.DataFrame(policies).round(2),
        "Equilibrium policies; gains against price-taking, tax revenue and subsidies, million USD"
        " (with a disruption chance: the state stock, t, and the expected cost of a disruption,"
        " million USD)",
    )
    print_frame(
        pd.DataFrame(markets),
        "Oxide prices, USD/kg (CN China, JP Japan), and the alliance's own separated supply "
        "over its use (eq: equilibrium, pt: price-taking)",
    )
    edges = {y: f["at_grid_edge"] for y, f in payload["equilibrium"].items() if f["at_grid_edge"]}
    notes = ["Weights: " + ", ".join(f"{k} {v}" for k, v in payload["weights"].items())]
    if edges:
        notes.append(
            "At the top of its grid (the best policy may lie beyond): "
            + "; ".join(f"{y}: {', '.join(SHORT[i] for i in ids)}" for y, ids in edges.items())
        )
    console.print("\n".join(notes), markup=False, highlight=False, soft_wrap=True)


def _print_bands(ensemble: dict[str, Any]) -> None:
    rows = []
    for year, found in ensemble["bands"].items():
        row: dict[str, Any] = {"year": int(year), "converged": f"{found['converged_share']:.0%}"}
        for key, band in found.items():
            if key == "converged_share":
                continue
            name = SHORT.get(key, key.replace("_gain_musd", " +"))
            digits = 2 if key in SHORT and "floor" not in key else 0
            row[name] = (
                f"{band['median']:.{digits}f} [{band['p10']:.{digits}f}, {band['p90']:.{digits}f}]"
            )
        rows.append(row)
    print_frame(
        pd.DataFrame(rows),
        f"Equilibria over {ensemble['runs']} runs: median [10 %, 90 %] by year (taxes and refused "
        "shares as fractions, floors USD/kg, gains million USD against price-taking)",
    )
