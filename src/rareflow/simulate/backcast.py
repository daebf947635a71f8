"""Back-casts: the model runs two historical episodes with the parameters of every forward run
and is compared with what was published (docs/validation.md).

- **2009-2016** (scenario ``history-2009``): from the 2009 state with the recorded quotas,
  export taxes, state purchases, the 2010 supply scare and facility capacities. 2009 is the
  start state (its prices anchor the demand curves), 2010-2012 the calibration years,
  2013-2016 the check.
- **2024-2026** (scenario ``history-2024``): from the calibrated 2024 market with the April 2025
  controls as licence friction.

Published prices are targets, never inputs: an annual average where one exists, else the mean of
the dated quotes of the year (with the previous year's year-end quote as its start), converted
to USD/kg ex-VAT for China's domestic market. Bands come from runs that draw the behavioural
parameters within their ranges (run 0 keeps the values of ``market.yaml``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rareflow.dataset.dataset import Dataset
from rareflow.market.intervals import DETERMINED_USD_PER_KG, price_intervals
from rareflow.market.network import RECYCLED
from rareflow.market.program import pool
from rareflow.market.rents import buyer_rent
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Expectations
from rareflow.simulate.backcast_targets import published, published_quantity
from rareflow.simulate.perturb import perturbed
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market

ELEMENTS = ("La", "Ce", "Pr", "Nd", "Sm", "Dy", "Tb", "Eu")
EPISODES = {"2009-2016": "history-2009", "2024-2026": "history-2024"}
CALIBRATION_YEARS = (2010, 2012)
CHECK_YEARS = (2013, 2016)
COLLAPSE_FLOOR = 0.01
"""Scores count a model price below 1 % of the published one as 1 % of it."""
EXPORT_PLACE = "JP"
"""The export price is the oxide price delivered to Japan, the largest buyer outside China,
less freight: FOB equivalent whether or not China ships that oxide itself that year; less too
the rent that licensed buyers keep where a licence says they do (``Licence.rent_holder``)."""


@dataclass
class Backcast:
    series: pd.DataFrame
    """quantity, element, market, year, episode, median, p10, p90, published, source, note."""
    scores: dict[str, Any]
    runs: int

    def to_dict(self) -> dict[str, Any]:
        records = []
        for row in self.series.to_dict(orient="records"):
            records.append({k: _plain(v) for k, v in row.items()})
        return {"series": records, "scores": self.scores, "runs": self.runs}


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def episode_frame(
    dataset: Dataset,
    scenario_name: str,
    run: int,
    seed: int,
    expectations: Expectations | None = None,
    intervals: bool = False,
) -> pd.DataFrame:
    """One run of an episode: model prices (china, export, europe) and quantities by year;
    ``expectations`` replaces the scenario's rule for stocks held past the horizon;
    ``intervals`` adds each price's interval of optimal prices (``price_low``, ``price_high``:
    where the LP leaves it undetermined, docs/market.md)."""
    scenario = load_scenario(scenario_name)
    if expectations is not None:
        options = scenario.market.model_copy(update={"expectations": expectations})
        scenario = scenario.model_copy(update={"market": options})
    data = perturbed(dataset, run, seed)
    runner = Runner(build_market(data, scenario, scenario_name))
    model = runner.market.clearing.model
    program, rows = model.program, model.program.rows
    freight = model.world.freight["oxide"]
    recyclers = {m.id for m in model.world.mines if m.ore_type == RECYCLED}
    places = {"china": "CN", "export": EXPORT_PLACE, "europe": "DE"}
    found = []
    for year, values, duals, _ in runner.years_of(draw(runner.market.scenario, seed, 0)):
        compared = []
        for e in ELEMENTS:
            for market, place in places.items():
                key = pool("oxide", e, place, 0)
                if key not in rows:
                    continue
                price = float(duals[rows[key]])
                if market == "export":  # FOB as China's exporters sell: rents.py
                    price -= freight + buyer_rent(model, duals, "oxide", e)
                found.append(("price", e, market, year, price))
                compared.append((e, market, key))
        if intervals:
            ranges = price_intervals(model, [key for _, _, key in compared])
            for (e, market, _), low, high in zip(compared, ranges["low"], ranges["high"],
                                                 strict=True):  # fmt: skip
                shift = (
                    freight + buyer_rent(model, duals, "oxide", e) if market == "export" else 0.0
                )
                found.append(("price_low", e, market, year, float(low) - shift))
                found.append(("price_high", e, market, year, float(high) - shift))
        # legal exports (what China's customs count) and smuggled ones apart
        for quantity, family in (("china_exports", "export"), ("china_smuggled", "smuggle")):
            shipped = sum(float(values[c]) for c in program.select(family, period=0)
                          if program.meta[c]["commodity"] in ("oxide", "metal"))  # fmt: skip
            found.append((quantity, "all", "export", year, shipped))
        mined = sum(float(values[c]) for c in program.select("concentrate", period=0)
                    if program.meta[c]["origin"] == "CN" and program.meta[c]["mine"] not in
                    recyclers)  # fmt: skip
        found.append(("china_mining", "all", "china", year, mined))
    return pd.DataFrame(found, columns=["quantity", "element", "market", "year", "value"])


def run_backcast(
    dataset: Dataset,
    runs: int = 5,
    seed: int = 0,
    expectations: Expectations | None = None,
    scenarios: dict[str, str] | None = None,
) -> Backcast:
    """Both episodes, ``runs`` runs each; bands and scores. ``scenarios`` runs an episode from
    another scenario (a name or YAML file, e.g. one extending the episode's with another
    reading of history), scored against the same published values."""
    unknown = set(scenarios or {}) - set(EPISODES)
    if unknown:
        raise ValueError(f"no episode {sorted(unknown)}; the episodes are {list(EPISODES)}")
    frames = []
    for episode, name in (EPISODES | (scenarios or {})).items():
        for run in range(runs):
            frame = episode_frame(dataset, name, run, seed, expectations, intervals=run == 0)
            frame["episode"], frame["run"] = episode, run
            frames.append(frame)
    results = pd.concat(frames, ignore_index=True)
    keys = ["episode", "quantity", "element", "market", "year"]
    grouped = results.groupby(keys)["value"]
    series = grouped.median().rename("median").to_frame()
    series["p10"] = grouped.quantile(0.1)
    series["p90"] = grouped.quantile(0.9)
    central = results[results["run"] == 0].set_index(keys)["value"].rename("central")
    series = series.join(central).reset_index()
    targets = [
        published(dataset, r.element, r.market, r.year)
        if r.quantity == "price"
        else published_quantity(dataset, r.quantity, r.year)
        for r in series.itertuples()
    ]
    series["published"] = [t[0] for t in targets]
    series["source"] = [t[1] for t in targets]
    series["note"] = [t[2] for t in targets]
    return Backcast(series, scores(series), runs)


def _log_errors(frame: pd.DataFrame, column: str = "central") -> np.ndarray:
    """ln(model / published) where a value was published; a model price at or below
    ``COLLAPSE_FLOOR`` x the published one counts as that (a miss by a factor of 100), so a
    collapsed price is scored, not dropped."""
    ok = frame[frame["published"] > 0]
    ratio = ok[column].to_numpy(float) / ok["published"].to_numpy(float)
    errors: np.ndarray = np.log(np.maximum(ratio, COLLAPSE_FLOOR))
    return errors


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors**2))) if len(errors) else float("nan")


def scores(series: pd.DataFrame) -> dict[str, Any]:
    """Fit of the central run (run 0): log-RMSE of annual prices by market and period, peak
    year and direction of every element, and the 2025 checks."""
    prices = series[(series["quantity"] == "price") & (series["episode"] == "2009-2016")]
    found: dict[str, Any] = {}
    for market in ("export", "china"):
        rows = prices[prices["market"] == market]
        for label, (first, last) in (
            ("calibration", CALIBRATION_YEARS),
            ("check", CHECK_YEARS),
            ("all", (CALIBRATION_YEARS[0], CHECK_YEARS[1])),
        ):
            window = rows[(rows["year"] >= first) & (rows["year"] <= last)]
            errors = _log_errors(window)
            found[f"log_rmse_{market}_{label}"] = _rmse(errors)
            found[f"n_{market}_{label}"] = len(errors)
            found[f"n_collapsed_{market}_{label}"] = int(np.sum(errors <= np.log(COLLAPSE_FLOOR)))
    export = prices[(prices["market"] == "export") & prices["published"].notna()]
    peaks: dict[str, dict[str, Any]] = {}
    median_peaks: dict[str, dict[str, Any]] = {}
    directions: dict[str, float] = {}
    for e, rows in export.groupby("element"):
        rows = rows.sort_values("year")
        if len(rows) < 3:
            continue
        data_peak = int(rows.loc[rows["published"].idxmax(), "year"])
        for found_peaks, column in ((peaks, "central"), (median_peaks, "median")):
            model_peak = int(rows.loc[rows[column].idxmax(), "year"])
            found_peaks[str(e)] = {
                "model": model_peak,
                "published": data_peak,
                "right": model_peak == data_peak,
            }
        model_steps = np.sign(np.diff(rows["central"].to_numpy(float)))
        data_steps = np.sign(np.diff(rows["published"].to_numpy(float)))
        directions[str(e)] = float(np.mean(model_steps == data_steps))
    found["peak_year"] = peaks
    found["peak_year_right"] = sum(p["right"] for p in peaks.values())
    found["peak_year_elements"] = len(peaks)
    # the same on the runs' median path: a peak that holds only in run 0 is a near-tie
    found["peak_year_median"] = median_peaks
    found["peak_year_right_median"] = sum(p["right"] for p in median_peaks.values())
    found["direction_agreement"] = directions
    found["episode_2025"] = _checks_2025(series)
    found |= _determined(series)
    return found


def _determined(series: pd.DataFrame) -> dict[str, int]:
    """How many compared prices (a published value exists) of run 0 the LP determines: one
    more or one fewer t at the place gives the same price (docs/market.md)."""
    keys = ["episode", "element", "market", "year"]
    ends = series[series["quantity"].isin(["price_low", "price_high"])]
    if ends.empty:
        return {}
    wide = ends.pivot_table(index=keys, columns="quantity", values="central", aggfunc="first")
    prices = series[(series["quantity"] == "price") & series["published"].notna()]
    joined = prices.set_index(keys).join(wide, how="inner")
    width = joined["price_high"] - joined["price_low"]
    tolerance = DETERMINED_USD_PER_KG + 1e-3 * joined["central"].abs()
    return {
        "compared_prices": len(joined),
        "compared_prices_determined": int((width <= tolerance).sum()),
    }


def _checks_2025(series: pd.DataFrame) -> dict[str, Any]:
    """Outside-China Dy and Tb in 2025 against 2024 (goal >= 2x) and China's domestic price
    (goal within +-35 %), model and published; log-RMSE of the 2024 and 2025 prices (every
    market with a published value)."""
    rows = series[(series["episode"] == "2024-2026") & (series["quantity"] == "price")]
    found: dict[str, Any] = {}
    for e in ("Dy", "Tb"):
        for market in ("europe", "china"):
            sel = rows[(rows["element"] == e) & (rows["market"] == market)].set_index("year")
            if 2024 not in sel.index or 2025 not in sel.index:
                continue
            ratio = float(sel.loc[2025, "central"] / sel.loc[2024, "central"])
            found[f"{e}_{market}_2025_over_2024"] = ratio
        europe = found.get(f"{e}_europe_2025_over_2024", float("nan"))
        china = found.get(f"{e}_china_2025_over_2024", float("nan"))
        found[f"{e}_goal_met"] = bool(europe >= 2.0 and abs(china - 1.0) <= 0.35)
    # the fit of every published price: 2024 is the calibration year, 2025 is out of sample
    for year in (2024, 2025):
        errors = _log_errors(rows[rows["year"] == year])
        found[f"log_rmse_{year}"] = _rmse(errors)
        found[f"n_{year}"] = len(errors)
    return found
