"""US EAR de minimis (15 CFR 734.4, Supp. No. 2 to Part 734) and the foreign-direct-product
prongs (734.9) on one shipment edge, in exact decimals (rules R-US-0 to R-US-8)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from rareflow.compliance.china import IndeterminateError, _usd
from rareflow.compliance.documents import BomDocument, Child, Item, Shipment
from rareflow.compliance.rollup import fold

E1_E2 = frozenset({"IR", "KP", "SY", "CU"})
"""Country Groups E:1 (Iran, North Korea, Syria) and E:2 (Cuba)."""
D5 = frozenset({"AF", "BY", "MM", "CF", "CN", "CD", "CU", "ER", "HT", "IR", "IQ", "KP", "LB", "LY",
                "NI", "RU", "SO", "SS", "SD", "SY", "VE", "ZW"})  # fmt: skip
"""Country Group D:5, US arms-embargoed countries (15 CFR 740 Supp. No. 1, eCFR of 23 July
2026; the State Department's list in 22 CFR 126.1 controls where they differ)."""
Y_DESTINATIONS = E1_E2 | {"BY", "CN", "RU"}
"""Where US-origin ``.y`` content of the 600 series and 9x515 has no de minimis level."""
MUNITIONS = re.compile(r"^[0-9][A-E](6[0-9]{2}|515)")
"""ECCNs of the 600 series (munitions) and 9x515 (spacecraft)."""
THRESHOLD_E = Decimal("0.10")
THRESHOLD_OTHER = Decimal("0.25")
MAX_LISTED = 50
"""Controlled parts and notes listed per verdict (the sums always cover every part)."""


@dataclass
class EarVerdict:
    verdict: str
    threshold: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    ratio: Decimal | None = None
    controlled: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    zero_level: list[str] = field(default_factory=list)
    """US-origin content for which the destination allows no de minimis level at all."""


def zero_level(eccn: str | None, destination: str) -> bool:
    """Whether US-origin content of this ECCN leaves no de minimis level to ``destination``:
    600-series and 9x515 items (other than .y) to Country Group D:5, their .y items to E:1,
    E:2, Belarus, China and Russia (15 CFR 734.4(a)(6))."""
    if eccn is None:
        return False
    code = eccn.strip().upper()
    if not MUNITIONS.match(code):
        return False
    if re.match(MUNITIONS.pattern + r"\.Y", code):
        return destination in Y_DESTINATIONS
    return destination in D5


def evaluate(document: BomDocument, shipment: Shipment) -> EarVerdict:
    item = document.item(shipment.item)
    destination = shipment.destination
    if item.us.origin_us is None:
        return EarVerdict("INDETERMINATE", missing=[f"US origin of {item.id}"])
    if item.us.origin_us:
        return EarVerdict("SUBJECT", notes=["US-origin item (R-US-0)"])
    if item.us.no_de_minimis:
        return EarVerdict("SUBJECT", notes=["a section 734.4(a) category applies: no de minimis"])
    fdp = _foreign_direct_product(item)
    if fdp is not None:
        return fdp
    if item.us.licence_needed_to.get(destination) is False:
        return EarVerdict(
            "NOT_SUBJECT_BY_DE_MINIMIS",
            notes=[
                "the foreign item needs no licence to this destination: "
                "no calculation needed (Supp. 2 note)"
            ],
        )
    threshold = THRESHOLD_E if destination in E1_E2 else THRESHOLD_OTHER
    result = EarVerdict("NOT_SUBJECT_BY_DE_MINIMIS", threshold)
    try:
        numerator = _controlled(document, item, destination, Decimal(1), result, top=True)
        denominator = _usd(document, item)
    except IndeterminateError as missing:
        result.verdict = "INDETERMINATE"
        result.missing.append(str(missing))
        return result
    if result.zero_level:
        result.verdict, result.threshold = "SUBJECT", Decimal(0)
        result.notes.append(
            f"no de minimis level to {destination}: US-origin {', '.join(result.zero_level)} "
            "(600 series or 9x515 to Country Group D:5, or their .y items to E:1, E:2, Belarus, "
            "China or Russia; 734.4(a)(6))"
        )
        if denominator > 0:
            result.numerator, result.denominator = numerator, denominator
            result.ratio = numerator / denominator
        return result
    if denominator == 0:
        result.verdict, result.missing = "INDETERMINATE", [f"a positive value of {item.id}"]
        return result
    result.numerator, result.denominator = numerator, denominator
    result.ratio = numerator / denominator
    if result.ratio > threshold:
        result.verdict = "SUBJECT"
    elif item.us.commingled_technology and not item.us.one_time_report_filed:
        result.verdict = "INDETERMINATE"
        result.missing.append("one-time report for commingled US technology (734.4(c)(3)/(d)(3))")
    result.notes.append(
        f"controlled US content / value of the item; subject iff > {threshold:%} "
        f"({'E:1/E:2' if destination in E1_E2 else 'other'} destination)"
    )
    return result


def _foreign_direct_product(item: Item) -> EarVerdict | None:
    """R-US-2: any FDP rule with both prongs met makes the item subject; an unknown prong is
    indeterminate."""
    unknown = []
    for rule in item.us.fdp:
        if rule.product_prong and rule.scope_prong:
            return EarVerdict("SUBJECT", notes=[f"foreign direct product: {rule.rule}"])
        if None in (rule.product_prong, rule.scope_prong) and False not in (
            rule.product_prong,
            rule.scope_prong,
        ):
            unknown.append(rule.rule)
    if unknown:
        return EarVerdict("INDETERMINATE", missing=[f"FDP prongs of {', '.join(unknown)}"])
    return None


def _controlled(document: BomDocument, item: Item, destination: str, qty: Decimal,
                result: EarVerdict, top: bool = False,
                memo: dict[str, Decimal] | None = None) -> Decimal:  # fmt: skip
    """Fair-market value of controlled US-origin content in ``qty`` units of ``item``.

    US-origin children count if they would need a licence to the destination; foreign-made
    children are descended into unless they are completed discrete products (second
    incorporation: their US content is not counted). Shared sub-assemblies are rolled up once.
    """

    def step(total: Decimal, child: Child, node: Item) -> tuple[Decimal, bool]:
        if node.us.origin_us is None:
            raise IndeterminateError(f"US origin of {node.id}")
        if node.us.origin_us:
            if zero_level(node.us.eccn, destination):
                total += _usd(document, node) * child.qty
                if len(result.zero_level) < MAX_LISTED:
                    result.zero_level.append(f"{node.id} ({node.us.eccn})")
                return total, False
            needed = node.us.licence_needed_to.get(destination)
            if needed is None:
                raise IndeterminateError(f"licence need of {node.id} to {destination}")
            if needed:
                total += _usd(document, node) * child.qty
                if len(result.controlled) < MAX_LISTED:
                    result.controlled.append(f"{node.id} x {child.qty}")
            return total, False
        if node.discrete_product:
            if len(result.notes) < MAX_LISTED:
                result.notes.append(
                    f"{node.id}: completed discrete product, US content not counted"
                )
            return total, False
        return total, bool(node.children)

    def absorb(total: Decimal, child: Child, below: Decimal) -> Decimal:
        return total + child.qty * below

    memo = {} if memo is None else memo
    return qty * fold(document.index(), item, memo, Decimal, step, absorb)
