"""Cross-table rules: references resolve, compositions sum, dates are possible."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from rareflow.dataset.errors import DataIssue
from rareflow.dataset.tables import Record
from rareflow.elements import ATOMIC_MASS_SOURCE, GROUPING_CONVENTIONS

if TYPE_CHECKING:
    from rareflow.dataset.loader import LoadedData

RECIPE_SUM_TOLERANCE_PCT = 0.5
WIDE_TOLERANCE_PCT = 1.0
"""Ore rows may claim a wider sum tolerance than this only with a note that explains it."""

COUNTRY_COLUMNS = {
    "mine_production": ("country",),
    "reserves": ("country",),
    "ore_types": ("country",),
    "facilities": ("country", "technology_origin", "equipment_origin", "owner_country"),
    "gallium_production": ("country",),
    "stage_shares": ("region",),
    "policies": ("jurisdiction", "parties"),
}


def cross_check(loaded: LoadedData) -> list[DataIssue]:
    """Every cross-table problem of a loaded (merged) dataset."""
    tables = dict(loaded.tables)
    tables["policies"] = [Record(*entry) for entry in loaded.policies.values()]
    tables["country_groups"] = [Record(*entry) for entry in loaded.groups.values()]
    if loaded.process_costs is not None:
        costs, file, line = loaded.process_costs
        parameters = [p for r in costs.regions.values() for p in r.parameters.values()]
        tables["process_costs"] = [
            Record(p, file, line)
            for p in [*parameters, *costs.plant.values(), *costs.capex.values(),
                      costs.cost_index, *costs.projects, *costs.lead_times]
        ]  # fmt: skip
    if loaded.market is not None:
        market, file, line = loaded.market
        tables["market"] = [Record(p, file, line) for p in market.parameters()]
    issues = _check_sources(loaded, tables)
    countries = {r.row.code for r in tables.get("countries", [])}
    for table, columns in COUNTRY_COLUMNS.items():
        for column in columns:
            issues += _references(
                tables.get(table, []), column, countries, "unknown country code",
                "a code defined in countries.csv", "unknown_country",
            )  # fmt: skip
    issues += _references(
        tables.get("countries", []), "groups", loaded.groups, "unknown country group",
        "a group defined in country_groups.yaml", "unknown_group",
    )  # fmt: skip
    issues += _check_ore_types(tables.get("ore_types", []))
    projects = [r for r in tables.get("process_costs", []) if hasattr(r.row, "ore_type")]
    issues += _references(
        projects, "ore_type", {r.row.id for r in tables.get("ore_types", [])},
        "published project names an unknown ore type", "an id of ore_types.csv",
        "unknown_reference",
    )  # fmt: skip
    issues += _check_facilities(loaded, tables)
    issues += _check_recipes(tables.get("magnet_recipes", []))
    if loaded.market is not None:
        issues += _check_market(loaded, tables, countries)
    for column in ("suspends", "suspended_by"):
        issues += _references(
            tables["policies"], column, loaded.policies, "names an unknown event",
            "an event id of policies.yaml", "unknown_reference",
        )  # fmt: skip
    edition = loaded.manifest.usgs_edition
    production = tables.get("mine_production", [])
    if production and not any(r.row.edition == edition for r in production):
        issues.append(
            DataIssue(
                production[0].file,
                f"no rows for the pinned USGS edition {edition!r} (dataset.yaml usgs_edition)",
                kind="invalid_value",
            )
        )
    return issues


def _issue(
    record: Record, message: str, column: str, value: Any, expected: str, kind: str
) -> DataIssue:
    return DataIssue(record.file, message, record.line, column, str(value), expected, kind)


def _values(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    return value if isinstance(value, list) else (value,)


def _references(
    records: list[Record],
    column: str,
    known: Collection[Any],
    message: str,
    expected: str,
    kind: str,
) -> list[DataIssue]:
    """One issue per value of ``column`` (a value or a list) that is not in ``known``."""
    return [
        _issue(record, message, column, value, expected, kind)
        for record in records
        for value in _values(getattr(record.row, column))
        if value not in known
    ]


def _check_sources(loaded: LoadedData, tables: dict[str, list[Record]]) -> list[DataIssue]:
    issues = []
    for records in tables.values():
        issues += _references(
            records, "source", loaded.sources, "unknown source id",
            "an id defined in sources.yaml", "unknown_source",
        )  # fmt: skip
    wanted = {ATOMIC_MASS_SOURCE, *(c.source for c in GROUPING_CONVENTIONS.values())}
    for source_id in sorted(wanted - set(loaded.sources)):
        issues.append(
            DataIssue(
                "sources.yaml",
                "source id cited by rareflow.elements is not defined",
                value=source_id,
                expected="a citation for the element constants",
                kind="unknown_source",
            )
        )
    return issues


def _check_ore_types(records: list[Record]) -> list[DataIssue]:
    issues = _references(
        [r for r in records if r.row.proxy_of is not None], "proxy_of", {r.row.id for r in records},
        "proxy_of names an unknown ore type", "an id of ore_types.csv", "unknown_reference",
    )  # fmt: skip
    for record in records:
        row = record.row
        total = sum(row.composition_pct().values())
        if abs(total - 100.0) > row.sum_tolerance_pct:
            message = f"element percentages sum to {total:.4g}, not 100 within "
            issues.append(
                _issue(
                    record, message + f"{row.sum_tolerance_pct:g}", "sum_tolerance_pct",
                    f"{total:.4g}", "a composition summing to 100 (or a sourced, noted tolerance)",
                    "composition_sum",
                )
            )  # fmt: skip
        if row.sum_tolerance_pct > WIDE_TOLERANCE_PCT and not row.note:
            issues.append(
                _issue(
                    record, "a sum tolerance above 1 % needs a note quoting the source's rounding",
                    "note", row.sum_tolerance_pct, "a note", "missing_value",
                )
            )  # fmt: skip
    return issues


def _check_facilities(loaded: LoadedData, tables: dict[str, list[Record]]) -> list[DataIssue]:
    records = tables.get("facilities", [])
    facilities = {r.row.id: r for r in records}
    aggregates = {k: r.row.country for k, r in facilities.items() if r.row.kind == "aggregate"}
    ores = {r.row.id for r in tables.get("ore_types", [])}
    known = "an id of facilities.csv"
    issues = _references(
        [r for r in records if r.row.ore_type], "ore_type", ores, "unknown ore type",
        "an id of ore_types.csv", "unknown_reference",
    )  # fmt: skip
    issues += _references(
        records, "covered_by", aggregates, "covered_by must name an aggregate facility",
        "an id of a kind=aggregate facility", "unknown_facility",
    )  # fmt: skip
    for column in ("from_facility", "to_facility"):
        issues += _references(
            tables.get("facility_links", []), column, facilities, "link names an unknown facility",
            known, "unknown_facility",
        )  # fmt: skip
    issues += _references(
        tables.get("facility_capacities", []), "facility", facilities, "unknown facility", known,
        "unknown_facility",
    )  # fmt: skip
    issues += _references(
        tables["policies"], "facilities", facilities, "event names an unknown facility", known,
        "unknown_facility",
    )  # fmt: skip
    as_of = loaded.manifest.as_of_year
    for record in records:
        row = record.row
        for cover in row.covered_by:
            if cover in aggregates and aggregates[cover] != row.country:
                issues.append(
                    _issue(
                        record, f"covered by '{cover}' of another country ({aggregates[cover]})",
                        "covered_by", cover, f"an aggregate of {row.country}", "invalid_value",
                    )
                )  # fmt: skip
        if row.status == "operating" and row.start_year is not None and row.start_year > as_of:
            issues.append(
                _issue(
                    record, f"status is operating but start_year is after {as_of} (dataset.yaml "
                    "as_of_year)", "start_year", row.start_year, f"a year <= {as_of}",
                    "impossible_date",
                )
            )  # fmt: skip
    for record in tables.get("facility_capacities", []):
        issues += _check_capacity(record, facilities.get(record.row.facility))
    for record in tables.get("facility_links", []):
        if record.row.from_facility == record.row.to_facility:
            issues.append(
                _issue(
                    record, "a facility cannot feed itself", "to_facility",
                    record.row.to_facility, "another facility", "invalid_value",
                )
            )  # fmt: skip
    return issues


def _check_capacity(record: Record, facility: Record | None) -> list[DataIssue]:
    if facility is None:
        return []  # reported as an unknown facility
    row, stages = record.row, facility.row.stages
    issues = []
    if row.stage not in stages:
        issues.append(
            _issue(
                record, f"facility '{row.facility}' has no stage '{row.stage}'", "stage",
                row.stage, f"one of {', '.join(stages)}", "invalid_value",
            )
        )  # fmt: skip
    start = facility.row.start_year
    if row.basis in ("output", "run_rate") and start is not None and row.year < start:
        issues.append(
            _issue(
                record, f"an actual {row.basis} in {row.year} is impossible before the "
                f"facility's start_year {start}", "year", row.year,
                f"a year >= {start} or a basis such as nameplate/target", "impossible_date",
            )
        )  # fmt: skip
    return issues


def _check_recipes(records: list[Record]) -> list[DataIssue]:
    issues = []
    grades: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        grades[record.row.grade].append(record)
    for grade, rows in grades.items():
        total = sum(r.row.wt_pct for r in rows)
        if abs(total - 100.0) > RECIPE_SUM_TOLERANCE_PCT:
            issues.append(
                _issue(
                    rows[0], f"components of grade '{grade}' sum to {total:.4g} wt %", "wt_pct",
                    f"{total:.4g}", f"100 +/- {RECIPE_SUM_TOLERANCE_PCT}", "composition_sum",
                )
            )  # fmt: skip
        families = sorted({r.row.family for r in rows})
        if len(families) > 1:
            issues.append(
                _issue(
                    rows[0], f"grade '{grade}' mixes families", "family", ";".join(families),
                    "one family per grade", "invalid_value",
                )
            )  # fmt: skip
        for r in rows:
            low, high = r.row.wt_pct_low, r.row.wt_pct_high
            if low is not None and high is not None and low > high:
                issues.append(
                    _issue(
                        r, "wt_pct_low is above wt_pct_high", "wt_pct_low", low,
                        f"a value <= {high}", "invalid_value",
                    )
                )  # fmt: skip
    return issues


def _check_market(
    loaded: LoadedData, tables: dict[str, list[Record]], countries: set[str]
) -> list[DataIssue]:
    """``market.yaml`` names countries, ore types, facilities, grades and sources that exist."""
    assert loaded.market is not None
    market, file, line = loaded.market
    known = {
        "country": countries,
        "ore type": {r.row.id for r in tables.get("ore_types", [])},
        "facility": {r.row.id for r in tables.get("facilities", [])},
        "grade": {r.row.grade for r in tables.get("magnet_recipes", [])},
        "source": set(loaded.sources),
    }
    issues = []
    # a user who replaces the facilities table leaves market.yaml's facility links informational
    replaced = "facilities" in loaded.manifest.replace_tables
    for kind, field, value in market.references():
        if kind == "facility" and replaced:
            continue
        if value not in known[kind]:
            issues.append(
                DataIssue(
                    file,
                    f"market.yaml names an unknown {kind}",
                    line,
                    field,
                    value,
                    f"a {kind} defined in the dataset",
                    "unknown_reference",
                )
            )
    return issues
