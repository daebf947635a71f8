"""The historical layer, the published targets and the back-cast's scores (a regression test on
what the model gets right and how far it is off, not on printed numbers)."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rareflow.dataset import Dataset
from rareflow.market.clearing import Clearing
from rareflow.market.world_data import build_world
from rareflow.scenario.loader import load_scenario
from rareflow.scenario.schema import Expectations, Scenario
from rareflow.simulate.backcast import Backcast, _log_errors, run_backcast, scores
from rareflow.simulate.backcast_targets import published
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.world import build_market

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def backcast(dataset: Dataset) -> Backcast:
    return run_backcast(dataset, runs=2, seed=0)


def _reading(dataset: Dataset, path: Path | str) -> Backcast:
    """Run 0 of the back-cast with the 2009-2016 episode read from another scenario file."""
    return run_backcast(dataset, 1, 0, scenarios={"2009-2016": str(path)})


def _central(series: pd.DataFrame, quantity: str, element: str, market: str, year: int) -> float:
    """The 2009-2016 episode's central value of one quantity, element, market and year."""
    pick = series[(series["episode"] == "2009-2016") & (series["quantity"] == quantity)
                  & (series["element"] == element) & (series["market"] == market)
                  & (series["year"] == year)]  # fmt: skip
    return float(pick["central"].iloc[0])


def test_2009_world_comes_from_the_historical_layer(dataset: Dataset) -> None:
    world = build_world(dataset, 2009)
    mines = {m.id: m.capacity_t for m in world.mines}
    assert mines["cn_ionic_clay_medium_y_eu"] == pytest.approx(13_400)
    assert mines["cn_bayan_obo"] == pytest.approx(89_200 - 13_400)
    assert mines["us_mountain_pass"] == 0.0
    plants = {p.id: p.capacity_t for p in world.plants()}
    assert plants["lynas_malaysia"] == 0.0 and plants["cn_magnets"] == pytest.approx(52_000)
    assert world.reference_prices[("oxide", "Nd")] == pytest.approx(19.12)
    assert not world.levers.tariffs  # 2024's levers are not carried back
    # start-state calibration: the one-year 2009 market exports what customs recorded (43,900 t)
    exports = Clearing.from_dataset(dataset, 2009).solve().exports()
    shipped = exports[exports["commodity"].isin(["oxide", "metal"])]["t"].sum()
    assert shipped == pytest.approx(43_900, rel=0.05)


def test_the_horizon_foresees_nameplate_capacity_not_recorded_output(dataset: Dataset) -> None:
    """A back-cast's year ahead knows the plants being built (Mountain Pass's 2012 nameplate,
    seen from 2011) but not next year's recorded output (China's magnet output, the ionic-clay
    mining quota): those stay at the current year's level, unless ``foresight: recorded``."""
    scenario = load_scenario("history-2009")
    seen = {}
    for foresight in ("nameplate", "recorded"):
        options = scenario.market.model_copy(update={"foresight": foresight})
        runner = Runner(build_market(dataset, scenario.model_copy(update={"market": options})))
        model = runner.market.clearing.model
        rows = model.program.rows
        for year, *_ in runner.years_of(draw(runner.market.scenario, 0, 0), until=2012):
            for node in ("cn_magnets", "mp_mountain_pass", "cn_ionic_clay_medium_y_eu"):
                for period in (0, 1):
                    upper = model.row_upper[rows[("capacity", period, node)]]
                    seen[foresight, year, node, period] = upper
    for foresight in ("nameplate", "recorded"):
        assert seen[foresight, 2011, "mp_mountain_pass", 0] == 0.0
        assert seen[foresight, 2011, "mp_mountain_pass", 1] == pytest.approx(19_050)
        assert seen[foresight, 2009, "cn_magnets", 0] == pytest.approx(52_000)
        assert seen[foresight, 2012, "cn_ionic_clay_medium_y_eu", 0] == pytest.approx(13_400)
    assert seen["nameplate", 2009, "cn_magnets", 1] == pytest.approx(52_000)
    assert seen["recorded", 2009, "cn_magnets", 1] == pytest.approx(78_000)
    assert seen["nameplate", 2012, "cn_ionic_clay_medium_y_eu", 1] == pytest.approx(13_400)
    assert seen["recorded", 2012, "cn_ionic_clay_medium_y_eu", 1] == pytest.approx(17_900)


def test_published_targets_follow_the_stated_rules(dataset: Dataset) -> None:
    assert published(dataset, "Nd", "export", 2014)[0] == 63.0  # USGS annual average
    # 2012: no annual average; the year's year-end quote with 2011's as its start
    assert published(dataset, "Nd", "export", 2012)[0] == pytest.approx((195 + 77.5) / 2)
    # China domestic, yuan with 17 % VAT: 9,000-9,500 yuan/kg at 6.4588 yuan/USD
    dy = published(dataset, "Dy", "china", 2011)[0]
    assert dy == pytest.approx(9_250 / 6.4588 / 1.17)
    assert published(dataset, "Pr", "export", 2013)[2] == "NOT FOUND"


def test_backcast_scores(backcast: Backcast) -> None:
    """What the model gets right, and bounds on how far off it is today (docs/validation.md):
    a worse model fails here."""
    scores = backcast.scores
    assert scores["log_rmse_export_check"] <= 0.45
    assert scores["log_rmse_export_calibration"] <= 1.06
    peaks = scores["peak_year"]
    # the 2011 peak of La, Ce and Sm from the quota and hoarding on a rising trend (the scare
    # felt from July 2010, so Ce no longer peaks in 2010), of Nd from magnet output grown in
    # 2010-2011. With the ends of the 2011 scare and the 2012 crackdown not foreseen
    # (docs/validation.md), Dy, Tb and Eu peak in 2012.
    assert all(peaks[e]["right"] for e in ("La", "Ce", "Sm", "Nd"))
    assert scores["peak_year_right"] >= 4
    # 2025: the licences open the wedge. Published: Europe Dy and Tb about 2.7x and 3.4x their
    # 2024 level, China's domestic prices within +-15 %. Goal: >= 2x outside, +-35 % inside.
    checks = scores["episode_2025"]
    assert checks["Tb_goal_met"] and checks["Dy_goal_met"]
    for e in ("Dy", "Tb"):
        assert abs(checks[f"{e}_china_2025_over_2024"] - 1.0) <= 0.35
    # every published 2025 price (FOB, Europe, China), out of sample; 0.27 since the licensed
    # buyers keep the licences' rent and the FOB price is what exporters get (0.53 with the rent
    # in it), so a model whose FOB carried the rent again fails here
    assert checks["n_2025"] >= 14 and checks["log_rmse_2025"] <= 0.35


def test_holders_do_not_foresee_an_unannounced_end_of_a_policy(dataset: Dataset) -> None:
    """In 2025 nobody knew that general licences would ease the controls in 2026 (announced in
    December 2025): the year ahead of 2025 keeps the 2025 licences in force. With their end
    foreseen (the rule before December 2026), holders outside China sold Dy ahead of an easier
    2026 and Europe's Dy stood at 1.96 x its 2024 price instead of 2.4 x (published 2.7 x)."""
    from rareflow.simulate.plan import draw
    from rareflow.simulate.run import Runner
    from rareflow.simulate.world import build_market

    scenario = load_scenario("history-2024")
    block = next(b for b in scenario.levers if b.id == "licences_2025")
    assert (block.end, block.end_announced) == (2025, 2026)
    assert block.ends_for(2025) is None and block.ends_for(2026) == 2025
    foreseen = block.model_copy(update={"end_announced": None})
    assert foreseen.ends_for(2025) == 2025
    for told, persists in ((block, True), (foreseen, False)):
        levers = [told if b.id == block.id else b for b in scenario.levers]
        variant = scenario.model_copy(update={"levers": levers})
        runner = Runner(build_market(dataset, variant))
        for _ in runner.years_of(draw(runner.market.scenario, 0, 0), until=2025):
            pass
        active = runner.market.clearing.model.levers.active
        licences = runner.market.block_levers[block.id]
        assert licences <= active[0]  # 2025 itself
        assert (licences <= active[1]) is persists  # 2026 as seen from 2025


def test_an_end_announced_needs_an_end_before_it() -> None:
    from rareflow.dataset.levers import Levers
    from rareflow.scenario.schema import DatedLevers

    with pytest.raises(ValueError, match="end_announced needs an end"):
        DatedLevers(id="b", start=2025, end_announced=2026, levers=Levers())
    with pytest.raises(ValueError, match="use at most 2026"):
        DatedLevers(id="b", start=2025, end=2025, end_announced=2027, levers=Levers())
    assert DatedLevers(id="b", start=2025, end=2025, end_announced=2026, levers=Levers())


def test_a_block_counts_its_rates_and_levels_by_the_months_in_force() -> None:
    from rareflow.dataset.levers import Levers, Quota, Threat
    from rareflow.scenario.schema import DatedLevers

    threat = Levers(threats=[Threat(id="t", elements=["Dy"], level=1.0)])
    scare = DatedLevers(id="b", start=2010, start_month=7, end=2012, end_month=3, levers=threat)
    # July-December 2010: 6 months; 2011 whole; January-March 2012: 3 months
    assert [scare.share_of_year(y, 2010) for y in range(2009, 2014)] == [0, 0.5, 1, 0.25, 0]
    # a year ahead that does not know the end sees the block go on through 2012 and after
    assert [scare.share_of_year(y, 2010, end_known=False) for y in (2012, 2013)] == [1, 1]
    # a start drawn a year later keeps its start month
    assert scare.share_of_year(2011, 2011) == 0.5
    within = DatedLevers(id="b", start=2025, start_month=4, end=2025, end_month=9, levers=threat)
    assert within.share_of_year(2025, 2025) == 0.5
    with pytest.raises(ValueError, match="end_month needs an end year"):
        DatedLevers(id="b", start=2025, end_month=6, levers=threat)
    with pytest.raises(ValueError, match="cannot be before start_month"):
        DatedLevers(id="b", start=2025, start_month=7, end=2025, end_month=6, levers=threat)
    quota = Levers(quotas=[Quota(id="q", limit_t=100.0)])
    with pytest.raises(ValueError, match="quotas are amounts or switches for a whole year"):
        DatedLevers(id="b", start=2025, start_month=7, levers=quota)
    assert DatedLevers(id="b", start=2025, levers=quota)  # whole years: any lever


def test_a_scare_from_july_is_half_a_scare_in_its_first_year(
    dataset: Dataset, tmp_path: Path
) -> None:
    """The episode's scare counted by its months (level 1 from July 2010) is the same market as
    the two additive half-level blocks it replaced (0.5 over 2010-2011, plus 0.5 in 2011 that
    holders of 2010 foresee): a threat's premium is linear in its level."""
    block = {"end": 2011, "end_announced": 2012}
    elements = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Y", "Ho", "Er", "Tm",
                "Yb", "Lu"]  # fmt: skip

    def threat(name: str) -> dict[str, object]:
        return {"threats": [{"id": name, "elements": elements, "level": 0.5,
                             "places": ["JP", "US", "eu", "OTHER"]}]}  # fmt: skip

    halves = {
        "name": "history-2009-scare-halves", "extends": "history-2009",
        "description": "the 2010 scare as two additive half-level blocks",
        "levers": [
            {"id": "supply_scare_2010_2011", "start": 2010, **block,
             "levers": threat("threat_2010_2011")},
            {"id": "supply_scare_2011", "start": 2011, "announced": 2010, **block,
             "levers": threat("threat_2011")},
        ],
    }  # fmt: skip
    scenario = load_scenario("history-2009")
    scare = next(b for b in scenario.levers if b.id == "supply_scare_2010_2011")
    assert (scare.start, scare.start_month, scare.end) == (2010, 7, 2011)
    months, summed = (
        _years_of(dataset, scenario, 2012),
        _years_of(dataset, _written(tmp_path / "halves.yaml", halves), 2012),
    )
    for year in (2009, 2010, 2011, 2012):
        assert np.allclose(months[year], summed[year], rtol=1e-7, atol=1e-6)


def _written(path: Path, document: dict[str, object]) -> Scenario:
    """The scenario of ``document``, loaded from a YAML file written at ``path``."""
    path.write_text(yaml.safe_dump(document))
    return load_scenario(str(path))


def _years_of(dataset: Dataset, scenario: Scenario, until: int) -> dict[int, np.ndarray]:
    """Run 0's row duals (every balance's price, both periods) of each year up to ``until``."""
    runner = Runner(build_market(dataset, scenario))
    plan = draw(runner.market.scenario, 0, 0)
    return {year: duals.copy() for year, _, duals, _ in runner.years_of(plan, until=until)}


def test_compared_prices_lie_in_their_intervals_and_most_are_determined(
    backcast: Backcast,
) -> None:
    """Run 0 gives each compared price the interval of prices its LP leaves optimal
    (docs/market.md): the reported price lies in it, and nearly all are points (docs/validation.md:
    112 of 116)."""
    series = backcast.series
    keys = ["episode", "element", "market", "year"]
    ends = series[series["quantity"].isin(["price_low", "price_high"])].pivot_table(
        index=keys, columns="quantity", values="central", aggfunc="first"
    )
    prices = series[series["quantity"] == "price"].set_index(keys)["central"]
    joined = ends.join(prices, how="inner")
    assert len(joined) == len(prices)
    assert (joined["price_low"] <= joined["central"] + 1e-6).all()
    assert (joined["central"] <= joined["price_high"] + 1e-6).all()
    scores = backcast.scores
    assert scores["compared_prices_determined"] >= 0.9 * scores["compared_prices"] > 0


def test_export_price_wedge_while_quotas_bind(backcast: Backcast) -> None:
    """2010-2013: the export price of La and Ce stays above China's domestic price by at least
    the export tax (15-25 %): the two tiers separate."""
    rows = backcast.series[(backcast.series["quantity"] == "price")
                           & (backcast.series["episode"] == "2009-2016")]  # fmt: skip
    for e in ("La", "Ce"):
        for year in range(2010, 2014):
            pick = rows[(rows["element"] == e) & (rows["year"] == year)].set_index("market")
            assert pick.loc["export", "central"] > 1.1 * pick.loc["china", "central"]


@pytest.mark.e2e
def test_backcast_cli_json_shape() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rareflow", "backcast", "--runs", "1", "--json"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    row = payload["series"][0]
    assert {"quantity", "element", "market", "year", "median", "p10", "p90", "published",
            "source", "episode"} <= set(row)  # fmt: skip
    assert "log_rmse_export_check" in payload["scores"]
    bad = subprocess.run(
        [sys.executable, "-m", "rareflow", "backcast", "--runs", "0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    for flags, message in (
        (["--trend", "0.5"], "need --expectations extrapolative"),
        (["--expectations", "adaptive"], "use reference or extrapolative"),
        (["--step-price", "median"], "use lower or mean"),
        (["--episode", "2011=history-2009"], "EPISODE one of 2009-2016, 2024-2026"),
        (["--episode", "2024-2026=history-2009"], "must cover 2024-2026"),
        (["--episode", "2009-2016=no-such.yaml"], "not found"),
        (["--json", "--markdown"], "choose one"),
    ):
        bad = subprocess.run(
            [sys.executable, "-m", "rareflow", "backcast", *flags],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert bad.returncode != 0 and message in bad.stderr + bad.stdout
        assert "Traceback" not in bad.stderr


def test_the_markdown_tables_hold_every_compared_price(backcast: Backcast) -> None:
    """`rareflow backcast --markdown` prints docs/validation.md's tables: each cell the median,
    the 10-90 % band and the published value of one series row, three significant figures."""
    from rareflow.cli.backcast_tables import markdown, number

    assert [number(v) for v in (1234.4, 99.95, 12.34, 5.468, 0.0, None)] == [
        "1,234", "100.0", "12.3", "5.47", "0.00", "–"]  # fmt: skip
    text = markdown(backcast)
    lines = text.splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("**")]
    assert len(tables) == 4
    series = backcast.series
    nd = series[(series["quantity"] == "price") & (series["element"] == "Nd")
                & (series["market"] == "export") & (series["year"] == 2011)
                & (series["episode"] == "2009-2016")].iloc[0]  # fmt: skip
    row = next(line for line in lines[tables[0] : tables[1]] if line.startswith("| Nd |"))
    cell = row.split(" | ")[3]  # 2009, 2010, then 2011
    assert cell == (f"{number(nd['median'])} [{number(nd['p10'])}–{number(nd['p90'])}] / "
                    f"{number(nd['published'])}")  # fmt: skip
    assert cell.endswith("/ 195")  # the published 2011 FOB average of Nd oxide
    for start, end in zip(tables, [*tables[1:], len(lines)], strict=True):
        body = [line for line in lines[start:end] if line.startswith("| ")]
        widths = {line.count("|") for line in body}
        assert len(widths) == 1 and len(body) >= 3  # a header and rows, none ragged
    recent = [line for line in lines[tables[3] :] if line.startswith("| Dy | europe |")]
    assert len(recent) == 1 and recent[0].count("[") == 3  # 2024, 2025, 2026


def test_the_calibrated_rule_beats_the_reference_rule(dataset: Dataset, backcast: Backcast) -> None:
    """The extrapolative rule was chosen on 2010-2012 (docs/validation.md's grid); against
    holders who expect the reference price it must keep more peak years right and fit the
    calibration years better (4 against 2 peak years, 1.03 against 1.12, steps priced at the
    curve's mean). On the years it was not chosen on it also fits better (0.42 against 0.60);
    the check bound only keeps it from doing worse."""
    reference = run_backcast(dataset, 1, 0, Expectations(rule="reference")).scores
    chosen = backcast.scores
    assert chosen["peak_year_right"] > reference["peak_year_right"]
    assert chosen["log_rmse_export_calibration"] < reference["log_rmse_export_calibration"]
    assert chosen["log_rmse_export_check"] < reference["log_rmse_export_check"] + 0.01


def test_peaks_are_scored_on_run_0_and_on_the_median_path() -> None:
    """A peak that holds in run 0 but not on the runs' median path is a near-tie: both counts."""
    years = [2009, 2010, 2011, 2012]
    series = pd.DataFrame({
        "quantity": "price", "episode": "2009-2016", "market": "export", "element": "Nd",
        "year": years, "published": [19.0, 67.0, 195.0, 136.0],
        "central": [20.0, 40.0, 52.0, 51.0], "median": [20.0, 40.0, 50.0, 51.0],
    })  # fmt: skip
    found = scores(series)
    assert found["peak_year"]["Nd"] == {"model": 2011, "published": 2011, "right": True}
    assert found["peak_year_median"]["Nd"] == {"model": 2012, "published": 2011, "right": False}
    assert (found["peak_year_right"], found["peak_year_right_median"]) == (1, 0)


def test_withheld_quota_explains_little_of_the_2011_spike(
    dataset: Dataset, backcast: Backcast
) -> None:
    """docs/validation.md: with legal exports held to what customs recorded (56 % of the 2011
    quota), La and Ce rise but stay far below the 2011 quotes, and smugglers do not ship less
    (with the scare felt from July 2010 they ship more; before, their network's capacity bound
    in 2011 either way)."""
    withheld = _reading(dataset, ROOT / "examples/history-2009-withheld-quota.yaml").series

    def value(series: pd.DataFrame, quantity: str, element: str, market: str) -> float:
        return _central(series, quantity, element, market, 2011)

    assert value(withheld, "china_exports", "all", "export") == pytest.approx(16_900, rel=1e-6)
    extra = value(withheld, "china_smuggled", "all", "export") - value(
        backcast.series, "china_smuggled", "all", "export"
    )
    assert extra > -1.0  # withholding 13,346 t of legal exports never shrinks smuggling
    for e in ("La", "Ce"):
        price = value(withheld, "price", e, "export")
        assert (
            value(backcast.series, "price", e, "export")
            < price
            < 0.3 * published(dataset, e, "export", 2011)[0]
        )


def test_a_weaker_2012_crackdown_lowers_the_heavies_2012_rise(
    dataset: Dataset, backcast: Backcast
) -> None:
    """docs/validation.md: with 2012's output outside the quota at Kingsnorth's share (about
    28,000 t) instead of MIIT's claim (10,000 t), the heavy rare earths are cheaper in 2012 (more
    medium-Y ionic clay) and rise less from 2011, yet still peak in 2012 (holders extrapolate
    2011's rise), and the calibration years fit worse (the heavies' levels fall further below
    the quotes)."""
    weaker = _reading(dataset, ROOT / "examples/history-2009-crackdown-2012-estimates.yaml")

    def price(series: pd.DataFrame, element: str, year: int) -> float:
        return _central(series, "price", element, "export", year)

    for e in ("Dy", "Tb", "Eu"):
        assert price(weaker.series, e, 2012) < price(backcast.series, e, 2012)
        rise = price(weaker.series, e, 2012) / price(weaker.series, e, 2011)
        assert 1.0 < rise < price(backcast.series, e, 2012) / price(backcast.series, e, 2011)
        assert not weaker.scores["peak_year"][e]["right"]
    calibration = "log_rmse_export_calibration"
    assert weaker.scores[calibration] > backcast.scores[calibration]


def test_the_state_purchases_of_2012_and_2013_do_not_rescue_the_fit(
    dataset: Dataset, backcast: Backcast
) -> None:
    """docs/validation.md: the 2012-2013 state purchases as reported make the heavy rare earths
    dearer in 2012 and 2013 inside China but cannot bring their peak back to 2011 (purchases
    after it only add to a late peak); the planned 18,000 t bought in 2012 overshoots the
    published 2012 prices several times over (an upper bound)."""

    def price(series: pd.DataFrame, element: str, market: str, year: int) -> float:
        return _central(series, "price", element, market, year)

    def variant(name: str) -> Backcast:
        return _reading(dataset, ROOT / "examples" / f"history-2009-state-reserve-{name}.yaml")

    reported, plan = variant("2012-2013"), variant("2012-plan")
    for year in (2012, 2013):
        assert price(reported.series, "Dy", "china", year) > price(
            backcast.series, "Dy", "china", year
        )
    for e in ("Dy", "Tb", "Eu"):
        assert reported.scores["peak_year"][e]["model"] in (2012, 2013)
    assert (
        price(plan.series, "Dy", "export", 2012) > 2 * published(dataset, "Dy", "export", 2012)[0]
    )
    china = "log_rmse_china_calibration"
    assert plan.scores[china] > backcast.scores[china] + 0.2


def test_a_scare_felt_from_july_2010_moves_ce_peak_into_2011(
    dataset: Dataset, backcast: Backcast, tmp_path: Path
) -> None:
    """docs/validation.md, "When the 2010 scare began": with the scare at its full level through
    all of 2010, holders abroad build their stock in 2010 and Ce peaks there; counted from July
    2010 (the episode), the stock build and the quota rent move into 2011, where Ce peaked."""
    episode = yaml.safe_load((ROOT / "src/rareflow/data/scenarios/history-2009.yaml").read_text())
    scare = next(b for b in episode["levers"] if b["id"] == "supply_scare_2010_2011")
    elements = scare["levers"]["threats"][0]["elements"]

    threat = {"id": "threat_2010_2011", "elements": elements, "level": 1.0,
              "places": ["JP", "US", "eu", "OTHER"]}  # fmt: skip
    from_january = {"id": "supply_scare_2010_2011", "start": 2010, "end": 2011,
                    "end_announced": 2012, "levers": {"threats": [threat]}}  # fmt: skip
    variant = tmp_path / "whole-2010.yaml"
    variant.write_text(
        yaml.safe_dump(
            {"name": "history-2009-scare-whole-2010", "extends": "history-2009",
             "description": "the scare at its full level through 2010",
             "levers": [from_january]}
        )
    )  # fmt: skip
    whole = _reading(dataset, variant).scores
    assert backcast.scores["peak_year"]["Ce"]["model"] == 2011
    assert whole["peak_year"]["Ce"]["model"] == 2010
    calibration = "log_rmse_export_calibration"
    assert whole[calibration] > backcast.scores[calibration] + 0.05


def test_the_2025_prices_are_scored_apart_from_the_calibration_year() -> None:
    """2024 is the year the market is calibrated on, 2025 is out of sample: each gets its own
    log-RMSE over every market with a published value (here by hand: ln 2 and ln 1.5 / ln 1)."""
    series = pd.DataFrame({
        "quantity": "price", "episode": "2024-2026", "element": "Dy",
        "market": ["china", "europe", "china", "europe", "china"],
        "year": [2024, 2024, 2025, 2025, 2026],
        "published": [100.0, None, 100.0, 300.0, None],
        "central": [200.0, 210.0, 150.0, 300.0, 160.0],
    })  # fmt: skip
    checks = scores(series)["episode_2025"]
    assert (checks["n_2024"], checks["n_2025"]) == (1, 2)
    assert checks["log_rmse_2024"] == pytest.approx(math.log(2.0))
    assert checks["log_rmse_2025"] == pytest.approx(math.sqrt(math.log(1.5) ** 2 / 2))


def test_a_collapsed_price_is_scored_not_dropped() -> None:
    # a model price of 0 against 74 published counts as 1 % of 74: ln(0.01) = -4.61
    frame = pd.DataFrame({"central": [0.0, 10.0, 5.0], "published": [74.0, 10.0, float("nan")]})
    assert _log_errors(frame) == pytest.approx([math.log(0.01), 0.0])


def test_the_lamp_phosphor_reading_of_history(dataset: Dataset, backcast: Backcast) -> None:
    """docs/validation.md: with all non-magnet Eu and Tb demand following China's lamp-phosphor
    output, the fall of 2012 makes Eu and Tb peak in 2011 as published (the default peaks them
    in 2012), but Eu and Tb collapse from 2014 and the check years fit far worse: the default's
    check score rests on the unknown phosphor share."""
    scores = _reading(dataset, ROOT / "examples/history-2009-lamp-phosphors.yaml").scores
    assert scores["peak_year"]["Eu"]["right"] and scores["peak_year"]["Tb"]["right"]
    assert scores["peak_year_right"] > backcast.scores["peak_year_right"]
    assert scores["n_collapsed_export_check"] >= 4
    assert backcast.scores["n_collapsed_export_all"] == 0
    assert scores["log_rmse_export_check"] > 2 * backcast.scores["log_rmse_export_check"]


def test_steps_priced_at_the_curves_mean_raise_prices_not_the_dy_wedge(
    dataset: Dataset, backcast: Backcast
) -> None:
    """docs/validation.md, "How demand steps are priced": pricing each step at the curve's mean
    over it (the default) instead of its interval's bottom can only raise the price of a partly
    served step, so the too-low 2010-2012 export prices come closer (calibration error down),
    while Dy in Europe in 2025, set by the licences and not by a step of its own curve, stays
    within a few per cent."""
    assert dataset.market is not None and dataset.market.step_price == "mean"
    market = dataset.market.model_copy(update={"step_price": "lower"})
    lower_run = run_backcast(dataclasses.replace(dataset, market=market), 1, 0)
    lower, mean = lower_run.scores, backcast.scores
    assert mean["log_rmse_export_calibration"] < lower["log_rmse_export_calibration"] - 0.03
    europe_dy_2025 = [
        float(run.series.query("quantity == 'price' and element == 'Dy' and market == 'europe' "
                               "and year == 2025")["central"].iloc[0])
        for run in (backcast, lower_run)
    ]  # fmt: skip
    assert europe_dy_2025[0] == pytest.approx(europe_dy_2025[1], rel=0.05)
    tb = "Tb_europe_2025_over_2024"
    assert mean["episode_2025"][tb] > lower["episode_2025"][tb]
