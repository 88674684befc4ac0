"""The ASGI app factory of `orderops serve --workers N`: uvicorn imports it in each process.

The parent process has migrated already (``serve`` bootstraps before starting them), so
the HTTP processes connect without migrating: N processes must not race one migration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def asgi_app() -> FastAPI:
    """The API on the configured settings, for one uvicorn worker process."""
    from orderops import heap
    from orderops.api.app import create_app
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings
    from orderops.telemetry.setup import configure_process

    settings = Settings()
    configure_process(settings)  # each uvicorn process logs and traces like the parent
    web = create_app(bootstrap(settings, migrate=False))
    heap.settle()
    return web
