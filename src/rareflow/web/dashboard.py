"""The dashboard: one HTML page, a small script and plotly.js, served by the API's process. No
build step: the page calls the same JSON API as any client (with the tenant's token, kept in
the browser tab's session storage, when the server uses tokens)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import plotly
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)
STATIC = resources.files("rareflow.web") / "static"
FILES = {"app.js": "text/javascript", "app.css": "text/css"}


@router.get("/api/session", include_in_schema=True, tags=["dataset"])
def session(request: Request) -> dict[str, bool]:
    """Whether calls need a bearer token (asked before signing in; needs none itself)."""
    return {"tokens_required": bool(request.app.state.settings.tokens)}


@router.get("/", response_class=HTMLResponse)
def page() -> HTMLResponse:
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return FileResponse(path, media_type="text/javascript",
                        headers={"Cache-Control": "max-age=86400"})  # fmt: skip


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in FILES:  # a fixed list: no path from the client reaches the file system
        raise HTTPException(404, f"no static file {name!r}")
    return Response((STATIC / name).read_text(encoding="utf-8"), media_type=FILES[name])
