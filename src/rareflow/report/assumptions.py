"""The scenario behind an ensemble as tables: its lever blocks, projects, demand growth, market
options, and every source it cites resolved to its citation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from rareflow.dataset.dataset import Dataset


def lever_table(scenario: dict[str, Any]) -> pd.DataFrame:
    """One row per dated lever block: when, how likely, what it holds, why."""
    rows = []
    for block in scenario.get("levers", []):
        held = []
        for kind, items in (block.get("levers") or {}).items():
            if items:
                ids = ", ".join(str(item.get("id", "?")) for item in items)
                held.append(f"{kind}: {ids}")
        rows.append(
            {
                "block": block.get("id"),
                "start": _dated(block.get("start"), block.get("start_month"), 1),
                "end": _dated(block.get("end"), block.get("end_month"), 12) or "open",
                "probability": block.get("probability"),
                "start spread, years": block.get("start_spread_years"),
                "announced": block.get("announced") or "at start",
                "levers": "; ".join(held),
                "sources": ", ".join(block.get("source") or []),
                "note": block.get("note") or "",
            }
        )
    return pd.DataFrame(rows)


def _dated(year: Any, month: Any, whole: int) -> Any:
    """A block's start or end year, with its month (2010-07) where it is not the whole year."""
    if year is None or month in (None, whole):
        return year
    return f"{year}-{int(month):02d}"


def project_table(scenario: dict[str, Any]) -> pd.DataFrame:
    """Projects and candidates: where, how big, when, how sure."""
    rows = []
    for kind in ("projects", "candidates"):
        for project in scenario.get(kind, []) or []:
            rows.append(
                {
                    "kind": kind[:-1],
                    "id": project.get("id"),
                    "stage": project.get("stage"),
                    "location": project.get("location"),
                    "capacity, t/yr": project.get("capacity_t"),
                    "start": project.get("start") or _lead(project),
                    "status": project.get("status", ""),
                    "sources": ", ".join(project.get("source") or []),
                }
            )
    return pd.DataFrame(rows)


def _lead(candidate: dict[str, Any]) -> str:
    low, high = candidate.get("lead_time_years") or (None, None)
    return f"if built: {low}-{high} years after commitment" if low is not None else ""


def growth_table(scenario: dict[str, Any]) -> pd.DataFrame:
    """Demand growth by end use and period."""
    demand = scenario.get("demand") or {}
    rows = [
        {
            "end use": g.get("end_use"),
            "region": g.get("region") or "all",
            "growth, %/yr": g.get("rate_pct"),
            "from": g.get("start") or "start",
            "to": g.get("end") or "end",
            "sources": ", ".join(g.get("source") or []),
        }
        for g in demand.get("growth", [])
    ]
    return pd.DataFrame(rows)


def settings_table(scenario: dict[str, Any]) -> pd.DataFrame:
    """Horizon, measured group and market options as name/value rows."""
    rows: list[dict[str, Any]] = []
    horizon = scenario.get("horizon") or {}
    rows.append({"setting": "horizon", "value": f"{horizon.get('start')}-{horizon.get('end')}"})
    for part in ("measure", "market", "slippage", "recycling"):
        for name, value in (scenario.get(part) or {}).items():
            if isinstance(value, dict | list) and len(str(value)) > 120:
                value = f"{type(value).__name__} of {len(value)}"
            rows.append({"setting": f"{part}.{name}", "value": str(value)})
    return pd.DataFrame(rows)


def source_table(ids: list[str], dataset: Dataset) -> pd.DataFrame:
    """Citations of ``ids``; an id the dataset does not hold is listed as such."""
    rows: list[dict[str, Any]] = []
    for source_id in ids:
        source = dataset.sources.get(source_id)
        if source is None:
            rows.append({"id": source_id, "title": "not in the dataset's sources.yaml"})
            continue
        rows.append(
            {
                "id": source_id,
                "title": source.title,
                "publisher": source.publisher,
                "year": source.year,
                "quality": source.quality,
                "url": source.url or "",
            }
        )
    return pd.DataFrame(rows)
