"""Computations on request: cascade design and simulation, one year of the market, provenance
and compliance checks. Documents (cascade files, BOMs) arrive as YAML text in a JSON body and
go through the same loaders as files on the command line, so errors name the line and field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import plotly.io as pio
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from rareflow.compliance.documents import BomDocument, Country, bundled_regimes, load_document
from rareflow.compliance.engine import assessed, parse_options
from rareflow.compliance.links import provenance_lookup, solved
from rareflow.compliance.provenance import trace
from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.errors import DataValidationError
from rareflow.elements import UnknownElementError, parse_symbol
from rareflow.market.clearing import Clearing
from rareflow.market.intervals import price_intervals
from rareflow.process.binary import design_from_feed
from rareflow.process.cascade import solve
from rareflow.process.files import load_cascade
from rareflow.process.theory import SpecError
from rareflow.report.cascade import cascade_flow_figure, stage_profile_figure
from rareflow.report.comply import audit_hash, bom_figure, comply_page
from rareflow.scenario.loader import load_scenario
from rareflow.web.app import dataset_of, plain, workspace_of
from rareflow.web.workspace import Workspace

router = APIRouter(prefix="/api", tags=["compute"])
Data = Annotated[Dataset, Depends(dataset_of)]
Space = Annotated[Workspace, Depends(workspace_of)]
Document = Annotated[str, Field(min_length=1, max_length=500_000, description="YAML text")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DesignRequest(Strict):
    feed: Annotated[str, Field(max_length=200, examples=["Pr=0.33,Nd=0.67"])]
    purity: Annotated[float, Field(gt=0, lt=1)]
    beta: Annotated[float, Field(gt=1, le=1000)] | None = None
    purity_raffinate: Annotated[float, Field(gt=0, lt=1)] | None = None
    feed_phase: Literal["aqueous", "organic"] = "aqueous"
    ratio_to_min: Annotated[float, Field(gt=1, le=100)] = 1.2
    extractant: Annotated[str, Field(max_length=40)] = "p507"
    medium: Annotated[str, Field(max_length=40)] = "hcl"


class CascadeRequest(Strict):
    document: Document


class ClearRequest(Strict):
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    price_intervals: bool = False
    """Also each price's interval of optimal prices (about 1 s more; docs/market.md)."""


class TraceRequest(Strict):
    element: Annotated[str, Field(max_length=10)]
    facility: Annotated[str, Field(max_length=120)] | None = None
    year: Annotated[int, Field(ge=1900, le=2100)] | None = None
    scenario: Annotated[str, Field(max_length=64)] = "baseline"
    run: Annotated[int, Field(ge=0, le=100_000)] = 0
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0


class ComplyRequest(Strict):
    document: Document
    date: dt.date | None = None
    destination: Country | None = None
    options: list[Annotated[str, Field(max_length=60)]] = Field(default_factory=list, max_length=10)
    scenario: Annotated[str, Field(max_length=64)] = "baseline"
    run: Annotated[int, Field(ge=0, le=100_000)] = 0
    seed: Annotated[int, Field(ge=0, lt=2**32)] = 0


def _problems(error: DataValidationError, path: Path) -> HTTPException:
    """The loader's problems, with the scratch file's name replaced by "document"."""
    lines = [Workspace.hide(str(issue), path) for issue in error.issues]
    return HTTPException(422, {"problems": lines})


@router.post("/cascade/design")
def cascade_design(request: DesignRequest, dataset: Data) -> dict[str, Any]:
    """Two-outlet design of a binary split (as ``rareflow cascade design --json``)."""
    try:
        payload = design_from_feed(
            dataset, request.feed, request.purity, request.beta, request.purity_raffinate,
            request.feed_phase, request.ratio_to_min, None, request.extractant, request.medium,
        )  # fmt: skip
    except (SpecError, DataQueryError) as error:
        raise HTTPException(400, str(error)) from None
    return plain(payload, finite=True)


@router.post("/cascade/simulate")
def cascade_simulate(request: CascadeRequest, dataset: Data, space: Space) -> dict[str, Any]:
    """Solve a cascade document: products, solver report, profile and flow figures."""
    with space.scratch_file(request.document) as path:
        try:
            cascade, label = load_cascade(path, dataset)
            solution = solve(cascade)
        except DataValidationError as error:
            raise _problems(error, path) from None
        except SpecError as error:
            raise HTTPException(400, str(error)) from None
    payload = solution.to_dict(profiles=True)
    payload["separation_factor_source"] = label
    payload["figures"] = {
        "profiles": json.loads(pio.to_json(stage_profile_figure(solution))),
        "flows": json.loads(pio.to_json(cascade_flow_figure(solution))),
    }
    return plain(payload, finite=True)


@router.post("/market/clear")
def market_clear(request: ClearRequest, dataset: Data) -> dict[str, Any]:
    """One year of the world market: production, prices, shares, trade, demand (and, if asked,
    the interval of optimal prices around each price)."""
    try:
        clearing = Clearing.from_dataset(dataset, request.year)
        payload = clearing.solve().to_dict()
        if request.price_intervals:
            ranges = price_intervals(clearing.model)
            payload["price_intervals"] = ranges.to_dict(orient="records")
    except (DataQueryError, ValueError, RuntimeError) as error:
        raise HTTPException(400, str(error)) from None
    return plain(payload, finite=True)


def _scenario(space: Workspace, name: str) -> Any:
    """A loader of the caller's or a built-in scenario, resolved only when called."""

    def loaded() -> Any:
        path = space.scenario_path(name)
        return load_scenario(str(path) if path else name)

    return loaded


@router.post("/trace")
def trace_element(request: TraceRequest, dataset: Data, space: Space) -> dict[str, Any]:
    """Origin shares of an element at a facility or segment (as ``rareflow trace --json``)."""
    try:
        symbol = parse_symbol(request.element)
        loader = _scenario(space, request.scenario)
        model, values, duals, where = solved(
            dataset, request.year, loader, request.scenario, request.seed, request.run
        )
        result = trace(model, values, duals, symbol, request.facility)
    except (UnknownElementError, ValueError) as error:
        raise HTTPException(400, str(error)) from None
    except KeyError as error:
        raise HTTPException(404, str(error.args[0])) from None
    result["where"] = where
    return plain(result, finite=True)


def _assess(request: ComplyRequest, dataset: Data, space: Space) -> tuple[BomDocument, Any]:
    with space.scratch_file(request.document) as path:
        try:
            document = load_document(path, BomDocument)
        except DataValidationError as error:
            raise _problems(error, path) from None
    try:
        options = parse_options(request.options)
        lookup = provenance_lookup(
            dataset, _scenario(space, request.scenario), request.scenario, request.seed,
            request.run,
        )  # fmt: skip
        return assessed(
            document, bundled_regimes(), options, request.date, request.destination, lookup
        )
    except ValueError as error:
        raise HTTPException(400, str(error)) from None


@router.post("/comply")
def comply_check(request: ComplyRequest, dataset: Data, space: Space) -> dict[str, Any]:
    """Verdicts per shipment (as ``rareflow comply --json``), the audit hashes and an item-tree
    figure per shipment."""
    document, record = _assess(request, dataset, space)
    figures = {
        r["shipment"]: json.loads(pio.to_json(bom_figure(document, r["item"])))
        for r in record["verdicts"]
    }
    return plain(
        {
            "verdicts": record["verdicts"],
            "regime_table_sha256": record["regime_table_sha256"],
            "audit_sha256": audit_hash(record),
            "figures": figures,
        },
        finite=True,
    )


@router.post("/comply/report", response_class=HTMLResponse)
def comply_report(request: ComplyRequest, dataset: Data, space: Space) -> HTMLResponse:
    """The compliance report as one HTML page (as ``rareflow report comply``)."""
    document, record = _assess(request, dataset, space)
    return HTMLResponse(comply_page(document, record, "the uploaded document").render())
