"""Cross-table rules: references resolve, compositions sum, dates are possible."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rareflow.dataset.errors import DataIssue
from rareflow.elements import ATOMIC_MASS_SOURCE, GROUPING_CONVENTIONS

if TYPE_CHECKING:
    from rareflow.dataset.loader import LoadedData
    from rareflow.dataset.tables import Record

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
}


def cross_check(loaded: LoadedData) -> list[DataIssue]:
    """Every cross-table problem of a loaded (merged) dataset."""
    issues: list[DataIssue] = []
    tables = loaded.tables
    issues += _check_sources(loaded)
    issues += _check_countries(loaded)
    issues += _check_ore_types(tables.get("ore_types", []))
    issues += _check_facilities(loaded)
    issues += _check_recipes(tables.get("magnet_recipes", []))
    issues += _check_policies(loaded)
    edition = loaded.manifest.usgs_edition
    if tables.get("mine_production") and not any(
        r.row.edition == edition for r in tables["mine_production"]
    ):
        issues.append(
            DataIssue(
                loaded.files.get("mine_production", ["mine_production.csv"])[-1],
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


def _check_sources(loaded: LoadedData) -> list[DataIssue]:
    known = set(loaded.sources)
    issues = []
    expected = "an id defined in sources.yaml"
    for records in loaded.tables.values():
        for record in records:
            for source_id in record.row.source:
                if source_id not in known:
                    issues.append(
                        _issue(
                            record,
                            "unknown source id",
                            "source",
                            source_id,
                            expected,
                            "unknown_source",
                        )
                    )
    for kind, entries in (("group", loaded.groups), ("event", loaded.policies)):
        for item_id, (item, file, line) in entries.items():
            for source_id in item.source:
                if source_id not in known:
                    issues.append(
                        DataIssue(
                            file,
                            f"unknown source id in {kind} '{item_id}'",
                            line,
                            "source",
                            source_id,
                            expected,
                            "unknown_source",
                        )
                    )
    wanted = {ATOMIC_MASS_SOURCE, *(c.source for c in GROUPING_CONVENTIONS.values())}
    for source_id in sorted(wanted - known):
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


def _check_countries(loaded: LoadedData) -> list[DataIssue]:
    countries = {r.row.code: r for r in loaded.tables.get("countries", [])}
    issues = []
    expected = "a code defined in countries.csv"
    for table, columns in COUNTRY_COLUMNS.items():
        for record in loaded.tables.get(table, []):
            for column in columns:
                for code in _values(getattr(record.row, column)):
                    if code not in countries:
                        issues.append(
                            _issue(
                                record,
                                "unknown country code",
                                column,
                                code,
                                expected,
                                "unknown_country",
                            )
                        )
    for event_id, (event, file, line) in loaded.policies.items():
        for code in [event.jurisdiction, *event.parties]:
            if code not in countries:
                issues.append(
                    DataIssue(
                        file,
                        f"unknown country code in event '{event_id}'",
                        line,
                        "jurisdiction" if code == event.jurisdiction else "parties",
                        code,
                        expected,
                        "unknown_country",
                    )
                )
    for record in countries.values():
        for group in record.row.groups:
            if group not in loaded.groups:
                issues.append(
                    _issue(
                        record,
                        "unknown country group",
                        "groups",
                        group,
                        "a group defined in country_groups.yaml",
                        "unknown_group",
                    )
                )
    return issues


def _check_ore_types(records: list[Record]) -> list[DataIssue]:
    issues = []
    ids = {r.row.id for r in records}
    for record in records:
        row = record.row
        total = sum(row.composition_pct().values())
        if abs(total - 100.0) > row.sum_tolerance_pct:
            issues.append(
                _issue(
                    record,
                    f"element percentages sum to {total:.4g}, not 100 within "
                    f"{row.sum_tolerance_pct:g}",
                    "sum_tolerance_pct",
                    f"{total:.4g}",
                    "a composition summing to 100 (or a sourced, noted tolerance)",
                    "composition_sum",
                )
            )
        if row.sum_tolerance_pct > WIDE_TOLERANCE_PCT and not row.note:
            issues.append(
                _issue(
                    record,
                    "a sum tolerance above 1 % needs a note quoting the source's rounding",
                    "note",
                    row.sum_tolerance_pct,
                    "a note",
                    "missing_value",
                )
            )
        if row.proxy_of is not None and row.proxy_of not in ids:
            issues.append(
                _issue(
                    record,
                    "proxy_of names an unknown ore type",
                    "proxy_of",
                    row.proxy_of,
                    "an id of ore_types.csv",
                    "unknown_reference",
                )
            )
    return issues


def _check_facilities(loaded: LoadedData) -> list[DataIssue]:
    issues = []
    facilities = {r.row.id: r for r in loaded.tables.get("facilities", [])}
    ores = {r.row.id for r in loaded.tables.get("ore_types", [])}
    as_of = loaded.manifest.as_of_year
    for record in facilities.values():
        row = record.row
        if row.ore_type is not None and row.ore_type not in ores:
            issues.append(
                _issue(
                    record,
                    "unknown ore type",
                    "ore_type",
                    row.ore_type,
                    "an id of ore_types.csv",
                    "unknown_reference",
                )
            )
        for cover in row.covered_by:
            coverer = facilities.get(cover)
            if coverer is None or coverer.row.kind != "aggregate":
                issues.append(
                    _issue(
                        record,
                        "covered_by must name an aggregate facility",
                        "covered_by",
                        cover,
                        "an id of a kind=aggregate facility",
                        "unknown_facility",
                    )
                )
            elif coverer.row.country != row.country:
                issues.append(
                    _issue(
                        record,
                        f"covered by '{cover}' of another country ({coverer.row.country})",
                        "covered_by",
                        cover,
                        f"an aggregate of {row.country}",
                        "invalid_value",
                    )
                )
        if row.status == "operating" and row.start_year is not None and row.start_year > as_of:
            issues.append(
                _issue(
                    record,
                    f"status is operating but start_year is after {as_of} (dataset.yaml "
                    "as_of_year)",
                    "start_year",
                    row.start_year,
                    f"a year <= {as_of}",
                    "impossible_date",
                )
            )
    expected_facility = "an id of facilities.csv"
    for record in loaded.tables.get("facility_capacities", []):
        row = record.row
        facility = facilities.get(row.facility)
        if facility is None:
            issues.append(
                _issue(
                    record,
                    "unknown facility",
                    "facility",
                    row.facility,
                    expected_facility,
                    "unknown_facility",
                )
            )
            continue
        if row.stage not in facility.row.stages:
            issues.append(
                _issue(
                    record,
                    f"facility '{row.facility}' has no stage '{row.stage}'",
                    "stage",
                    row.stage,
                    f"one of {', '.join(facility.row.stages)}",
                    "invalid_value",
                )
            )
        start = facility.row.start_year
        if row.basis in ("output", "run_rate") and start is not None and row.year < start:
            issues.append(
                _issue(
                    record,
                    f"an actual {row.basis} in {row.year} is impossible "
                    f"before the facility's start_year {start}",
                    "year",
                    row.year,
                    f"a year >= {start} or a basis such as nameplate/target",
                    "impossible_date",
                )
            )
    for record in loaded.tables.get("facility_links", []):
        for column in ("from_facility", "to_facility"):
            value = getattr(record.row, column)
            if value not in facilities:
                issues.append(
                    _issue(
                        record,
                        "link names an unknown facility",
                        column,
                        value,
                        expected_facility,
                        "unknown_facility",
                    )
                )
        if record.row.from_facility == record.row.to_facility:
            issues.append(
                _issue(
                    record,
                    "a facility cannot feed itself",
                    "to_facility",
                    record.row.to_facility,
                    "another facility",
                    "invalid_value",
                )
            )
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
                    rows[0],
                    f"components of grade '{grade}' sum to {total:.4g} wt %",
                    "wt_pct",
                    f"{total:.4g}",
                    f"100 +/- {RECIPE_SUM_TOLERANCE_PCT}",
                    "composition_sum",
                )
            )
        families = {r.row.family for r in rows}
        if len(families) > 1:
            issues.append(
                _issue(
                    rows[0],
                    f"grade '{grade}' mixes families",
                    "family",
                    ";".join(sorted(families)),
                    "one family per grade",
                    "invalid_value",
                )
            )
        for r in rows:
            low, high = r.row.wt_pct_low, r.row.wt_pct_high
            if low is not None and high is not None and low > high:
                issues.append(
                    _issue(
                        r,
                        "wt_pct_low is above wt_pct_high",
                        "wt_pct_low",
                        low,
                        f"a value <= {high}",
                        "invalid_value",
                    )
                )
    return issues


def _check_policies(loaded: LoadedData) -> list[DataIssue]:
    issues = []
    facilities = {r.row.id for r in loaded.tables.get("facilities", [])}
    for event_id, (event, file, line) in loaded.policies.items():
        for column in ("suspends", "suspended_by"):
            for other in getattr(event, column):
                if other not in loaded.policies:
                    issues.append(
                        DataIssue(
                            file,
                            f"event '{event_id}' names an unknown event",
                            line,
                            column,
                            other,
                            "an event id of policies.yaml",
                            "unknown_reference",
                        )
                    )
        for facility in event.facilities:
            if facility not in facilities:
                issues.append(
                    DataIssue(
                        file,
                        f"event '{event_id}' names an unknown facility",
                        line,
                        "facilities",
                        facility,
                        "an id of facilities.csv",
                        "unknown_facility",
                    )
                )
    return issues
