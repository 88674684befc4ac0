"""Admin page: the tenant's vendor connections, with add, rotate and remove forms.

The page lists each connection's system, mode, address and credential fingerprint; no
credential is ever rendered, not even the one just typed into a refused form (the error
page names the reason, not the input). Forms carry the session's CSRF token like every
console form (``form_of``); changes go through ``writeback/vendor_connections.py`` as the
signed-in person's stable id, so they are audited exactly as the API's and the CLI's.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.domain.roles import Permission
from orderops.domain.vendor_connections import (
    AccountMode,
    InvalidConnection,
    VendorSystem,
    parse_system,
)
from orderops.writeback import vendor_connections

router = APIRouter(
    prefix=f"{PREFIX}/admin/connections", route_class=ConsoleRoute, include_in_schema=False
)
PAGE = f"{PREFIX}/admin/connections"


@router.get("")
async def connections_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.SOURCES_MANAGE)
    app = app_of(request)
    found = await run_in_threadpool(
        lambda: vendor_connections.list_connections(app.sessions, tenant_id=viewer.tenant_id)
    )
    return render(
        request,
        "connections.html",
        connections=found,
        systems=[s.value for s in VendorSystem],
        modes=[m.value for m in AccountMode],
    )


@router.post("")
async def add_connection(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.SOURCES_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    system = parse_system(form.get("system", ""))
    mode = _mode(form.get("mode", ""))
    view = await run_in_threadpool(
        lambda: vendor_connections.add_connection(
            app.sessions,
            tenant_id=viewer.tenant_id,
            system=system,
            base_url=form.get("base_url", ""),
            secret=form.get("secret", ""),
            mode=mode,
            username=form.get("username") or None,
            allow_test_mode=form.get("allow_test_mode") == "on",
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(PAGE, message=f"Connected {view.system} ({view.mode}, {view.fingerprint}).")


@router.post("/{system}/rotate")
async def rotate_connection(request: Request, viewer: Signed, system: str) -> Response:
    viewer.need(Permission.SOURCES_MANAGE)
    form = await form_of(request, viewer)
    app = app_of(request)
    chosen = parse_system(system)
    view = await run_in_threadpool(
        lambda: vendor_connections.rotate_connection(
            app.sessions,
            tenant_id=viewer.tenant_id,
            system=chosen,
            secret=form.get("secret", ""),
            secret_key=app.settings.secret_key,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(PAGE, message=f"Rotated {view.system}: now {view.fingerprint}.")


@router.post("/{system}/remove")
async def remove_connection(request: Request, viewer: Signed, system: str) -> Response:
    viewer.need(Permission.SOURCES_MANAGE)
    await form_of(request, viewer)
    app = app_of(request)
    chosen = parse_system(system)
    view = await run_in_threadpool(
        lambda: vendor_connections.remove_connection(
            app.sessions,
            tenant_id=viewer.tenant_id,
            system=chosen,
            clock=app.clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(PAGE, message=f"Removed the {view.system} connection.")


def _mode(value: str) -> AccountMode | None:
    if not value:
        return None
    try:
        return AccountMode(value)
    except ValueError:
        raise InvalidConnection(f"mode is test or live, not {value[:20]!r}") from None
