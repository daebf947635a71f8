"""Load the bundled dataset, merge a user's override directory, validate, build a ``Dataset``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from rareflow.dataset import documents, schema
from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataIssue, DataValidationError, display_path
from rareflow.dataset.market_parameters import MarketParameters
from rareflow.dataset.readers import LineDict, LineList, line_of, read_csv, read_yaml
from rareflow.dataset.tables import TABLES, Record, TableSpec, parse_rows, validate_mapping
from rareflow.dataset.validate import cross_check

M = TypeVar("M", bound=BaseModel)

YAML_FILES = (
    "dataset.yaml",
    "sources.yaml",
    "country_groups.yaml",
    "policies.yaml",
    "process_costs.yaml",
    "market.yaml",
)


def bundled_data_dir() -> Path:
    """Directory of the default dataset shipped inside the package."""
    return Path(str(resources.files("rareflow") / "data"))


@dataclass
class LoadedData:
    """Everything read from one or more directories, before cross-table checks."""

    manifest: documents.Manifest = field(default_factory=documents.Manifest)
    tables: dict[str, list[Record]] = field(default_factory=dict)
    sources: dict[str, tuple[documents.Source, str, int | None]] = field(default_factory=dict)
    groups: dict[str, tuple[documents.CountryGroup, str, int | None]] = field(default_factory=dict)
    policies: dict[str, tuple[documents.PolicyEvent, str, int | None]] = field(default_factory=dict)
    process_costs: tuple[documents.ProcessCosts, str, int | None] | None = None
    market: tuple[MarketParameters, str, int | None] | None = None
    files: dict[str, list[str]] = field(default_factory=dict)


def check_dataset(data_dir: str | Path | None = None) -> tuple[Dataset | None, list[DataIssue]]:
    """Load and validate; return the dataset (``None`` if invalid) and every problem found."""
    issues: list[DataIssue] = []
    loaded = LoadedData()
    _read_directory(bundled_data_dir(), loaded, issues, override=False)
    if data_dir is not None:
        directory = Path(data_dir)
        if not directory.is_dir():
            issues.append(
                DataIssue(
                    str(directory),
                    "data directory does not exist or is not a directory",
                    expected="a directory of CSV/YAML files named as in docs/data.md",
                    kind="io",
                )
            )
        else:
            _read_directory(directory, loaded, issues, override=True)
    issues.extend(cross_check(loaded))
    if issues:
        return None, sorted(issues, key=lambda i: (i.file, i.line or 0))
    return Dataset.from_loaded(loaded), []


def load_dataset(data_dir: str | Path | None = None) -> Dataset:
    """Load the bundled dataset (plus overrides from ``data_dir``); raise on any problem."""
    dataset, issues = check_dataset(data_dir)
    if dataset is None:
        raise DataValidationError(issues)
    return dataset


def _read_directory(
    directory: Path, loaded: LoadedData, issues: list[DataIssue], *, override: bool
) -> None:
    known = {spec.filename for spec in TABLES.values()} | set(YAML_FILES)
    if override:
        for path in sorted(directory.iterdir()):
            if path.suffix in (".csv", ".yaml", ".yml") and path.name not in known:
                issues.append(
                    DataIssue(
                        display_path(path),
                        "file name is not a table of the dataset, so it would be ignored",
                        expected=f"one of {', '.join(sorted(known))}",
                        kind="unknown_file",
                    )
                )
    replace = _read_manifest(directory, loaded, issues) if override else set()
    if not override:
        _read_manifest(directory, loaded, issues)
    for spec in TABLES.values():
        path = directory / spec.filename
        if not path.exists():
            if not override:
                issues.append(DataIssue(display_path(path), "bundled table is missing", kind="io"))
            continue
        label = display_path(path)
        csv_file = read_csv(path, label, issues)
        if csv_file is None:
            continue
        records = _unique(spec, parse_rows(spec, csv_file, issues), issues)
        loaded.files.setdefault(spec.name, []).append(label)
        if spec.name in replace or spec.name not in loaded.tables:
            loaded.tables[spec.name] = records
        else:
            merged = {r.key(spec): r for r in loaded.tables[spec.name]}
            merged.update({r.key(spec): r for r in records})
            loaded.tables[spec.name] = list(merged.values())
    _read_entries(
        directory / "sources.yaml", "sources", documents.Source, loaded.sources, issues,
        "sources" in replace,
    )  # fmt: skip
    _read_entries(
        directory / "country_groups.yaml", "groups", documents.CountryGroup, loaded.groups, issues,
        "country_groups" in replace,
    )  # fmt: skip
    _read_policies(directory, loaded, issues, replace="policies" in replace)
    costs = _read_whole(directory / "process_costs.yaml", documents.ProcessCosts, issues)
    loaded.process_costs = costs or loaded.process_costs
    market = _read_whole(directory / "market.yaml", MarketParameters, issues)
    loaded.market = market or loaded.market


def _unique(spec: TableSpec, records: list[Record], issues: list[DataIssue]) -> list[Record]:
    seen: dict[tuple[Any, ...], Record] = {}
    for record in records:
        key = record.key(spec)
        if key in seen:
            shown = ", ".join(f"{c}={v}" for c, v in zip(spec.key, key, strict=True))
            issues.append(
                DataIssue(
                    record.file,
                    f"duplicate id: a row with {shown} already appears on line {seen[key].line}",
                    record.line,
                    spec.key[0],
                    expected=f"a unique ({', '.join(spec.key)}) per row",
                    kind="duplicate_id",
                )
            )
            continue
        seen[key] = record
    return list(seen.values())


def _read_manifest(directory: Path, loaded: LoadedData, issues: list[DataIssue]) -> set[str]:
    path = directory / "dataset.yaml"
    if not path.exists():
        return set()
    label = display_path(path)
    data = read_yaml(path, label, issues)
    if data is None:
        return set()
    if not isinstance(data, dict):
        issues.append(DataIssue(label, "expected a mapping of settings", 1, kind="yaml_syntax"))
        return set()
    merged = {**loaded.manifest.model_dump(exclude_defaults=True), **data}
    manifest = validate_mapping(documents.Manifest, merged, label, line_of(data), issues)
    if manifest is None:
        return set()
    loaded.manifest = manifest
    names = set(TABLES) | {"sources", "country_groups", "policies"}
    for table in data.get("replace_tables", []) or []:
        if table not in names:
            issues.append(
                DataIssue(
                    label,
                    "replace_tables names an unknown table",
                    line_of(data, "replace_tables"),
                    "replace_tables",
                    str(table),
                    expected=f"one of {', '.join(sorted(names))}",
                    kind="invalid_value",
                )
            )
    return set(data.get("replace_tables", []) or [])


def _mapping_section(
    path: Path, section: str, issues: list[DataIssue]
) -> tuple[str, LineDict | LineList | None]:
    label = display_path(path)
    data = read_yaml(path, label, issues)
    if data is None:
        return label, None
    if not isinstance(data, dict) or section not in data:
        issues.append(
            DataIssue(
                label,
                f"missing top-level key '{section}'",
                line_of(data) or 1,
                expected=f"a file that starts with '{section}:'",
                kind="missing_column",
            )
        )
        return label, None
    return label, data[section]


def _read_entries(
    path: Path,
    section_name: str,
    model: type[BaseModel],
    target: dict[str, Any],
    issues: list[DataIssue],
    replace: bool,
) -> None:
    """Read a YAML mapping ``section_name: {id: fields}`` into ``target`` (merging by id)."""
    if not path.exists():
        return
    label, section = _mapping_section(path, section_name, issues)
    if section is None:
        return
    if not isinstance(section, dict):
        message = f"'{section_name}' must be a mapping of id -> fields"
        issues.append(DataIssue(label, message, line_of(section), kind="yaml_syntax"))
        return
    if replace:
        target.clear()
    for entry_id, entry in section.items():
        line = line_of(section, entry_id)
        if not isinstance(entry, dict):
            message = "an entry must be a mapping of fields"
            issues.append(DataIssue(label, message, line, entry_id, kind="yaml_syntax"))
            continue
        if not _valid_id(entry_id, label, line, issues):
            continue
        value = validate_mapping(model, entry, label, line, issues)
        if value is not None:
            target[entry_id] = (value, label, line)


def _read_policies(
    directory: Path, loaded: LoadedData, issues: list[DataIssue], replace: bool
) -> None:
    path = directory / "policies.yaml"
    if not path.exists():
        return
    label, section = _mapping_section(path, "events", issues)
    if not isinstance(section, list):
        if section is not None:
            issues.append(DataIssue(label, "'events' must be a list of events", kind="yaml_syntax"))
        return
    if replace:
        loaded.policies.clear()
    seen: dict[str, int | None] = {}
    for index, entry in enumerate(section):
        line = line_of(section, index)
        event = validate_mapping(documents.PolicyEvent, entry, label, line, issues)
        if event is None:
            continue
        if event.id in seen:
            issues.append(
                DataIssue(
                    label,
                    f"duplicate id: event '{event.id}' already appears on line {seen[event.id]}",
                    line,
                    "id",
                    kind="duplicate_id",
                )
            )
            continue
        seen[event.id] = line
        loaded.policies[event.id] = (event, label, line)


def _read_whole(
    path: Path, model: type[M], issues: list[DataIssue]
) -> tuple[M, str, int | None] | None:
    """A document read whole (``process_costs.yaml``, ``market.yaml``): a user's file replaces
    the bundled one."""
    if not path.exists():
        return None
    label = display_path(path)
    data = read_yaml(path, label, issues)
    if data is None:
        return None
    document = validate_mapping(model, data, label, line_of(data), issues)
    return None if document is None else (document, label, line_of(data))


def _valid_id(value: Any, label: str, line: int | None, issues: list[DataIssue]) -> bool:
    if isinstance(value, str) and re.match(schema.ID_PATTERN, value):
        return True
    issues.append(
        DataIssue(
            label,
            "invalid id",
            line,
            value=str(value),
            expected="an id of lowercase letters, digits and underscores",
            kind="invalid_value",
        )
    )
    return False
