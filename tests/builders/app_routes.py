"""The routes the app serves, read from its routers, for tables that must cover them all.

FastAPI keeps an included router as one entry (its routes inside), so the walk opens
each; a route added anywhere is found, and a table that lacks it fails its test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

from orderops.api.app import ROUTERS
from orderops.domain.roles import Permission


def _walk(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "original_router"):
            yield from _walk(route.original_router.routes)
        else:
            yield route


def app_routes() -> list[tuple[str, str, APIRoute]]:
    """(method, path, route) for every API route and console page, HEAD aside."""
    return sorted(
        (
            (method, route.path, route)
            for router in ROUTERS
            for route in _walk(list(router.routes))
            if isinstance(route, APIRoute)
            for method in route.methods
            if method != "HEAD"
        ),
        key=lambda row: (row[0], row[1]),
    )


def permission_of(route: APIRoute) -> Permission | None:
    """The permission a route's auth dependency declares (``api/auth.require`` marks it),
    or None for a route that checks none (probes, the console, webhooks)."""
    found = [
        getattr(d.call, "permission", None)
        for d in route.dependant.dependencies
        if getattr(d.call, "permission", None) is not None
    ]
    return found[0] if found else None
