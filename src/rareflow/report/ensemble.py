"""The report of a stored ensemble: fan charts, the year of independence, a Sankey of a chosen
year (a fresh solve of run 0), the difference with another ensemble, the levers and sources.

``figures`` returns the plotly figures by name so the web app can serve them one by one;
``ensemble_page`` lays them out with the tables in one self-contained page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from rareflow.dataset.dataset import Dataset
from rareflow.metrics import headline
from rareflow.report.assumptions import (
    growth_table,
    lever_table,
    project_table,
    settings_table,
    source_table,
)
from rareflow.report.fans import Series, diff, fan_figure, independence_figure
from rareflow.report.flows import sankey_figure
from rareflow.report.page import NOISE, Page, readable
from rareflow.scenario.schema import Scenario, cited_sources
from rareflow.simulate.replay import solved_year
from rareflow.simulate.store import Store, StoreError

PRICE_PLACES = (
    ("CN", "in China (domestic)"),
    ("CNX", "FOB China (export)"),
    ("JP", "outside China (Japan)"),
)
FLOW_ELEMENTS = {"NdPr": ("Nd", "Pr"), "Dy": ("Dy",), "Tb": ("Tb",)}


@dataclass(frozen=True)
class Stored:
    """One ensemble as read from a store."""

    id: int
    scenario: str
    seed: int
    runs: int
    scenario_json: dict[str, Any]
    results: pd.DataFrame
    draws: str | None = None
    """How the runs drew (``rareflow.simulate.plan.DRAWS``; None: before it was recorded)."""

    @property
    def elements(self) -> list[str]:
        measure = self.scenario_json.get("measure") or {}
        return [str(e) for e in measure.get("elements", ["NdPr", "Dy", "Tb"])]

    @property
    def thresholds(self) -> list[float]:
        measure = self.scenario_json.get("measure") or {}
        return [float(t) for t in measure.get("thresholds_pct", [50.0, 100.0])]

    @property
    def group(self) -> str:
        measure = self.scenario_json.get("measure") or {}
        return str(measure.get("group", "the group"))


def read_ensemble(store: Path, ensemble: int | None) -> Stored:
    """The ensemble (default: the latest) of a store; raises StoreError if absent."""
    with Store(store, read_only=True) as db:
        ensemble = db.latest() if ensemble is None else ensemble
        table = db.ensembles().set_index("id")
        if ensemble not in table.index:
            held = ", ".join(str(i) for i in table.index) or "none"
            raise StoreError(f"no ensemble {ensemble} in {store}; it holds {held}")
        info = table.loc[ensemble]
        results = db.results(ensemble)
        document = db.scenario_json(ensemble)
        draws = db.draws(ensemble)
    if results.empty:
        raise StoreError(f"ensemble {ensemble} in {store} has no finished run yet")
    return Stored(
        int(ensemble), str(info["scenario"]), int(info["seed"]), int(info["done"]), document,
        results, draws,
    )  # fmt: skip


def figures(stored: Stored) -> dict[str, go.Figure]:
    """The ensemble's fan charts and independence distributions, by name."""
    results, elements = stored.results, stored.elements
    keys = [*elements, "Ga"]
    out = {
        "self_sufficiency": fan_figure(
            results,
            [Series("self_sufficiency_pct", e, e) for e in keys],
            f"Self-sufficiency of {stored.group}: own supply over reference demand",
            "%",
        ),
        "self_sufficiency_owned": fan_figure(
            results,
            [Series("self_sufficiency_owned_pct", e, e) for e in elements],
            "Self-sufficiency by ownership (plants and mines the group's countries own)",
            "%",
        ),
    }
    for e in elements:
        out[f"prices_{e}"] = fan_figure(
            results,
            [Series(f"price_{place}_usd_per_kg", e, label) for place, label in PRICE_PLACES],
            f"{e} oxide price: China's domestic market and outside China",
            "USD/kg",
        )
    out["china_share"] = fan_figure(
        results,
        [Series("china_share_pct", s, s) for s in ("mining", "separation", "magnet", "gallium")],
        "China's share of world output by stage",
        "%",
    )
    out["unmet"] = fan_figure(
        results,
        [Series("group_unmet_t", e, e) for e in elements],
        f"Demand of {stored.group} left unmet (reference demand less what was served)",
        "t oxide/yr",
    )
    out["magnets"] = fan_figure(
        results,
        [
            Series("magnets_unmet_t", "world", "unmet"),
            Series("magnets_substituted_t", "world", "met by substitutes"),
        ],
        "World magnet demand unmet or substituted",
        "t magnet/yr",
    )
    stock_series = [
        Series(f"private_stock_{where}_t", e, f"{e} {label}")
        for e in elements
        for where, label in (("cn", "in China"), ("abroad", "outside China"))
    ]
    piles = sorted(results.loc[results["metric"] == "stock_t", "key"].unique())
    stock_series += [Series("stock_t", str(p), f"state: {p}") for p in piles]
    out["stocks"] = fan_figure(results, stock_series, "Stocks at the year end", "t oxide")
    out["subsidy"] = fan_figure(
        results,
        [Series("subsidy_musd", "all", "floors and subsidies")],
        "Cost of price floors and production subsidies",
        "million USD/yr",
    )
    for threshold in stored.thresholds:
        out[f"independence_{threshold:g}"] = independence_figure(results, elements, threshold)
    return out


def paired(stored: Stored, base: Stored) -> tuple[pd.DataFrame, bool]:
    """``stored`` minus ``base`` run by run (runs paired by index, differences below
    ``NOISE`` as 0) and whether the runs share their draws (common random numbers,
    docs/simulate.md); ValueError for different seeds, under which runs do not pair."""
    if stored.seed != base.seed:
        raise ValueError(
            f"ensembles {stored.id} and {base.id} have seeds {stored.seed} and {base.seed}: runs "
            "pair only under one seed; run both with the same --seed"
        )
    delta = diff(stored.results, base.results)
    delta.loc[delta["value"].abs() < NOISE, "value"] = 0.0
    return delta, stored.draws is not None and stored.draws == base.draws


def comparison_figures(stored: Stored, base: Stored) -> dict[str, go.Figure]:
    """``stored`` minus ``base`` for the main measures (:func:`paired`)."""
    delta, common = paired(stored, base)
    label = f"{stored.scenario} (#{stored.id}) minus {base.scenario} (#{base.id})"
    if not common:
        label += " (runs drawn apart: the bands include draw noise)"
    elements = [e for e in stored.elements if e in base.elements]
    return {
        "compare_self_sufficiency": fan_figure(
            delta,
            [Series("self_sufficiency_pct", e, e) for e in elements],
            f"Self-sufficiency: {label}",
            "percentage points",
        ),
        "compare_prices": fan_figure(
            delta,
            [Series("price_JP_usd_per_kg", e, e) for e in elements],
            f"Price outside China (Japan): {label}",
            "USD/kg",
        ),
        "compare_china_share": fan_figure(
            delta,
            [Series("china_share_pct", s, s) for s in ("mining", "separation", "magnet")],
            f"China's share by stage: {label}",
            "percentage points",
        ),
        "compare_subsidy": fan_figure(
            delta,
            [Series("subsidy_musd", "all", "floors and subsidies")],
            f"Subsidy cost: {label}",
            "million USD/yr",
        ),
    }


def flow_figures(
    stored: Stored, dataset: Dataset, year: int, elements: Sequence[str]
) -> dict[str, go.Figure]:
    """Sankeys of ``year`` in run 0 (solved again from the stored scenario and seed)."""
    scenario = Scenario.model_validate(stored.scenario_json)
    model, values, _ = solved_year(dataset, scenario, stored.scenario, stored.seed, 0, year)
    return {
        f"flows_{e}": sankey_figure(
            model,
            values,
            FLOW_ELEMENTS.get(e, (e,)),
            f"{e} in {year}, run 0: mined → separated → metal → magnets → used, t of element",
        )
        for e in elements
    }


def compact_headline(
    results: pd.DataFrame, elements: list[str], thresholds: list[float]
) -> pd.DataFrame:
    """The headline as one row per element and measure, one column per year band, each cell
    "median [p10-p90]" in readable figures."""
    table = headline(results, elements, thresholds)
    table = table.dropna(subset=["median"])
    table["cell"] = [
        f"{readable(m)} [{readable(lo)}–{readable(hi)}]"
        for m, lo, hi in zip(table["median"], table["p10"], table["p90"], strict=True)
    ]
    wide = table.pivot_table(
        index=["element", "measure"], columns="years", values="cell", aggfunc="first", sort=False
    )
    return wide.reset_index().rename_axis(columns=None)


def ensemble_page(
    stored: Stored,
    dataset: Dataset,
    compare: Stored | None = None,
    flow_year: int | None = None,
    flow_elements: Sequence[str] = ("NdPr", "Dy"),
) -> Page:
    """The whole report of one ensemble (and its difference with ``compare``)."""
    horizon = stored.scenario_json.get("horizon") or {}
    year = flow_year if flow_year is not None else int(horizon.get("end", 2040))
    page = Page(
        f"{stored.scenario}: ensemble {stored.id}",
        f"{stored.runs} runs, seed {stored.seed}, {horizon.get('start')}-{horizon.get('end')}. "
        f"{stored.scenario_json.get('description', '')}",
    )
    drawn = figures(stored)
    page.section("Headline")
    page.table(
        compact_headline(stored.results, stored.elements, stored.thresholds),
        "Median [10-90 % band] across runs, by year band",
    )
    page.section("Self-sufficiency and the year of independence")
    for name in ("self_sufficiency", "self_sufficiency_owned"):
        page.figure(drawn[name])
    for threshold in stored.thresholds:
        page.figure(drawn[f"independence_{threshold:g}"])
    page.section("Prices")
    for e in stored.elements:
        page.figure(drawn[f"prices_{e}"])
    page.section("China's shares, unmet demand, stocks and subsidies")
    for name in ("china_share", "unmet", "magnets", "stocks", "subsidy"):
        page.figure(drawn[name])
    page.section(f"Flows in {year}")
    page.text(
        "Element flows of run 0 in that year, gathered by stage and country; commodity pools "
        "(trade) are mixed in proportion to their flows, as rareflow trace does. Losses in "
        "separation, metal making and magnet making leave each stage smaller than the one before."
    )
    for figure in flow_figures(stored, dataset, year, flow_elements).values():
        page.figure(figure)
    if compare is not None:
        page.section(f"Compared with {compare.scenario} (ensemble {compare.id})")
        page.text(
            "Differences run by run, paired by run index: the runs of different scenarios draw "
            "their uncertainties independently, so a band is the spread of the difference of "
            "two independent outcomes."
        )
        for figure in comparison_figures(stored, compare).values():
            page.figure(figure)
    page.section("Levers and assumptions")
    document = stored.scenario_json
    for caption, frame in (
        ("Settings", settings_table(document)),
        ("Lever blocks", lever_table(document)),
        ("Projects and candidates", project_table(document)),
        ("Demand growth", growth_table(document)),
    ):
        if not frame.empty:
            page.table(frame, caption)
    page.section("Sources cited by the scenario")
    page.table(source_table(cited_sources(document), dataset), links="url")
    return page
