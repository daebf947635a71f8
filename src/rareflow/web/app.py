"""The FastAPI application: authentication, request limits, errors as JSON, the routers and the
dashboard. ``create_app(settings)`` builds it; ``rareflow serve`` runs it under uvicorn.

Security: a bearer token per tenant, compared in constant time with every tenant's token (so
the time taken tells nothing of which one nearly matched); tokens are refused in URLs; bodies
are limited before they are read into memory; each tenant sees only its own workspace.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rareflow.dataset.dataset import Dataset
from rareflow.dataset.loader import load_dataset
from rareflow.plain import jsonable
from rareflow.web.jobs import Jobs
from rareflow.web.settings import LOCAL, Settings
from rareflow.web.workspace import Workspace, WorkspaceError

log = logging.getLogger("rareflow.web")


class BodyLimit:
    """Refuse a request body over ``limit`` bytes (413). The body is read here, counting what
    arrives, so one without a Content-Length cannot grow past the limit either; the app then
    gets the body as it arrived."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await _too_large(send, self.limit)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail": "request body over the limit of {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


async def tenant_of(request: Request) -> str:
    """The calling tenant: ``local`` without tokens, else the owner of the bearer token."""
    if "token" in request.query_params or "access_token" in request.query_params:
        raise HTTPException(400, "tokens go in the Authorization header, never in the URL")
    settings: Settings = request.app.state.settings
    if not settings.tokens:
        return LOCAL
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise HTTPException(401, "send Authorization: Bearer <token>",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    found = None
    for tenant, token in settings.tokens.items():  # every comparison runs, in constant time
        if hmac.compare_digest(given.encode(), token.encode()):
            found = tenant
    if found is None:
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return found


async def workspace_of(request: Request, tenant: str = Depends(tenant_of)) -> Workspace:
    return Workspace.of(request.app.state.settings, tenant)


async def dataset_of(request: Request) -> Dataset:
    state = request.app.state
    if state.dataset is None:
        state.dataset = load_dataset(state.settings.data)
    dataset: Dataset = state.dataset
    return dataset


def create_app(settings: Settings) -> FastAPI:
    """The application for ``settings`` (checked first: SettingsError if unsafe)."""
    settings.check()
    settings = replace(
        settings,
        store=settings.store.resolve(),
        workspace=settings.workspace.resolve(),
        data=settings.data.resolve() if settings.data else None,
    )  # job processes run in the tenants' folders: every path absolute
    settings.workspace.mkdir(parents=True, exist_ok=True)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.jobs = Jobs(settings, lambda tenant: Workspace.of(settings, tenant))
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="rareflow",
        summary="Rare-earth supply chain: data, cascades, markets, ensembles, compliance.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.dataset = None
    app.state.table_records = {}  # JSON-ready table rows, made on first request
    app.add_middleware(BodyLimit, limit=settings.limits.body_bytes)

    @app.exception_handler(WorkspaceError)
    async def refused(_: Request, error: WorkspaceError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=400)

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error: {type(error).__name__}; the server log has details"},
            status_code=500,
        )

    from rareflow.web import api_compute, api_data, api_runs, dashboard

    for module in (api_data, api_compute, api_runs, dashboard):
        app.include_router(module.router)
    return app


def plain(payload: Any, finite: bool = True) -> dict[str, Any]:
    """A JSON object of plain values (NaN and, with ``finite``, infinities as null)."""
    result = jsonable(payload, finite)
    assert isinstance(result, dict)
    return result
