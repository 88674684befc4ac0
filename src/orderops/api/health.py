"""Liveness and readiness: /healthz says the process runs, /readyz that it can serve."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem
from orderops.bootstrap import App
from orderops.storage.migrate import expected_heads

router = APIRouter(tags=["health"], route_class=SafeJsonRoute)


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and its schema is current")
async def readyz(request: Request) -> JSONResponse:
    app = app_of(request)
    try:
        revisions = await run_in_threadpool(_schema_revisions, app)
    except SQLAlchemyError as exc:
        return problem(503, "not-ready", "Not ready", f"database unavailable: {exc}")
    expected = expected_heads()
    if revisions != expected:
        return problem(
            503,
            "not-ready",
            "Not ready",
            f"schema is at {sorted(revisions)}, this code expects {sorted(expected)}: "
            "run `orderops db upgrade`",
        )
    return JSONResponse({"status": "ready", "schema_revision": ",".join(sorted(revisions))})


def _schema_revisions(app: App) -> set[str]:
    with app.engine.connect() as connection:
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        return {str(row[0]) for row in rows}
