"""The console as one router for ``create_app``: pages, static assets, and "/" → console."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, RedirectResponse, Response

from orderops.console import (
    choice_page,
    live,
    pages_account,
    pages_admin,
    pages_backtests,
    pages_case,
    pages_choices,
    pages_connections,
    pages_find,
    pages_incidents,
    pages_insight,
    pages_links,
    pages_ops,
    pages_shadow,
    pages_usage,
    pages_work,
    sso,
)
from orderops.console.web import PREFIX
from orderops.domain.errors import NotFound

STATIC = Path(str(files("orderops.console") / "static"))
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

router = APIRouter(include_in_schema=False)
router.include_router(pages_work.router)
router.include_router(pages_case.router)
router.include_router(pages_find.router)
router.include_router(pages_incidents.router)
router.include_router(pages_ops.router)
router.include_router(pages_insight.router)
router.include_router(pages_admin.router)
router.include_router(pages_connections.router)
router.include_router(pages_links.router)
router.include_router(sso.router)
router.include_router(pages_usage.router)
router.include_router(pages_shadow.router)
router.include_router(pages_backtests.router)
router.include_router(pages_account.router)
router.include_router(pages_choices.router)
router.include_router(live.router)
router.include_router(choice_page.router)  # public: the customer's page, no sign-in


@router.get("/")
async def root() -> Response:
    return RedirectResponse(f"{PREFIX}/queues", status_code=307)


@router.get(f"{PREFIX}/static/{{name}}")
async def static(name: str) -> Response:
    """The console's own assets, shipped in the package (no CDN, nothing fetched)."""
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise NotFound(f"no asset {name}")
    return FileResponse(
        path,
        media_type=MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=300"},
    )
