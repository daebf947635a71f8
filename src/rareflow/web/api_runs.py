"""Scenarios and ensembles over HTTP: list, read, validate and upload scenarios; submit,
follow (polling or server-sent events), cancel ensemble jobs; their headline, figures, report,
and comparisons. Everything is scoped to the caller's workspace."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import plotly.io as pio
import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.errors import DataValidationError
from rareflow.dataset.readers import safe_yaml
from rareflow.metrics import headline, independence
from rareflow.report.ensemble import (
    Stored,
    comparison_figures,
    ensemble_page,
    figures,
    read_ensemble,
)
from rareflow.scenario.loader import builtin_names, load_scenario
from rareflow.scenario.schema import DatedLevers
from rareflow.simulate.store import StoreError
from rareflow.simulate.world import ScenarioError, build_market
from rareflow.web.app import dataset_of, plain, tenant_of, workspace_of
from rareflow.web.jobs import TERMINAL, Job, JobError, Jobs
from rareflow.web.workspace import Workspace, WorkspaceError, checked_name

router = APIRouter(prefix="/api", tags=["scenarios and jobs"])
Data = Annotated[Dataset, Depends(dataset_of)]
Space = Annotated[Workspace, Depends(workspace_of)]
Tenant = Annotated[str, Depends(tenant_of)]


class ScenarioText(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: Annotated[str, Field(min_length=1, max_length=500_000, description="YAML text")]


class ScenarioUpload(ScenarioText):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: Annotated[str, Field(max_length=64)]
    runs: Annotated[int, Field(ge=1)] = 20
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0
    detail: bool = False
    """Also store output by country and facility and trade by lane."""


async def jobs_of(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


JobTable = Annotated[Jobs, Depends(jobs_of)]


def _check(path: Path, label: str, dataset: Dataset) -> list[str]:
    """Every problem of a scenario file against the dataset (empty: valid)."""
    try:
        build_market(dataset, load_scenario(str(path)), label)
    except DataValidationError as error:
        return [Workspace.hide(str(i), path, label) for i in error.issues]
    except ScenarioError as error:
        return [Workspace.hide(line, path, label) for line in str(error).splitlines()]
    return []


@router.get("/scenarios")
async def scenarios(space: Space) -> dict[str, list[str]]:
    """Built-in scenarios and the caller's own."""
    return {"builtin": builtin_names(), "own": space.scenario_names()}


@router.get("/scenarios/{name}")
def scenario(name: str, space: Space) -> dict[str, Any]:
    """A scenario as the runs see it (``extends`` resolved), with its YAML if it is yours."""
    checked_name(name, "scenario")
    path = space.scenario_path(name)
    try:
        parsed = load_scenario(str(path) if path else name)
    except DataValidationError as error:
        raise HTTPException(422, {"problems": [str(i) for i in error.issues]}) from None
    text = path.read_text(encoding="utf-8") if path else None
    return {"name": name, "own": path is not None, "yaml": text,
            "scenario": parsed.model_dump(mode="json")}  # fmt: skip


@router.post("/scenarios/validate")
def validate(body: ScenarioText, dataset: Data, space: Space) -> dict[str, Any]:
    """Check a scenario document against the schema and the dataset without saving it."""
    space.check_extends(body.document)
    with space.scratch_file(body.document) as path:
        problems = _check(path, "document", dataset)
    return {"valid": not problems, "problems": problems}


class LeverBlock(ScenarioText):
    block: dict[str, Any] = Field(
        description="A dated lever block as in a scenario's `levers` list (docs/simulate.md)"
    )


@router.post("/scenarios/add-lever")
def add_lever(body: LeverBlock) -> dict[str, Any]:
    """The scenario document with one more lever block (checked against the lever schema;
    comments of the document are not kept)."""
    try:
        block = DatedLevers.model_validate(body.block)
    except ValidationError as error:
        problems = [f"block.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                    for e in error.errors()]  # fmt: skip
        raise HTTPException(422, {"problems": problems}) from None
    try:
        document = safe_yaml(body.document)
    except (yaml.YAMLError, ValueError, RecursionError) as error:
        raise HTTPException(422, {"problems": [f"document: invalid YAML: {error}"]}) from None
    if not isinstance(document, dict):
        raise HTTPException(422, {"problems": ["document: a scenario is a mapping (name: ...)"]})
    levers = document.setdefault("levers", [])
    if not isinstance(levers, list):
        raise HTTPException(422, {"problems": ["document: levers is not a list"]})
    if any(isinstance(b, dict) and b.get("id") == block.id for b in levers):
        raise HTTPException(422, {"problems": [f"block.id: {block.id!r} is already a block"]})
    levers.append(block.model_dump(mode="json", exclude_defaults=True, exclude_none=True))
    return {"document": yaml.safe_dump(document, sort_keys=False, allow_unicode=True)}


@router.post("/scenarios", status_code=201)
def upload(body: ScenarioUpload, dataset: Data, space: Space) -> dict[str, Any]:
    """Save a valid scenario in your workspace under ``name`` (replacing yours of that name)."""
    space.check_extends(body.document)
    with space.scratch_file(body.document) as path:
        problems = _check(path, body.name, dataset)
    if problems:
        raise HTTPException(422, {"problems": problems})
    space.save_scenario(body.name, body.document)
    return {"name": body.name, "saved": True}


@router.post("/jobs", status_code=202)
def submit(body: JobRequest, tenant: Tenant, jobs: JobTable) -> dict[str, Any]:
    """Queue an ensemble of a scenario (built-in or yours); it runs as ``rareflow run`` does."""
    try:
        return jobs.submit(tenant, body.scenario, body.runs, body.seed, body.detail).public()
    except (JobError, WorkspaceError) as error:
        raise HTTPException(400, str(error)) from None


@router.get("/jobs")
async def job_list(tenant: Tenant, jobs: JobTable) -> list[dict[str, Any]]:
    """Your jobs, oldest first."""
    return [job.public() for job in jobs.of(tenant)]


def _job(tenant: str, jobs: Jobs, job_id: str) -> Job:
    try:
        return jobs.get(tenant, job_id)
    except KeyError:
        raise HTTPException(404, f"no job {job_id!r}") from None


@router.get("/jobs/{job_id}")
async def job(job_id: str, tenant: Tenant, jobs: JobTable) -> dict[str, Any]:
    """One job: state (queued, running, done, failed, cancelled), runs done, error."""
    return _job(tenant, jobs, job_id).public()


@router.delete("/jobs/{job_id}")
def cancel(job_id: str, tenant: Tenant, jobs: JobTable) -> dict[str, Any]:
    """Cancel a queued or running job (its finished runs stay in the store)."""
    _job(tenant, jobs, job_id)
    return jobs.cancel(tenant, job_id).public()


@router.get("/jobs/{job_id}/events")
async def events(job_id: str, tenant: Tenant, jobs: JobTable) -> StreamingResponse:
    """Server-sent events: the job's record whenever it changes, until it ends."""
    _job(tenant, jobs, job_id)

    async def stream() -> AsyncIterator[str]:
        last = None
        while True:
            record = jobs.get(tenant, job_id).public()
            text = json.dumps(record)
            if text != last:
                yield f"event: job\ndata: {text}\n\n"
                last = text
            if record["state"] in TERMINAL:
                return
            await asyncio.sleep(0.5)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})  # fmt: skip


def _stored(job_id: str, tenant: str, jobs: Jobs, space: Workspace) -> Stored:
    found = _job(tenant, jobs, job_id)
    if found.state != "done" or found.ensemble is None:
        raise HTTPException(409, f"job {job_id} is {found.state}; results come when it is done")
    try:
        return read_ensemble(space.store, found.ensemble)
    except StoreError as error:
        raise HTTPException(404, str(error)) from None


@router.get("/jobs/{job_id}/results")
def results(job_id: str, tenant: Tenant, jobs: JobTable, space: Space) -> dict[str, Any]:
    """The headline and the year-of-independence table (as ``rareflow run --json``)."""
    stored = _stored(job_id, tenant, jobs, space)
    table = headline(stored.results, stored.elements, stored.thresholds)
    years = independence(stored.results, stored.elements, stored.thresholds)
    return plain(
        {
            "ensemble": stored.id,
            "scenario": stored.scenario,
            "runs": stored.runs,
            "headline": table.to_dict(orient="records"),
            "independence": years.to_dict(orient="records"),
        },
        finite=True,
    )


@router.get("/jobs/{job_id}/figures")
def job_figures(job_id: str, tenant: Tenant, jobs: JobTable, space: Space) -> dict[str, Any]:
    """The report's fan charts and independence bars as plotly JSON, by name."""
    stored = _stored(job_id, tenant, jobs, space)
    return {name: json.loads(pio.to_json(f)) for name, f in figures(stored).items()}


@router.get("/jobs/{job_id}/compare/{other_id}")
def compare(
    job_id: str, other_id: str, tenant: Tenant, jobs: JobTable, space: Space
) -> dict[str, Any]:
    """Differences of job ``job_id`` minus ``other_id``, run by run, as plotly JSON."""
    stored = _stored(job_id, tenant, jobs, space)
    base = _stored(other_id, tenant, jobs, space)
    try:
        shown = comparison_figures(stored, base)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
    return {n: json.loads(pio.to_json(f)) for n, f in shown.items()}


@router.get("/jobs/{job_id}/report", response_class=HTMLResponse)
def report(
    job_id: str, tenant: Tenant, jobs: JobTable, space: Space, dataset: Data
) -> HTMLResponse:
    """The ensemble's report page (as ``rareflow report``), flows in the horizon's last year."""
    stored = _stored(job_id, tenant, jobs, space)
    try:
        return HTMLResponse(ensemble_page(stored, dataset).render())
    except ValueError as error:
        raise HTTPException(400, str(error)) from None
