"""Scenario runs: reproducibility, conservation every year, directions, store and resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataValidationError
from rareflow.market.separation import heavy_held
from rareflow.metrics import headline, hhi, independence, top_share_pct, year_of_independence
from rareflow.scenario.loader import builtin_names, load_scenario, merge
from rareflow.scenario.schema import Growth, Override, Scenario
from rareflow.simulate.growth import DemandGrowth
from rareflow.simulate.plan import draw, project_capacity, ramp_fraction
from rareflow.simulate.run import Runner
from rareflow.simulate.store import Store, StoreError
from rareflow.simulate.world import ScenarioError, build_market


@pytest.fixture(scope="module")
def baseline(dataset: Dataset) -> Runner:
    return Runner(build_market(dataset, load_scenario("baseline")))


def metric(frame: pd.DataFrame, name: str, key: str) -> pd.Series:
    rows = frame[(frame["metric"] == name) & (frame["key"] == key)]
    return rows.set_index("year")["value"]


def test_builtin_scenarios_load_and_extend() -> None:
    assert set(builtin_names()) >= {
        "baseline",
        "china-heavy-ban",
        "alliance-buildout",
        "decoupling",
    }
    decoupling = load_scenario("decoupling")
    ids = {block.id for block in decoupling.levers}
    assert ids == {"us_concentrate_to_china_halt", "cn_ann18_ban", "cn_01pct_rule",
                   "dod_ndpr_floor", "alliance_offtakes"}  # fmt: skip
    # inherited from baseline through both parents, overridden by alliance-buildout
    assert any(p.id == "mp_10x" for p in decoupling.projects)
    assert {o.id for o in decoupling.overrides} == {"nolans_mine", "nolans_separation"}


def test_merge_replaces_records_by_id_and_mappings_by_key() -> None:
    parent = {"a": [{"id": "x", "v": 1}, {"id": "y", "v": 2}], "m": {"p": 1, "q": 2}, "s": 1}
    child = {"a": [{"id": "y", "v": 3}], "m": {"q": 5}, "s": 2}
    assert merge(parent, child) == {
        "a": [{"id": "x", "v": 1}, {"id": "y", "v": 3}],
        "m": {"p": 1, "q": 5},
        "s": 2,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nhorizon: {start: 2024, end: 2030}\ncolour: red\n", "colour"),
        ("name: x\nhorizon: {start: 2030, end: 2024}\n", "before its start"),
        (
            "name: x\nhorizon: {start: 2024, end: 2030}\nprojects:\n  - {id: p, stage: mine, "
            "location: US, capacity_t: 10, start: 2027, status: planned, cost_usd_per_kg: 1}\n",
            "needs ore_type",
        ),
        ("name: x\nextends: nowhere\nhorizon: {start: 2024, end: 2030}\n", "not found"),
    ],
)
def test_bad_scenarios_name_file_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(DataValidationError) as caught:
        load_scenario(str(path))
    assert expected in str(caught.value)


def test_scenario_names_are_checked_against_the_dataset(tmp_path: Path, dataset: Dataset) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\nextends: baseline\nhorizon: {start: 2024, end: 2026}\n"
        "overrides: [{id: no_such_project, delay_years: 1}]\n"
        "source: [no_such_source]\n"
        "demand: {growth: [{end_use: teleporters, rate_pct: 5}]}\n"
    )
    with pytest.raises(ScenarioError) as caught:
        build_market(dataset, load_scenario(str(path)))
    assert "no_such_project" in str(caught.value) and "teleporters" in str(caught.value)
    assert "no_such_source" in str(caught.value)


def test_ramp_and_draws_are_reproducible() -> None:
    assert ramp_fraction(2026, 2027, 2.0) == 0.0
    assert ramp_fraction(2027, 2027, 2.0) == pytest.approx(1 / 3)
    assert ramp_fraction(2030, 2027, 2.0) == 1.0
    assert ramp_fraction(2030, None, 2.0) == 0.0
    # a recorded level stands in its year (a back-cast's reported output), the ramp elsewhere
    recorded = load_scenario("history-2024")
    lynas = next(p for p in recorded.projects if p.id == "lynas_malaysia_heavy")
    plan = draw(recorded, 0, 0)
    assert project_capacity(lynas, 2025, plan) == pytest.approx(327.0)
    ramp = ramp_fraction(2026, plan.project_start[lynas.id], plan.project_ramp[lynas.id])
    assert project_capacity(lynas, 2026, plan) == pytest.approx(1500.0 * ramp)


def test_lynas_recorded_heavy_feed_gives_its_reported_dy_and_tb(dataset: Dataset) -> None:
    # About 21 t of Dy + Tb in 2025 (the scenario's note): Mt Weld ore's Dy + Tb over what
    # Lynas's light plant leaves in its heavy concentrate (every element but La, Ce, Pr, Nd),
    # from the ore table, recomputed here: 21 / (0.34 / 5.29) = 327 t of heavy feed.
    market = dataset.market
    assert market is not None
    light = next(p for p in market.separators if p.id == "lynas_malaysia")
    ore = dataset.ore_distribution("mt_weld")
    left = ore[[e for e in ore.index if e not in light.separates]].sum()
    recorded = next(p for p in load_scenario("history-2024").projects
                    if p.id == "lynas_malaysia_heavy")  # fmt: skip
    feed = 21.0 * left / ore[["Dy", "Tb"]].sum()
    assert recorded.recorded_t[2025] == pytest.approx(feed, abs=1.0)
    assert set(recorded.separates) == {"Dy", "Tb"}


def test_draws_are_reproducible() -> None:
    scenario = load_scenario("china-heavy-ban")
    assert draw(scenario, 7, 3) == draw(scenario, 7, 3)
    assert draw(scenario, 7, 3) != draw(scenario, 7, 4)


def test_an_elements_demand_rule_overrides_its_end_use_in_its_years(dataset: Dataset) -> None:
    # Eu oxide demand falls 20 %/yr in 2025-2026, then follows the default rule (2.8 %/yr to
    # 2030) as La's does throughout: 2026 Eu 0.8^2 = 0.64, La 1.028^2; 2027 Eu 0.64 x 1.028.
    base = load_scenario("baseline")
    rules = [
        *base.demand.growth,
        Growth(end_use="non_magnet", elements=["Eu"], rate_pct=-20.0, start=2025, end=2026),
    ]
    demand = base.demand.model_copy(update={"growth": rules, "growth_scale_sd": 0.0})
    scenario = base.model_copy(update={"demand": demand})
    runner = Runner(build_market(dataset, scenario))
    model = runner.market.clearing.model
    scale: dict[int, dict[str, float]] = {}
    for year, *_ in runner.years_of(draw(scenario, 0, 0), until=2027):
        scale[year] = {
            element: float(model.column_scale[columns].mean())
            for (use, region, element, period), columns in runner.demand_columns.items()
            if use == "non_magnet" and region == "JP" and period == 0 and element is not None
        }
    assert scale[2026]["Eu"] == pytest.approx(0.64)
    assert scale[2026]["La"] == pytest.approx(1.028**2)
    assert scale[2027]["Eu"] == pytest.approx(0.64 * 1.028)
    assert scale[2027]["Tb"] == scale[2027]["La"] == pytest.approx(1.028**3)
    with pytest.raises(ScenarioError, match="oxide demand only"):
        wrong = Growth(end_use="ev_traction", elements=["Eu"], rate_pct=1.0)
        moved = demand.model_copy(update={"growth": [*rules, wrong]})
        build_market(dataset, scenario.model_copy(update={"demand": moved}))


def test_demand_growth_scales_each_group_by_its_drawn_path() -> None:
    # 10 %/yr to 2025, then 4 %/yr; a run drawing scale 0.5 grows 5 % in 2025, then 2 % a
    # year. Period 1 (the year ahead) of 2025 is 2026: 1.05 x 1.02. Other uses follow the
    # default rule (-50 %/yr, -25 % at scale 0.5). Reference magnets (100 t) grow with their
    # group. At scale 2, 2027 is 1.2 x 1.08^2 and the default rule takes demand to zero.
    rules = [
        Growth(end_use="motors", rate_pct=10.0, end=2025),
        Growth(end_use="motors", rate_pct=4.0, start=2026),
        Growth(end_use="default", rate_pct=-50.0),
    ]
    groups = {
        ("motors", "JP", None, 0): np.array([0, 2]),
        ("motors", "JP", None, 1): np.array([5]),
        ("glass", "JP", "La", 0): np.array([1]),
    }
    growth = DemandGrowth(rules, groups, {("motors", "JP"): 100.0}, 2024, 2027, 2)
    scale = np.zeros(6)
    assert growth.apply(scale, 2025, 0, 0.5) == pytest.approx(105.0)
    assert growth.apply(scale, 2025, 1, 0.5) == pytest.approx(105.0 * 1.02)
    assert scale.tolist() == pytest.approx([1.05, 0.75, 1.05, 0, 0, 1.05 * 1.02])
    growth.apply(scale, 2024, 0, 2.0)  # a new draw: the first year is the base
    assert scale[[0, 1, 2]].tolist() == [1.0, 1.0, 1.0]
    growth.apply(scale, 2027, 0, 2.0)
    assert scale[0] == pytest.approx(1.2 * 1.08**2) and scale[1] == 0.0


def test_variants_share_their_draws() -> None:
    """Common random numbers: what two variants share draws the same in every run, whatever
    else differs (order, other projects, prices, slippage of other statuses)."""
    base = load_scenario("alliance-buildout")
    slower = {
        status: slip.model_copy(update={"mean_delay_years": 2 * slip.mean_delay_years + 1})
        for status, slip in base.slippage.items()
    }
    variant = base.model_copy(
        update={
            "projects": list(reversed(base.projects[1:])),
            "candidates": [
                c.model_copy(update={"max_units": c.max_units + 2}) for c in base.candidates
            ],
            "levers": list(reversed(base.levers)),
            "slippage": slower,
        }
    )
    for run in range(30):
        one, other = draw(base, 4, run), draw(variant, 4, run)
        assert one.growth_scale == other.growth_scale
        assert one.lever_start == other.lever_start
        for candidate, draws in one.lead_draws.items():
            assert other.lead_draws[candidate][: len(draws)] == draws
        for project in base.projects[1:]:
            start, later = one.project_start[project.id], other.project_start[project.id]
            if start is not None and later is not None:  # a longer mean never shortens a delay
                assert later >= start
            ramp_base = one.project_ramp[project.id]
            assert other.project_ramp[project.id] == pytest.approx(ramp_base)
            assert (start is None) == (later is None)  # cancellation shares its draw


def test_draws_follow_their_distributions() -> None:
    """Inverse-distribution draws keep the stated means: Poisson delays, cancellation shares,
    the normal demand-growth scale (400 runs; bounds are about 4 standard errors)."""
    scenario = load_scenario("baseline")
    planned = [p for p in scenario.projects if p.status == "planned" and not p.recorded_t]
    slip = scenario.slippage["planned"]
    plans = [draw(scenario, 11, run) for run in range(400)]
    delays, cancelled = [], 0
    for plan in plans:
        for project in planned:
            start = plan.project_start[project.id]
            if start is None:
                cancelled += 1
            else:
                delays.append(start - project.start)
    count = len(plans) * len(planned)
    share = slip.cancel_probability
    assert abs(cancelled / count - share) < 4 * (share * (1 - share) / count) ** 0.5
    mean = slip.mean_delay_years
    assert abs(np.mean(delays) - mean) < 4 * (mean / len(delays)) ** 0.5
    assert np.var(delays) == pytest.approx(mean, rel=0.25)  # Poisson: variance = mean
    scales = np.array([plan.growth_scale for plan in plans])
    sd = scenario.demand.growth_scale_sd
    assert abs(scales.mean() - 1.0) < 4 * sd / 20
    assert scales.std() == pytest.approx(sd, rel=0.2)


def test_same_seed_same_numbers_whatever_ran_before(dataset: Dataset, baseline: Runner) -> None:
    scenario = baseline.market.scenario
    first = baseline.run(draw(scenario, 5, 1))
    baseline.run(draw(scenario, 5, 2))  # another run on the same worker in between
    again = baseline.run(draw(scenario, 5, 1))
    pd.testing.assert_frame_equal(first, again)
    fresh = Runner(build_market(dataset, scenario)).run(draw(scenario, 5, 1))
    pd.testing.assert_frame_equal(first, fresh)


def test_projects_carry_their_owner_and_routes(baseline: Runner) -> None:
    # Lynas's Malaysian heavy circuit counts for Australia by ownership (facilities.csv owner)
    plants = {p.id: p for p in baseline.market.world.plants()}
    assert plants["lynas_malaysia_heavy"].location == "MY"
    assert plants["lynas_malaysia_heavy"].owner == "AU"
    assert plants["iluka_eneabba"].owner is None  # owned where it stands
    # new mines trade as their country's mines do: Kachin and Chinese ore only into China
    mines = {m.id: m for m in baseline.market.world.mines}
    assert mines["myanmar_ionic_expansion"].routes == mines["mm_ionic_clay_medium_y_eu"].routes
    assert mines["china_hard_rock_expansion"].routes == ("china",)
    assert mines["row_ionic_clay"].routes == ()


def test_conservation_every_year(baseline: Runner) -> None:
    frame = baseline.run(draw(baseline.market.scenario, 0, 0))
    years = sorted(frame["year"].unique())
    assert years == list(range(2024, 2041))
    for name in ("max_imbalance_t", "ledger_residual_t"):
        assert metric(frame, name, "all").abs().max() < 1e-6


def test_base_year_of_a_run_is_the_calibrated_market(dataset: Dataset, baseline: Runner) -> None:
    """The run's first year through the lean records equals the result tables of the same
    solve (same shares); mining is 270 / 384 kt of USGS output."""
    from rareflow.market.results import summarise

    plan = draw(baseline.market.scenario, 0, 0)
    frame = baseline.run(plan)
    shares = frame[(frame["metric"] == "china_share_pct") & (frame["year"] == 2024)]
    by_stage = shares.set_index("key")["value"]
    _, values, duals, _ = next(baseline.years_of(plan, until=2024))
    tables = summarise(baseline.market.clearing.model, values, duals, 0.0, 1)
    alone = tables.shares().set_index("stage")["share_pct"]
    for stage in ("mining", "separation", "magnet"):
        assert by_stage[stage] == pytest.approx(alone[stage], abs=1e-6)
    assert by_stage["mining"] == pytest.approx(100 * 270_000 / 384_000)


def test_ban_lowers_alliance_use_and_raises_ex_china_prices(
    dataset: Dataset, baseline: Runner
) -> None:
    ban = load_scenario("china-heavy-ban")
    always = ban.model_copy(
        update={
            "levers": [
                b.model_copy(update={"start_spread_years": 0})
                for b in ban.levers
                if b.id in ("us_concentrate_to_china_halt", "cn_ann18_ban")
            ]
        }
    )
    banned = Runner(build_market(dataset, always)).run(draw(always, 3, 0))
    free = baseline.run(draw(baseline.market.scenario, 3, 0))
    years = range(2026, 2031)
    tb_banned, tb_free = (
        metric(banned, "price_JP_usd_per_kg", "Tb"),
        metric(free, "price_JP_usd_per_kg", "Tb"),
    )
    assert all(tb_banned[y] > tb_free[y] for y in years)
    use_banned, use_free = metric(banned, "group_use_t", "Tb"), metric(free, "group_use_t", "Tb")
    assert sum(use_banned[y] for y in years) < sum(use_free[y] for y in years)


def test_earlier_project_start_raises_self_sufficiency(dataset: Dataset) -> None:
    base = load_scenario("baseline")
    quiet = base.model_copy(
        update={"slippage": {}, "demand": base.demand.model_copy(update={"growth_scale_sd": 0.0})}
    )
    early = quiet.model_copy(
        update={
            "overrides": [
                Override(id="nolans_mine", start=2026),
                Override(id="nolans_separation", start=2026),
            ]
        }
    )
    late = Runner(build_market(dataset, quiet)).run(draw(quiet, 0, 0))
    soon = Runner(build_market(dataset, early)).run(draw(early, 0, 0))
    ss_late, ss_soon = (
        metric(late, "group_supply_t", "NdPr"),
        metric(soon, "group_supply_t", "NdPr"),
    )
    assert all(ss_soon[y] >= ss_late[y] - 1e-6 for y in range(2026, 2031))
    assert sum(ss_soon[y] - ss_late[y] for y in range(2026, 2029)) > 100


def test_store_writes_whole_runs_and_resumes(tmp_path: Path, baseline: Runner) -> None:
    scenario: Scenario = baseline.market.scenario
    text = scenario.model_dump_json()
    path = tmp_path / "r.duckdb"
    with Store(path) as store:
        ensemble = store.ensemble("baseline", text, 1, 3, False, "now")
        for run in (0, 2):
            plan = draw(scenario, 1, run)
            store.write_run(ensemble, run, plan.parameters(), baseline.run(plan), 0.1)
        with pytest.raises(Exception):  # noqa: B017 - a duplicate run violates the primary key
            plan = draw(scenario, 1, 0)
            store.write_run(ensemble, 0, plan.parameters(), baseline.run(plan), 0.1)
        assert store.done(ensemble) == {0, 2}
    with Store(path) as store:
        assert store.ensemble("baseline", text, 1, 3, True, "later") == ensemble
        with pytest.raises(StoreError, match="seed"):
            store.ensemble("baseline", text, 2, 3, True, "later")
        results = store.results(ensemble)
        assert sorted(results["run"].unique()) == [0, 2]
        # one value per run, year, metric and key (the runs' primary key guards whole runs)
        assert not results.duplicated(["run", "year", "metric", "key"]).any()
        files = store.export(tmp_path / "out", "csv", ensemble)
        assert all(f.exists() for f in files)
        netcdf = store.export(tmp_path / "out", "netcdf", ensemble)
        assert netcdf[0].stat().st_size > 0


def test_metrics_by_hand() -> None:
    assert hhi({"a": 50, "b": 50}) == pytest.approx(5000)
    assert hhi({"a": 1}) == pytest.approx(10000)
    assert top_share_pct({"a": 5, "b": 3, "c": 1, "d": 1}, 2) == pytest.approx(80)
    series = pd.Series({2025: 40.0, 2026: 55.0, 2027: 45.0, 2028: 60.0, 2029: 70.0})
    assert year_of_independence(series, 50) == 2028
    assert year_of_independence(series, 80) is None
    frame = pd.DataFrame(
        {
            "run": [0, 0, 1, 1],
            "year": [2025, 2026, 2025, 2026],
            "metric": "self_sufficiency_pct",
            "key": "Dy",
            "value": [60.0, 70.0, 10.0, 20.0],
        }
    )
    table = independence(frame, ["Dy"], [50.0]).iloc[0]
    assert table["probability_%"] == 50.0 and table["median_year"] == 2025
    assert np.isnan(independence(frame, ["Dy"], [90.0]).iloc[0]["median_year"])
    # an extra measured group appears in the headline beside the main group: run means 65, 15
    extra = frame.assign(key="with_canada:Dy", value=[70.0, 80.0, 10.0, 20.0])
    table = headline(pd.concat([frame, extra]), ["Dy"], [50.0], ((2025, 2026),))
    rows = table[table["measure"] == "self-sufficiency % (of reference demand)"]
    medians = rows.set_index("element")["median"]
    assert medians["Dy"] == pytest.approx(40.0) and medians["with_canada:Dy"] == pytest.approx(45.0)


def test_recycling_starts_from_the_magnets_in_use(dataset: Dataset) -> None:
    # The first year's scrap is what went into use one lifetime earlier: the base year's use
    # discounted by the past growth of its end use; the alliance collects 5 % of its own
    # regions' (US, JP) scrap, 0.36 t REO per t of magnet.
    scenario = load_scenario("alliance-buildout")
    runner = Runner(build_market(dataset, scenario))
    assert runner.collected == {"US", "JP"}
    assert dataset.market is not None
    growth = dataset.market.magnet_use_growth_pct
    lifetimes = scenario.recycling.lifetimes
    expected = (
        0.05
        * 0.36
        * sum(
            used * (1 + growth.get(use, growth["default"]).value / 100) ** -lifetimes[use]
            for (use, region), used in runner.magnet_reference.items()
            if region in ("US", "JP") and use in lifetimes
        )
    )
    frame = runner.run(draw(scenario, 0, 0))
    first = metric(frame, "recycled_t", "world").iloc[0]
    assert expected > 50 and first == pytest.approx(expected, rel=1e-9)


def test_learning_curve_moves_unit_costs(dataset: Dataset) -> None:
    scenario = load_scenario("alliance-buildout")
    runner = Runner(build_market(dataset, scenario))
    curve, _, columns, base, cost = next(
        x for x in runner.learning.curves if x[0].node == "ohio_metal" and x[1] == 0
    )
    model = runner.market.clearing.model
    expected = {2025: 1.0, 2026: 1.5, 2028: 1.25, 2030: 1.0}
    for year, factor in expected.items():
        runner.learning.apply(year, 0)
        # objective coefficients are minus unit costs: a dearer plant has a lower coefficient
        assert model.base_cost[columns] == pytest.approx(base - (factor - 1.0) * cost)
    assert curve.years == 4


def test_concentration_of_mining_matches_the_usgs_table(dataset: Dataset, baseline: Runner) -> None:
    frame = baseline.run(draw(baseline.market.scenario, 0, 0))
    rows = frame[(frame["year"] == 2024) & (frame["key"] == "mining")].set_index("metric")["value"]
    usgs = dataset.mine_production(2024)
    usgs = usgs[~usgs["country"].isin(["WORLD"])]
    amounts = dict(zip(usgs["country"], usgs["mine_production_t_reo"], strict=True))
    assert rows["hhi"] == pytest.approx(hhi(amounts), rel=1e-9)  # every mine runs at capacity
    assert rows["top3_share_pct"] == pytest.approx(top_share_pct(amounts, 3), rel=1e-9)


def test_gallium_is_recorded_against_the_usgs_table(baseline: Runner) -> None:
    # USGS MCS2026: primary gallium 2024, China 839 t of 848 (98.9 %); none in the US, Japan
    # 3 t, so the group (US, Japan, Australia) makes 3 t against its use.
    frame = baseline.run(draw(baseline.market.scenario, 0, 0))
    year = frame[frame["year"] == 2024]
    share = year[(year["metric"] == "china_share_pct") & (year["key"] == "gallium")]["value"]
    assert float(share.iloc[0]) == pytest.approx(100 * 839 / 848, abs=1.0)
    group = year[year["key"] == "Ga"].set_index("metric")["value"]
    assert group["group_supply_t"] == pytest.approx(3.0, abs=0.5)
    assert group["self_sufficiency_pct"] == pytest.approx(
        100 * group["group_supply_t"] / group["group_reference_t"]
    )
    assert 0 < group["group_use_t"] <= group["group_reference_t"] + 1e-6


def test_a_year_that_cannot_clear_is_named_with_its_levers(
    dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario("china-heavy-ban")
    runner = Runner(build_market(dataset, scenario, "china-heavy-ban"))
    clearing = runner.market.clearing
    solve = clearing.solve_arrays

    def failing() -> Any:
        if "cn_ann18_ban" in runner.live_blocks:
            raise RuntimeError("the market LP did not solve: Infeasible")
        return solve()

    monkeypatch.setattr(clearing, "solve_arrays", failing)
    plan = draw(scenario, 0, 0)
    with pytest.raises(RuntimeError) as raised:
        runner.run(plan)
    message = str(raised.value)
    first = plan.lever_start["cn_ann18_ban"]
    assert f"china-heavy-ban, run 0, {first}: the market LP did not solve: Infeasible" in message
    named = message.split("lever blocks in force that year: ")[1]
    in_force = [block for block, start in plan.lever_start.items() if start is not None]
    assert all(block in named for block in in_force if plan.lever_start[block] == first)
    # every block in force that year is named, the baseline's open-ended one of 2025 too
    assert "cn_ann18_ban" in named and "us_concentrate_to_china_halt" in named


def test_every_recorded_metric_has_a_unit_and_a_meaning(baseline: Runner) -> None:
    from rareflow.simulate.units import METRICS

    frame = baseline.run(draw(baseline.market.scenario, 0, 0))
    missing = sorted(set(frame["metric"]) - set(METRICS))
    assert missing == []


def test_trajectories_add_up_to_the_lean_records(baseline: Runner) -> None:
    # two independent paths through the solved years: separation by country summed over
    # countries is the world's separated oxide; facilities sum to their countries
    plan = draw(baseline.market.scenario, 0, 0)
    frame, flows = baseline.run_detailed(plan)
    assert flows is not None and not flows.empty
    world = frame[frame["metric"] == "world_supply_t"].set_index(["year", "key"])["value"]
    separated = flows[flows["measure"] == "separation_country_t"].groupby(["year", "key"])["value"]
    assert separated.sum().reindex(world.index, fill_value=0.0).to_numpy() == pytest.approx(
        world.to_numpy(), rel=1e-9, abs=1e-6
    )
    for stage in ("mining", "separation", "metal", "magnet"):
        totals = [
            flows[flows["measure"] == f"{stage}_{level}_t"].groupby(["year", "key"])["value"].sum()
            for level in ("country", "facility")
        ]
        assert totals[0].to_numpy() == pytest.approx(totals[1].to_numpy(), rel=1e-9), stage
    lanes = flows[flows["measure"] == "trade_oxide_t"]["place"]
    assert lanes.str.fullmatch(r"[A-Z]+>[A-Z]+").all()


@pytest.mark.parametrize("name", ["alliance-floor-2040.yaml", "history-2009-lamp-phosphors.yaml"])
def test_example_scenarios_stay_valid(dataset: Dataset, name: str) -> None:
    # the docs quote results of these files (docs/simulate.md, docs/validation.md)
    path = Path(__file__).resolve().parents[1] / "examples" / name
    scenario = build_market(dataset, load_scenario(str(path))).scenario
    blocks = {block.id: block for block in scenario.levers}
    if name.startswith("alliance"):
        assert blocks["dod_ndpr_floor"].end == 2040 and "alliance_offtakes" in blocks
    else:
        rules = [g for g in scenario.demand.growth if g.elements == ["Eu", "Tb"]]
        assert [g.rate_pct for g in rules] == [33.3, 0.0, -43.8, -20.0, -11.4]


def test_heavy_concentrate_held_in_a_year_is_carried_into_the_next(dataset: Dataset) -> None:
    # 2024-2026 episode, run 0: Lynas's recorded 2025 heavy throughput leaves most of its mixed
    # heavy concentrate (SEGH) over; part of it is held for 2026, when its heavy circuit has
    # room (the rest may go to China), and the runner starts 2026 with exactly what 2025 held
    # (the ledger closes in both years).
    scenario = load_scenario("history-2024")
    runner = Runner(build_market(dataset, scenario))
    model = runner.market.clearing.model
    held: dict[int, dict[tuple[str, str, int], float]] = {}
    for year, values, _, extra in runner.years_of(draw(scenario, 0, 0)):
        if year == 2026:
            assert model.heavy_initial == pytest.approx(held[2025])
        held[year] = heavy_held(model, values)
        assert extra["ledger"] < 1e-6
    assert held[2025][("au_mt_weld", "lynas_malaysia", 0)] > 50.0
    frame = runner.run(draw(scenario, 0, 0))
    assert metric(frame, "heavy_concentrate_stock_t", "Tb")[2025] > 1.0


def test_china_share_of_each_elements_separation(baseline: Runner) -> None:
    # Recomputed from the model's plant outputs (another path than the recorder's vectors):
    # each element's oxide separated at plants in China over all separated oxide. In the base
    # year (2024) no plant outside China separated Dy or Tb commercially (Lynas's Malaysian
    # circuit started in May 2025; brokers put China's share at 100 %), and China separated
    # 91-92 % of all rare earths (IEA, Global Critical Minerals Outlook 2024 and Oct 2025).
    model = baseline.market.clearing.model
    plants = {p.id: p.location for p in model.world.separators}
    chinese = {loc for loc, ids in model.world.places.items() if "china" in ids}
    for year, values, duals, extra in baseline.years_of(draw(baseline.market.scenario, 0, 0), 2024):
        rows = baseline.recorder.record(year, values, duals, extra)
        recorded = {key: v for _, name, key, v in rows if name == "china_separated_pct"}
        for group, members in (("Dy", ("Dy",)), ("Tb", ("Tb",)), ("NdPr", ("Nd", "Pr"))):
            made = {True: 0.0, False: 0.0}
            for (period, plant, item), entries in model.outputs.items():
                if period == 0 and item in members and plant in plants:
                    out = sum(values[c] * k for c, k in entries)
                    made[plants[plant] in chinese] += out
            share = 100 * made[True] / (made[True] + made[False])
            assert recorded[group] == pytest.approx(share, rel=1e-9)
        assert recorded["Dy"] > 97 and recorded["Tb"] > 97
        assert 85 < recorded["NdPr"] < 96


def test_the_us_halt_of_april_2025_lets_the_first_quarter_through(dataset: Dataset) -> None:
    # MP stopped shipping concentrate to China on 17 April 2025: a licence refusing every
    # shipment from April, counted by its months, lets through 3/12 of 2024's shipments in 2025
    # and none from 2026.
    scenario = load_scenario("history-2024")
    runner = Runner(build_market(dataset, scenario))
    program = runner.market.clearing.model.program
    shipped = {}
    for year, values, _, _ in runner.years_of(draw(scenario, 0, 0)):
        shipped[year] = sum(
            values[c]
            for c in program.select("concentrate", "heavy_concentrate", period=0)
            if program.meta[c]["origin"] == "US" and program.meta[c]["destination"] == "CN"
        )
    assert shipped[2024] > 10_000
    assert shipped[2025] == pytest.approx(shipped[2024] * 3 / 12, rel=1e-6)
    assert shipped[2026] == pytest.approx(0.0, abs=1e-6)


def test_a_licence_takes_its_reference_from_a_year_without_licences_on_its_flows(
    dataset: Dataset, tmp_path: Path
) -> None:
    # The baseline's licence on US concentrate is in force from 2025. A licence on China's Dy
    # oxide exports from 2027 covers none of its flows, so its reference is the Dy shipped in
    # 2026 (the last year without a licence on Dy), not in 2024 (the last year without any).
    path = tmp_path / "dy-licence.yaml"
    path.write_text(
        "name: dy-licence\nextends: baseline\nhorizon: {start: 2024, end: 2027}\n"
        "levers:\n  - id: dy_2027\n    start: 2027\n    levers:\n      licences:\n"
        "        - {id: dy_2027, commodities: [oxide], elements: [Dy], origin: [china],\n"
        "           exclude_destination: [china], refused_share: 0.5}\n"
    )
    scenario = load_scenario(str(path))
    runner = Runner(build_market(dataset, scenario))
    model = runner.market.clearing.model
    flows = {}
    for year, values, _, _ in runner.years_of(draw(scenario, 0, 0)):
        flows[year] = sum(model.licence_flows("dy_2027", 0, values).values())
    assert flows[2026] > 0 and flows[2024] != pytest.approx(flows[2026], rel=1e-3)
    assert flows[2027] == pytest.approx(0.5 * flows[2026], rel=1e-6)
