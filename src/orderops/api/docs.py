"""/docs (Swagger UI) and /redoc served by the app itself: no CDN, no inline script.

The assets are the ones ``fastapi-offline`` ships (Swagger UI's bundle and CSS, ReDoc's
standalone build); the pages start them from a script file of ours, so the strict
Content-Security-Policy (``script-src 'self'``) holds on the docs too.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSET_PREFIX = "/docs/static"

SWAGGER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-start.js"></script>
</body>
</html>
"""

SWAGGER_START = """window.ui = SwaggerUIBundle({
  url: "%s",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]
});
"""

REDOC_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - ReDoc</title>
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{openapi_url}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""


def install(api: FastAPI) -> None:
    """Serve the docs pages and their assets; the app must be built with docs_url=None.

    The endpoints hold the finished pages, not ``api``: FastAPI keeps every endpoint it
    has seen in a module-level cache (4,096 of them), and one holding its app kept each app
    a test built alive to the end of the run."""
    openapi_url = api.openapi_url or "/openapi.json"
    swagger_page = SWAGGER_PAGE.format(title=api.title, assets=ASSET_PREFIX)
    swagger_script = SWAGGER_START % openapi_url
    redoc_page = REDOC_PAGE.format(title=api.title, assets=ASSET_PREFIX, openapi_url=openapi_url)
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger() -> HTMLResponse:
        return HTMLResponse(swagger_page)

    @router.get("/docs/swagger-start.js")
    async def swagger_start() -> Response:
        return Response(swagger_script, media_type="text/javascript")

    @router.get("/redoc")
    async def redoc() -> HTMLResponse:
        return HTMLResponse(redoc_page)

    api.include_router(router)
    api.mount(ASSET_PREFIX, StaticFiles(directory=ASSETS), name="docs-assets")
