"""The dataset over HTTP: tables (facilities, prices, …), one citation, shares by stage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from rareflow.dataset.dataset import DataQueryError, Dataset
from rareflow.dataset.shares import STAGE_NAMES, stage_shares
from rareflow.plain import jsonable
from rareflow.web.app import dataset_of, plain, tenant_of

router = APIRouter(prefix="/api", tags=["dataset"], dependencies=[Depends(tenant_of)])
Data = Annotated[Dataset, Depends(dataset_of)]


@router.get("/health")
async def health() -> dict[str, str]:
    """The server answers (and the caller's token is valid)."""
    return {"status": "ok"}


@router.get("/dataset/tables")
async def tables(dataset: Data) -> list[dict[str, Any]]:
    """Every table of the bundled (or ``--data``) dataset with its row count."""
    out = []
    for name in dataset.table_names():
        if name in ("sources", "policies", "country_groups"):
            rows = len(getattr(dataset, name))
        else:
            rows = len(dataset.table(name))
        out.append({"name": name, "rows": rows})
    return out


@router.get("/dataset/tables/{name}")
async def table(
    name: str,
    request: Request,
    dataset: Data,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Rows ``offset`` .. ``offset + limit`` of one table (``sources`` as id + citation)."""
    if name == "sources":
        ids = list(dataset.sources)
        total = len(ids)
        rows = [{"id": k, **dataset.sources[k].model_dump()} for k in ids[offset : offset + limit]]
    elif name in ("policies", "country_groups"):
        raise HTTPException(400, f"{name} is a document, not a table; see the dataset files")
    else:
        records = _records(request, dataset, name)
        total = len(records)
        rows = records[offset : offset + limit]
    return {"table": name, "total_rows": total, "offset": offset, "rows": rows}


def _records(request: Request, dataset: Dataset, name: str) -> list[dict[str, Any]]:
    """JSON-ready rows of a table, made once per application (its dataset does not change)."""
    cache: dict[str, list[dict[str, Any]]] = request.app.state.table_records
    if name not in cache:
        frame = dataset.tables.get(name)
        if frame is None:
            raise HTTPException(404, f"no table {name!r}; see GET /api/dataset/tables")
        cache[name] = jsonable(frame.to_dict(orient="records"), finite=True)
    return cache[name]


@router.get("/dataset/sources/{source_id}")
async def source(source_id: str, dataset: Data) -> dict[str, Any]:
    """One citation."""
    try:
        citation = dataset.source(source_id)
    except DataQueryError as error:
        raise HTTPException(404, str(error)) from None
    return {"id": source_id, **citation.model_dump()}


@router.get("/dataset/shares")
def shares(
    dataset: Data,
    stage: Annotated[str, Query(description=f"one of {', '.join(STAGE_NAMES)}")] = "mining",
    year: Annotated[int, Query(ge=1900, le=2100)] = 2024,
) -> dict[str, Any]:
    """Shares by country of one stage in one year, with the published shares beside them."""
    try:
        result = stage_shares(dataset, stage, year)
    except DataQueryError as error:
        raise HTTPException(400, str(error)) from None
    return plain(result.to_dict())  # as ``rareflow data shares --json``
