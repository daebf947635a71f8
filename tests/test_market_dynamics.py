"""Small markets solved by hand: stocks between two periods, an export tax's wedge, licences,
substitution that stays once built (hysteresis), a crackdown on mining outside the quota, and
heavy concentrate held for a plant that opens next year.

Units: t and USD/kg (objective in thousand USD). Prices of a later period are duals divided
by its discount factor.
"""

from __future__ import annotations

import numpy as np
import pytest

from rareflow.compliance.provenance import flow_graph, origin_shares
from rareflow.dataset.documents import Parameter
from rareflow.dataset.levers import Crackdown, ExportTax, Levers, Licence
from rareflow.dataset.market_parameters import ExpectationSpec
from rareflow.market.accounting import balance_residuals, ledger_residual, ledger_table
from rareflow.market.adjusting import built, set_adjustment_level, set_initial_stocks
from rareflow.market.clearing import Clearing
from rareflow.market.model import MarketModel
from rareflow.market.network import (
    CHINA_EXPORT,
    Adjustable,
    Inventories,
    Mine,
    Plant,
    Segment,
    Smuggling,
    Substitution,
    World,
)
from rareflow.market.program import pool
from rareflow.market.separation import heavy_held, set_heavy_stocks
from rareflow.scenario.schema import Expectations
from rareflow.simulate.expectations import (
    ExpectationRule,
    StockExpectations,
    expectation_rule,
    expected_price,
    expected_prices,
)

PLACES = {
    "CN": frozenset({"CN", "china"}),
    CHINA_EXPORT: frozenset({CHINA_EXPORT, "china"}),
    "JP": frozenset({"JP"}),
}


def segment(name: str, steps: list[tuple[float, float]], location: str = "CN",
            end_use: str = "any") -> Segment:  # fmt: skip
    total = sum(q for q, _ in steps)
    return Segment(name, "R", end_use, "oxide", "Nd", location, total, 10.0, tuple(steps))


def world(capacity: float, segments: list[Segment], levers: Levers | None = None) -> World:
    return World(
        year=2024,
        places=PLACES,
        mines=[Mine("m", "CN", "a", {"Nd": 1.0}, capacity, 1.0)],
        separators=[Plant("s", "separation", "CN", 1e6, 0.0)],
        metal_plants=[],
        magnet_plants=[],
        gallium_plants=[],
        grades={},
        grade_other_cost={},
        segments=segments,
        freight={"concentrate": 0.5, "oxide": 0.5, "metal": 0.5, "magnet": 0.5, "gallium": 1.0},
        reference_prices={("oxide", "Nd"): 20.0},
        recovery=1.0,
        metal_yield=1.0,
        magnet_yield=1.0,
        disposal_cost=0.1,
        levers=levers or Levers(),
        discount_rate=0.25,
    )


def storage_model(carrying_pct: float) -> MarketModel:
    """Two periods; 120 t can be mined now, none next year; steps 50 @ 30, 60 @ 12, 100 @ 5."""
    spec = world(120.0, [segment("nd", [(50.0, 30.0), (60.0, 12.0), (100.0, 5.0)])])
    spec.inventories = Inventories(("oxide",), ((1.0, 0.0, 0.0),), carrying_pct)
    model = MarketModel(spec, periods=2)
    set_initial_stocks(model, {("oxide", "Nd", "CN"): 0.0})
    model.set_row_upper(("capacity", 1, "m"), 0.0)
    model.refresh()
    return model


def stock(model: MarketModel, values: object) -> float:
    program = model.program
    return sum(values[c] for c in program.select("inventory", period=0))  # type: ignore[index]


def test_stock_is_carried_when_the_expected_gain_beats_carrying() -> None:
    # Carrying 10 % of p0 = 2 USD/kg a year; discount factor 0.8. A t stored for next year's
    # 30-step is worth 0.8 x 30 - 2 = 22 (present value) > 12 now: 50 t are stored, the other
    # 20 t serve the 12-step now (partly, so the price now is 12); the stock is interior, so
    # next year's price satisfies 0.8 p1 = 12 + 2 -> p1 = 17.5.
    model = storage_model(10.0)
    values, duals, _ = model.solve_once()
    rows = model.program.rows
    assert stock(model, values) == pytest.approx(50.0)
    assert duals[rows[pool("oxide", "Nd", "CN", 0, 0)]] == pytest.approx(12.0)
    assert duals[rows[pool("oxide", "Nd", "CN", 0, 1)]] / 0.8 == pytest.approx(17.5)


def test_dearer_carrying_stores_only_what_beats_the_lowest_use() -> None:
    # Carrying 80 % of p0 = 16: storing for the 30-step is worth 24 - 16 = 8 < 12, so the 50 @ 30
    # and 60 @ 12 steps are served now; the last 10 t would fetch 5 now but 8 stored, so they are
    # stored: the price now is 8 and next year's 0.8 p1 = 8 + 16 -> p1 = 30 (its 30-step unfilled).
    model = storage_model(80.0)
    values, duals, _ = model.solve_once()
    rows = model.program.rows
    assert stock(model, values) == pytest.approx(10.0)
    assert duals[rows[pool("oxide", "Nd", "CN", 0, 0)]] == pytest.approx(8.0)
    assert duals[rows[pool("oxide", "Nd", "CN", 0, 1)]] / 0.8 == pytest.approx(30.0)


def test_no_stock_when_carrying_costs_more_than_any_gain() -> None:
    # Carrying 130 % of p0 = 26 > 0.8 x 30: nothing is stored; the last 10 t serve the 5-step.
    model = storage_model(130.0)
    values, duals, _ = model.solve_once()
    assert stock(model, values) == pytest.approx(0.0)
    assert duals[model.program.rows[pool("oxide", "Nd", "CN", 0, 0)]] == pytest.approx(5.0)


def export_world(levers: Levers) -> World:
    """China mines 100 t at 1; China's 10-step (100 t) sets its price; Japan buys 30 t at up to
    50 and more only at 2."""
    return world(
        100.0,
        [
            segment("cn", [(100.0, 10.0)]),
            segment("jp", [(30.0, 50.0), (100.0, 2.0)], location="JP"),
        ],
        levers,
    )


def test_export_tax_opens_the_textbook_wedge() -> None:
    # FOB = domestic / (1 - tax): 10 / 0.75 = 13.333; delivered Japan = FOB + 0.5 freight.
    tax = ExportTax(id="t", commodities=["oxide"], origin=["china"],
                    exclude_destination=["china"], rate_pct=25)  # fmt: skip
    taxed = Clearing(MarketModel(export_world(Levers(export_taxes=[tax])))).solve()
    assert taxed.price("oxide", "Nd", "CN") == pytest.approx(10.0)
    assert taxed.price("oxide", "Nd", CHINA_EXPORT) == pytest.approx(10 / 0.75, abs=2e-3)
    assert taxed.price("oxide", "Nd", "JP") == pytest.approx(10 / 0.75 + 0.5, abs=2e-3)
    free = Clearing(MarketModel(export_world(Levers()))).solve()
    assert free.price("oxide", "Nd", CHINA_EXPORT) == pytest.approx(10.0)
    exports = taxed.exports()
    assert exports["t"].sum() == pytest.approx(30.0)  # Japan's 50-step still pays


def test_licence_lets_through_the_unrefused_share() -> None:
    # Without the licence 30 t go to Japan; refusing 40 % lets 18 t through, and Japan's price
    # rises to the first step it can no longer fill (50).
    licence = Licence(id="l", commodities=["oxide"], origin=["china"],
                      exclude_destination=["china"], refused_share=0.4)  # fmt: skip
    result = Clearing(MarketModel(export_world(Levers(licences=[licence])))).solve()
    assert result.exports()["t"].sum() == pytest.approx(18.0)
    assert result.price("oxide", "Nd", "JP") == pytest.approx(50.0)


def test_a_tax_and_a_licence_in_force_part_of_the_year_count_by_their_months() -> None:
    # The 25 % tax for January-April (a third of the year): FOB = 10 / (1 - 0.25 / 3) = 10.909.
    tax = ExportTax(id="t", commodities=["oxide"], origin=["china"],
                    exclude_destination=["china"], rate_pct=25)  # fmt: skip
    model = MarketModel(export_world(Levers(export_taxes=[tax])))
    model.levers.shares[0]["t"] = 1 / 3
    taxed = Clearing(model).solve()
    assert taxed.price("oxide", "Nd", CHINA_EXPORT) == pytest.approx(10 / (1 - 0.25 / 3), abs=2e-3)
    # Refusing 40 % from July (half the year) lets 1 - 0.2 = 80 % of the 30 t through.
    licence = Licence(id="l", commodities=["oxide"], origin=["china"],
                      exclude_destination=["china"], refused_share=0.4)  # fmt: skip
    model = MarketModel(export_world(Levers(licences=[licence])))
    model.levers.shares[0]["l"] = 0.5
    assert Clearing(model).solve().exports()["t"].sum() == pytest.approx(24.0)


def two_product_world(levers: Levers, smuggling: Smuggling | None = None) -> World:
    """China mines 100 t of a half-Nd, half-Dy ore; China's own 10-steps (100 t each) set its
    prices; Japan buys 20 t of Nd at up to 50 and 20 t of Dy at up to 100, more only at 2."""
    spec = world(100.0, [
        segment("cn_nd", [(100.0, 10.0)]),
        Segment("cn_dy", "R", "any", "oxide", "Dy", "CN", 100.0, 10.0, ((100.0, 10.0),)),
        segment("jp_nd", [(20.0, 50.0), (100.0, 2.0)], location="JP"),
        Segment("jp_dy", "R", "any", "oxide", "Dy", "JP", 120.0, 10.0,
                ((20.0, 100.0), (100.0, 2.0))),
    ], levers)  # fmt: skip
    spec.mines = [Mine("m", "CN", "a", {"Nd": 0.5, "Dy": 0.5}, 100.0, 1.0)]
    spec.separators = [Plant("s", "separation", "CN", 1e6, 0.0, heavy=True)]
    spec.reference_prices = {("oxide", "Nd"): 20.0, ("oxide", "Dy"): 20.0}
    spec.smuggling = smuggling
    return spec


def test_a_licence_refuses_its_share_of_every_product() -> None:
    # Without the licence Japan gets 20 t of each. Refusing half lets 10 t of each through, not
    # 20 t of the dearer Dy and none of the Nd (which one row over both would allow).
    licence = Licence(id="l", commodities=["oxide"], origin=["china"],
                      exclude_destination=["china"], refused_share=0.5)  # fmt: skip
    result = Clearing(MarketModel(two_product_world(Levers(licences=[licence])))).solve()
    exports = result.exports().groupby("item")["t"].sum()
    assert exports["Nd"] == pytest.approx(10.0)
    assert exports["Dy"] == pytest.approx(10.0)
    assert result.price("oxide", "Dy", "JP") == pytest.approx(100.0)
    assert result.price("oxide", "Nd", "JP") == pytest.approx(50.0)


def test_smuggling_goes_around_a_licence_unless_it_is_enforced() -> None:
    # A network of 100 t/yr at 4 USD/kg + 10 % of the 20 USD/kg reference value = 6 USD/kg:
    # Japan's unserved 10 t of each product are smuggled (China 10 + 6 + 0.5 freight < 50) and
    # Japan pays 16.5; a licence that closes smuggling leaves them unserved (Japan at 50/100).
    network = Smuggling(4.0, Adjustable(100.0, 100.0, 0.0, 0.0), value_share=0.1)
    for enforced, dy_price in ((False, 16.5), (True, 100.0)):
        licence = Licence(id="l", commodities=["oxide"], origin=["china"],
                          exclude_destination=["china"], refused_share=0.5,
                          closes_smuggling=enforced)  # fmt: skip
        spec = two_product_world(Levers(licences=[licence]), network)
        result = Clearing(MarketModel(spec)).solve()
        assert result.price("oxide", "Dy", "JP") == pytest.approx(dy_price, abs=1e-6)
        assert result.exports()["t"].sum() == pytest.approx(20.0 if enforced else 40.0)


def test_substitution_built_in_a_spike_stays_when_prices_fall() -> None:
    # One period. The segment (p0 = 10) may switch up to half its need a year to a substitute
    # that runs at 0.8 p0 = 8 once developed (one-time 0.5 p0 = 5 per t/yr). In the spike (40 t
    # mined) the 30-step (60 t) is short by 20 t: 20 t of substitute are built (8 + 5 < 30) and
    # the price is 13. When 70 t are mined the price is p0 = 10 (the 10-step partly served):
    # a new build no longer pays (8 + 5 > 10) but running the one built does (8 < 10), so 20 t
    # of need stay switched and the material serves 70 t instead of 90.
    spec = world(40.0, [segment("nd", [(60.0, 30.0), (40.0, 10.0), (100.0, 1.0)])])
    spec.substitution = {"default": Substitution(1.0, 0.5, 0.8, 0.5)}
    model = MarketModel(spec)
    name = "substitution:nd"
    values, duals, _ = model.solve_once()
    price = model.program.rows[pool("oxide", "Nd", "CN", 0)]
    assert built(model, name, values) == pytest.approx(20.0)
    assert duals[price] == pytest.approx(13.0)
    set_adjustment_level(model, name, 20.0)
    model.set_row_upper(("capacity", 0, "m"), 70.0)
    model.refresh()
    values, duals, _ = model.solve_once()
    substituted = sum(values[c] for c in model.program.select("substitute"))
    assert built(model, name, values) == pytest.approx(0.0)
    assert substituted == pytest.approx(20.0)
    assert duals[price] == pytest.approx(10.0)


def test_a_crackdown_limits_output_outside_the_quota_and_stops_builds() -> None:
    # 40 t of legal ore and 30 t/yr of capacity outside the quota that may grow by 10 t a year
    # (free to build); 100 t are wanted at up to 30 USD/kg. Without a campaign the hidden mine
    # runs 30 + 10 built = 40 t. A campaign limiting it to 15 t leaves 15 t and builds nothing,
    # and switching the campaign off restores the 40 t (the idled capacity is still there).
    levers = Levers(crackdowns=[Crackdown(id="campaign", limit_t=15.0)])
    spec = world(40.0, [segment("nd", [(100.0, 30.0), (100.0, 1.0)])], levers)
    spec.mines.append(
        Mine(
            "hidden", "CN", "a", {"Nd": 1.0}, 0.0, 2.0, adjustable=Adjustable(30.0, 60.0, 10.0, 0.0)
        )
    )
    model = MarketModel(spec)
    hidden = [c for c in model.program.select("concentrate")
              if model.program.meta[c]["mine"] == "hidden"]  # fmt: skip
    values, duals, _ = model.solve_once()
    assert values[hidden].sum() == pytest.approx(15.0)
    assert built(model, "mine:hidden", values) == pytest.approx(0.0)
    assert duals[model.program.rows[pool("oxide", "Nd", "CN", 0)]] == pytest.approx(30.0)
    model.activate(set())
    model.refresh()
    values, _, _ = model.solve_once()
    assert values[hidden].sum() == pytest.approx(40.0)
    assert built(model, "mine:hidden", values) == pytest.approx(10.0)


def one_year_storage(carrying_pct: float = 10.0) -> MarketModel:
    """One period: 120 t mined; steps 50 @ 30, 60 @ 12, 100 @ 5; stock left at the end is
    valued at the price expected one year on (discount factor 0.8), p0 = 20."""
    spec = world(120.0, [segment("nd", [(50.0, 30.0), (60.0, 12.0), (100.0, 5.0)])])
    spec.inventories = Inventories(("oxide",), ((1.0, 0.0, 0.0),), carrying_pct)
    model = MarketModel(spec, periods=1)
    set_initial_stocks(model, {("oxide", "Nd", "CN"): 0.0})
    model.refresh()
    return model


@pytest.mark.parametrize(
    ("history", "price_now", "stored"),
    [
        # reference rule (no prices seen yet): 0.8 x 20 - 2 = 14 beats the 12-step: 70 t stored
        ([], 14.0, 70.0),
        # prices rose 10 -> 20: E = (20 x 20)^0.5 x 2^0.375 = 25.94; 0.8 E - 2 = 18.75
        ([10.0, 20.0], 0.8 * 20.0 * 2.0**0.375 - 2.0, 70.0),
        # prices fell 40 -> 10: E = (20 x 10)^0.5 x 0.25^0.375 = 8.41; 0.8 E - 2 = 4.73 < 5:
        # nothing is stored, the last 10 t serve the 5-step
        ([40.0, 10.0], 5.0, 0.0),
    ],
)
def test_extrapolative_holders_buy_after_a_rise_and_sell_after_a_fall(
    history: list[float], price_now: float, stored: float
) -> None:
    model = one_year_storage()
    expectations = StockExpectations(model, ExpectationRule("extrapolative", 0.5, 0.375))
    expectations.remember(("oxide", "Nd", "CN"), list(history))
    expectations.apply()
    model.refresh()
    values, duals, _ = model.solve_once()
    row = model.program.rows[pool("oxide", "Nd", "CN", 0, 0)]
    assert stock(model, values) == pytest.approx(stored)
    assert duals[row] == pytest.approx(price_now)
    expectations.observe(duals)
    assert expectations.history[("oxide", "Nd", "CN")] == pytest.approx(
        ([*history, price_now])[-2:]
    )
    expectations.reset()  # a new run values stock at the reference price again
    model.refresh()
    assert model.solve_once()[1][row] == pytest.approx(14.0)


def test_many_places_at_once() -> None:
    rule = ExpectationRule("extrapolative", 0.5, 0.375)
    reference = np.array([20.0, 20.0, 20.0, 20.0, 0.0, 20.0])
    seen = np.array([[np.nan, np.nan, 10.0, 1.0, 5.0, 0.0], [np.nan, 30.0, 20.0, 500.0, 6.0, 8.0]])
    many = expected_prices(reference, seen, rule)
    # nothing seen: p0; one price: (20 x 30)^0.5; a rise 10 -> 20: 20 x 2^0.375; a rise to 500:
    # 100 x 500^0.375 = 1,028, clamped at 30 p0; no reference: 0; a rise from 0: no trend
    hand = [20.0, 600.0**0.5, 20.0 * 2.0**0.375, 600.0, 0.0, 160.0**0.5]
    assert many == pytest.approx(hand)


def test_expected_price_rules() -> None:
    naive = ExpectationRule("extrapolative", 1.0, 0.0)
    assert expected_price(20.0, [12.0, 30.0], naive) == pytest.approx(30.0)
    assert expected_price(20.0, [30.0], ExpectationRule("extrapolative", 1.0, 1.0)) == 30.0
    assert expected_price(20.0, [12.0, 30.0], ExpectationRule()) == 20.0  # reference
    # clamped to the demand curves' range of p0 multiples
    assert expected_price(20.0, [1.0, 500.0], naive, (0.15, 30.0)) == pytest.approx(500.0)
    steep = ExpectationRule("extrapolative", 1.0, 3.0)
    assert expected_price(20.0, [1.0, 500.0], steep, (0.15, 30.0)) == pytest.approx(600.0)
    assert expected_price(20.0, [500.0, 1.0], steep, (0.15, 30.0)) == pytest.approx(3.0)


def test_expectation_rule_takes_missing_numbers_from_the_dataset() -> None:
    spec = ExpectationSpec(
        rule="extrapolative",
        weight=Parameter(value=0.5, unit="-", assumption=True, note="test"),
        trend=Parameter(value=0.375, unit="-", assumption=True, note="test"),
    )
    assert expectation_rule(None, None) == ExpectationRule()
    assert expectation_rule(None, spec) == ExpectationRule("extrapolative", 0.5, 0.375)
    chosen = Expectations(rule="extrapolative", trend=1.0)
    assert expectation_rule(chosen, spec) == ExpectationRule("extrapolative", 0.5, 1.0)
    assert expectation_rule(chosen, None) == ExpectationRule("extrapolative", 1.0, 1.0)
    assert expectation_rule(Expectations(rule="reference"), spec).rule == "reference"
    with pytest.raises(ValueError, match="trend must lie"):
        ExpectationSpec(
            rule="extrapolative",
            weight=spec.weight,
            trend=Parameter(value=5.0, unit="-", assumption=True, note="test"),
        )


def _japan_nd_dy_world() -> World:
    """Japan mines 100 t of a 90 % Nd, 10 % Dy ore and buys Nd (up to 90 t at 30 USD/kg) and
    Dy (10 t at 200); no separators yet."""
    spec = world(0.0, [
        segment("jp_nd", [(90.0, 30.0)], location="JP"),
        Segment("jp_dy", "R", "any", "oxide", "Dy", "JP", 10.0, 10.0, ((10.0, 200.0),)),
    ])  # fmt: skip
    spec.mines = [Mine("m", "JP", "a", {"Nd": 0.9, "Dy": 0.1}, 100.0, 1.0)]
    spec.reference_prices = {("oxide", "Nd"): 20.0, ("oxide", "Dy"): 100.0}
    return spec


def test_a_captive_heavy_plant_takes_its_light_plants_concentrate() -> None:
    # Japan mines 100 t of a 90 % Nd, 10 % Dy ore; its light plant separates the Nd and leaves
    # 10 t of Dy in a heavy concentrate. China's heavy plant separates it at 1 USD/kg, Japan's
    # own at 3: at free choice the concentrate goes to China (1 + 0.5 freight < 3); once Japan's
    # plant has capacity and takes the light plant's concentrate, all 10 t go there and Dy in
    # Japan is worth its willingness to pay, whatever China's plant costs.
    spec = _japan_nd_dy_world()
    spec.separators = [
        Plant("light", "separation", "JP", 1e6, 0.0),
        Plant("cn_heavy", "separation", "CN", 1e6, 1.0, heavy=True),
        Plant("own_heavy", "separation", "JP", 1e6, 3.0, heavy=True, takes_heavy_of=("light",)),
    ]

    def heavy_feed(own_capacity: float) -> dict[str, float]:
        clearing = Clearing(MarketModel(spec))
        clearing.set_capacity("own_heavy", own_capacity)
        clearing.model.refresh()
        flows = clearing.solve().flows
        heavy = flows[flows["kind"] == "heavy_concentrate"]
        return heavy.groupby("plant")["t"].sum().to_dict()

    free = heavy_feed(0.0)
    assert free.get("cn_heavy", 0.0) == pytest.approx(10.0)
    assert free.get("own_heavy", 0.0) == pytest.approx(0.0, abs=1e-9)
    captive = heavy_feed(50.0)
    assert captive.get("own_heavy", 0.0) == pytest.approx(10.0)
    assert captive.get("cn_heavy", 0.0) == pytest.approx(0.0, abs=1e-9)


def test_a_heavy_concentrate_circuit_takes_no_mixed_concentrate() -> None:
    # The same world without a light plant of Japan's own: the 100 t of ore must go to a plant
    # that separates it whole. A heavy circuit built for SEG/SEGH feed (heavy_concentrate_only),
    # however cheap, takes none of it, so all 100 t go to China's plant; with Japan's light
    # plant back, the circuit takes the light plant's 10 t of heavy concentrate, and only that.
    spec = _japan_nd_dy_world()
    circuit = Plant("circuit", "separation", "JP", 1e6, 0.1, heavy=True,
                    heavy_concentrate_only=True)  # fmt: skip
    spec.separators = [Plant("cn_heavy", "separation", "CN", 1e6, 1.0, heavy=True), circuit]
    flows = Clearing(MarketModel(spec)).solve().flows
    mixed = flows[flows["kind"] == "concentrate"].groupby("plant")["t"].sum().to_dict()
    assert mixed.get("cn_heavy", 0.0) == pytest.approx(100.0)
    assert "circuit" not in mixed
    spec.separators = [Plant("light", "separation", "JP", 1e6, 0.0), *spec.separators]
    flows = Clearing(MarketModel(spec)).solve().flows
    heavy = flows[flows["kind"] == "heavy_concentrate"].groupby("plant")["t"].sum().to_dict()
    mixed = flows[flows["kind"] == "concentrate"].groupby("plant")["t"].sum().to_dict()
    assert heavy.get("circuit", 0.0) == pytest.approx(10.0)
    assert "circuit" not in mixed


def _held_heavy_model(own_capacity: tuple[float, float], mined: tuple[float, float]) -> Clearing:
    """Japan's light plant leaves 10 t of Dy (per 100 t of ore) in a heavy concentrate that only
    Japan's own heavy plant (3 USD/kg) can separate; two periods, discount factor 0.8."""
    spec = _japan_nd_dy_world()
    spec.separators = [
        Plant("light", "separation", "JP", 1e6, 0.0),
        Plant("own_heavy", "separation", "JP", 1e6, 3.0, heavy=True),
    ]
    clearing = Clearing(MarketModel(spec, periods=2))
    for period in (0, 1):
        clearing.set_capacity("own_heavy", own_capacity[period], period)
        clearing.set_capacity("m", mined[period], period)
    clearing.model.refresh()
    return clearing


def _family_t(model: MarketModel, values: np.ndarray, family: str, period: int) -> float:
    return float(values[model.program.select(family, period=period)].sum())


def test_heavy_concentrate_is_held_for_a_plant_that_opens_next_year() -> None:
    # No heavy plant now, one next year: holding a t of concentrate costs 0.1 USD/kg (storage)
    # and returns 0.8 x (200 - 3) next year, disposing of it costs 0.1 and returns nothing, so all
    # 10 t are held and separated next year. With no plant next year either, they are disposed of.
    clearing = _held_heavy_model((0.0, 50.0), (100.0, 0.0))
    model = clearing.model
    values, _, _ = model.solve_once()
    assert _family_t(model, values, "heavy_stock", 0) == pytest.approx(10.0)
    assert _family_t(model, values, "heavy_disposal", 0) == pytest.approx(0.0, abs=1e-6)
    assert _family_t(model, values, "heavy_concentrate", 1) == pytest.approx(10.0)
    assert heavy_held(model, values) == {("m", "light", 0): pytest.approx(10.0)}
    # the held Dy (8.7 t of metal) is on the ledger's use side; the tie-break moves flows by
    # up to 1.5e-8 t each (ties.py)
    assert ledger_residual(model, values) < 1e-6
    never = _held_heavy_model((0.0, 0.0), (100.0, 0.0)).model
    values, _, _ = never.solve_once()
    assert _family_t(never, values, "heavy_stock", 0) == pytest.approx(0.0, abs=1e-6)
    assert _family_t(never, values, "heavy_disposal", 0) == pytest.approx(10.0)


def test_heavy_concentrate_carried_in_is_separated_and_on_the_ledger() -> None:
    # The next year: no ore, the plant open, 10 t of heavy concentrate carried in. They are
    # separated (10 t of Dy oxide, all of Japan's Dy demand), and the ledger and the balances
    # close with the carried concentrate as a source: 10 t of Dy oxide = 8.71 t of Dy metal.
    clearing = _held_heavy_model((50.0, 50.0), (0.0, 0.0))
    model = clearing.model
    set_heavy_stocks(model, {("m", "light", 0): 10.0})
    model.refresh()
    values, _, _ = model.solve_once()
    assert _family_t(model, values, "heavy_concentrate", 0) == pytest.approx(10.0)
    ledger = ledger_table(model, values).set_index("element")
    assert ledger.loc["Dy", "heavy_carried_in_t"] == pytest.approx(10.0 * 162.5 / 186.5, rel=1e-3)
    assert abs(ledger["residual_t"]).max() < 1e-6
    assert np.abs(balance_residuals(model, values)[1]).max() < 1e-6
    set_heavy_stocks(model, {})  # the next run starts without it: the row is reset
    assert model.row_upper[model.program.rows[("heavy", 0, "m", "light", 0)]] == 0.0


def test_provenance_traces_held_and_carried_heavy_concentrate() -> None:
    # Held this year: the light plant's Dy goes to a stock node. Carried into the next year and
    # separated there: the stock's mine is known, so the Dy oxide's origin by mining is that
    # mine's country (Japan), not a stock of unknown origin.
    clearing = _held_heavy_model((0.0, 50.0), (100.0, 0.0))
    values, _, _ = clearing.model.solve_once()
    graph = flow_graph(clearing.model, values, "Dy")
    held = graph.edges[("plant:light", "stock:private:heavy:light")]
    assert held == pytest.approx(10.0 * 162.5 / 186.5, rel=1e-3)
    clearing = _held_heavy_model((50.0, 50.0), (0.0, 0.0))
    set_heavy_stocks(clearing.model, {("m", "light", 0): 10.0})
    clearing.model.refresh()
    values, _, _ = clearing.model.solve_once()
    shares = origin_shares(flow_graph(clearing.model, values, "Dy"))
    assert shares.loc["pool:oxide:Dy:JP:0", "JP"] == pytest.approx(1.0)
