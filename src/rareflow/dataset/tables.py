"""The table registry (file name, row model, key) and row parsing with precise error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rareflow.dataset import schema
from rareflow.dataset.errors import DataIssue
from rareflow.dataset.readers import CsvFile, line_of
from rareflow.elements import parse_symbol


@dataclass(frozen=True)
class TableSpec:
    """A CSV table of the dataset: its file, row model and the columns that identify a row."""

    name: str
    model: type[schema.Row]
    key: tuple[str, ...]
    description: str

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    @property
    def columns(self) -> list[str]:
        """Column order of the table: its own fields first, then ``source`` and ``note``."""
        fields = [n for n in self.model.model_fields if n not in ("source", "note")]
        return [*fields, "source", "note"]

    @property
    def required_columns(self) -> list[str]:
        return [n for n, f in self.model.model_fields.items() if f.is_required()]


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("countries", schema.Country, ("code",), "countries and aggregates with groups"),
        TableSpec(
            "mine_production",
            schema.MineProduction,
            ("country", "year", "edition"),
            "rare-earth mine production by country, t REO, per USGS edition",
        ),
        TableSpec(
            "reserves", schema.Reserves, ("country", "edition"), "reserves by country, t REO"
        ),
        TableSpec("ore_types", schema.OreType, ("id",), "element distribution by ore, % of REO"),
        TableSpec("facilities", schema.Facility, ("id",), "mines, plants and national aggregates"),
        TableSpec(
            "facility_capacities",
            schema.FacilityCapacity,
            ("facility", "stage", "product", "basis", "year", "available_from"),
            "stated capacities and outputs of facilities, t/yr",
        ),
        TableSpec(
            "facility_links",
            schema.FacilityLink,
            ("from_facility", "to_facility", "material"),
            "which facility feeds which",
        ),
        TableSpec(
            "prices",
            schema.Price,
            ("product", "year", "edition", "purity_pct", "basis"),
            "annual average prices, USD/kg",
        ),
        TableSpec(
            "price_points",
            schema.PricePoint,
            ("product", "date", "market", "purity_pct", "unit", "source"),
            "dated price quotations",
        ),
        TableSpec(
            "gallium_production",
            schema.GalliumProduction,
            ("country", "year", "edition", "measure"),
            "gallium production and capacity, t Ga",
        ),
        TableSpec(
            "magnet_recipes",
            schema.MagnetRecipe,
            ("grade", "component"),
            "magnet grade compositions, wt %",
        ),
        TableSpec(
            "magnet_intensity",
            schema.MagnetIntensity,
            ("application", "variant", "quantity", "unit"),
            "magnet mass per unit of end use",
        ),
        TableSpec(
            "separation_factors",
            schema.SeparationFactor,
            ("extractant", "medium", "more_extracted", "less_extracted", "kind", "source"),
            "adjacent-pair separation factors by extractant",
        ),
        TableSpec(
            "extraction_constants",
            schema.ExtractionConstant,
            ("extractant", "medium", "element", "source"),
            "extraction equilibrium constants (mass action) by extractant",
        ),
        TableSpec(
            "market_history",
            schema.MarketHistory,
            ("year", "measure", "key"),
            "historical layer 2008-2023: the market world of past years",
        ),
        TableSpec(
            "stage_shares",
            schema.StageShare,
            ("stage", "region", "year", "kind", "source"),
            "published shares by stage (references)",
        ),
    )
}

YAML_TABLES = {
    "sources": "citations (sources.yaml)",
    "policies": "dated 2025 policy events (policies.yaml)",
    "country_groups": "country groups (country_groups.yaml)",
}


@dataclass(frozen=True)
class Record:
    """A validated row with where it came from."""

    row: Any
    file: str
    line: int | None

    def key(self, spec: TableSpec) -> tuple[Any, ...]:
        return tuple(_hashable(getattr(self.row, column)) for column in spec.key)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


_EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_parsing": "true or false",
    "date_parsing": "a date as YYYY-MM-DD",
    "date_from_datetime_parsing": "a date as YYYY-MM-DD",
    "missing": "a value (this column is required)",
    "too_short": "at least one item",
    "finite_number": "a finite number (not inf or nan)",
}


def _expected(error: ErrorDetails, column: str | None) -> str | None:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind == "greater_than_equal":
        return f"a number >= {ctx.get('ge'):g}"
    if kind == "greater_than":
        return f"a number > {ctx.get('gt'):g}"
    if kind == "less_than_equal":
        return f"a number <= {ctx.get('le'):g}"
    if kind == "literal_error":
        return f"one of {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern == schema.COUNTRY_PATTERN:
            return "an ISO 3166-1 alpha-2 country code such as US, CN, AU (or OTHER, WORLD)"
        if pattern == schema.ID_PATTERN:
            return "an id of lowercase letters, digits and underscores"
        if pattern == schema.PLACE_PATTERN:
            return (
                "a country code such as CN, US, JP, AU or OTHER, or a group id such as china, "
                "us_japan_australia or eu (country_groups.yaml)" + _close_place(error.get("input"))
            )
        return f"text matching {pattern}"
    return None


def _close_place(value: object) -> str:
    """A suggestion for a place written in the wrong case ('China': 'china'; 'us': 'US')."""
    if not isinstance(value, str):
        return ""
    for guess in (value.lower(), value.upper()):
        if guess != value and re.match(schema.PLACE_PATTERN, guess):
            return f"; did you mean {guess!r}?"
    return ""


def issues_from_validation(
    exc: ValidationError,
    file: str,
    line: int | None,
    skip_columns: set[str] = frozenset(),  # type: ignore[assignment]
    nested: bool = False,
) -> list[DataIssue]:
    """Turn a pydantic ``ValidationError`` into one ``DataIssue`` per problem.

    With ``nested`` (YAML documents) the column is the dotted path to the field, e.g.
    ``regions.CN.parameters.hcl_usd_per_t.value``; for CSV rows it is the column name.
    """
    issues = []
    for error in exc.errors(include_url=False):
        loc = error.get("loc") or ()
        if nested:
            column = ".".join(str(part) for part in loc) if loc else None
        else:
            column = str(loc[0]) if loc else None
        if column in skip_columns or error["type"] == "extra_forbidden":
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        shown = None if isinstance(value, dict) or value is None else str(value)
        expected = _expected(error, column)
        if error["type"] != "value_error":
            message = "invalid value" if shown is not None else message
        if nested and column and "." in column and column.rsplit(".", 1)[1] in UNION_TAGS:
            column = column.rsplit(".", 1)[0]  # one report per field, not per union member
        issues.append(DataIssue(file, message, line, column, shown, expected, kind=_kind(error)))
    return _merge_alternatives(issues)


UNION_TAGS = frozenset(
    {"float", "int", "str", "constrained-str", "bool", "none", "date", "list", "dict"}
)
"""Location tags pydantic appends for each member of a union type."""


def _merge_alternatives(issues: list[DataIssue]) -> list[DataIssue]:
    merged: dict[tuple[Any, ...], DataIssue] = {}
    for issue in issues:
        key = (issue.file, issue.line, issue.column, issue.value, issue.message)
        if key in merged and issue.expected:
            previous = merged[key]
            expected = ", or ".join(filter(None, (previous.expected, issue.expected)))
            merged[key] = replace(previous, expected=expected)
        else:
            merged.setdefault(key, issue)
    return list(merged.values())


def _kind(error: ErrorDetails) -> str:
    message = str(error.get("msg", ""))
    if "unknown element symbol" in message or "unknown magnet component" in message:
        return "unknown_element"
    return "missing_value" if error["type"] == "missing" else "invalid_value"


def check_header(spec: TableSpec, csv_file: CsvFile) -> tuple[list[DataIssue], set[str]]:
    """Missing required and unexpected columns; returns the issues and the missing columns."""
    issues: list[DataIssue] = []
    present = set(csv_file.header)
    missing = [c for c in spec.required_columns if c not in present]
    for column in missing:
        issues.append(
            DataIssue(
                csv_file.path,
                "required column is missing from the header",
                line=1,
                column=column,
                expected=f"a header with the columns {', '.join(spec.required_columns)}",
                kind="missing_column",
            )
        )
    known = set(spec.columns)
    for column in csv_file.header:
        if column in known or not column:
            continue
        match = schema.ELEMENT_PCT_COLUMN.match(column)
        if spec.name == "ore_types" and match:
            try:
                symbol = parse_symbol(match["symbol"])
                message = f"{symbol} is not a rare earth; ore columns are for rare earths only"
            except ValueError as exc:
                message = str(exc)
            issues.append(DataIssue(csv_file.path, message, 1, column, kind="unknown_element"))
            continue
        issues.append(
            DataIssue(
                csv_file.path,
                "unexpected column (a typo?)",
                line=1,
                column=column,
                expected=f"columns among {', '.join(spec.columns)}",
                kind="unknown_column",
            )
        )
    return issues, set(missing)


def parse_rows(spec: TableSpec, csv_file: CsvFile, issues: list[DataIssue]) -> list[Record]:
    """Validate every row of a CSV file against the table's model, collecting all problems."""
    header_issues, missing = check_header(spec, csv_file)
    issues.extend(header_issues)
    known = set(spec.columns)
    records = []
    for csv_row in csv_file.rows:
        cells = {k: v for k, v in csv_row.cells.items() if k in known}
        try:
            row = spec.model.model_validate(cells)
        except ValidationError as exc:
            issues.extend(issues_from_validation(exc, csv_file.path, csv_row.line, missing))
            continue
        records.append(Record(row, csv_file.path, csv_row.line))
    return records


def validate_mapping(
    model: type[BaseModel], data: Any, file: str, line: int | None, issues: list[DataIssue]
) -> Any:
    """Validate one YAML mapping against ``model``; problems go to ``issues``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = issues_from_validation(exc, file, line, nested=True)
        for error in exc.errors(include_url=False):
            if error["type"] == "extra_forbidden":
                found.append(
                    DataIssue(
                        file,
                        "unexpected field (a typo?)",
                        line,
                        ".".join(str(part) for part in error["loc"]),
                        expected=f"fields among {', '.join(model.model_fields)}"
                        if len(error["loc"]) == 1
                        else None,
                        kind="unknown_column",
                    )
                )
        for issue in found:
            key_line = _nested_line(data, issue.column.split(".")) if issue.column else None
            issues.append(replace(issue, line=key_line or line))
        return None


def _nested_line(data: Any, path: list[str]) -> int | None:
    """Line of the deepest key of ``path`` found in nested YAML mappings and lists."""
    found = None
    for part in path:
        key: str | int = int(part) if part.isdigit() and isinstance(data, list) else part
        line = line_of(data, key)
        if line is None:
            break
        found = line
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            break
    return found
