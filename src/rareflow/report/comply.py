"""A compliance report: the bill of materials as a tree, each shipment's verdicts with every
limb, the audit hashes. The tree shows value per unit and per parent, origin and list status,
so a reviewer can follow each ratio back to the items it adds up."""

from __future__ import annotations

import hashlib
import html
import json
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from rareflow.compliance.documents import BomDocument
from rareflow.report.page import Page

CHINA_COLOR, OTHER_COLOR = "#d64545", "#3e7cb1"


def audit_hash(record: dict[str, Any]) -> str:
    """SHA-256 of an audit record's canonical JSON (sorted keys, no spaces): the same inputs,
    options, regime table and verdicts give the same hash."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _usd(document: BomDocument, item_id: str) -> float | None:
    value = document.item(item_id).value
    if value.amount is None:
        return None
    rate = Decimal(1) if value.currency == "USD" else document.fx.get(value.currency)
    return None if rate is None else float(value.amount * rate)


def bom_figure(document: BomDocument, root: str) -> go.Figure:
    """An icicle of the item tree under ``root``: area by value (USD, unit value x quantity
    down the tree), red where the item is of Chinese origin."""
    ids, labels, parents, values, colors = [], [], [], [], []
    stack: list[tuple[str, str, float, int]] = [(root, "", 1.0, 0)]
    while stack:
        item_id, parent, quantity, depth = stack.pop()
        node = f"{parent}/{item_id}" if parent else item_id
        item = document.item(item_id)
        usd = _usd(document, item_id)
        ids.append(node)
        labels.append(f"{item_id} ×{quantity:g}" if parent else item_id)
        parents.append(parent)
        values.append((usd or 0.0) * quantity)
        colors.append(CHINA_COLOR if item.origin_cn or item.made_in == "CN" else OTHER_COLOR)
        if depth < 12:  # deeper levels are in the table
            for child in item.children:
                stack.append((child.item, node, quantity * float(child.qty), depth + 1))
    figure = go.Figure(
        go.Icicle(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            marker={"colors": colors},
            hovertemplate="%{label}<br>%{value:,.4~g} USD<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{root}: value by part (red: Chinese origin)", template="plotly_white",
        margin={"t": 50, "l": 10, "r": 10, "b": 10}, height=340,
    )  # fmt: skip
    return figure


def item_table(document: BomDocument) -> pd.DataFrame:
    """Each item with what the rules read from it."""
    rows = []
    for item in document.items:
        rows.append(
            {
                "item": item.id,
                "made in": item.made_in or "?",
                "value": f"{item.value.amount} {item.value.currency}"
                if item.value.amount is not None
                else "?",
                "Chinese origin": item.origin_cn,
                "China list (Ann. 61)": item.cn_list.a61_part,
                "ECCN": item.us.eccn or "",
                "parts": ", ".join(f"{c.item} ×{c.qty}" for c in item.children),
            }
        )
    return pd.DataFrame(rows)


def _limb_rows(record: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {
            "limb": limb["limb"],
            "hit": limb["hit"],
            "status": limb.get("status", ""),
            "decision": limb.get("decision", ""),
            "numerator": limb.get("numerator", ""),
            "denominator": limb.get("denominator", ""),
            "ratio": limb.get("ratio", ""),
            "detail": limb.get("detail", ""),
        }
        for limb in record["china"]["limbs"]
    ]
    return pd.DataFrame(rows)


def _listing(title: str, entries: list[Any]) -> str:
    if not entries:
        return ""
    items = "".join(f"<li>{html.escape(str(e))}</li>" for e in entries)
    return f"<p><b>{html.escape(title)}</b></p><ul>{items}</ul>"


def comply_page(document: BomDocument, audit: dict[str, Any], source: str) -> Page:
    """The report of one compliance check (``audit`` as ``rareflow comply --out`` writes it)."""
    records = audit["verdicts"]
    digest = audit_hash(audit)
    page = Page(f"Compliance check of {source}", f"{len(records)} shipment(s)")
    page.section("Verdicts")
    summary = pd.DataFrame(
        [
            {
                "shipment": r["shipment"],
                "item": r["item"],
                "route": f"{r['exporter_country']} → {r['destination']}",
                "date": r["date"],
                "China": r["china"]["verdict"],
                "EAR": r["ear"]["verdict"],
                "review": "yes" if r["china"].get("review") else "",
            }
            for r in records
        ]
    )
    page.table(summary)
    for record in records:
        route = f"{record['exporter_country']} → {record['destination']}"
        page.heading(f"{record['shipment']}: {record['item']} {route}, {record['date']}")
        china, ear = record["china"], record["ear"]
        page.raw(f"<p><b>China</b>: {html.escape(china['verdict'])}</p>")
        limbs = _limb_rows(record)
        if limbs.empty:
            page.text("No limb of China's rules applies to this shipment.")
        else:
            page.table(limbs, "China's rules, limb by limb")
        page.raw(
            _listing("Overlays", china.get("overlays", []))
            + _listing("Missing inputs", china.get("missing", []))
            + _listing("Readings assumed", china.get("assumptions", []))
            + _listing("Review (another reading would change the verdict)", china.get("review", []))
        )
        page.raw(
            f"<p><b>EAR</b>: {html.escape(ear['verdict'])} (controlled US content "
            f"{html.escape(str(ear.get('numerator')))} of "
            f"{html.escape(str(ear.get('denominator')))}, "
            f"threshold {html.escape(str(ear.get('threshold')))})</p>"
            + _listing("Controlled parts", ear.get("controlled", []))
            + _listing("Notes", ear.get("notes", []))
            + _listing("Missing inputs", ear.get("missing", []))
            + _listing("0 % levels", ear.get("zero_level", []))
        )
        page.figure(bom_figure(document, record["item"]))
    page.section("Bill of materials")
    page.table(item_table(document))
    page.section("Audit")
    page.raw(
        f"<p>Regime table SHA-256: <code>{html.escape(audit['regime_table_sha256'])}</code><br>"
        f"Audit record SHA-256 (inputs, options, regime table, verdicts; canonical JSON): "
        f"<code>{digest}</code></p><p>Options: <code>"
        f"{html.escape(json.dumps(audit['options'], default=str))}</code></p>"
    )
    return page
