"""The FastAPI application factory. No work at import: ``create_app(app)`` wires it."""

from __future__ import annotations

from fastapi import FastAPI

from orderops import __version__
from orderops.api import cases, events, health, problems
from orderops.bootstrap import App


def create_app(app: App) -> FastAPI:
    api = FastAPI(
        title="OrderOps",
        version=__version__,
        description="Exception desk for e-commerce orders: events in, cases out.",
    )
    api.state.orderops = app
    problems.install(api)
    api.include_router(health.router)
    api.include_router(events.router)
    api.include_router(cases.router)
    return api
