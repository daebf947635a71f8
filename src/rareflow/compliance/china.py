"""China's 2025 rules (Announcements 18 and 61) on one shipment edge, in exact decimals.

Rules R-CN-0 to R-CN-9 of the specification (docs/compliance.md): the dated status of each
instrument; exports from China under Announcement 18 (with the deep-processed exclusions);
Announcement 61's origin, content (>= 0.1 % of value) and technology limbs for items made
outside China; end-user and end-use overlays. Unknowns give INDETERMINATE, naming what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from rareflow.compliance.documents import BomDocument, Child, Item, RegimeTable, Shipment
from rareflow.compliance.rollup import fold

THRESHOLD = Decimal("0.001")
Pair = tuple[Decimal, Decimal]
"""(Chinese-origin value, all value) of a roll-up."""
Status = Literal["NOT_YET_EFFECTIVE", "SUSPENDED", "IN_FORCE", "UNKNOWN", "LAPSED"]
DECISION = {
    "IN_FORCE": "LICENCE_REQUIRED",
    "SUSPENDED": "LICENCE_REQUIRED_IF_REACTIVATED",
    "NOT_YET_EFFECTIVE": "NOT_YET_EFFECTIVE",
    "UNKNOWN": "VERIFY_STATUS",
    "LAPSED": "NO_LICENCE_LAPSED",
}


@dataclass(frozen=True)
class ChinaOptions:
    part2_scope: Literal["narrow", "broad"] = "narrow"
    """narrow: only Part II items themselves; broad: also parts and assemblies containing them."""
    cn_numerator: Literal["cn_origin_only", "all_part1_if_any_cn"] = "cn_origin_only"
    origin_lookthrough: bool = True
    """Part I made abroad from Chinese-origin Part I keeps Chinese origin."""
    suspension_end_inclusive: Literal["unknown", "yes", "no"] = "unknown"


@dataclass
class Limb:
    limb: str
    hit: bool | None
    status: Status | None = None
    decision: str | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    ratio: Decimal | None = None
    currency: str | None = None
    detail: str = ""


@dataclass
class Review:
    """A reading of an ambiguous rule that changes the verdict: to be reviewed by a person."""

    option: str
    chosen: str
    alternative: str
    alternative_verdict: str


@dataclass
class ChinaVerdict:
    verdict: str
    limbs: list[Limb] = field(default_factory=list)
    overlays: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)
    review: list[Review] = field(default_factory=list)
    """Readings of the rules (options) under which this edge's verdict would differ."""


def status(table: RegimeTable, instrument: str, day: date, options: ChinaOptions) -> Status:
    """R-CN-0: the instrument's status on a day."""
    entry = table.instruments[instrument]
    if day < entry.effective:
        return "NOT_YET_EFFECTIVE"
    window = entry.suspended
    if window is not None and window.from_ <= day:
        if day < window.until:
            return "SUSPENDED"
        if day == window.until:
            return {"yes": "SUSPENDED", "no": "IN_FORCE", "unknown": "UNKNOWN"}[  # type: ignore[return-value]
                options.suspension_end_inclusive
            ]
    if day > table.known_until:
        return {"unknown": "UNKNOWN", "in_force": "IN_FORCE", "lapsed": "LAPSED"}[  # type: ignore[return-value]
            table.status_after
        ]
    return "IN_FORCE"


class IndeterminateError(Exception):
    """A value or origin the rule needs is unknown."""


def _usd(document: BomDocument, item: Item) -> Decimal:
    amount = item.value.amount
    if amount is None:
        raise IndeterminateError(f"value of {item.id}")
    if item.value.currency == "USD":
        return amount
    rate = document.fx.get(item.value.currency)
    if rate is None:
        raise IndeterminateError(f"exchange rate {item.value.currency}/USD for {item.id}")
    return amount * rate


def is_part2(document: BomDocument, item: Item, options: ChinaOptions) -> bool:
    """Part II membership under the chosen scope (broad: assemblies containing Part II)."""
    if item.cn_list.a61_part == "II":
        return True
    if options.part2_scope != "broad":
        return False

    def step(found: bool, child: Child, node: Item) -> tuple[bool, bool]:
        if found or node.cn_list.a61_part == "II":
            return True, False
        return False, bool(node.children)

    return fold(document.index(), item, {}, bool, step, _either)


def chinese_part1(document: BomDocument, item: Item, options: ChinaOptions) -> bool | None:
    """Chinese origin of a Part I item (look-through: made from Chinese Part I)."""
    if item.origin_cn:
        return True

    def step(found: bool, child: Child, node: Item) -> tuple[bool, bool]:
        if found or node.cn_list.a61_part != "I":
            return found, False
        if node.origin_cn:
            return True, False
        return False, bool(node.children)

    if options.origin_lookthrough and fold(document.index(), item, {}, bool, step, _either):
        return True
    return None if item.origin_cn is None else False


def _either(found: bool, child: Child, below: bool) -> bool:
    return found or below


def content(
    document: BomDocument, item: Item, options: ChinaOptions,
    memo: dict[str, tuple[Decimal, Decimal]] | None = None,
    items: dict[str, Item] | None = None,
) -> tuple[Decimal, Decimal]:  # fmt: skip
    """(Chinese-origin Part I value, all Part I value) per one unit of ``item``, in USD.

    Descends through children times quantities and stops at each Part I item (its value counts
    whole; a ``cn_share`` counts that fraction as Chinese). Shared sub-assemblies are rolled up
    once (``memo``). Raises IndeterminateError when a needed origin or value is unknown.
    """

    def step(found: Pair, child: Child, node: Item) -> tuple[Pair, bool]:
        chinese, every = found
        if node.cn_list.a61_part is None:
            raise IndeterminateError(f"Part I/II listing of {node.id}")
        if node.cn_list.a61_part != "I":
            return found, bool(node.children)
        value = _usd(document, node) * child.qty
        if node.cn_share is not None:
            return (chinese + value * node.cn_share, every + value), False
        origin = chinese_part1(document, node, options)
        if origin is None:
            raise IndeterminateError(f"origin of Part I item {node.id}")
        return (chinese + (value if origin else Decimal(0)), every + value), False

    def absorb(found: Pair, child: Child, below: Pair) -> Pair:
        return found[0] + below[0] * child.qty, found[1] + below[1] * child.qty

    memo = {} if memo is None else memo
    items = document.index() if items is None else items
    return fold(items, item, memo, lambda: (Decimal(0), Decimal(0)), step, absorb)


def evaluate(
    document: BomDocument,
    shipment: Shipment,
    table: RegimeTable,
    options: ChinaOptions,
    day: date | None = None,
) -> ChinaVerdict:
    """Every China rule on one shipment edge."""
    day = day or shipment.ship_date
    item = document.item(shipment.item)
    result = ChinaVerdict("NO_LICENCE")
    result.assumptions.append(
        f"part2_scope={options.part2_scope}, cn_numerator={options.cn_numerator}, "
        f"origin_lookthrough={options.origin_lookthrough}, "
        f"suspension_end_inclusive={options.suspension_end_inclusive}"
    )
    if shipment.exporter_country == "CN":
        _from_china(item, table, options, day, result)
    elif shipment.destination == "CN":
        result.verdict = "NOT_APPLICABLE"
        result.assumptions.append("Ann. 61 section 1 covers exports to places other than China")
        return result
    else:
        _announcement_61(document, item, table, options, day, result)
    _decide(result, shipment)
    return result


def _from_china(
    item: Item, table: RegimeTable, options: ChinaOptions, day: date, result: ChinaVerdict
) -> None:
    """R-CN-1: the domestic regime (Ann. 18; Ann. 57 and Ann. 56's equipment and materials when
    in force)."""
    listed = (("a18", item.cn_list.a18_code), ("a57", item.cn_list.a57_code),
              ("a56", item.cn_list.a56_code))  # fmt: skip
    for instrument, code in listed:
        if code is None or instrument not in table.instruments:
            continue
        state = status(table, instrument, day, options)
        if item.deep_processed is not None and instrument != "a56":
            result.limbs.append(
                Limb(
                    instrument,
                    False,
                    state,
                    "EXCLUDED_DEEP_PROCESSED",
                    detail=f"{code}; MOFCOM FAQ: {item.deep_processed}",
                )
            )
            continue
        result.limbs.append(Limb(instrument, True, state, DECISION[state], detail=code))


def _announcement_61(
    document: BomDocument,
    item: Item,
    table: RegimeTable,
    options: ChinaOptions,
    day: date,
    result: ChinaVerdict,
) -> None:
    if item.cn_list.a61_part is None:
        result.missing.append(f"Part I/II listing of {item.id}")
    listed = item.cn_list.a61_part == "I" or is_part2(document, item, options)
    if not listed:
        return
    origin_state = status(table, "a61_origin", day, options)
    if item.origin_cn is None:
        result.limbs.append(Limb("a61_1c_origin", None, origin_state, detail="origin unknown"))
        result.missing.append(f"origin of {item.id}")
    elif item.origin_cn:
        result.limbs.append(Limb("a61_1c_origin", True, origin_state, DECISION[origin_state]))
    made_abroad = item.made_in is not None and item.made_in != "CN"
    if item.made_in is None:
        result.missing.append(f"country where {item.id} was made")
    if made_abroad and is_part2(document, item, options):
        _content_limb(document, item, table, options, day, result)
    if made_abroad and item.cn_tech_used:
        state = status(table, "a61_technology", day, options)
        result.limbs.append(
            Limb(
                "a61_1b_technology",
                True,
                state,
                DECISION[state],
                detail=f"Chinese technology: {', '.join(item.cn_tech_used)}; "
                "the CSET translation would also require Chinese-origin rare "
                "earths",
            )
        )


def _content_limb(
    document: BomDocument,
    item: Item,
    table: RegimeTable,
    options: ChinaOptions,
    day: date,
    result: ChinaVerdict,
) -> None:
    """R-CN-5: N / D >= 0.1 % in exact decimals."""
    state = status(table, "a61_content", day, options)
    try:
        chinese, every = content(document, item, options)
        denominator = _usd(document, item)
    except IndeterminateError as missing:
        result.limbs.append(Limb("a61_1a_content", None, state, detail=f"unknown: {missing}"))
        result.missing.append(str(missing))
        return
    whole = options.cn_numerator == "all_part1_if_any_cn" and chinese > 0
    numerator = every if whole else chinese
    detail = (
        "all Part I value (some of it Chinese; cn_numerator=all_part1_if_any_cn) / value of the "
        "item"
        if whole
        else "Chinese-origin Part I value / value of the item"
    )
    if denominator == 0:
        result.limbs.append(Limb("a61_1a_content", None, state, detail="item value is zero"))
        result.missing.append(f"a positive value of {item.id}")
        return
    ratio = numerator / denominator
    hit = ratio >= THRESHOLD
    result.limbs.append(
        Limb(
            "a61_1a_content",
            hit,
            state,
            DECISION[state] if hit else None,
            numerator,
            denominator,
            ratio,
            "USD",
            detail,
        )
    )


def _decide(result: ChinaVerdict, shipment: Shipment) -> None:
    """R-CN-7 and R-CN-8: the edge's verdict from its limbs, then the overlays."""
    hits = [limb for limb in result.limbs if limb.hit]
    unknown = [limb for limb in result.limbs if limb.hit is None]
    order = [
        "LICENCE_REQUIRED",
        "VERIFY_STATUS",
        "LICENCE_REQUIRED_IF_REACTIVATED",
        "NOT_YET_EFFECTIVE",
        "NO_LICENCE_LAPSED",
    ]
    decisions = [limb.decision for limb in hits if limb.decision in order]
    if decisions:
        result.verdict = min(decisions, key=order.index)
    elif unknown or result.missing:
        result.verdict = "INDETERMINATE"
    elif any(limb.decision == "EXCLUDED_DEEP_PROCESSED" for limb in result.limbs):
        result.verdict = "EXCLUDED_DEEP_PROCESSED"
    if not hits:
        return
    if "humanitarian" in shipment.end_use:
        result.overlays.append("EXEMPT_PER_SPOKESPERSON (verify: not confirmed in the text)")
    user = shipment.end_user
    if (
        user.military
        or user.cn_listed
        or user.owned_50pct_by_cn_listed
        or {"wmd", "terrorism", "military"} & set(shipment.end_use)
    ):
        result.overlays.append("PRESUMPTION_OF_DENIAL")
    if {
        "logic_le_14nm",
        "memory_ge_256L",
        "fab_equipment_or_materials_for_those",
        "military_ai",
    } & set(shipment.end_use):
        result.overlays.append("CASE_BY_CASE")
