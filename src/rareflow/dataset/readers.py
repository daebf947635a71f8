"""Reading CSV and YAML files while keeping line numbers for error messages."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rareflow.dataset.errors import DataIssue


@dataclass(frozen=True)
class CsvRow:
    """One data row of a CSV file with the line it starts on (1-based, header is line 1)."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class CsvFile:
    path: str
    header: list[str]
    rows: list[CsvRow]


def read_text(path: Path, label: str, issues: list[DataIssue]) -> str | None:
    """The file's UTF-8 text, or ``None`` with the reason appended to ``issues``."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        issues.append(DataIssue(label, f"cannot read file: {exc.strerror}", kind="io"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        issues.append(
            DataIssue(
                label,
                f"file is not valid UTF-8 ({exc.reason}: byte 0x{raw[exc.start]:02x} at column "
                f"{column}); save it as UTF-8",
                line=line,
                kind="encoding",
            )
        )
        return None
    found = CONTROL.search(text)
    if found is not None:
        index = found.start()
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1) + 1
        issues.append(
            DataIssue(
                label,
                f"control character U+{ord(found.group()):04X} at column {column}; is it a "
                "text file?",
                line=line,
                kind="encoding",
            )
        )
        return None
    return text


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
"""Characters no text file of rareflow's holds: C0 and C1 controls (tab, line feed, carriage
return and next line are fine) and the non-characters YAML refuses."""


def read_csv(path: Path, label: str, issues: list[DataIssue]) -> CsvFile | None:
    """Read a CSV file; structural problems are appended to ``issues`` (never raised)."""
    text = read_text(path, label, issues)
    if text is None:
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        issues.append(DataIssue(label, f"malformed CSV header: {exc}", line=1, kind="csv_syntax"))
        return None
    if header is None or not any(cell.strip() for cell in header):
        issues.append(
            DataIssue(
                label, "file is empty; a header row is required", line=1, kind="missing_column"
            )
        )
        return None
    header = [cell.strip() for cell in header]
    duplicates = sorted({h for h in header if header.count(h) > 1})
    for name in duplicates:
        issues.append(
            DataIssue(
                label, "column appears more than once", line=1, column=name, kind="duplicate_column"
            )
        )
    rows: list[CsvRow] = []
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            issues.append(DataIssue(label, f"malformed CSV: {exc}", line=line, kind="csv_syntax"))
            break
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            issues.append(
                DataIssue(
                    label,
                    f"row has {len(record)} cells but the header has {len(header)} columns",
                    line=line,
                    expected="one cell per header column (quote cells that contain commas)",
                    kind="csv_syntax",
                )
            )
            continue
        rows.append(CsvRow(line, dict(zip(header, record, strict=True))))
    return CsvFile(label, header, rows)


class LineLoader(yaml.SafeLoader):
    """Safe YAML loader whose mappings remember the line of each key (``LineDict.lines``)."""


class LineDict(dict[str, Any]):
    """A mapping from YAML with ``line`` (its own start) and ``lines`` (per key, 1-based)."""

    line: int = 0
    lines: dict[str, int]


class LineList(list[Any]):
    line: int = 0
    lines: list[int]


def _construct_mapping(loader: LineLoader, node: yaml.MappingNode) -> LineDict:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:  # merged keys (<<) may be overridden; written ones not twice
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key_node.value!r} (lines {seen[key_node.value]} and {line}); "
                "keep one",
                key_node.start_mark,
            )
        seen[key_node.value] = line
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[str(key)] = loader.construct_object(value_node, deep=True)
        result.lines[str(key)] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# Dates stay text here so that the schema, not the YAML library, reports a bad date precisely.
def _construct_text(loader: LineLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)


MAX_YAML_NODES = 1_000_000
"""Most values a YAML document may expand to through its aliases (``*name``): a document of
nested aliases ("billion laughs") would otherwise expand to billions."""


def read_yaml(path: Path, label: str, issues: list[DataIssue]) -> Any:
    """Safely load YAML with line numbers; syntax errors become issues and return ``None``."""
    text = read_text(path, label, issues)
    if text is None:
        return None
    try:
        loader = LineLoader(text)
    except yaml.YAMLError as exc:  # a character YAML refuses (CONTROL should have caught it)
        issues.append(DataIssue(label, f"invalid YAML: {exc}", kind="yaml_syntax"))
        return None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            issues.append(
                DataIssue(
                    label,
                    f"the document expands to more than {MAX_YAML_NODES:,} values through its "
                    "aliases (*name); write the repeated parts out or use fewer aliases",
                    kind="yaml_syntax",
                )
            )
            return None
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "syntax error"
        issues.append(DataIssue(label, f"invalid YAML: {problem}", line=line, kind="yaml_syntax"))
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        issues.append(DataIssue(label, f"invalid YAML: {exc}", kind="yaml_syntax"))
    finally:
        loader.dispose()
    return None


def safe_yaml(text: str) -> Any:
    """A YAML text's value (plain types), refusing alias expansions past ``MAX_YAML_NODES``
    before they are built; raises yaml.YAMLError or ValueError."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise ValueError(
                f"the document expands to more than {MAX_YAML_NODES:,} values through its aliases"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values under ``node`` once every alias is expanded (each node counted once, so the
    cost is the document's size, not its expansion's)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = min(size, MAX_YAML_NODES + 1)
    return sizes[id(node)]


def line_of(container: Any, key: str | int | None = None) -> int | None:
    """Line of ``key`` inside a ``LineDict``/``LineList`` (or of the container itself)."""
    if key is None:
        return getattr(container, "line", None)
    if isinstance(container, LineDict) and isinstance(key, str):
        return container.lines.get(key, container.line)
    if isinstance(container, LineList) and isinstance(key, int) and key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", None)
