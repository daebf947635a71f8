"""Per-tenant workspaces: a tenant's scenarios, BOMs, jobs and results store, invisible to
other tenants. Clients name things only by short ids checked against ``NAME``; no request ever
carries a server path, and an uploaded scenario may only extend a built-in scenario or another
of the tenant's own."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rareflow.dataset.readers import safe_yaml
from rareflow.scenario.loader import builtin_names
from rareflow.web.settings import LOCAL, Settings

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_MADE: set[Path] = set()
"""Workspace folders this process has made."""


class WorkspaceError(ValueError):
    """A name or document a tenant may not use; the message says why."""


def checked_name(name: str, what: str) -> str:
    if not NAME.match(name):
        raise WorkspaceError(
            f"{what} {name!r}: use 1-64 lower-case letters, digits, _ or -, starting with a "
            "letter or digit"
        )
    return name


@dataclass(frozen=True)
class Workspace:
    tenant: str
    root: Path
    store: Path

    @classmethod
    def of(cls, settings: Settings, tenant: str) -> Workspace:
        root = settings.workspace / "tenants" / tenant
        store = settings.store if tenant == LOCAL else root / "results.duckdb"
        if root not in _MADE:  # once per folder and process: requests do not touch the disk
            for sub in ("scenarios", "jobs", "scratch"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            _MADE.add(root)
        return cls(tenant, root, store)

    @property
    def scenarios(self) -> Path:
        return self.root / "scenarios"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def scenario_names(self) -> list[str]:
        return sorted(p.stem for p in self.scenarios.glob("*.yaml"))

    def scenario_path(self, name: str) -> Path | None:
        """The tenant's own scenario file, or None for a built-in name."""
        checked_name(name, "scenario")
        path = self.scenarios / f"{name}.yaml"
        if path.is_file():
            return path
        if name in builtin_names():
            return None
        raise WorkspaceError(f"no scenario {name!r}; see GET /api/scenarios")

    def save_scenario(self, name: str, text: str) -> Path:
        """Write an uploaded scenario after checking what it may extend."""
        checked_name(name, "scenario")
        if name in builtin_names():
            raise WorkspaceError(f"{name!r} is a built-in scenario; choose another name")
        self.check_extends(text)
        path = self.scenarios / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def check_extends(self, text: str) -> None:
        """An uploaded scenario's ``extends`` names built-ins or the tenant's own scenarios."""
        try:
            document: Any = safe_yaml(text)
        except (yaml.YAMLError, ValueError, RecursionError):
            return  # the scenario loader reports the syntax error with its line
        if not isinstance(document, dict):
            return
        parents = document.get("extends")
        for parent in [parents] if isinstance(parents, str) else parents or []:
            if not isinstance(parent, str) or not NAME.match(parent):
                raise WorkspaceError(
                    f"extends: {parent!r} is not a scenario name; an uploaded scenario extends "
                    "a built-in scenario or one of your own by name"
                )
            if parent not in builtin_names() and parent not in self.scenario_names():
                raise WorkspaceError(f"extends: no scenario {parent!r} among yours or built-ins")

    @staticmethod
    def hide(text: str, path: Path, label: str = "document") -> str:
        """A loader's message about a scratch file with the file called ``label`` (the server's
        folders are nobody's business)."""
        return re.sub(rf"\S*{re.escape(path.name)}", label, text)

    @contextmanager
    def scratch_file(self, text: str, suffix: str = ".yaml") -> Iterator[Path]:
        """A document written to the tenant's scratch folder for the file-based loaders,
        removed afterwards."""
        with tempfile.NamedTemporaryFile(
            "w", suffix=suffix, dir=self.root / "scratch", delete=False, encoding="utf-8"
        ) as handle:
            handle.write(text)
            path = Path(handle.name)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
