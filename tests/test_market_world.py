"""The default world market: calibration against published 2024 figures and lever directions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.levers import ExportBan, Levers, PriceFloor, Quota, SourcingRule, Tariff
from rareflow.market.calibration import calibration_table
from rareflow.market.clearing import Clearing, clear
from rareflow.market.results import MarketResult

HEAVY = ["Dy", "Tb"]
CHINA_HEAVY_BAN = ExportBan(
    id="cn_heavy",
    commodities=["oxide", "metal", "magnet"],
    elements=HEAVY,
    origin=["china"],
    exclude_destination=["china"],
)


@pytest.fixture(scope="module")
def base(dataset: Dataset) -> MarketResult:
    return clear(dataset)


def china_exports(result: MarketResult, commodity: str) -> float:
    trade = result.trade()
    rows = trade[(trade["commodity"] == commodity) & (trade["origin"] == "CN")]
    return float(rows["t"].sum())


def test_base_year_is_within_every_calibration_bound(dataset: Dataset, base: MarketResult) -> None:
    table = calibration_table(dataset, base)
    assert len(table) == 12
    failed = table[~table["ok"]]
    assert failed.empty, failed.to_string()


def test_every_element_balances_in_the_base_year(base: MarketResult) -> None:
    assert base.balance["residual_t"].abs().max() < 1e-6
    assert base.ledger["residual_t"].abs().max() < 1e-6
    # joint production: every element of the ores is produced, wanted or not
    assert set(base.ledger["element"]) >= {"La", "Ce", "Nd", "Pr", "Dy", "Tb", "Y"}


def test_china_heavy_ban_raises_ex_china_prices_and_unmet_demand(
    dataset: Dataset, base: MarketResult
) -> None:
    banned = clear(dataset, levers=Levers(bans=[CHINA_HEAVY_BAN]))
    # Tb outside China has no ex-China source in 2024: its price jumps; Dy and Tb pile up in
    # China, where their prices fall
    assert banned.price("oxide", "Tb", "JP") > 1.5 * base.price("oxide", "Tb", "JP")
    for e in HEAVY:
        assert banned.price("oxide", e, "CN") < base.price("oxide", e, "CN")
    # magnets of Dy/Tb grades become scarce and dear outside China, not inside
    for grade in ("ndfeb_ev_iea", "ndfeb_basic_commercial"):
        assert banned.price("magnet", grade, "DE") > 1.5 * base.price("magnet", grade, "DE")
        assert banned.price("magnet", grade, "CN") <= base.price("magnet", grade, "CN") + 1e-6
    flows = banned.flows
    moved = flows[(flows["kind"] == "trade") & (flows["origin"] == "CN")]
    heavy_grades = [g for g, recipe in banned_grades(dataset).items() if set(recipe) & set(HEAVY)]
    assert moved[moved["item"].isin(HEAVY + heavy_grades)]["t"].sum() == 0.0
    outside = banned.demand[banned.demand["region"] != "CN"]["unmet_t"].sum()
    assert outside > base.demand[base.demand["region"] != "CN"]["unmet_t"].sum() + 1000
    # outside China, magnet makers turn to heavy-free designs
    made = flows[(flows["kind"] == "magnet") & (flows["location"] != "CN")]
    assert made[made["variant"] == "heavy_free"]["t"].sum() > 0


def banned_grades(dataset: Dataset) -> dict[str, dict[str, float]]:
    from rareflow.market.world_data import build_world

    return build_world(dataset).grades


def test_quota_caps_china_magnet_exports(dataset: Dataset, base: MarketResult) -> None:
    assert china_exports(base, "magnet") > 50_000
    quota = Quota(id="q", commodities=["magnet"], origin=["china"], limit_t=20_000)
    capped = clear(dataset, levers=Levers(quotas=[quota]))
    assert china_exports(capped, "magnet") == pytest.approx(20_000, rel=1e-6)
    grade = "ndfeb_basic_commercial"
    assert capped.price("magnet", grade, "DE") > base.price("magnet", grade, "DE") + 10


def test_us_tariff_on_chinese_magnets_raises_us_price(dataset: Dataset, base: MarketResult) -> None:
    tariff = Tariff(
        id="s301", commodities=["magnet"], origin=["china"], destination=["US"], rate_pct=25.0
    )
    taxed = clear(dataset, levers=Levers(tariffs=[tariff]))
    grade = "ndfeb_basic_commercial"
    rise = taxed.price("magnet", grade, "US") - base.price("magnet", grade, "US")
    # at most the duty on the 49 USD/kg reference value, at least a visible share of it
    assert 0.0 < rise <= 0.25 * 49.0 + 1e-9
    assert taxed.price("magnet", grade, "CN") == pytest.approx(
        base.price("magnet", grade, "CN"), abs=1.0
    )


def test_ndpr_floor_pays_the_gap_to_the_market_price(dataset: Dataset) -> None:
    floor = PriceFloor(
        id="dod",
        plants=["mp_mountain_pass"],
        elements=["Nd", "Pr"],
        floor_usd_per_kg=110.0,
        volume_t=10_000,
    )
    result = clear(dataset, levers=Levers(floors=[floor]))
    subsidy = result.subsidies.set_index("lever").loc["dod"]
    price = 0.75 * result.price("oxide", "Nd", "US") + 0.25 * result.price("oxide", "Pr", "US")
    assert subsidy["usd_per_kg"] == pytest.approx(110.0 - price, abs=1.0)
    # the floor is paid on the plant's whole Nd + Pr output, which the plant's capacity bounds
    flows = result.flows
    output = flows[(flows["kind"] == "oxide_output") & (flows["plant"] == "mp_mountain_pass")]
    assert subsidy["t"] == pytest.approx(output[output["item"].isin(["Nd", "Pr"])]["t"].sum())
    feed = flows[
        flows["kind"].isin(["concentrate", "heavy_concentrate"])
        & (flows["plant"] == "mp_mountain_pass")
    ]["t"].sum()
    assert feed == pytest.approx(8_200)
    assert subsidy["cost_kusd"] == pytest.approx(subsidy["usd_per_kg"] * subsidy["t"])


def test_defence_sourcing_rule_uses_only_non_chinese_chains(dataset: Dataset) -> None:
    rule = SourcingRule(id="dfars", regions=["US"], end_uses=["defence"], excluded=["china"])
    result = clear(dataset, levers=Levers(sourcing_rules=[rule]))
    defence = result.demand[
        (result.demand["region"] == "US") & (result.demand["end_use"] == "defence")
    ]
    assert defence["served_t"].sum() > 0.9 * defence["reference_t"].sum()
    clean = result.flows[result.flows["track"] == 1]
    for column in ("origin", "destination", "location"):
        assert "CN" not in set(clean[column].dropna())


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    banned=st.lists(st.sampled_from(["Dy", "Tb", "Nd", "Pr", "La"]), unique=True, max_size=3),
    tariff=st.floats(0, 200),
    quota=st.floats(0, 80_000),
    scale=st.floats(0.2, 2.0),
)
def test_mass_balance_holds_for_random_levers(
    dataset: Dataset, banned: list[str], tariff: float, quota: float, scale: float
) -> None:
    levers = Levers(
        bans=[ExportBan(id="b", elements=banned, origin=["china"], exclude_destination=["china"])]
        if banned
        else [],
        tariffs=[
            Tariff(id="t", commodities=["oxide", "magnet"], origin=["china"], rate_pct=tariff)
        ],
        quotas=[Quota(id="q", commodities=["concentrate"], destination=["china"], limit_t=quota)],
    )
    clearing = Clearing.from_dataset(dataset, levers=levers)
    clearing.set_capacity("cn_separation", 387_000 * scale)
    result = clearing.solve()  # raises MassBalanceError if anything leaks
    flows = result.flows
    assert np.all(flows["t"] >= -1e-9)
    assert result.ledger["residual_t"].abs().max() < 1e-6


def test_separation_costs_in_market_yaml_are_the_process_models(dataset: Dataset) -> None:
    """market.yaml quotes `rareflow cascade cost`'s operating cost per plant; recompute
    them (10 kt/yr)."""
    from rareflow.process.cost import plant_cost
    from rareflow.process.flowsheet import build_flowsheet

    assert dataset.market is not None
    plants = {p.id: p for p in dataset.market.separators}
    quoted = {
        "cn_separation": ("ionic_clay_medium_y_eu", "CN"),
        "lynas_malaysia": ("bayan_obo", "MY"),
        "mp_mountain_pass": ("bayan_obo", "US"),
        "neo_silmet": ("bayan_obo", "DE"),
        "solvay_la_rochelle": ("bayan_obo", "DE"),
    }
    sheets = {ore: build_flowsheet(dataset, ore) for ore, _ in set(quoted.values())}
    for plant_id, (ore, region) in quoted.items():
        cost = plant_cost(sheets[ore], dataset, region, 10_000).operating_usd_per_kg_reo
        assert plants[plant_id].cost_usd_per_kg.value == pytest.approx(cost, abs=0.006), plant_id


def test_scale_demand_and_n_minus_one(dataset: Dataset, base: MarketResult) -> None:
    from rareflow.metrics import n_minus_one_pct

    clearing = Clearing.from_dataset(dataset)
    clearing.scale_demand(1.2, end_use="ev_traction")
    grown = clearing.solve().demand
    ev = grown[grown["end_use"] == "ev_traction"]
    assert (
        ev["served_t"].sum()
        > base.demand[base.demand["end_use"] == "ev_traction"]["served_t"].sum()
    )
    clearing.scale_demand(1.0, end_use="ev_traction")
    largest, covered = n_minus_one_pct(clearing, "separation")
    assert largest == "CN" and covered < 50.0
    # capacities are restored afterwards
    assert clearing.solve().welfare_musd == pytest.approx(base.welfare_musd, rel=1e-9)
