"""The signed-in person's own account: turning their authenticator (TOTP) on and off.

Until now only an operator could do this (``orderops users totp enable|disable``). Here a
person does it for themselves, and neither step can happen by accident or by someone at
an unattended screen: turning it on shows a new secret (as an ``otpauth://`` URI and as
text, no image) and takes effect only once a code computed from it is entered, so a
secret never scanned cannot lock anyone out; turning it off needs the password or a
current code. Both are audited in the tenant's chain and posted with the session's CSRF
token like every console form.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.accounts import disable_own_totp
from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.tenancy import totp

router = APIRouter(prefix=f"{PREFIX}/account", route_class=ConsoleRoute, include_in_schema=False)
PAGE = f"{PREFIX}/account"


@router.get("")
async def account_page(request: Request, viewer: Signed) -> Response:
    app = app_of(request)
    enabled = await run_in_threadpool(
        lambda: totp.uses_totp(app.sessions, tenant_id=viewer.tenant_id, user_id=viewer.user.id)
    )
    return render(request, "account.html", enabled=enabled, pending=None)


@router.post("/totp/setup")
async def totp_setup(request: Request, viewer: Signed) -> Response:
    """Offer a new secret; nothing is stored yet."""
    await form_of(request, viewer)
    app = app_of(request)
    pending = totp.offer_totp(
        tenant_id=viewer.tenant_id,
        user_id=viewer.user.id,
        email=viewer.user.email,
        secret_key=app.settings.secret_key,
        clock=app.wall_clock,
    )
    response = render(request, "account.html", enabled=False, pending=pending)
    response.headers["Cache-Control"] = "no-store"  # the secret is on this page
    return response


@router.post("/totp/enable")
async def totp_enable(request: Request, viewer: Signed) -> Response:
    form = await form_of(request, viewer)
    app = app_of(request)
    await run_in_threadpool(
        lambda: totp.confirm_totp(
            app.sessions,
            tenant_id=viewer.tenant_id,
            user_id=viewer.user.id,
            sealed=form.get("pending", ""),
            code=form.get("code", ""),
            secret_key=app.settings.secret_key,
            clock=app.wall_clock,
            actor=viewer.principal.identity,
        )
    )
    return redirect(PAGE, message="Your authenticator is on: sign-in now asks for its code.")


@router.post("/totp/disable")
async def totp_disable(request: Request, viewer: Signed) -> Response:
    form = await form_of(request, viewer)
    app = app_of(request)
    changed = await run_in_threadpool(
        lambda: disable_own_totp(
            app.sessions,
            settings=app.settings,
            clock=app.wall_clock,
            tenant_id=viewer.tenant_id,
            user=viewer.user,
            password=form.get("password", ""),
            code=form.get("code", ""),
            address=request.client.host if request.client else "unknown",
        )
    )
    message = "Your authenticator is off." if changed else "You had no authenticator on."
    return redirect(PAGE, message=message)
