"""Reports: fan bands, paired differences, independence years, Sankey mixing, readable numbers
(against hand calculations), and the three ``rareflow report`` commands end to end, the ensemble
report drawn in headless Chromium."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rareflow.compliance.provenance import FlowGraph, flow_graph
from rareflow.dataset.loader import load_dataset
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.report.ensemble import Stored, comparison_figures
from rareflow.report.fans import Series, bands, diff, fan_figure, independence_figure
from rareflow.report.flows import country_links, stage_links
from rareflow.report.page import readable
from rareflow.scenario.loader import load_scenario
from rareflow.simulate.plan import draw
from rareflow.simulate.run import Runner
from rareflow.simulate.store import Store
from rareflow.simulate.world import build_market
from tests.test_market_small import LA, M1, M2, ND, S_CN, S_MY, world

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def long(values: dict[tuple[int, int], float], metric: str = "m", key: str = "k") -> pd.DataFrame:
    rows = [
        {"run": run, "year": year, "metric": metric, "key": key, "value": value}
        for (run, year), value in values.items()
    ]
    return pd.DataFrame(rows)


def test_bands_are_the_percentiles_across_runs_year_by_year() -> None:
    # runs 0..10 carry 1..11 in 2030 and 10 x that in 2031: the 10th, 50th and 90th
    # percentiles (linear) are 2, 6 and 10, then 20, 60 and 100
    frame = long(
        {(r, 2030): r + 1.0 for r in range(11)} | {(r, 2031): 10.0 * (r + 1) for r in range(11)}
    )
    table = bands(frame, "m", "k").set_index("year")
    assert table.loc[2030, ["p10", "median", "p90"]].tolist() == pytest.approx([2, 6, 10])
    assert table.loc[2031, ["p10", "median", "p90"]].tolist() == pytest.approx([20, 60, 100])
    assert table.loc[2030, "runs"] == 11
    assert bands(frame, "m", "other").empty


def test_differences_pair_runs_by_index() -> None:
    a = long({(0, 2030): 5.0, (1, 2030): 7.0, (2, 2030): 1.0})
    b = long({(0, 2030): 2.0, (1, 2030): 2.0})  # run 2 missing: left out, not compared to nothing
    delta = diff(a, b).set_index("run")["value"]
    assert delta.to_dict() == {0: 3.0, 1: 5.0}
    assert (diff(a, a)["value"] == 0).all()


def test_differences_need_one_seed() -> None:
    # run k of two ensembles shares its draws only under one seed (docs/simulate.md)
    frame = long({(0, 2030): 1.0})
    one, other = (Stored(i, "s", seed, 1, {}, frame) for i, seed in ((1, 0), (2, 3)))
    with pytest.raises(ValueError, match="seeds 0 and 3"):
        comparison_figures(one, other)
    drawn = "common-random-numbers-1"
    paired = comparison_figures(Stored(1, "s", 0, 1, {}, frame, drawn),
                                Stored(3, "s", 0, 1, {}, frame, drawn))  # fmt: skip
    assert "drawn apart" not in paired["compare_prices"].layout.title.text
    # an ensemble stored before draws were common random numbers: said in every title
    apart = comparison_figures(Stored(1, "s", 0, 1, {}, frame, drawn), one)
    assert all("drawn apart" in f.layout.title.text for f in apart.values())


def test_fan_figure_draws_a_band_and_a_median_and_names_missing_series() -> None:
    frame = long({(r, y): float(r + y) for r in range(5) for y in (2030, 2031)})
    figure = fan_figure(frame, [Series("m", "k", "present"), Series("m", "x", "absent")], "t", "u")
    band, median = figure.data
    assert list(median.y) == pytest.approx([2032.0, 2033.0])  # median of r + y over r = 0..4
    assert band.fill == "toself" and len(band.x) == 4
    assert "no data: absent" in figure.layout.title.text


def test_independence_counts_the_year_from_which_a_run_stays_above() -> None:
    # run 0 reaches 50 % in 2031 and stays; run 1 dips again in 2032 and recovers in 2033;
    # run 2 never reaches it
    paths = {0: [10, 60, 70, 80], 1: [60, 10, 40, 90], 2: [10, 20, 30, 40]}
    frame = long(
        {(r, 2030 + i): float(v) for r, path in paths.items() for i, v in enumerate(path)},
        metric="self_sufficiency_pct",
        key="Dy",
    )
    (bars,) = independence_figure(frame, ["Dy"], 50.0).data
    assert dict(zip(bars.x, bars.y, strict=True)) == pytest.approx(
        {"2031": 100 / 3, "2033": 100 / 3, "not by the end": 100 / 3}
    )


def test_pools_are_mixed_in_proportion_to_their_outflows() -> None:
    # two plants feed one pool (6 t and 2 t); the pool ships 4 t abroad and serves 4 t at home;
    # abroad, another pool serves a segment: each plant reaches each use in proportion
    edges = {
        ("mine:a", "plant:p"): 6.0,
        ("mine:b", "plant:q"): 2.0,
        ("plant:p", "pool:x"): 6.0,
        ("plant:q", "pool:x"): 2.0,
        ("pool:x", "pool:y"): 4.0,
        ("pool:x", "segment:home"): 4.0,
        ("pool:y", "segment:abroad"): 4.0,
    }
    place = {"mine:a": "CN", "mine:b": "AU", "plant:p": "CN", "plant:q": "MY", "pool:x": "CN",
             "pool:y": "US", "segment:home": "CN", "segment:abroad": "US"}  # fmt: skip
    stage = {"mine:a": "mining", "mine:b": "mining", "plant:p": "separation",
             "plant:q": "separation", "pool:x": "pool", "pool:y": "pool",
             "segment:home": "segment", "segment:abroad": "segment"}  # fmt: skip
    links = stage_links(FlowGraph("Nd", edges, place, stage))
    assert links[("plant:p", "segment:home")] == pytest.approx(3.0)
    assert links[("plant:p", "segment:abroad")] == pytest.approx(3.0)
    assert links[("plant:q", "segment:home")] == pytest.approx(1.0)
    assert links[("plant:q", "segment:abroad")] == pytest.approx(1.0)
    assert links[("mine:a", "plant:p")] == 6.0
    assert not any(node.startswith("pool") for pair in links for node in pair)
    named = country_links([FlowGraph("Nd", edges, place, stage)])
    assert named[("separated · MY", "used · US")] == pytest.approx(1.0)


def test_a_solved_market_keeps_every_stage_nodes_outflow_through_the_mixing() -> None:
    model = MarketModel(world([M1, M2], [S_CN, S_MY], [ND, LA]))
    values, _, _, _ = Clearing(model).solve_arrays()
    graph = flow_graph(model, values, "Nd")
    links = stage_links(graph)
    for node, kind in graph.stage.items():
        if kind == "pool":
            continue
        before = sum(f for (s, _), f in graph.edges.items() if s == node)
        after = sum(f for (s, _), f in links.items() if s == node)
        assert after == pytest.approx(before, rel=1e-9, abs=1e-9), node
    assert sum(links.values()) > 0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (-1.75e-15, "0"),
        (1.63e-9, "0"),  # a self-sufficiency % at the LP's tolerance, once printed in full
        (2031.0, "2031"),
        (0.099512, "0.0995"),
        (12345.6, "12,346"),
        (66.789, "66.8"),
        (math.nan, "–"),
        (None, ""),
        (True, "yes"),
        (250000, "250,000"),
    ],
)
def test_numbers_are_readable(value: object, text: str) -> None:
    assert readable(value) == text


def rareflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rareflow", *args],
        capture_output=True, text=True, timeout=600, check=False, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def two_ensembles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with two short ensembles: baseline and the heavy-ban scenario, 2024-2027."""
    # written in process the way `rareflow run` writes them (same scenario text, seed and
    # draws), without starting a Dask cluster: the report commands are what is tested here
    folder = tmp_path_factory.mktemp("report")
    dataset = load_dataset()
    with Store(folder / "r.duckdb") as store:
        for name in ("baseline", "china-heavy-ban"):
            short = folder / f"{name}-short.yaml"
            short.write_text(
                f"name: {name}-short\nextends: {name}\nhorizon: {{start: 2024, end: 2027}}\n"
            )
            scenario = load_scenario(str(short))
            runner = Runner(build_market(dataset, scenario, scenario.name))
            ensemble = store.ensemble(
                scenario.name, scenario.model_dump_json(), 0, 2, False, "2026-01-01T00:00:00"
            )
            for run in range(2):
                plan = draw(scenario, 0, run)
                store.write_run(ensemble, run, plan.parameters(), runner.run(plan), 0.0)
    return folder


@pytest.mark.e2e
def test_ensemble_report_is_one_self_contained_page(two_ensembles: Path) -> None:
    done = rareflow(
        "report", "--ensemble", "2", "--compare", "1", "--store", "r.duckdb", "--year", "2026",
        "-o", "report.html", cwd=two_ensembles,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (two_ensembles / "report.html").read_text()
    assert "<script src=" not in page  # plotly.js is inlined, nothing is fetched
    assert page.count('class="plotly-graph-div"') >= 14
    assert "Compared with baseline-short (ensemble 1)" in page
    assert "NdPr in 2026, run 0" in page and "Dy in 2026, run 0" in page
    assert "china_heavy_ban" in page or "cn_ann18_ban" in page  # the lever blocks are listed
    sources = page[page.index("Sources cited by the scenario</h2>") :]
    assert sources.count('<a href="http') >= 5 and "not in the dataset" not in sources


@pytest.mark.e2e
def test_report_errors_name_the_problem(two_ensembles: Path) -> None:
    missing = rareflow("report", "--ensemble", "9", "--store", "r.duckdb", cwd=two_ensembles)
    assert missing.returncode == 1 and "no ensemble 9" in missing.stderr
    assert "holds 1, 2" in missing.stderr
    flows = rareflow("report", "--flows", "Xx", "--store", "r.duckdb", cwd=two_ensembles)
    assert flows.returncode == 1 and "--flows 'Xx'" in flows.stderr
    outside = rareflow("report", "--year", "2035", "--store", "r.duckdb", cwd=two_ensembles)
    assert outside.returncode == 1 and "outside" in outside.stderr and "2024-2027" in outside.stderr
    nowhere = rareflow("report", "--store", "none.duckdb", cwd=two_ensembles)
    assert nowhere.returncode == 1 and "no results store" in nowhere.stderr


@pytest.mark.e2e
def test_cascade_and_compliance_reports(tmp_path: Path) -> None:
    cascade = rareflow("report", "cascade", str(ROOT / "examples/cepr_nd_v1.yaml"), "-o",
                       "c.html", cwd=tmp_path)  # fmt: skip
    assert cascade.returncode == 0, cascade.stderr
    page = (tmp_path / "c.html").read_text()
    assert "Where each component goes" in page and "raffinate" in page
    assert "<p>Warning: " not in page  # the published design is not pinched
    below = tmp_path / "below.yaml"  # a binary below its S_min (2.5 for beta 1.5, even feed)
    below.write_text("feed: {Pr: 0.5, Nd: 0.5}\nfeed_phase: aqueous\nn: 30\nm: 30\nS: 2.3\n"
                     "W: 1.8\nseparation_factors: {Pr: 1.0, Nd: 1.5}\n")  # fmt: skip
    pinched = rareflow("report", "cascade", str(below), "-o", "b.html", cwd=tmp_path)
    assert pinched.returncode == 0, pinched.stderr
    assert "<p>Warning: S = 2.3 is below S_min = 2.5" in (tmp_path / "b.html").read_text()
    bom = ROOT / "examples/compliance/c5_servo_motor.yaml"
    comply = rareflow("report", "comply", str(bom), "-o", "v.html", cwd=tmp_path)
    assert comply.returncode == 0, comply.stderr
    page = (tmp_path / "v.html").read_text()
    assert "LICENCE_REQUIRED_IF_REACTIVATED" in page and "NOT_SUBJECT_BY_DE_MINIMIS" in page
    assert re.search(r"Audit record SHA-256.*<code>[0-9a-f]{64}</code>", page)
    assert "part2_scope" in page  # the review flag of the motor names the reading


BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.mark.e2e
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_ensemble_report_draws_in_chromium(two_ensembles: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    done = rareflow("report", "--store", "r.duckdb", "-o", "b.html", cwd=two_ensembles)
    assert done.returncode == 0, done.stderr
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto((two_ensembles / "b.html").as_uri())
        page.wait_for_selector("#figure-1 svg.main-svg")
        drawn = page.locator(".plotly-graph-div").count()
        lines = page.locator("#figure-1 .scatterlayer path.js-line").count()
        sankey = page.locator(".sankey .sankey-link").count()
        page.screenshot(path=str(two_ensembles / "b.png"), full_page=True)
        browser.close()
    assert problems == []
    assert drawn >= 12 and lines >= 4 and sankey > 5
    assert (two_ensembles / "b.png").stat().st_size > 50_000


def test_browser_is_installed_by_ci() -> None:
    # the browser test above needs Debian's chromium; CI must install it, not skip it
    script = (ROOT / ".ci/run").read_text()
    assert "apt-get install" in script and "chromium" in script


def test_the_assumption_table_dates_part_year_blocks_by_month() -> None:
    from rareflow.report.assumptions import lever_table

    scenario = {"levers": [
        {"id": "scare", "start": 2010, "start_month": 7, "end": 2011, "end_month": 12},
        {"id": "taxes", "start": 2015, "start_month": 1, "end": 2015, "end_month": 4},
        {"id": "ban", "start": 2026},
    ]}  # fmt: skip
    table = lever_table(scenario).set_index("block")
    assert (table.loc["scare", "start"], table.loc["scare", "end"]) == ("2010-07", 2011)
    assert (table.loc["taxes", "start"], table.loc["taxes", "end"]) == (2015, "2015-04")
    assert (table.loc["ban", "start"], table.loc["ban", "end"]) == (2026, "open")
