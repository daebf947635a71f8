"""Verdicts per shipment edge under both regimes, as auditable records with their inputs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import date
from decimal import Decimal
from typing import Any

from rareflow.compliance import china, ear
from rareflow.compliance.documents import BomDocument, RegimeTable, Shipment


def shipments_for(
    document: BomDocument, day: date | None, destination: str | None
) -> list[Shipment]:
    """The document's shipments (date or destination overridden if given), or one what-if
    shipment per top-level item when it has none."""
    if document.shipments:
        return [
            s.model_copy(
                update={
                    k: v
                    for k, v in (("ship_date", day), ("destination", destination))
                    if v is not None
                }
            )
            for s in document.shipments
        ]
    if day is None or destination is None:
        raise ValueError("the document has no shipments: give --date and --destination")
    children = {c.item for i in document.items for c in i.children}
    tops = [i for i in document.items if i.id not in children]
    return [
        Shipment(
            id=f"what_if_{i.id}",
            item=i.id,
            exporter_country=i.made_in or "CN",
            destination=destination,
            ship_date=day,
        )
        for i in tops
    ]


def comply(
    document: BomDocument,
    table: RegimeTable,
    options: china.ChinaOptions,
    day: date | None = None,
    destination: str | None = None,
) -> list[dict[str, Any]]:
    """One record per shipment: China's and the EAR's verdicts with every number used."""
    records = []
    for shipment in shipments_for(document, day, destination):
        cn = china.evaluate(document, shipment, table, options)
        cn.review = _readings(document, shipment, table, options, cn.verdict)
        us = ear.evaluate(document, shipment)
        records.append(
            {
                "shipment": shipment.id,
                "item": shipment.item,
                "exporter_country": shipment.exporter_country,
                "destination": shipment.destination,
                "date": shipment.ship_date.isoformat(),
                "china": _plain(asdict(cn)),
                "ear": _plain(asdict(us)),
            }
        )
    return records


READINGS: dict[str, tuple[str | bool, ...]] = {
    "part2_scope": ("narrow", "broad"),
    "cn_numerator": ("cn_origin_only", "all_part1_if_any_cn"),
    "origin_lookthrough": (True, False),
    "suspension_end_inclusive": ("unknown", "yes", "no"),
}
"""The ambiguous readings of China's rules a user chooses with --option (docs/compliance.md)."""


def _readings(
    document: BomDocument,
    shipment: Shipment,
    table: RegimeTable,
    options: china.ChinaOptions,
    verdict: str,
) -> list[china.Review]:
    """A review flag for each reading that would change the edge's verdict, naming it (each
    other reading costs a full evaluation, so those that cannot matter here are skipped)."""
    item = document.item(shipment.item)
    ends = {entry.suspended.until for entry in table.instruments.values() if entry.suspended}
    moot = {
        "part2_scope": item.cn_list.a61_part == "II" or not item.children,
        "suspension_end_inclusive": shipment.ship_date not in ends,
    }
    flags = []
    for name, values in READINGS.items():
        if moot.get(name, False):
            continue
        for value in values:
            if value == getattr(options, name):
                continue
            variant = replace(options, **{name: value})  # type: ignore[arg-type]
            other = china.evaluate(document, shipment, table, variant)
            if other.verdict != verdict:
                chosen = str(getattr(options, name))
                flags.append(china.Review(name, chosen, str(value), other.verdict))
    return flags


OPTION_VALUES = {
    "part2_scope": ("narrow", "broad"),
    "cn_numerator": ("cn_origin_only", "all_part1_if_any_cn"),
    "origin_lookthrough": ("true", "false"),
    "suspension_end_inclusive": ("unknown", "yes", "no"),
}
"""Readings of ambiguous Chinese texts a check may choose (``NAME=VALUE``)."""


def parse_options(items: list[str]) -> china.ChinaOptions:
    """``NAME=VALUE`` readings into options; ValueError listing the valid ones."""
    values: dict[str, Any] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in OPTION_VALUES or value not in OPTION_VALUES[name]:
            choices = "; ".join(f"{k}={'|'.join(v)}" for k, v in OPTION_VALUES.items())
            raise ValueError(f"--option {item!r} is not one of: {choices}")
        values[name] = value == "true" if name == "origin_lookthrough" else value
    return china.ChinaOptions(**values)


def assessed(
    document: BomDocument,
    table: RegimeTable,
    options: china.ChinaOptions,
    day: date | None,
    destination: str | None,
    share: Callable[[str, str, int | None], float],
) -> tuple[BomDocument, dict[str, Any]]:
    """The document with its provenance links resolved (``share``, called only for items that
    link) and its audit record: inputs, options, regime table and hash, verdicts. ValueError
    for a shipment that cannot be assessed."""
    document = with_provenance(document, share)
    records = comply(document, table, options, day, destination)
    return document, audit(document, table, options, records)


def audit(
    document: BomDocument,
    table: RegimeTable,
    options: china.ChinaOptions,
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The records with the inputs and the regime table they were computed from."""
    regimes = table.model_dump_json()
    return {
        "inputs": document.model_dump(mode="json"),
        "options": asdict(options),
        "regime_table": table.model_dump(mode="json", by_alias=True),
        "regime_table_sha256": hashlib.sha256(regimes.encode()).hexdigest(),
        "verdicts": records,
    }


def _plain(value: Any) -> Any:
    """Decimals as exact strings (auditors get the digits computed, not a float's)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def with_provenance(
    document: BomDocument, share: Callable[[str, str, int | None], float]
) -> BomDocument:
    """The document with ``cn_share`` filled from provenance for items that link to it;
    ``share(element, node, year)`` gives the Chinese-mined share reaching a node."""
    if not any(i.provenance for i in document.items):
        return document
    items = []
    for item in document.items:
        link = item.provenance
        if link is None:
            items.append(item)
            continue
        value = Decimal(repr(round(share(link.element, link.node, link.year), 12)))
        items.append(item.model_copy(update={"cn_share": value}))
    data = document.model_dump()
    data["items"] = [i.model_dump() for i in items]
    return BomDocument.model_validate(data)  # rebuilt, so the item index sees the new values
