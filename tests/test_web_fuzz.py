"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis): requests
generated from every operation's parameters and bodies, valid and not, must never produce a
server error. Job submission is left out (each would start an ensemble process); its
validation is tested in ``test_web_api.py``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from rareflow.web.app import create_app
from rareflow.web.jobs import Jobs
from rareflow.web.settings import Settings
from rareflow.web.workspace import Workspace

schemathesis = pytest.importorskip("schemathesis")
not_a_server_error = pytest.importorskip("schemathesis.checks").not_a_server_error

FOLDER = Path(tempfile.mkdtemp(prefix="rareflow-fuzz-"))
APP = create_app(Settings(store=FOLDER / "store.duckdb", workspace=FOLDER / "ws"))
APP.state.jobs = Jobs(APP.state.settings, lambda tenant: Workspace.of(APP.state.settings, tenant))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(
    method="POST", path="/api/jobs"
)


@SCHEMA.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])
