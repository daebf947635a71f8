"""Bills of materials, shipments and the regime table, as validated documents.

Money is exact (``decimal.Decimal``); a float in YAML is read through its shortest text so 1.25
stays 1.25. ``None`` means unknown: the rules turn unknowns into INDETERMINATE, never into a
clean verdict. A BOM item lists its children by id with quantities per one unit of the parent.

    items:
      - id: magnet_lot
        made_in: JP
        value: {amount: 50000, currency: USD, basis: ex_works}
        cn_list: {a61_part: II}
        origin_cn: false
        children: [{item: dyfe, qty: 1}, {item: ndpr_metal, qty: 1}]
      - id: dyfe
        made_in: CN
        value: {amount: 1250, currency: USD, basis: transaction}
        cn_list: {a61_part: I, a18_code: 1C904}
        origin_cn: true
    shipments:
      - {id: s1, item: magnet_lot, exporter_country: JP, destination: US, ship_date: 2026-03-01}
    fx: {EUR: 1.08}            # USD per unit of each other currency
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from rareflow.dataset.errors import DataIssue, DataValidationError, display_path
from rareflow.dataset.readers import line_of, read_yaml
from rareflow.dataset.schema import Id, numbers_not_booleans
from rareflow.dataset.tables import validate_mapping
from rareflow.elements import parse_symbol


def _exact(value: Any) -> Any:
    return Decimal(repr(value)) if isinstance(value, float) else value


Money = Annotated[Decimal, BeforeValidator(_exact), Field(ge=0)]
Quantity = Annotated[Decimal, BeforeValidator(_exact), Field(gt=0)]
Rate = Annotated[Decimal, BeforeValidator(_exact), Field(gt=0)]
"""An exchange rate, USD per unit of a currency: zero would make every value in it vanish."""


def iso_country(code: str) -> str:
    """A country is named by its ISO 3166-1 alpha-2 code: a rule that depends on the country
    (EAR country groups, China's origin tests) must never run on a code that names none."""
    if pycountry.countries.get(alpha_2=code) is None:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, JP, DE)")
    if code != code.upper():
        raise ValueError(f"{code!r}: country codes are upper case ({code.upper()!r})")
    return code


Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), AfterValidator(iso_country)]
Technology = Literal["mining", "separation", "metal_smelting", "magnet_mfg", "recycling"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    _numbers = numbers_not_booleans()


class Value(Strict):
    amount: Money | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    basis: Literal["ex_works", "fob", "transaction", "fmv"] = "transaction"


class ChinaLists(Strict):
    a18_code: str | None = None
    a57_code: str | None = None
    a56_code: str | None = None
    """Announcement No. 56 code of rare-earth equipment (2B902) or raw and auxiliary materials
    (1C914)."""
    a61_part: Literal["I", "II", "none"] | None = "none"
    """Part I (metals, alloys, oxides) or Part II (magnet materials, targets) of Ann. 61's annex;
    null = unknown."""


class UsContent(Strict):
    origin_us: bool | None = False
    eccn: str | None = None
    licence_needed_to: dict[Country, bool] = {}
    """Per destination: would this item need a BIS licence (Country Chart + Part 746)?"""
    no_de_minimis: bool = False
    """A section 734.4(a) category applies (no de minimis at all)."""
    fdp: list[FdpRule] = []
    commingled_technology: bool = False
    one_time_report_filed: bool = False


class FdpRule(Strict):
    """One foreign-direct-product rule of section 734.9, its two prongs as inputs."""

    rule: str
    product_prong: bool | None
    scope_prong: bool | None


class ProvenanceLink(Strict):
    """Take ``cn_share`` from the market's provenance: the Chinese-mined share of ``element``
    reaching ``node`` (a demand segment, plant or mine id) in ``year``."""

    element: Annotated[str, AfterValidator(parse_symbol)]
    node: str
    year: int | None = None


class Child(Strict):
    item: Id
    qty: Quantity = Decimal(1)


class Item(Strict):
    id: Id
    description: str = ""
    made_in: Country | None
    value: Value = Field(default_factory=Value)
    cn_list: ChinaLists = Field(default_factory=ChinaLists)
    origin_cn: bool | None = None
    cn_share: Annotated[Decimal, BeforeValidator(_exact), Field(ge=0, le=1)] | None = None
    """Chinese-origin share of a Part I item's value, e.g. from a provenance result (it then
    counts instead of ``origin_cn`` in the content limb)."""
    provenance: ProvenanceLink | None = None
    cn_tech_used: list[Technology] = []
    deep_processed: (
        Literal[
            "rotor_stator", "sensor_assembly", "consumer_product", "calcined_catalyst", "phosphor"
        ]
        | None
    ) = None
    """MOFCOM FAQ categories of deep-processed products outside Announcement 18."""
    us: UsContent = Field(default_factory=UsContent)
    discrete_product: bool | None = None
    children: list[Child] = []


class EndUser(Strict):
    military: bool = False
    cn_listed: bool = False
    owned_50pct_by_cn_listed: bool = False
    us_listed: bool = False


EndUse = Literal[
    "wmd",
    "terrorism",
    "military",
    "logic_le_14nm",
    "memory_ge_256L",
    "fab_equipment_or_materials_for_those",
    "military_ai",
    "humanitarian",
]


class Shipment(Strict):
    id: Id
    item: Id
    exporter_country: Country
    destination: Country
    ship_date: date
    end_user: EndUser = EndUser()
    end_use: list[EndUse] = []


class BomDocument(Strict):
    items: Annotated[list[Item], Field(min_length=1)]
    shipments: list[Shipment] = []
    fx: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Rate] = {}
    """USD per unit of each currency used (USD itself is 1)."""
    _index: dict[str, Item] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        self._index = {i.id: i for i in self.items}

    @model_validator(mode="after")
    def _references(self) -> BomDocument:
        counts = Counter(i.id for i in self.items)
        repeated = sorted(i for i, n in counts.items() if n > 1)
        if repeated:
            raise ValueError(f"item ids must be unique; repeated: {', '.join(repeated)}")
        shipments = Counter(s.id for s in self.shipments)
        twice = sorted(i for i, n in shipments.items() if n > 1)
        if twice:
            raise ValueError(f"shipment ids must be unique; repeated: {', '.join(twice)}")
        known = set(counts)
        for item in self.items:
            for child in item.children:
                if child.item not in known:
                    raise ValueError(f"item {item.id!r} lists an unknown child {child.item!r}")
        for shipment in self.shipments:
            if shipment.item not in known:
                raise ValueError(
                    f"shipment {shipment.id!r} ships an unknown item {shipment.item!r}"
                )
        _no_cycles(self.items)
        return self

    def item(self, item_id: str) -> Item:
        return self._index[item_id]

    def index(self) -> dict[str, Item]:
        """Items by id (hold on to it in loops: private attribute access is slow)."""
        return self._index


MAX_DEPTH = 100_000
"""Deepest nesting of items a document may have (the roll-ups are iterative; the limit keeps
their stacks and a hostile document's cost bounded)."""


def _no_cycles(items: list[Item]) -> None:
    """Depth-first search without recursion (BOMs may be deep), also bounding the depth."""
    children = {i.id: [c.item for c in i.children] for i in items}
    state: dict[str, int] = {}
    for root in children:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, position = stack.pop()
            if position == 0:
                if state.get(node) == 1:
                    raise ValueError(f"items contain themselves: {' -> '.join([*path, node])}")
                if state.get(node) == 2:
                    continue
                state[node] = 1
                path.append(node)
                if len(path) > MAX_DEPTH:
                    raise ValueError(
                        f"items nest more than {MAX_DEPTH:,} deep below {path[0]!r}; "
                        "split the document at a sub-assembly"
                    )
            if position < len(children[node]):
                stack.append((node, position + 1))
                stack.append((children[node][position], 0))
            else:
                state[node] = 2
                path.pop()


class Suspension(Strict):
    from_: date = Field(alias="from")
    until: date
    by: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Instrument(Strict):
    title: str
    effective: date
    suspended: Suspension | None = None
    source: list[Id] = []
    note: str | None = None


class RegimeTable(Strict):
    known_until: date
    status_after: Literal["unknown", "in_force", "lapsed"] = "unknown"
    instruments: dict[str, Instrument]

    @model_validator(mode="after")
    def _complete(self) -> RegimeTable:
        missing = {"a18", "a61_origin", "a61_content", "a61_technology"} - set(self.instruments)
        if missing:
            raise ValueError(f"the regime table lacks {sorted(missing)}")
        return self


UsContent.model_rebuild()


def load_document(path: str | Path, model: type[BaseModel]) -> Any:
    """A YAML document validated against ``model``; every problem with file and line."""
    path = Path(path)
    label = display_path(path)
    if not path.is_file():
        raise DataValidationError([DataIssue(label, "file not found", kind="io")])
    issues: list[DataIssue] = []
    data = read_yaml(path, label, issues)
    if not issues and not isinstance(data, dict):
        issues.append(DataIssue(label, "the document must be a mapping", 1))
    document = None if issues else validate_mapping(model, data, label, line_of(data), issues)
    if issues or document is None:
        raise DataValidationError(issues)
    return document


def bundled_regimes() -> RegimeTable:
    from importlib import resources

    path = Path(str(resources.files("rareflow") / "data" / "regimes.yaml"))
    table: RegimeTable = load_document(path, RegimeTable)
    return table
