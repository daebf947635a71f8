"""Small market networks solved by hand: flows, prices (duals) and welfare.

Units: t and USD/kg, so costs and welfare are in thousand USD (1 t x 1 USD/kg = 1 kUSD).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rareflow.dataset.levers import (
    ExportBan,
    Levers,
    Offtake,
    PriceFloor,
    SourcingRule,
    StockPurchase,
    StockRelease,
    Subsidy,
    Tariff,
)
from rareflow.market.clearing import Clearing
from rareflow.market.intervals import price_intervals
from rareflow.market.model import MarketModel
from rareflow.market.network import Mine, Plant, Segment, World

PLACES = {
    "CN": frozenset({"CN", "china"}),
    "AU": frozenset({"AU"}),
    "MY": frozenset({"MY"}),
    "US": frozenset({"US"}),
}


def segment(
    name: str,
    item: str,
    steps: list[tuple[float, float]],
    location: str = "CN",
    region: str = "R",
    end_use: str = "any",
    commodity: str = "oxide",
) -> Segment:
    total = sum(q for q, _ in steps)
    return Segment(
        name, region, end_use, commodity, item, location, total, steps[0][1], tuple(steps)
    )


def world(
    mines: list[Mine],
    separators: list[Plant],
    segments: list[Segment],
    levers: Levers | None = None,
) -> World:
    return World(
        year=2024,
        places=PLACES,
        mines=mines,
        separators=separators,
        metal_plants=[],
        magnet_plants=[],
        gallium_plants=[],
        grades={},
        grade_other_cost={},
        segments=segments,
        freight={"concentrate": 0.5, "oxide": 0.5, "metal": 0.5, "magnet": 0.5, "gallium": 1.0},
        reference_prices={("concentrate", "m2"): 10.0, ("oxide", "Nd"): 20.0},
        recovery=1.0,
        metal_yield=1.0,
        magnet_yield=1.0,
        disposal_cost=0.1,
        levers=levers or Levers(),
    )


M1 = Mine("m1", "CN", "a", {"La": 0.5, "Nd": 0.5}, 100.0, 1.0)
M2 = Mine("m2", "AU", "b", {"La": 0.8, "Nd": 0.2}, 100.0, 2.0)
S_CN = Plant("s_cn", "separation", "CN", 1000.0, 1.0)
S_MY = Plant("s_my", "separation", "MY", 1000.0, 2.0)
ND = segment("nd", "Nd", [(50.0, 30.0), (10.0, 25.0), (20.0, 10.0)])
LA = segment("la", "La", [(50.0, 3.0)])


def flow(result, kind: str, **match: str) -> float:  # type: ignore[no-untyped-def]
    rows = result.flows[result.flows["kind"] == kind]
    for column, value in match.items():
        rows = rows[rows[column] == value]
    return float(rows["t"].sum())


def test_joint_production_sets_flows_prices_and_welfare() -> None:
    # M1 runs full (100 t ore: 50 t Nd, 50 t La). Nd demand at WTP >= 25 is 60 t, so 10 t of Nd
    # come from M2 (50 t of ore, also 40 t La). La: 90 t made, 50 t sold at WTP 3, 40 t
    # disposed at 0.1, so La is worth -0.1. M2 is the marginal source of Nd:
    # cost 2 + 0.5 freight + 1 separation = 3.5 = 0.2 p_Nd + 0.8 (-0.1) -> p_Nd = 17.9,
    # below the 25 step (served) and above the 10 step (not served).
    result = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA]))).solve()
    assert flow(result, "concentrate", mine="m1") == pytest.approx(100.0)
    assert flow(result, "concentrate", mine="m2") == pytest.approx(50.0)
    assert flow(result, "disposal", item="La") == pytest.approx(40.0)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(17.9)
    assert result.price("oxide", "La", "CN") == pytest.approx(-0.1)
    served = result.demand.set_index("segment")["served_t"]
    assert served["nd"] == pytest.approx(60.0)
    assert served["la"] == pytest.approx(50.0)
    # welfare = 50*30 + 10*25 + 50*3 - 100*(1+1) - 50*3.5 - 40*0.1 = 1521 kUSD
    assert result.welfare_musd == pytest.approx(1.521)


def test_a_price_at_a_filled_step_is_an_interval() -> None:
    # M1 alone makes 50 t Nd and 50 t La. Nd demand takes 50 t at 30, then 10 t at 25: one more
    # t of Nd is worth 25, one t fewer costs 30, so any Nd price in [25, 30] is optimal. La's
    # 50 t fill its 50 t step at 3 exactly: one more t is disposed of (-0.1), one fewer loses 3.
    clearing = Clearing(MarketModel(world([M1], [S_CN], [ND, LA])))
    clearing.solve()
    ranges = price_intervals(clearing.model).set_index("item")
    assert ranges.loc["Nd", ["low", "high"]].tolist() == pytest.approx([25.0, 30.0], abs=1e-3)
    assert ranges.loc["La", ["low", "high"]].tolist() == pytest.approx([-0.1, 3.0], abs=1e-3)
    assert not ranges["determined"].any()
    assert (ranges["low"] <= ranges["usd_per_kg"] + 1e-6).all()
    assert (ranges["usd_per_kg"] <= ranges["high"] + 1e-6).all()
    # with M2 at the margin (the first test) both prices are determined: 17.9 and -0.1
    clearing = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA])))
    clearing.solve()
    ranges = price_intervals(clearing.model).set_index("item")
    assert ranges["determined"].all()
    assert ranges.loc["Nd", ["low", "high"]].tolist() == pytest.approx([17.9, 17.9], abs=1e-3)


def test_ban_reroutes_through_the_other_separator() -> None:
    # Banning ore from AU to China sends M2's ore to Malaysia: 2 + 0.5 + 2 = 4.5 =
    # 0.2 p_Nd(MY) + 0.8 (-0.1) -> p_Nd(MY) = 22.9; Nd then ships to China at 0.5: 23.4.
    ban = ExportBan(
        id="no_au_ore", commodities=["concentrate"], origin=["AU"], destination=["china"]
    )
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN, S_MY], [ND, LA], Levers(bans=[ban])))
    ).solve()
    assert flow(result, "concentrate", mine="m2", plant="s_cn") == pytest.approx(0.0)
    assert flow(result, "concentrate", mine="m2", plant="s_my") == pytest.approx(50.0)
    assert flow(result, "trade", item="Nd", origin="MY", destination="CN") == pytest.approx(10.0)
    assert result.price("oxide", "Nd", "MY") == pytest.approx(22.9)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(23.4)
    # without the ban the same network uses the cheaper route
    free = Clearing(MarketModel(world([M1, M2], [S_CN, S_MY], [ND, LA]))).solve()
    assert flow(free, "concentrate", mine="m2", plant="s_my") == pytest.approx(0.0)
    assert free.welfare_musd > result.welfare_musd


def test_tariff_is_a_per_kg_cost_on_the_reference_value() -> None:
    # 10 % of the concentrate's reference value (10 USD/kg) adds 1 USD/kg on M2's ore:
    # 4.5 = 0.2 p_Nd - 0.08 -> p_Nd = 22.9.
    tariff = Tariff(id="t", commodities=["concentrate"], origin=["AU"], rate_pct=10.0)
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(tariffs=[tariff])))
    ).solve()
    assert result.price("oxide", "Nd", "CN") == pytest.approx(22.9)


def test_price_floor_binds_and_its_subsidy_is_the_gap() -> None:
    # One mine (ore 50 % Nd, 50 % La), cost 4 + separation 1 = 5 per kg ore. Nd demand: 50 t at
    # 30, 100 t at 8. Unaided, only the first step is worth serving. A floor of 12 USD/kg on the
    # plant's Nd: producers earn p + s with s = 12 - p; the mine runs to capacity (100 t Nd),
    # the 8-step is half served, so p = 8 and s = 4, costing 4 x 100 t = 400 kUSD.
    mine = Mine("m", "CN", "a", {"La": 0.5, "Nd": 0.5}, 200.0, 4.0)
    nd = segment("nd", "Nd", [(50.0, 30.0), (100.0, 8.0)])
    floor = PriceFloor(
        id="f", plants=["s_cn"], elements=["Nd"], floor_usd_per_kg=12.0, volume_t=1000.0
    )
    result = Clearing(MarketModel(world([mine], [S_CN], [nd], Levers(floors=[floor])))).solve()
    assert flow(result, "concentrate", mine="m") == pytest.approx(200.0)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(8.0)
    subsidy = result.subsidies.set_index("lever").loc["f"]
    assert subsidy["usd_per_kg"] == pytest.approx(4.0, abs=1e-3)
    assert subsidy["cost_kusd"] == pytest.approx(400.0, rel=1e-3)
    # welfare net of the subsidy: 50*30 + 50*8 - 200*5 - 100*0.1 (La disposed) = 890 kUSD,
    # below the unaided 50*30 - 100*5 - 50*0.1 = 995: the floor's deadweight loss is 105 kUSD
    assert result.welfare_musd == pytest.approx(0.890, abs=1e-6)
    unaided = Clearing(MarketModel(world([mine], [S_CN], [nd]))).solve()
    assert flow(unaided, "concentrate", mine="m") == pytest.approx(100.0)
    assert unaided.welfare_musd == pytest.approx(0.995)


@pytest.mark.parametrize(
    ("gap", "start", "root", "most_solves"),
    [
        (lambda s: 7.5, 11.5, 7.5, 2),  # price unmoved by s: one step from the last subsidy
        (lambda s: 5.0 if s < 3.0 else 7.0, 0.0, 7.0, 3),  # the price falls past s = 3
        (lambda s: 0.25 * s + 6.0, 0.0, 8.0, 12),  # the price falls with s: steps contract
        (lambda s: 10.0 if s < 4.0 else 2.0, 0.0, 4.0, 20),  # no root: the bracket closes on 4
        (lambda s: -1.0, 12.0, 0.0, 2),  # the market price is above the floor: no subsidy
        (lambda s: 12.2, 0.0, 12.0, 20),  # a negative price (disposal): capped at the floor
    ],
)
def test_floor_subsidy_root(
    gap: Callable[[float], float], start: float, root: float, most_solves: int
) -> None:
    # h(s) = max(0, gap(s)) - s on a floor of 12 USD/kg; the settled subsidy is its root, or
    # where it changes sign within 1e-3 when a jump leaves none.
    floor = PriceFloor(
        id="f", plants=["s_cn"], elements=["Nd"], floor_usd_per_kg=12.0, volume_t=100.0
    )
    clearing = Clearing(MarketModel(world([M1], [S_CN], [ND], Levers(floors=[floor]))))
    clearing.model.floor_subsidy["f"] = start
    evaluated: list[float] = []

    def excess(floor_id: str, subsidy: float) -> float:
        evaluated.append(subsidy)
        return max(0.0, gap(subsidy)) - subsidy

    clearing._excess = excess  # type: ignore[method-assign]
    subsidy, solves = clearing._floor_root("f", 12.0)
    assert subsidy == pytest.approx(root, abs=1e-3)
    assert solves == len(evaluated) <= most_solves


def test_sourcing_rule_keeps_china_out_of_every_stage() -> None:
    # US defence buys Nd only from chains with no Chinese mine or plant. M1 is Chinese, so its
    # Nd is barred even if separated in Malaysia; M2 -> MY qualifies. Civil demand keeps using
    # the cheap Chinese chain.
    defence = segment("def", "Nd", [(5.0, 100.0)], location="US", region="US", end_use="defence")
    rule = SourcingRule(id="dfars", regions=["US"], end_uses=["defence"], excluded=["china"])
    model = MarketModel(
        world([M1, M2], [S_CN, S_MY], [ND, LA, defence], Levers(sourcing_rules=[rule]))
    )
    result = Clearing(model).solve()
    assert result.demand.set_index("segment").loc["def", "served_t"] == pytest.approx(5.0)
    clean = result.flows[(result.flows["kind"] == "concentrate") & (result.flows["track"] == 1)]
    assert set(clean["mine"]) == {"m2"} and set(clean["plant"]) == {"s_my"}
    # no clean chain at all (Malaysia gone): the rule leaves defence unmet instead of infeasible
    strict = MarketModel(world([M1, M2], [S_CN], [ND, LA, defence], Levers(sourcing_rules=[rule])))
    unmet = Clearing(strict).solve().demand.set_index("segment").loc["def", "unmet_t"]
    assert unmet == pytest.approx(5.0)


def test_warm_re_solve_after_a_capacity_change_matches_a_fresh_build() -> None:
    clearing = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA])))
    clearing.solve()
    clearing.set_capacity("m1", 60.0)
    warm = clearing.solve()
    fresh_world = world([Mine("m1", "CN", "a", M1.ore, 60.0, 1.0), M2], [S_CN], [ND, LA])
    fresh = Clearing(MarketModel(fresh_world)).solve()
    assert warm.welfare_musd == pytest.approx(fresh.welfare_musd, abs=1e-9)
    assert flow(warm, "concentrate", mine="m2") == pytest.approx(
        flow(fresh, "concentrate", mine="m2")
    )


def test_offtake_takes_plant_output_at_its_price() -> None:
    # A US buyer takes 5 t of s_cn's Nd at 40 USD/kg (39.5 after freight). Nd wanted at >= 25:
    # 60 t + 5 t; M1 gives 50, so M2 runs 75 t of ore (15 t Nd, 60 t La). M2 stays marginal,
    # so Nd keeps its price of 17.9; La: 50 + 60 = 110 t made, 50 sold, 60 disposed.
    offtake = Offtake(
        id="o",
        plants=["s_cn"],
        commodity="oxide",
        items=["Nd"],
        location="US",
        volume_t=5.0,
        price_usd_per_kg=40.0,
    )
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(offtakes=[offtake])))
    ).solve()
    assert flow(result, "offtake") == pytest.approx(5.0)
    assert flow(result, "concentrate", mine="m2") == pytest.approx(75.0)
    assert flow(result, "disposal", item="La") == pytest.approx(60.0)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(17.9)


def test_stock_release_displaces_the_marginal_mine() -> None:
    # 10 t of Nd released in China cover the 25-step, so M2 (Nd at 17.9) idles. With M1 and the
    # stock exhausted and the 10-step unserved, Nd is worth between 10 and 17.9.
    release = StockRelease(id="r", location="CN", commodity="oxide", item="Nd", volume_t=10.0)
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(stock_releases=[release])))
    ).solve()
    assert flow(result, "concentrate", mine="m2") == pytest.approx(0.0)
    assert flow(result, "stock_release") == pytest.approx(10.0)
    assert result.demand.set_index("segment").loc["nd", "served_t"] == pytest.approx(60.0)
    assert 10.0 - 1e-9 <= result.price("oxide", "Nd", "CN") <= 17.9 + 1e-9


def test_results_convert_to_xarray() -> None:
    result = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA]))).solve()
    data = result.to_xarray()
    assert data["price"].sel(
        year=2024, commodity="oxide", item="Nd", location="CN"
    ) == pytest.approx(17.9)
    assert data["price"].attrs["units"] == "USD/kg"
    assert float(
        data["separated_oxide"].sel(year=2024, element="La", location="CN")
    ) == pytest.approx(90.0)


def test_production_subsidy_is_a_transfer_that_moves_the_price() -> None:
    # 1 USD/kg off M2's mining cost: 2.5 = 0.2 p_Nd - 0.08 -> p_Nd = 12.9. Quantities do not
    # change (M2 still supplies the 25-step's 10 t), so welfare net of the 50 kUSD paid on M2's
    # 50 t is the unsubsidised 1521 kUSD.
    subsidy = Subsidy(id="s", plants=["m2"], usd_per_kg=1.0)
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(subsidies=[subsidy])))
    ).solve()
    assert result.price("oxide", "Nd", "CN") == pytest.approx(12.9)
    paid = result.subsidies.set_index("lever").loc["s"]
    assert paid["t"] == pytest.approx(50.0) and paid["cost_kusd"] == pytest.approx(50.0)
    assert result.welfare_musd == pytest.approx(1.521)


def test_stock_purchase_buys_below_its_price_cap() -> None:
    # A stockpile buys 5 t of Nd while the price is below 30: M2 runs 75 t of ore, Nd stays 17.9.
    purchase = StockPurchase(
        id="p", location="CN", commodity="oxide", item="Nd", volume_t=5.0, max_price_usd_per_kg=30.0
    )
    result = Clearing(
        MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(stock_purchases=[purchase])))
    ).solve()
    assert flow(result, "stock_purchase") == pytest.approx(5.0)
    assert flow(result, "concentrate", mine="m2") == pytest.approx(75.0)
    assert result.price("oxide", "Nd", "CN") == pytest.approx(17.9)


def test_switching_levers_on_a_built_model_matches_fresh_builds() -> None:
    ban = ExportBan(
        id="no_au_ore", commodities=["concentrate"], origin=["AU"], destination=["china"]
    )
    rule = SourcingRule(id="dfars", regions=["US"], end_uses=["defence"], excluded=["china"])
    defence = segment("def", "Nd", [(5.0, 100.0)], location="US", region="US", end_use="defence")
    levers = Levers(bans=[ban], sourcing_rules=[rule])
    nodes = ([M1, M2], [S_CN, S_MY], [ND, LA, defence])
    clearing = Clearing(MarketModel(world(*nodes, levers)))
    both = clearing.solve().welfare_musd
    for active in ({"dfars"}, {"no_au_ore"}, set(), {"no_au_ore", "dfars"}):
        clearing.activate(active)
        warm = clearing.solve()
        only = Levers(
            bans=[ban] if "no_au_ore" in active else [],
            sourcing_rules=[rule] if "dfars" in active else [],
        )
        fresh = Clearing(MarketModel(world(*nodes, only))).solve()
        assert warm.welfare_musd == pytest.approx(fresh.welfare_musd, abs=1e-9), active
    assert warm.welfare_musd == pytest.approx(both)


def test_oxide_output_by_element_and_place() -> None:
    result = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA]))).solve()
    output = result.oxide_output().set_index(["element", "location"])["t"]
    assert output[("Nd", "CN")] == pytest.approx(60.0)  # 50 + 10 at recovery 1
    assert output[("La", "CN")] == pytest.approx(90.0)


def test_an_impossible_year_names_the_constraints_that_contradict() -> None:
    # a capacity below zero cannot hold with output >= 0: the irreducible subset is that row and
    # the output column's lower bound, so the message must name the mine's capacity row
    model = MarketModel(world([M1, M2], [S_CN], [ND, LA]))
    clearing = Clearing(model)
    clearing.solve()
    model.set_row_upper(("capacity", 0, "m2"), -5.0)
    with pytest.raises(RuntimeError) as raised:
        clearing.solve()
    message = str(raised.value)
    assert "Infeasible" in message
    assert "capacity (node m2, period 0) <= -5 t / yr" in message
    assert "m1" not in message


@pytest.mark.parametrize("elasticity", [-0.1, -0.2, -0.5, -1.0, -1.5])
def test_mean_step_price_is_the_curves_mean_over_the_step(elasticity: float) -> None:
    # q = q0 (p/p0)^e, so p/p0 = (q/q0)^(1/e). Each step below the cap holds the demand
    # between two multipliers; with step_price "mean" its price times its quantity is the area
    # under the curve over that quantity (numerical quadrature here), so it lies strictly
    # inside the step's price interval. "lower" prices each step at its interval's bottom.
    from scipy.integrate import quad

    from rareflow.market.network import demand_steps

    multipliers = [30.0, 15.0, 5.0, 1.4, 1.0, 0.55, 0.15]
    q0, p0 = 100.0, 20.0
    lower = demand_steps(q0, p0, elasticity, multipliers)
    mean = demand_steps(q0, p0, elasticity, multipliers, "mean")
    assert [q for q, _ in mean] == pytest.approx([q for q, _ in lower])
    assert [p for _, p in lower] == pytest.approx([m * p0 for m in multipliers])
    assert mean[0] == pytest.approx(lower[0])  # the cap is the cap
    for k in range(1, len(multipliers)):
        q_a = q0 * multipliers[k - 1] ** elasticity
        q_b = q0 * multipliers[k] ** elasticity
        area, _ = quad(lambda q: p0 * (q / q0) ** (1.0 / elasticity), q_a, q_b)
        quantity, price = mean[k]
        assert quantity == pytest.approx(q_b - q_a)
        assert price * quantity == pytest.approx(area, rel=1e-9)
        assert multipliers[k] * p0 < price < multipliers[k - 1] * p0
