"""One-year scenario files for the market: levers added to the base year's, validated like data.

    year: 2025            # optional
    levers:
      bans:
        - {id: cn_heavy_ban, commodities: [oxide, metal, magnet], elements: [Dy, Tb],
           origin: [china], exclude_destination: [china]}
      floors:
        - {id: dod_ndpr, plants: [mp_mountain_pass], elements: [Nd, Pr],
           floor_usd_per_kg: 110, volume_t: 10000}

Every problem is reported with the file, the line and the field: YAML syntax, unknown fields,
wrong types, and names the world does not know (plants, places, elements, regions, end uses).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from rareflow.dataset.errors import DataIssue, DataValidationError, display_path
from rareflow.dataset.levers import (
    Levers,
    Offtake,
    PriceFloor,
    StockRelease,
    Subsidy,
    TradeRule,
)
from rareflow.dataset.readers import LineDict, line_of, read_yaml
from rareflow.dataset.tables import validate_mapping
from rareflow.elements import RARE_EARTHS
from rareflow.market.network import World


class ScenarioFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int | None = None
    levers: Levers = Levers()


def read_scenario(path: str | Path) -> tuple[ScenarioFile, str, dict[str, int | None]]:
    """The validated file, its display name and the line of each lever (by id)."""
    path = Path(path)
    label = display_path(path)
    issues: list[DataIssue] = []
    if not path.is_file():
        raise DataValidationError([DataIssue(label, "scenario file not found", kind="io")])
    data = read_yaml(path, label, issues)
    if data is None and not issues:
        data = {}
    scenario = (
        None if issues else validate_mapping(ScenarioFile, data, label, line_of(data), issues)
    )
    if issues or scenario is None:
        raise DataValidationError(issues)
    return scenario, label, _lever_lines(data)


def _lever_lines(data: object) -> dict[str, int | None]:
    lines: dict[str, int | None] = {}
    levers = data.get("levers") if isinstance(data, LineDict) else None
    if isinstance(levers, dict):
        for entries in levers.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and "id" in entry:
                    lines[str(entry["id"])] = line_of(entry)
    return lines


def check_levers(
    world: World, levers: Levers, file: str = "levers", lines: dict[str, int | None] | None = None
) -> list[DataIssue]:
    """Names in the levers that this world does not know."""
    lines = lines or {}
    plants = {p.id for p in world.plants()} | {m.id for m in world.mines}
    places = set().union(*world.places.values())
    regions = {s.region for s in world.segments}
    end_uses = {s.end_use for s in world.segments}
    issues = []

    def check(lever_id: str, field: str, values: list[str], known: set[str], what: str) -> None:
        for value in values:
            if value not in known:
                issues.append(
                    DataIssue(
                        file,
                        f"lever {lever_id!r} names an unknown {what}",
                        lines.get(lever_id),
                        field,
                        value,
                        _expected(value, known),
                        "unknown_reference",
                    )
                )

    trade_rules: list[TradeRule] = [
        *levers.bans,
        *levers.quotas,
        *levers.tariffs,
        *levers.export_taxes,
        *levers.licences,
    ]
    elements = set(RARE_EARTHS) | {"Ga"}
    for trade in trade_rules:
        for field in ("origin", "destination", "exclude_destination"):
            check(trade.id, field, getattr(trade, field), places, "country or group")
        check(trade.id, "elements", trade.elements, elements, "element")
    for threat in levers.threats:
        check(threat.id, "elements", threat.elements, elements, "element")
        check(threat.id, "places", threat.places, places, "country or group")
    contracts: list[PriceFloor | Offtake | Subsidy] = [
        *levers.floors,
        *levers.offtakes,
        *levers.subsidies,
    ]
    for contract in contracts:
        check(contract.id, "plants", contract.plants, plants, "plant or mine")
    for floor in levers.floors:
        check(floor.id, "elements", floor.elements, set(world.elements), "element")
    for subsidy in levers.subsidies:
        check(subsidy.id, "countries", subsidy.countries, places, "country or group")
    stocks: list[StockRelease | Offtake] = [
        *levers.stock_releases,
        *levers.stock_purchases,
        *levers.offtakes,
    ]
    for stock in stocks:
        check(stock.id, "location", [stock.location], set(world.places), "country")
    for rule in levers.sourcing_rules:
        check(rule.id, "regions", rule.regions, regions, "demand region")
        check(rule.id, "end_uses", rule.end_uses, end_uses, "end use")
        check(rule.id, "excluded", rule.excluded, places, "country or group")
    return issues


def _expected(value: str, known: set[str]) -> str:
    same_but_case = [k for k in sorted(known) if k.lower() == value.lower()]
    close = same_but_case or difflib.get_close_matches(value, sorted(known), n=1)
    listing = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
    return (f"{close[0]!r} (did you mean it?) or one of " if close else "one of ") + listing
