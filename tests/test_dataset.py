"""The bundled dataset against independent references: USGS totals, published shares, sums."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.shares import stage_shares
from rareflow.elements import ELEMENTS, RARE_EARTHS


def usgs_rounding_unit(total: float) -> float:
    """USGS rounds world totals to two or three significant figures: the unit of the last one."""
    digits = len(str(int(total)).rstrip("0"))
    return 10.0 ** (len(str(int(total))) - max(digits, 2))


def test_every_source_id_resolves(dataset: Dataset) -> None:
    used = set()
    for frame in dataset.tables.values():
        for ids in frame["source"]:
            used.update(ids)
    for event in dataset.policies:
        used.update(event.source)
    assert used <= set(dataset.sources)
    for source in dataset.sources.values():
        assert source.url or source.note


@pytest.mark.parametrize(
    ("edition", "year"),
    [("mcs2025", 2023), ("mcs2025", 2024), ("mcs2026", 2024), ("mcs2026", 2025)],
)
def test_world_mine_production_matches_usgs_total(
    dataset: Dataset, edition: str, year: int
) -> None:
    rows = dataset.mine_production(year, edition).set_index("country")["mine_production_t_reo"]
    world = float(rows.pop("WORLD"))
    assert abs(rows.sum() - world) <= usgs_rounding_unit(world) / 2


def test_pinned_edition_is_explicit(dataset: Dataset) -> None:
    assert dataset.manifest.usgs_edition == "mcs2026"
    pinned = dataset.mine_production(2024).set_index("country")["mine_production_t_reo"]
    alternate = dataset.mine_production(2024, "mcs2025").set_index("country")[
        "mine_production_t_reo"
    ]
    assert (pinned["AU"], alternate["AU"]) == (29000, 13000)  # the documented USGS revision
    with pytest.raises(DataQueryError, match="mcs2025 report 2023"):
        dataset.mine_production(2023)


@pytest.mark.parametrize("edition", ["mcs2025", "mcs2026"])
def test_china_mining_share_near_published_69_percent(dataset: Dataset, edition: str) -> None:
    # USGS / IEA: China ~69 % of world mine production in 2024 (270 of 390 kt).
    result = stage_shares(dataset, "mining", 2024, edition)
    assert result.share_of("CN") == pytest.approx(69, abs=2)
    assert result.table["share_pct"].sum() == pytest.approx(100)


def test_ore_compositions_sum_within_stated_rounding(dataset: Dataset) -> None:
    ores = dataset.table("ore_types")
    for ore in ores.itertuples():
        total = sum(
            getattr(ore, f"{s}_pct") for s in RARE_EARTHS if not pd.isna(getattr(ore, f"{s}_pct"))
        )
        assert abs(total - 100) <= ore.sum_tolerance_pct, ore.id
        if ore.sum_tolerance_pct > 1:
            assert isinstance(ore.note, str) and "sums to" in ore.note.lower()
        assert dataset.ore_distribution(ore.id).sum() == pytest.approx(1.0)


def test_required_ore_types_present(dataset: Dataset) -> None:
    ids = set(dataset.table("ore_types")["id"])
    assert {
        "bayan_obo",
        "mountain_pass",
        "mt_weld",
        "ionic_clay_lree",
        "ionic_clay_medium_y_eu",
        "ionic_clay_high_y",
        "xenotime_guangdong",
        "monazite_india_beach_sand",
    } <= ids


def test_mountain_pass_dy_tb_rederived_from_seg_plus(dataset: Dataset) -> None:
    # USGS gives Mountain Pass no Tb or Dy; the estimate takes MP's SEG+ (Sm, Eu, Gd, Tb, Dy)
    # as 4 % Dy+Tb (REEx) at about 3 Dy to 1 Tb (Metalnomist), around USGS's Sm, Eu and Gd.
    ore = dataset.ore_distribution("mountain_pass", normalise=False)
    seg_plus = ore["Sm"] + ore["Eu"] + ore["Gd"] + ore["Tb"] + ore["Dy"]
    assert (ore["Dy"] + ore["Tb"]) / seg_plus == pytest.approx(0.04, rel=2e-3)
    assert ore["Dy"] / ore["Tb"] == pytest.approx(3.0, rel=0.01)


def test_nolans_proxy_rederived_from_mt_weld(dataset: Dataset) -> None:
    mt_weld = dataset.ore_distribution("mt_weld", normalise=False)
    nolans = dataset.ore_distribution("nolans", normalise=False)
    assert nolans["Nd"] + nolans["Pr"] == pytest.approx(26.4, abs=1e-3)
    assert nolans["Nd"] / nolans["Pr"] == pytest.approx(mt_weld["Nd"] / mt_weld["Pr"], rel=1e-3)
    assert nolans.sum() == pytest.approx(100, abs=1e-2)


def test_stoichiometric_nd2fe14b_recipe(dataset: Dataset) -> None:
    recipes = dataset.table("magnet_recipes")
    grade = recipes[recipes["grade"] == "nd2fe14b_stoichiometric"].set_index("component")["wt_pct"]
    mass = 2 * ELEMENTS["Nd"].atomic_mass + 14 * 55.845 + 10.81
    assert grade["Nd"] == pytest.approx(100 * 2 * ELEMENTS["Nd"].atomic_mass / mass, abs=0.05)
    assert grade["B"] == pytest.approx(100 * 10.81 / mass, abs=0.05)


def test_every_recipe_sums_to_100(dataset: Dataset) -> None:
    sums = dataset.table("magnet_recipes").groupby("grade")["wt_pct"].sum()
    assert ((sums - 100).abs() <= 0.5).all(), sums
    assert {"smco5", "sm2co17"} <= set(sums.index)


def test_disputed_f35_figures_side_by_side(dataset: Dataset) -> None:
    intensity = dataset.table("magnet_intensity")
    f35 = intensity[intensity["application"].str.contains("f35")]
    assert f35["variant"].nunique() >= 2
    values = f35["value"].dropna()
    assert values.max() / values.min() > 10  # 417 kg against 11-40 kg


def test_prices_keep_both_usgs_editions(dataset: Dataset) -> None:
    prices = dataset.table("prices")
    dy = prices[(prices["product"] == "dy_oxide") & (prices["year"] == 2024)]
    assert set(zip(dy["edition"], dy["price_usd_per_kg"], strict=True)) >= {
        ("mcs2025", 260.0),
        ("mcs2026", 257.0),
    }
    years = set(prices.loc[prices["product"] == "nd_oxide", "year"])
    assert set(range(2020, 2026)) <= years


def test_policy_events_structured(dataset: Dataset) -> None:
    events = {e.id: e for e in dataset.policies}
    ann18 = next(e for e in events.values() if "No. 18" in (e.instrument or ""))
    assert set(ann18.elements) == {"Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"}
    ann57 = next(e for e in events.values() if "No. 57" in (e.instrument or ""))
    assert set(ann57.elements) == {"Ho", "Er", "Tm", "Eu", "Yb"}
    floors = [e for e in events.values() if e.kind == "price_floor"]
    assert any(e.parameters.get("price_floor_usd_per_kg") == 110 for e in floors)
    suspension = next(e for e in events.values() if "No. 70" in (e.instrument or ""))
    assert str(suspension.effective_until) == "2026-11-10"
    ann61 = next(e for e in events.values() if "No. 61" in (e.instrument or ""))
    assert ann61.id in suspension.suspends


def test_gallium_china_share(dataset: Dataset) -> None:
    result = stage_shares(dataset, "gallium", 2024)
    assert result.share_of("CN") == pytest.approx(98.9, abs=1.0)  # MCS2026: 839 of 848 t


def test_country_groups(dataset: Dataset) -> None:
    assert sorted(dataset.countries_in_group("us_japan_australia")) == ["AU", "JP", "US"]
    assert len(dataset.countries_in_group("eu")) == 27
    assert dataset.countries_in_group("china") == ["CN"]


def test_capacities_have_notes_when_null(dataset: Dataset) -> None:
    capacities = dataset.table("facility_capacities")
    nulls = capacities[capacities["capacity"].isna()]
    assert nulls["note"].map(lambda n: isinstance(n, str) and len(n) > 0).all()


def test_coordinates_plausible(dataset: Dataset) -> None:
    facilities = dataset.table("facilities").dropna(subset=["latitude"])
    assert len(facilities) >= 40
    for row in facilities.itertuples():
        assert not math.isnan(row.longitude)


def test_facilities_cover_the_research_table(dataset: Dataset) -> None:
    facilities = dataset.table("facilities")
    assert len(facilities) >= 54
    assert facilities["source"].map(len).min() >= 1
    kinds = facilities.set_index("id")["kind"]
    assert kinds["china_ndfeb"] == "aggregate" and kinds["mountain_pass"] == "facility"
    origins = facilities.set_index("id")
    assert origins.loc["realloys_euclid", "technology_origin"] == "JP"
    assert origins.loc["usar_stillwater", "equipment_origin"] == "JP"
    wagerup = dataset.table("facility_capacities").query("facility == 'alcoa_wagerup_gallium'")
    assert (wagerup["capacity"] == 100).any()


@pytest.mark.parametrize(
    "chain",
    [
        ("mountain_pass", "mp_independence"),
        ("src_saskatoon", "realloys_euclid"),
        ("lynas_mt_weld", "lynas_kalgoorlie", "lynas_malaysia"),
    ],
)
def test_named_chains_are_linked(dataset: Dataset, chain: tuple[str, ...]) -> None:
    links = dataset.table("facility_links")
    pairs = set(zip(links["from_facility"], links["to_facility"], strict=True))
    for upstream, downstream in itertools.pairwise(chain):
        assert (upstream, downstream) in pairs
    captive = links[
        (links["from_facility"] == "mountain_pass") & (links["to_facility"] == "mp_independence")
    ]
    assert bool(captive["dedicated"].iloc[0])


def test_usgs_estimate_flags_follow_the_source(dataset: Dataset) -> None:
    # MCS2025's world table marks the whole 2023 and 2024 columns estimated; the MCS2026 data
    # release marks every 2024 row estimated except the US, which is reported
    mines = dataset.table("mine_production")
    mcs2025 = mines[(mines["edition"] == "mcs2025") & (mines["year"] == 2023)]
    assert len(mcs2025) == 14 and mcs2025["estimated"].all()
    mcs2026 = mines[(mines["edition"] == "mcs2026") & (mines["year"] == 2024)]
    reported = set(mcs2026.loc[~mcs2026["estimated"].astype(bool), "country"])
    assert reported == {"US"}


def test_company_figures_replace_secondary_ones(dataset: Dataset) -> None:
    # MP Materials' own results: 45,455 t REO and 1,294 t NdPr oxide in 2024; Iluka's expected
    # NdPr output at its 17,500 t/yr feed rate; Solvay La Rochelle's rare earths since 1948
    capacities = dataset.table("facility_capacities").set_index(
        ["facility", "product", "basis", "year"]
    )
    assert capacities.loc[("mountain_pass", "reo", "output", 2024), "capacity"] == 45455
    assert capacities.loc[("mountain_pass", "ndpr_oxide", "output", 2024), "capacity"] == 1294
    assert capacities.loc[("mountain_pass", "ndpr_oxide", "output", 2024), "source"] == [
        "mp_2025_02_fy2024_results"
    ]
    assert capacities.loc[("iluka_eneabba", "ndpr_oxide", "target", 2022), "capacity"] == 4000
    facilities = dataset.table("facilities").set_index("id")
    assert facilities.loc["solvay_la_rochelle", "start_year"] == 1948
    assert pd.isna(facilities.loc["solvay_la_rochelle", "heavy_ree"])  # capable, not producing
    assert "Samarium Project Loan" in facilities.loc["mountain_pass", "note"]
