"""China's 2025 rules and the EAR de minimis rule on the public worked examples and by property."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rareflow.compliance.china import ChinaOptions, evaluate, status
from rareflow.compliance.documents import BomDocument, RegimeTable, bundled_regimes, load_document
from rareflow.compliance.ear import evaluate as ear_evaluate
from rareflow.compliance.engine import comply

EXAMPLES = Path(__file__).parent.parent / "examples" / "compliance"
REVIVAL = date(2026, 12, 15)


@pytest.fixture(scope="module")
def regimes() -> RegimeTable:
    return bundled_regimes()


@pytest.fixture(scope="module")
def revived(regimes: RegimeTable) -> RegimeTable:
    """The table a user would write once Ann. 61 is back in force after the suspension."""
    return regimes.model_copy(update={"status_after": "in_force"})


def doc(name: str) -> BomDocument:
    document: BomDocument = load_document(EXAMPLES / name, BomDocument)
    return document


def limb(verdict, name):  # type: ignore[no-untyped-def]
    return next(item for item in verdict.limbs if item.limb == name)


def test_regime_status_by_date(regimes: RegimeTable) -> None:
    options = ChinaOptions()
    assert status(regimes, "a61_content", date(2025, 11, 20), options) == "NOT_YET_EFFECTIVE"
    assert status(regimes, "a61_content", date(2026, 3, 1), options) == "SUSPENDED"
    assert status(regimes, "a61_content", date(2026, 11, 10), options) == "UNKNOWN"
    assert (
        status(
            regimes, "a61_content", date(2026, 11, 10), ChinaOptions(suspension_end_inclusive="yes")
        )
        == "SUSPENDED"
    )
    assert status(regimes, "a61_content", date(2026, 11, 29), options) == "UNKNOWN"
    assert status(regimes, "a18", date(2026, 3, 1), options) == "IN_FORCE"
    assert status(regimes, "a18", date(2025, 1, 1), options) == "NOT_YET_EFFECTIVE"


def test_c1_content_limb_with_the_item_value_as_denominator(
    regimes: RegimeTable, revived: RegimeTable
) -> None:
    document = doc("c1_japanese_magnet.yaml")
    shipment = document.shipments[0]
    options = ChinaOptions()
    verdict = evaluate(document, shipment, regimes, options)
    content = limb(verdict, "a61_1a_content")
    assert content.hit is True
    assert content.numerator == Decimal("1250") and content.denominator == Decimal("50000")
    assert content.ratio == Decimal("0.025")  # not 1,250 / 12,750 (the BOM-sum trap)
    assert verdict.verdict == "LICENCE_REQUIRED_IF_REACTIVATED"
    assert [item.limb for item in verdict.limbs] == ["a61_1a_content"]  # no origin, no tech limb
    early = evaluate(document, shipment, regimes, options, date(2025, 11, 20))
    assert early.verdict == "NOT_YET_EFFECTIVE"
    assert evaluate(document, shipment, revived, options, REVIVAL).verdict == "LICENCE_REQUIRED"
    # C1b: a US defence prime as buyer
    prime = shipment.model_copy(
        update={"end_user": shipment.end_user.model_copy(update={"military": True})}
    )
    b = evaluate(document, prime, revived, options, REVIVAL)
    assert b.verdict == "LICENCE_REQUIRED" and "PRESUMPTION_OF_DENIAL" in b.overlays


def test_c5_nested_magnets_in_a_motor(regimes: RegimeTable) -> None:
    document = doc("c5_servo_motor.yaml")
    magnets, motor = document.shipments
    narrow, broad = ChinaOptions(), ChinaOptions(part2_scope="broad")
    edge = evaluate(document, magnets, regimes, narrow)
    assert limb(edge, "a61_1a_content").ratio == Decimal("0.025")
    assert evaluate(document, motor, regimes, narrow).verdict == "NO_LICENCE"
    wide = limb(evaluate(document, motor, regimes, broad), "a61_1a_content")
    assert wide.hit is True
    assert wide.numerator == Decimal("10.8") and wide.denominator == Decimal(
        "1296"
    )  # EUR 10 / 1,200 at 1.08
    assert wide.ratio == Decimal(10) / Decimal(1200)
    # C5b: the motor inside a EUR 20,000 robot - diluted below 0.1 %
    robot = BomDocument.model_validate(
        {
            **document.model_dump(),
            "items": [
                *document.model_dump()["items"],
                {
                    "id": "robot",
                    "made_in": "DE",
                    "value": {"amount": 20000, "currency": "EUR"},
                    "origin_cn": False,
                    "children": [{"item": "servo_motor", "qty": 1}],
                },
            ],
            "shipments": [
                {
                    "id": "robot_out",
                    "item": "robot",
                    "exporter_country": "DE",
                    "destination": "US",
                    "ship_date": "2026-03-01",
                }
            ],
        }
    )
    diluted = limb(evaluate(robot, robot.shipments[0], regimes, broad), "a61_1a_content")
    assert diluted.ratio == Decimal("0.0005") and diluted.hit is False


def test_u1_de_minimis_by_destination() -> None:
    document = doc("u1_german_machine.yaml")
    india, korea = (ear_evaluate(document, s) for s in document.shipments)
    assert india.ratio == Decimal("0.18") and india.threshold == Decimal("0.25")
    assert india.verdict == "NOT_SUBJECT_BY_DE_MINIMIS"
    assert korea.ratio == Decimal("0.38") and korea.threshold == Decimal("0.10")
    assert korea.verdict == "SUBJECT"


def test_unknown_origin_is_indeterminate_never_clear(regimes: RegimeTable) -> None:
    document = doc("c1_japanese_magnet.yaml")
    data = document.model_dump()
    for item in data["items"]:
        if item["id"] == "dy_fe_alloy":
            item["origin_cn"] = None
    unknown = BomDocument.model_validate(data)
    verdict = evaluate(unknown, unknown.shipments[0], regimes, ChinaOptions())
    assert verdict.verdict == "INDETERMINATE"
    assert any("dy_fe_alloy" in m for m in verdict.missing)


def test_exports_from_china_follow_announcement_18(regimes: RegimeTable) -> None:
    document = doc("c1_japanese_magnet.yaml")
    out = document.shipments[0].model_copy(update={"item": "dy_fe_alloy", "exporter_country": "CN"})
    assert evaluate(document, out, regimes, ChinaOptions()).verdict == "LICENCE_REQUIRED"
    into_china = document.shipments[0].model_copy(update={"destination": "CN"})
    assert evaluate(document, into_china, regimes, ChinaOptions()).verdict == "NOT_APPLICABLE"


def magnet(amount: str, cn: str, other: str = "0") -> BomDocument:
    return BomDocument.model_validate(
        {
            "items": [
                {
                    "id": "m",
                    "made_in": "JP",
                    "value": {"amount": amount},
                    "cn_list": {"a61_part": "II"},
                    "origin_cn": False,
                    "children": [{"item": "cn"}, {"item": "other"}],
                },
                {
                    "id": "cn",
                    "made_in": "CN",
                    "value": {"amount": cn},
                    "cn_list": {"a61_part": "I"},
                    "origin_cn": True,
                },
                {
                    "id": "other",
                    "made_in": "AU",
                    "value": {"amount": other},
                    "cn_list": {"a61_part": "I"},
                    "origin_cn": False,
                },
            ],
            "shipments": [
                {
                    "id": "s",
                    "item": "m",
                    "exporter_country": "JP",
                    "destination": "US",
                    "ship_date": "2026-03-01",
                }
            ],
        }
    )


def test_exact_boundaries(regimes: RegimeTable) -> None:
    options = ChinaOptions()
    at = magnet("100000", "100")  # exactly 0.1 %: caught
    assert limb(evaluate(at, at.shipments[0], regimes, options), "a61_1a_content").hit is True
    below = magnet("100000", "99.99")
    assert (
        limb(evaluate(below, below.shipments[0], regimes, options), "a61_1a_content").hit is False
    )
    # 'all Part I once any is Chinese' counts the Australian Part I too
    mixed = magnet("100000", "50", "60")
    assert (
        limb(evaluate(mixed, mixed.shipments[0], regimes, options), "a61_1a_content").hit is False
    )
    strict = ChinaOptions(cn_numerator="all_part1_if_any_cn")
    assert limb(evaluate(mixed, mixed.shipments[0], regimes, strict), "a61_1a_content").hit is True
    # EAR: exactly 25 % is not subject, above is
    machine = doc("u1_german_machine.yaml").model_dump()
    machine["items"][0]["value"]["amount"] = Decimal(72000)  # 18,000 / 72,000 = 25 %
    exact = BomDocument.model_validate(machine)
    assert ear_evaluate(exact, exact.shipments[0]).verdict == "NOT_SUBJECT_BY_DE_MINIMIS"
    machine["items"][0]["value"]["amount"] = Decimal("71999.99")
    assert (
        ear_evaluate(BomDocument.model_validate(machine), exact.shipments[0]).verdict == "SUBJECT"
    )


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)


@settings(max_examples=60, deadline=None)
@given(value=money, cn=money, extra=money)
def test_adding_non_chinese_content_never_creates_a_hit(
    value: Decimal, cn: Decimal, extra: Decimal
) -> None:
    regimes = bundled_regimes()
    before = magnet(str(value + cn), str(cn))
    after = magnet(str(value + cn + extra), str(cn), str(extra))  # adds value and non-CN Part I
    hit_before = limb(
        evaluate(before, before.shipments[0], regimes, ChinaOptions()), "a61_1a_content"
    ).hit
    hit_after = limb(
        evaluate(after, after.shipments[0], regimes, ChinaOptions()), "a61_1a_content"
    ).hit
    assert not (hit_after and not hit_before)


@settings(max_examples=60, deadline=None)
@given(value=money, cn=money, assembly=money)
def test_diluting_in_an_assembly_never_raises_the_ratio(
    value: Decimal, cn: Decimal, assembly: Decimal
) -> None:
    regimes = bundled_regimes()
    options = ChinaOptions(part2_scope="broad")
    base = magnet(str(value + cn), str(cn))
    data = base.model_dump()
    data["items"].append(
        {
            "id": "a",
            "made_in": "DE",
            "value": {"amount": value + cn + assembly},
            "origin_cn": False,
            "children": [{"item": "m"}],
        }
    )
    data["shipments"] = [
        {
            "id": "s",
            "item": "a",
            "exporter_country": "DE",
            "destination": "US",
            "ship_date": "2026-03-01",
        }
    ]
    nested = BomDocument.model_validate(data)
    inner = limb(evaluate(base, base.shipments[0], regimes, options), "a61_1a_content").ratio
    outer = limb(evaluate(nested, nested.shipments[0], regimes, options), "a61_1a_content").ratio
    assert inner is not None and outer is not None and outer <= inner


def test_records_carry_numbers_and_options(regimes: RegimeTable) -> None:
    records = comply(doc("c1_japanese_magnet.yaml"), regimes, ChinaOptions())
    record = records[0]
    assert record["china"]["verdict"] == "LICENCE_REQUIRED_IF_REACTIVATED"
    content = record["china"]["limbs"][0]
    assert content["ratio"] == "0.025" and content["numerator"] == "1250"
    assert "part2_scope=narrow" in record["china"]["assumptions"][0]
    assert record["ear"]["verdict"] == "NOT_SUBJECT_BY_DE_MINIMIS"


def test_provenance_on_a_hand_solved_network() -> None:
    """Two mines (CN: 50 % Nd, AU: 20 % Nd) feed one Chinese separator; the Nd segment gets
    50 t from the CN mine and 10 t from the AU mine: 5/6 mined in China, all separated there."""
    from rareflow.compliance.provenance import flow_graph, origin_shares, touched_share
    from rareflow.market.clearing import Clearing
    from rareflow.market.model import MarketModel
    from tests.test_market_small import LA, M1, M2, ND, S_CN, world

    clearing = Clearing(MarketModel(world([M1, M2], [S_CN], [ND, LA])))
    values, _, _, _ = clearing.solve_arrays()
    graph = flow_graph(clearing.model, values, "Nd")
    mining = origin_shares(graph, "mining")
    segment = "segment:nd"
    assert mining.loc[segment, "CN"] == pytest.approx(5 / 6)
    assert mining.loc[segment, "AU"] == pytest.approx(1 / 6)
    assert origin_shares(graph, "separation").loc[segment, "CN"] == pytest.approx(1.0)
    # every node that carries Nd has shares summing to one; mass reaching the segment is the
    # 60 t of Nd oxide served, in t of Nd
    flowing = [n for n in mining.index if any(t == n for (_, t) in graph.edges)]
    assert all(mining.loc[n].sum() == pytest.approx(1.0) for n in flowing)
    served = sum(f for (_, t), f in graph.edges.items() if t == segment)
    from rareflow.elements import element

    assert served == pytest.approx(60 * element("Nd").metal_per_oxide)
    assert touched_share(graph, {"AU"}).loc[segment] == pytest.approx(1 / 6)


def test_sourcing_rule_segment_is_free_of_the_excluded_origin() -> None:
    from rareflow.compliance.provenance import flow_graph, touched_share
    from rareflow.dataset.levers import Levers, SourcingRule
    from rareflow.market.clearing import Clearing
    from rareflow.market.model import MarketModel
    from tests.test_market_small import LA, M1, M2, ND, S_CN, S_MY, segment, world

    defence = segment("def", "Nd", [(5.0, 100.0)], location="US", region="US", end_use="defence")
    rule = SourcingRule(id="dfars", regions=["US"], end_uses=["defence"], excluded=["china"])
    model = MarketModel(
        world([M1, M2], [S_CN, S_MY], [ND, LA, defence], Levers(sourcing_rules=[rule]))
    )
    values, _, _, _ = Clearing(model).solve_arrays()
    touched = touched_share(flow_graph(model, values, "Nd"), {"CN"})
    assert touched.loc["segment:def"] == pytest.approx(0.0)
    assert touched.loc["segment:nd"] == pytest.approx(1.0)


def test_stock_of_unknown_origin_is_never_counted_as_free() -> None:
    """The hand case of the market's stock-release test: 50 t of Nd from the Chinese mine,
    separated in China, and 10 t released from a stock in China serve the 60 t segment. A
    one-year trace cannot know where the stock came from: 1/6 of the segment is of unknown
    origin unless the place excluded is the one where the stock is held (China handled it
    there, whatever its origin); only the rest can be shown clean or touched."""
    from rareflow.compliance.provenance import flow_graph, touched_shares, trace
    from rareflow.dataset.levers import Levers, StockRelease
    from rareflow.market.clearing import Clearing
    from rareflow.market.model import MarketModel
    from tests.test_market_small import LA, M1, M2, ND, S_CN, world

    release = StockRelease(id="r", location="CN", commodity="oxide", item="Nd", volume_t=10.0)
    model = MarketModel(world([M1, M2], [S_CN], [ND, LA], Levers(stock_releases=[release])))
    values, duals, _, _ = Clearing(model).solve_arrays()
    graph = flow_graph(model, values, "Nd")
    china = touched_shares(graph, {"CN"}).loc["segment:nd"]
    assert (china["touched"], china["unknown"], china["clean"]) == pytest.approx((1, 0, 0))
    australia = touched_shares(graph, {"AU"}).loc["segment:nd"]
    assert (australia["touched"], australia["unknown"]) == pytest.approx((0, 1 / 6))
    result = trace(model, values, duals, "Nd", free_of={"AU"})
    (row,) = [r for r in result["segments"] if r["segment"] == "nd"]  # type: ignore[attr-defined]
    served = row["t"]
    # the stock's 1/6 is short of an AU-free chain even though no AU node touched anything
    assert row["unknown_origin_share"] == pytest.approx(0)  # held in China: China handled it
    assert row["excluded_unknown_share"] == pytest.approx(1 / 6)
    assert row["shortfall_t"] == pytest.approx(served / 6)


@pytest.mark.parametrize(
    ("eccn", "destination", "verdict", "threshold"),
    [
        ("9A610.x", "CN", "SUBJECT", "0"),  # 600 series to D:5: no de minimis at all
        ("9A610.x", "IN", "NOT_SUBJECT_BY_DE_MINIMIS", "0.25"),  # 1 % < 25 %
        ("9A515.a", "VE", "SUBJECT", "0"),  # 9x515 to D:5
        ("9A610.y.1", "CN", "SUBJECT", "0"),  # .y to China
        ("9A610.y.1", "VE", "NOT_SUBJECT_BY_DE_MINIMIS", "0.25"),  # .y: D:5 is not enough
        ("3A001", "CN", "NOT_SUBJECT_BY_DE_MINIMIS", "0.25"),  # not a munitions ECCN
        ("9A610.x", "KP", "SUBJECT", "0"),
    ],
)
def test_the_de_minimis_level_follows_classification_and_destination(
    eccn: str, destination: str, verdict: str, threshold: str
) -> None:
    # A German machine (100,000 USD) with one US-origin part worth 1,000 USD (1 %) that needs a
    # licence to every destination: the ratio is far below 10 % and 25 %, so only a 0 % level
    # (15 CFR 734.4(a)(6)) makes the machine subject. The same item gets each destination's level.
    document = BomDocument.model_validate(
        {
            "items": [
                {"id": "machine", "made_in": "DE", "value": {"amount": 100000, "currency": "USD"},
                 "us": {"origin_us": False}, "children": [{"item": "part", "qty": 1}]},
                {"id": "part", "made_in": "US", "value": {"amount": 1000, "currency": "USD"},
                 "us": {"origin_us": True, "eccn": eccn,
                        "licence_needed_to": {destination: True}}},
            ],
            "shipments": [{"id": "s", "item": "machine", "exporter_country": "DE",
                           "destination": destination, "ship_date": "2026-03-01"}],
        }
    )  # fmt: skip
    result = ear_evaluate(document, document.shipments[0])
    assert result.verdict == verdict
    assert result.threshold == Decimal(threshold)
    assert result.ratio == Decimal("0.01")
    assert bool(result.zero_level) == (threshold == "0")


def test_a_verdict_that_depends_on_a_reading_is_flagged_for_review(regimes: RegimeTable) -> None:
    # C5: the German motor holds Japanese magnets with Chinese Dy content. Read narrowly, the
    # motor is not a Part II item (no licence); read broadly, it is (0.83 % >= 0.1 %).
    records = {r["shipment"]: r for r in comply(doc("c5_servo_motor.yaml"), regimes,
                                                ChinaOptions())}  # fmt: skip
    motor = records["motor_de_us"]["china"]
    assert motor["verdict"] == "NO_LICENCE"
    assert motor["review"] == [
        {"option": "part2_scope", "chosen": "narrow", "alternative": "broad",
         "alternative_verdict": "LICENCE_REQUIRED_IF_REACTIVATED"}
    ]  # fmt: skip
    assert records["magnets_jp_de"]["china"]["review"] == []  # the magnets hit either way
    # the limb says which numerator it used
    options = ChinaOptions(part2_scope="broad", cn_numerator="all_part1_if_any_cn")
    wide = comply(doc("c5_servo_motor.yaml"), regimes, options)
    content = next(x for x in wide[1]["china"]["limbs"] if x["limb"] == "a61_1a_content")
    assert "all Part I value" in content["detail"]


def test_announcement_56_equipment_leaving_china(regimes: RegimeTable) -> None:
    # A centrifugal extraction line (2B902.a) exported from China: Ann. 56 took effect on
    # 8 Nov 2025 but was suspended from 7 Nov 2025 to 10 Nov 2026 (Ann. 70).
    document = BomDocument.model_validate(
        {
            "items": [{"id": "extractors", "made_in": "CN",
                       "value": {"amount": 2000000, "currency": "USD"},
                       "cn_list": {"a56_code": "2B902.a"}}],
            "shipments": [{"id": "s", "item": "extractors", "exporter_country": "CN",
                           "destination": "AU", "ship_date": "2026-03-01"}],
        }
    )  # fmt: skip
    shipment = document.shipments[0]
    verdict = evaluate(document, shipment, regimes, ChinaOptions())
    assert limb(verdict, "a56").status == "SUSPENDED"
    assert verdict.verdict == "LICENCE_REQUIRED_IF_REACTIVATED"
    early = shipment.model_copy(update={"ship_date": date(2025, 10, 20)})
    assert limb(evaluate(document, early, regimes, ChinaOptions()), "a56").status == (
        "NOT_YET_EFFECTIVE"
    )


def test_contract_magnet_buyers_carry_the_mix_of_their_local_makers() -> None:
    # A domestic-contract segment is served by the magnet makers at its place (the domestic
    # row of the LP), so its Dy comes by their route, not from the place's pool of imported and
    # local magnets: its Chinese-mined share is the flow-weighted mix of those makers' output.
    from rareflow.compliance.provenance import flow_graph, origin_shares
    from rareflow.dataset import load_dataset
    from rareflow.market.clearing import Clearing

    clearing = Clearing.from_dataset(load_dataset(), 2024)
    values, _, _, _ = clearing.solve_arrays()
    graph = flow_graph(clearing.model, values, "Dy")
    mined = origin_shares(graph, "mining")
    checked = 0
    for name, kind in graph.stage.items():
        if kind != "segment" or not name.endswith(":contract"):
            continue
        makers = {source: t for (source, sink), t in graph.edges.items()
                  if sink == name and graph.stage[source] == "magnet"}  # fmt: skip
        inflow = sum(t for (_, sink), t in graph.edges.items() if sink == name)
        if inflow <= 0:
            continue
        assert sum(makers.values()) == pytest.approx(inflow)  # all from the local makers
        expected = sum(t * mined.loc[m].get("CN", 0.0) for m, t in makers.items()) / inflow
        assert mined.loc[name].get("CN", 0.0) == pytest.approx(expected)
        checked += 1
    assert checked >= 3
    shares = {n: round(float(mined.loc[n].get("CN", 0.0)), 6)
              for n, k in graph.stage.items() if k == "segment" and n in mined.index}  # fmt: skip
    assert len(set(shares.values())) > 2  # not one share for every Dy buyer


def test_the_last_day_of_the_suspension_is_flagged_for_review(regimes: RegimeTable) -> None:
    # Whether 10 Nov 2026 is still inside Announcement 70's suspension is not settled by any
    # text: shipped that day, C1's verdict depends on the reading; shipped the day before, not.
    document = doc("c1_japanese_magnet.yaml")
    shipment = document.shipments[0]
    for day, flagged in ((date(2026, 11, 10), True), (date(2026, 11, 9), False)):
        dated = document.model_copy(
            update={"shipments": [shipment.model_copy(update={"ship_date": day})]}
        )
        review = comply(dated, regimes, ChinaOptions())[0]["china"]["review"]
        options = {r["option"] for r in review}
        assert ("suspension_end_inclusive" in options) == flagged


def test_an_exchange_rate_of_zero_is_refused_where_it_is_written(tmp_path: Path) -> None:
    """A zero rate once passed and every value in that currency became 0, reported as a
    missing item value instead of a bad rate."""
    from rareflow.dataset.errors import DataValidationError

    text = (EXAMPLES / "c5_servo_motor.yaml").read_text()
    bom = tmp_path / "zero_fx.yaml"
    bom.write_text(text.replace("fx: {EUR: 1.08}", "fx: {EUR: 0}"))
    with pytest.raises(DataValidationError) as raised:
        load_document(bom, BomDocument)
    (issue,) = raised.value.issues
    assert issue.line == 25 and issue.column == "fx.EUR" and issue.expected == "a number > 0"
