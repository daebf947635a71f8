"""Data problems as values: each names the file, line, column, bad value and what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DataIssue:
    """One problem found in a data file."""

    file: str
    message: str
    line: int | None = None
    column: str | None = None
    value: str | None = None
    expected: str | None = None
    kind: str = "invalid_value"

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        parts = [where]
        if self.column:
            parts.append(f"column '{self.column}'")
        text = ": ".join([", ".join(parts), self.message])
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class DataValidationError(Exception):
    """Raised when a dataset has problems; carries every issue found, not only the first."""

    def __init__(self, issues: Iterable[DataIssue]) -> None:
        self.issues = list(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the dataset"
        super().__init__(head + ":\n" + "\n".join(f"  {issue}" for issue in self.issues))


def display_path(path: Path, root: Path | None = None) -> str:
    """A short path for messages: relative to ``root`` (or the cwd) when possible."""
    for base in (root, Path.cwd()):
        if base is None:
            continue
        try:
            return str(path.resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return str(path)
