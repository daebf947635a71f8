"""``rareflow serve``: the HTTP API and the dashboard (FastAPI under uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rareflow.cli.data import DataDir
from rareflow.cli.output import console, fail
from rareflow.cli.run import DEFAULT_STORE, StoreOption
from rareflow.web.settings import Limits, Settings, SettingsError, load_tokens


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    store: StoreOption = DEFAULT_STORE,
    workspace: Annotated[
        Path, typer.Option(help="Folder of the tenants' scenarios, jobs and stores.")
    ] = Path("rareflow-workspace"),
    tokens_file: Annotated[
        Path | None,
        typer.Option(help="File of 'tenant: token' lines (else RAREFLOW_TOKENS=tenant:token,...)."),
    ] = None,
    running_jobs: Annotated[
        int, typer.Option(min=1, help="Ensemble jobs running at once (all tenants).")
    ] = 2,
    workers_per_job: Annotated[int, typer.Option(min=1, help="Dask workers of each job.")] = 1,
    data: DataDir = None,
) -> None:
    """Serve the API (OpenAPI at /docs) and the dashboard (/) until interrupted."""
    import uvicorn

    from rareflow.web.app import create_app

    try:
        settings = Settings(
            host=host, port=port, store=store, workspace=workspace,
            tokens=load_tokens(tokens_file), data=data,
            limits=Limits(running_jobs=running_jobs, workers_per_job=workers_per_job),
        )  # fmt: skip
        app = create_app(settings)
    except SettingsError as error:
        fail(str(error), code=2)
    who = f"{len(settings.tokens)} tenants with tokens" if settings.tokens else "one local tenant"
    console.print(f"rareflow on http://{host}:{port}/ ({who}; API docs at /docs)", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
