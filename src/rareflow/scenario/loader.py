"""Loading scenarios: built-in names or files, ``extends`` chains, errors with file and line."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from rareflow.dataset.errors import DataIssue, DataValidationError, display_path
from rareflow.dataset.levers import Levers
from rareflow.dataset.readers import LineDict, line_of, read_yaml
from rareflow.dataset.tables import validate_mapping
from rareflow.elements import RARE_EARTHS
from rareflow.market.network import World
from rareflow.market.scenario import check_levers
from rareflow.scenario.schema import Build, Scenario

MAX_DEPTH = 8


def builtin_dir() -> Path:
    return Path(str(resources.files("rareflow") / "data" / "scenarios"))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def _path_of(name: str, relative_to: Path | None) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        base = relative_to.parent if relative_to is not None else Path.cwd()
        return candidate if candidate.is_absolute() else base / candidate
    return builtin_dir() / f"{name}.yaml"


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file (a name the system cannot even look up is not)."""
    try:
        return path.is_file()
    except OSError:
        return False


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name (``baseline``) or a YAML file, with its ``extends`` chain."""
    scenario, _ = _load(name_or_path, None, 0)
    return scenario


def _load(name: str, relative_to: Path | None, depth: int) -> tuple[Scenario, dict[str, Any]]:
    path = _path_of(name, relative_to)
    label = display_path(path)
    if depth > MAX_DEPTH:
        raise DataValidationError([DataIssue(label, "extends chain too deep (a cycle?)")])
    if not _is_file(path):
        known = ", ".join(builtin_names())
        if Path(name).suffix not in (".yaml", ".yml"):
            label = name  # a built-in name: the package's path would only confuse
        raise DataValidationError(
            [
                DataIssue(
                    label,
                    f"scenario {name!r} not found",
                    expected=f"a file or one of {known}",
                    kind="io",
                )
            ]
        )
    issues: list[DataIssue] = []
    data = read_yaml(path, label, issues)
    if issues:
        raise DataValidationError(issues)
    if not isinstance(data, dict):
        raise DataValidationError([DataIssue(label, "a scenario file must be a mapping", 1)])
    merged: dict[str, Any] = {}
    parents = data.get("extends") or []
    for parent_name in [parents] if isinstance(parents, str) else list(parents):
        _, parent = _load(str(parent_name), path, depth + 1)
        merged = merge(merged, parent)
    merged = _with_lines(merge(merged, dict(data)), data)
    scenario = validate_mapping(Scenario, merged, label, line_of(data), issues)
    if issues or scenario is None:
        raise DataValidationError([_by_record(issue, merged, data) for issue in issues])
    scenario._lines = _record_lines(data)
    return scenario, merged


def _record_lines(data: Any) -> dict[str, int]:
    """Lines of the file's own records by field path: ``key``, ``key.sub``, ``key[id]``,
    ``key[id].sub`` and every lever id of a lever block."""
    lines: dict[str, int] = {}

    def note(path: str, line: int | None) -> None:
        if line is not None:
            lines[path] = line

    for key, value in data.items():
        note(key, line_of(data, key))
        if isinstance(value, dict):
            for sub in value:
                note(f"{key}.{sub}", line_of(value, sub))
        if not isinstance(value, list):
            continue
        for index, item in enumerate(value):
            if not (isinstance(item, dict) and isinstance(item.get("id"), str)):
                continue
            record = f"{key}[{item['id']}]"
            note(record, line_of(value, index))
            for sub in item:
                note(f"{record}.{sub}", line_of(item, sub))
            levers = item.get("levers") if key == "levers" else None
            for kind in levers.values() if isinstance(levers, dict) else []:
                for position, lever in enumerate(kind if isinstance(kind, list) else []):
                    if isinstance(lever, dict) and isinstance(lever.get("id"), str):
                        note(lever["id"], line_of(kind, position))
    return lines


def _by_record(issue: DataIssue, merged: dict[str, Any], data: Any) -> DataIssue:
    """An issue in a list of records named by the record's id and placed on its line in this
    file: merged with a parent, the list's positions (``projects.23.capacity_t``) are the
    merged list's, which the file does not show."""
    parts = issue.column.split(".") if issue.column else []
    records = merged.get(parts[0]) if parts else None
    if len(parts) < 2 or not parts[1].isdigit() or not isinstance(records, list):
        return issue
    position = int(parts[1])
    record = records[position] if position < len(records) else None
    if not (isinstance(record, dict) and isinstance(record.get("id"), str)):
        return issue
    column = ".".join([f"{parts[0]}[{record['id']}]", *parts[2:]])
    own = data.get(parts[0]) if isinstance(data, dict) else None
    line = issue.line
    for index, item in enumerate(own if isinstance(own, list) else []):
        if item is record:
            line = line_of(record, parts[2]) if len(parts) > 2 else None
            line = line or line_of(own, index) or line
    return replace(issue, column=column, line=line)


def _with_lines(merged: dict[str, Any], data: Any) -> LineDict:
    """The merged mapping, keeping the child's line numbers for error messages."""
    result = LineDict(merged)
    result.line = getattr(data, "line", 1)
    result.lines = dict(getattr(data, "lines", {}))
    return result


def merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Child over parent: mappings key by key, lists of records by ``id``, the rest replaced."""
    merged = dict(parent)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            merged[key] = merge(old, value)
        elif isinstance(value, list) and isinstance(old, list) and _records(value + old):
            # a child's record replaces the parent's of the same id in place; a child's own
            # repeated ids are all kept, so that the scenario check still reports them
            children: dict[str, list[Any]] = {}
            for item in value:
                children.setdefault(item["id"], []).append(item)
            records: list[Any] = []
            for item in old:
                records.extend(children.pop(item["id"], [item]))
            merged[key] = records + [item for items in children.values() for item in items]
        else:
            merged[key] = value
    return merged


def _records(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(i, dict) and "id" in i for i in items)


def check_scenario(scenario: Scenario, world: World, label: str) -> list[DataIssue]:
    """Names in the scenario that the market world does not know."""
    issues: list[DataIssue] = []
    places = set().union(*world.places.values())
    nodes = {m.id for m in world.mines} | {p.id for p in world.plants()}
    end_uses = {s.end_use for s in world.segments} | {"default"}
    regions = {s.region for s in world.segments}
    projects = {p.id for p in scenario.projects}

    def bad(field: str, value: str, expected: str) -> None:
        issues.append(DataIssue(label, "unknown name", scenario.line(field), field, value,
                                expected, "unknown_reference"))  # fmt: skip

    blocks = Counter(block.id for block in scenario.levers)
    for block_id in sorted(b for b, n in blocks.items() if n > 1):
        issues.append(DataIssue(label, f"lever block id {block_id!r} is used {blocks[block_id]} "
                                "times", None, "levers.id", block_id, "unique block ids",
                                "invalid_value"))  # fmt: skip
    for block in scenario.levers:
        lever_ids = [
            lever.id for name in Levers.model_fields for lever in getattr(block.levers, name)
        ]
        lines = {i: scenario.line(i) or scenario.line(f"levers[{block.id}]") for i in lever_ids}
        issues += check_levers(world, block.levers, label, lines)
        if block.start > scenario.horizon.end:
            issues.append(DataIssue(
                label, f"lever block {block.id!r} starts after the horizon, so it never acts",
                scenario.line(f"levers[{block.id}].start"), "levers.start", str(block.start),
                f"a year from {scenario.horizon.start} to {scenario.horizon.end}",
                "invalid_value",
            ))  # fmt: skip
    for growth in scenario.demand.growth:
        if growth.end_use not in end_uses:
            bad("demand.growth.end_use", growth.end_use, f"one of {sorted(end_uses)}")
        if growth.region is not None and growth.region not in regions:
            bad("demand.growth.region", growth.region, f"one of {sorted(regions)}")
        if growth.elements and growth.end_use != "non_magnet":
            issues.append(DataIssue(
                label, "a growth rule by element applies to oxide demand only",
                scenario.line("demand.growth"),
                "demand.growth.end_use", growth.end_use, "non_magnet", "invalid_value",
            ))  # fmt: skip
        for element in growth.elements:
            if element not in world.elements:
                bad("demand.growth.elements", element, f"one of {world.elements}")
    builds: list[Build] = [*scenario.projects, *scenario.candidates]
    for project in builds:
        if project.location not in world.places:
            bad(f"projects[{project.id}].location", project.location, "a country code")
        for feed in project.feeds:
            if feed not in places:
                bad(f"projects[{project.id}].feeds", feed, "a country or group")
    new_light = {b.id for b in builds if b.stage == "separation" and not (b.heavy or b.expanding())}
    light = sorted({p.id for p in world.separators if not p.heavy} | new_light)
    for project in builds:
        for source in project.takes_heavy_of:
            if source not in light:
                bad(f"projects[{project.id}].takes_heavy_of", source,
                    f"a light-only separation plant: {', '.join(light)}")  # fmt: skip
    for project in scenario.projects:
        if project.expands is not None and project.expands not in nodes:
            bad(f"projects[{project.id}].expands", project.expands, "a mine or plant id")
    for curve in scenario.learning:
        if curve.node not in nodes:
            bad(f"learning[{curve.id}].node", curve.node, "a mine or plant id")
    for override in scenario.overrides:
        if override.id not in projects:
            bad("overrides.id", override.id, "a project id of the scenario")
    for pile in scenario.stockpiles:
        if pile.region not in regions:
            bad(f"stockpiles[{pile.id}].region", pile.region, f"one of {sorted(regions)}")
        for e in pile.elements:
            if e not in RARE_EARTHS:
                bad(f"stockpiles[{pile.id}].elements", e, "an element symbol")
    if scenario.measure.group not in places:
        bad("measure.group", scenario.measure.group, "a country or group")
    for group, members in scenario.measure.extra_groups.items():
        for member in members:
            if member not in places:
                bad(f"measure.extra_groups.{group}", member, "a country or group")
    measurable = ("NdPr", *world.elements)
    for element in scenario.measure.elements:
        if element not in measurable:
            bad("measure.elements", element, f"NdPr or an element symbol: {', '.join(measurable)}")
    return issues
